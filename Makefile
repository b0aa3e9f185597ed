# kassa: the two commands of the quick start are `make demo` and `make check`.
# Both install what is missing (scripts/deps.sh), then build with CMake.

JOBS ?= 2
FUZZ_SECONDS ?= 60
CMAKE_FLAGS ?=

.PHONY: all deps build build-asan check check-fast demo demo-cli bench bench-sync bench-failover fuzz format clean

all: build

deps:
	@bash scripts/deps.sh

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build build -j$(JOBS) -- --no-print-directory

build-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DKASSA_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-asan -j$(JOBS) -- --no-print-directory

# Every test, in the normal build and again under AddressSanitizer and
# UndefinedBehaviorSanitizer.
check: build build-asan
	@echo "== tests (release build)"
	@ctest --test-dir build --output-on-failure -j$(JOBS)
	@echo "== tests (ASan + UBSan build)"
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		KASSA_TEST_SCALE=asan ctest --test-dir build-asan --output-on-failure -j$(JOBS)

# The normal build's tests only: the inner loop while developing.
check-fast: build
	@ctest --test-dir build --output-on-failure -j$(JOBS)

demo: build
	@bash scripts/demo.sh

# The terminal core alone: a scripted day at one terminal through the CLI.
demo-cli: build
	@bash scripts/demo-cli.sh

bench: build
	@build/bench/commit
	@build/bench/checkout
	@build/bench/sync
	@build/bench/card
	@build/bench/ai
	@build/bench/fraud

# Fraud scoring: features and XGBoost prediction per sale, in process.
.PHONY: bench-fraud fraud-model
bench-fraud: build
	@build/bench/fraud

# Voice ordering: real-time factor, latency per utterance and memory over
# the generated test set (espeak-ng and sox).
.PHONY: bench-voice
bench-voice: build
	@bash tools/voice/make_testset.sh build/voice-testset >/dev/null
	@build/bench/voice build/voice-testset

# Retrains the product recognition model from rendered catalog images
# (offline tooling; tests never retrain). Sign the result for the registry:
# kassa model sign --key HEAD_OFFICE.key models/product/product.tflite models/product/manifest.json
.PHONY: product-model
product-model: build
	@bash scripts/deps-tools.sh
	@/usr/bin/python3 tools/product/train.py --out models/product --fixtures tests/fixtures/products

# Retrains the fraud model from the synthetic generator (offline tooling:
# scripts/deps-tools.sh installs what it needs; tests never retrain).
fraud-model: build
	@bash scripts/deps-tools.sh
	@/usr/bin/python3 tools/fraud/run.py --build build

# Edge AI: single-thread inference latency (XNNPACK and the reference
# kernels) and memory of person_detect and the product model.
.PHONY: bench-ai
bench-ai: build
	@build/bench/ai

# Card payments: checkout latency online and offline through both
# simulators, and forwarding a backlog of 10,000 stored payments.
.PHONY: bench-card
bench-card: build
	@build/bench/card

# The cloud: ingest through kassa-cloud beside a raw COPY into PostgreSQL,
# and the drain of a day's backlog (720,000 operations) after a reconnect.
.PHONY: bench-cloud
bench-cloud: build
	@build/bench/cloud

# Store replication: 5 terminals on loopback, beside Yjs (about a minute).
bench-sync: build
	@build/bench/sync

# Leader failover: 50 kills and 10 minutes of steady sales, beside etcd with
# 3 and 5 members (about 40 minutes; see docs/BENCHMARKS.md for shorter runs).
bench-failover: build
	@build/bench/failover

.PHONY: sim-long
# The store simulation's long mode: seeds 1..100000 of kassa-sim (tests/sim,
# README.md there; `make check` runs 1..1000), split into $(JOBS) ranges run
# side by side: about 20 minutes on 2 cores. Any failing seed fails the target
# and prints its trace and replay command.
sim-long: build
	@seq 0 $$(($(JOBS) - 1)) | xargs -P $(JOBS) -I{} sh -c \
		'build/bin/kassa-sim --seeds $$(({} * 100000 / $(JOBS) + 1))..$$((({} + 1) * 100000 / $(JOBS)))'

# Coverage-guided fuzzing with clang's libFuzzer, FUZZ_SECONDS per target;
# new inputs land in build-fuzz/corpus/<target> (merge the useful ones into
# tests/fuzz/corpus/<target> by hand).
fuzz: deps
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DKASSA_SANITIZE=ON -DKASSA_LIBFUZZER=ON >/dev/null
	@cmake --build build-fuzz -j$(JOBS)
	@for f in build-fuzz/bin/fuzz_*; do \
		name=$$(basename $$f); mkdir -p build-fuzz/corpus/$$name; \
		echo "== $$name ($(FUZZ_SECONDS) s)"; \
		$$f -max_total_time=$(FUZZ_SECONDS) build-fuzz/corpus/$$name tests/fuzz/corpus/$$name || exit 1; \
	done

format:
	@clang-format -i src/*/*.[ch] tests/*/*.c bench/*.c

clean:
	rm -rf build build-asan build-fuzz
