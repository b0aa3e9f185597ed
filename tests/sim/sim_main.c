/*
 * kassa-sim: deterministic simulation of a whole store (tests/sim/README.md).
 *
 *   kassa-sim [--seed N | --seeds FIRST..LAST] [--terminals 3|5|7]
 *             [--faults LIST] [--trace] [-v] [--check-determinism]
 *             [--asan-limit N]
 *
 * Runs each seed; stops at the first that fails, prints its trace, the
 * violated invariant and the command that replays it, and exits 1. Exit 0
 * when every seed passed; 2 for a usage error.
 */
#include "sim.h"
#include "sim_raft.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char g_root[512];
static uint64_t g_seed; /* the seed running, for an internal error */
/* SIGINT or SIGTERM: stop after the seed running, clean up, exit 130. */
static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

void sim_exit_setup_error(void)
{
    if (g_root[0])
        tu_rm_tree(g_root);
    exit(2);
}

void sim_panic(const char *file, int line, const char *what)
{
    fprintf(stderr,
            "kassa-sim: internal error (a bug of the simulator) at %s:%d: %s, seed %" PRIu64 "\n",
            file, line, what, g_seed);
    fflush(stderr);
    if (g_root[0])
        tu_rm_tree(g_root);
    abort();
}

const char *sim_bug_name(int bug)
{
    switch (bug) {
    case SIM_BUG_DROP_ACKED:
        return "drop-acked";
    case SIM_BUG_CLOUD_DUP:
        return "cloud-dup";
    case SIM_BUG_LOSE_ON_CRASH:
        return "lose-on-crash";
    case SIM_BUG_FORGET_VOTE:
        return "forget-vote";
    default:
        return "none";
    }
}

bool sim_bug_parse(const char *text, int *out)
{
    for (int b = SIM_BUG_DROP_ACKED; b <= SIM_BUG_MAX; b++) {
        if (strcmp(text, sim_bug_name(b)) == 0) {
            *out = b;
            return true;
        }
    }
    return false;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: kassa-sim [--seed N | --seeds FIRST..LAST] [--terminals 3|5|7]\n"
                 "                 [--faults LIST] [--trace] [-v] [--check-determinism]\n"
                 "                 [--asan-limit N]\n"
                 "  --seed N              run one seed (default 1)\n"
                 "  --seeds A..B          run seeds A to B; stop at the first failure\n"
                 "  --terminals N         3, 5 or 7 terminals (default: drawn from each seed)\n"
                 "  --faults LIST         comma list of delay,loss,dup,reorder,partition,asym,\n"
                 "                        crash,skew, or all (default) or none\n"
                 "  --trace               print every event as it happens\n"
                 "  -v                    one line per seed\n"
                 "  --check-determinism   run every seed twice, compare the two traces\n"
                 "  --asan-limit N        with KASSA_TEST_SCALE=asan, only the first N seeds\n"
                 "A failing seed prints its last events, the invariant and the replay command.\n");
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!*s || *s == '-')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_range(const char *s, uint64_t *first, uint64_t *last)
{
    const char *dots = strstr(s, "..");
    if (!dots)
        return false;
    char a[32];
    size_t len = (size_t)(dots - s);
    if (len == 0 || len >= sizeof a)
        return false;
    memcpy(a, s, len);
    a[len] = 0;
    return parse_u64(a, first) && parse_u64(dots + 2, last) && *first <= *last;
}

static void add_result(sim_result *t, const sim_result *r)
{
    t->ops += r->ops;
    t->msgs += r->msgs;
    t->lost += r->lost;
    t->dups += r->dups;
    t->crashes += r->crashes;
    t->cloud_stored += r->cloud_stored;
    t->cloud_dups += r->cloud_dups;
    t->refused += r->refused;
    t->events += r->events;
    sim_stats *a = &t->stats;
    const sim_stats *b = &r->stats;
    a->links_up += b->links_up;
    a->links_closed += b->links_closed;
    a->resets += b->resets;
    a->early_frames += b->early_frames;
    a->repairs += b->repairs;
    a->relayed_ops += b->relayed_ops;
    a->relays_ignored += b->relays_ignored;
    a->pending_imports += b->pending_imports;
    a->hlc_clamps += b->hlc_clamps;
    a->uploader_changes += b->uploader_changes;
    if (b->converge_ms_max > a->converge_ms_max)
        a->converge_ms_max = b->converge_ms_max;
    a->raft_leaders += b->raft_leaders;
    a->raft_records += b->raft_records;
    a->raft_entries += b->raft_entries;
    a->raft_proposals += b->raft_proposals;
    if (b->raft_term_max > a->raft_term_max)
        a->raft_term_max = b->raft_term_max;
    if (b->raft_leader_ms_max > a->raft_leader_ms_max)
        a->raft_leader_ms_max = b->raft_leader_ms_max;
    t->checks.rounds += r->checks.rounds;
    t->checks.hash_compares += r->checks.hash_compares;
    t->checks.restarts_checked += r->checks.restarts_checked;
    t->checks.cloud_recs_checked += r->checks.cloud_recs_checked;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    sim_config cfg = {.faults = SIM_F_ALL};
    uint64_t first = 1, last = 1, asan_limit = 0;
    bool determinism = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char bad[64];
        uint64_t num;
        if (strcmp(a, "--seed") == 0 && v && parse_u64(v, &first)) {
            last = first;
            i++;
        } else if (strcmp(a, "--seeds") == 0 && v && parse_range(v, &first, &last)) {
            i++;
        } else if (strcmp(a, "--terminals") == 0 && v && parse_u64(v, &num) &&
                   (num == 3 || num == 5 || num == 7)) {
            cfg.terminals = (int)num;
            i++;
        } else if (strcmp(a, "--faults") == 0 && v) {
            if (!sim_faults_parse(v, &cfg.faults, bad, sizeof bad)) {
                fprintf(stderr, "kassa-sim: unknown fault kind \"%s\"\n", bad);
                usage(stderr);
                return 2;
            }
            i++;
        } else if (strcmp(a, "--inject-bug") == 0 && v && sim_bug_parse(v, &cfg.bug)) {
            /* Hidden: breaks something on purpose (sim.h, sim_bug). */
            i++;
        } else if (strcmp(a, "--asan-limit") == 0 && v && parse_u64(v, &asan_limit)) {
            i++;
        } else if (strcmp(a, "--trace") == 0) {
            cfg.trace_live = true;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            cfg.verbose = true;
        } else if (strcmp(a, "--check-determinism") == 0) {
            determinism = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            static const char *const VALUED[] = {"--seed",   "--seeds",      "--terminals",
                                                 "--faults", "--inject-bug", "--asan-limit"};
            bool valued = false;
            for (size_t k = 0; k < KASSA_ARRAY_LEN(VALUED); k++)
                valued = valued || strcmp(a, VALUED[k]) == 0;
            if (!valued)
                fprintf(stderr, "kassa-sim: unknown argument \"%s\"\n", a);
            else if (!v)
                fprintf(stderr, "kassa-sim: %s needs a value\n", a);
            else
                fprintf(stderr, "kassa-sim: bad value \"%s\" for %s\n", v, a);
            usage(stderr);
            return 2;
        }
    }
    const char *scale = getenv("KASSA_TEST_SCALE");
    if (asan_limit && scale && strcmp(scale, "asan") == 0 && last - first + 1 > asan_limit) {
        printf("kassa-sim: KASSA_TEST_SCALE=asan: seeds %" PRIu64 "..%" PRIu64 " of %" PRIu64
               "..%" PRIu64 "\n",
               first, first + asan_limit - 1, first, last);
        last = first + asan_limit - 1;
    }
    if (tu_mkdtemp(g_root, sizeof g_root, "kassa-sim", true) != 0)
        return 2;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    sim_templates_init(g_root);

    char faults[128];
    sim_faults_format(cfg.faults, faults, sizeof faults);
    uint64_t per_size[SIM_NODES_MAX + 1] = {0}, seeds = 0;
    sim_result total = {0};
    double t0 = now_s();
    int rc = 0;
    for (uint64_t seed = first; seed <= last; seed++) {
        if (g_stop) {
            fprintf(stderr, "kassa-sim: interrupted before seed %" PRIu64 "\n", seed);
            rc = 130;
            break;
        }
        g_seed = seed;
        sim_result res;
        double s0 = now_s();
        sim_run_seed(&cfg, seed, g_root, argv[0], &res);
        double s1 = now_s();
        seeds++;
        SIM_ASSERT(res.n >= 1 && res.n <= SIM_NODES_MAX);
        per_size[res.n]++;
        add_result(&total, &res);
        if (cfg.verbose)
            printf("seed %" PRIu64 ": %s, %d terminals, %" PRIu64 " ops, %" PRIu64 " msgs (%" PRIu64
                   " lost, %" PRIu64 " dup), %" PRIu64 " crashes, cloud %" PRIu64
                   " stored, %" PRIu64 " dup ignored, %.0f ms virtual, %.1f ms, trace %016" PRIx64
                   "\n",
                   seed, res.failed ? "FAILED" : "ok", res.n, res.ops, res.msgs, res.lost, res.dups,
                   res.crashes, res.cloud_stored, res.cloud_dups, (double)res.virtual_us / 1000.0,
                   (s1 - s0) * 1000.0, res.digest);
        if (res.failed) {
            rc = 1;
            break;
        }
        if (determinism) {
            sim_result again;
            sim_run_seed(&cfg, seed, g_root, argv[0], &again);
            if (again.failed || again.digest != res.digest || again.events != res.events) {
                char replay[1024];
                sim_replay_command(&cfg, seed, res.n, argv[0], replay, sizeof replay);
                fprintf(stderr,
                        "kassa-sim: seed %" PRIu64 " is not deterministic: trace %016" PRIx64
                        " (%" PRIu64 " events), then %016" PRIx64 " (%" PRIu64 " events)\n"
                        "replay: %s\n",
                        seed, res.digest, res.events, again.digest, again.events, replay);
                rc = 1;
                break;
            }
        }
    }
    double elapsed = now_s() - t0;
    const sim_stats *st = &total.stats;
    printf("kassa-sim: %" PRIu64 " seed%s (3: %" PRIu64 ", 5: %" PRIu64 ", 7: %" PRIu64
           " terminals), faults %s%s: %s in %.2f s, %.1f seeds/s\n",
           seeds, seeds == 1 ? "" : "s", per_size[3], per_size[5], per_size[7], faults,
           determinism ? ", each run twice" : "",
           rc == 130 ? "INTERRUPTED"
           : rc      ? "FAILED"
                     : "all passed",
           elapsed, (double)seeds * (determinism ? 2 : 1) / elapsed);
    printf("  workload: %" PRIu64 " ops acknowledged, %" PRIu64 " actions refused\n", total.ops,
           total.refused);
    printf("  network: %" PRIu64 " messages, %" PRIu64 " lost, %" PRIu64 " duplicated; %" PRIu64
           " crashes; %" PRIu64 " events\n",
           total.msgs, total.lost, total.dups, total.crashes, total.events);
    printf("  links: %" PRIu64 " up, %" PRIu64 " closed, %" PRIu64 " resets, %" PRIu64
           " frames before their Hello; %" PRIu64 " ops relayed, %" PRIu64
           " relays ignored; %" PRIu64 " origins rewound by repairs; %" PRIu64
           " imports left ops pending; %" PRIu64 " remote clocks clamped\n",
           st->links_up, st->links_closed, st->resets, st->early_frames, st->relayed_ops,
           st->relays_ignored, st->repairs, st->pending_imports, st->hlc_clamps);
    printf("  cloud: %" PRIu64 " ops stored, %" PRIu64 " duplicate uploads ignored, %" PRIu64
           " uploader changes; slowest convergence after the final heal: %" PRIu64 " ms virtual\n",
           total.cloud_stored, total.cloud_dups, st->uploader_changes, st->converge_ms_max);
    printf("  checks: %" PRIu64 " check rounds, %" PRIu64 " state-hash comparisons of equal "
           "version vectors, %" PRIu64 " restarts checked, %" PRIu64 " cloud records checked\n",
           total.checks.rounds, total.checks.hash_compares, total.checks.restarts_checked,
           total.checks.cloud_recs_checked);
    printf("  Raft invariants (one leader per term, committed entries kept, leader after heal): "
           "%s\n",
           sim_raft_present() ? "checked" : "not checked: no Raft core plugged in");
    if (sim_raft_present())
        printf("  raft: %" PRIu64 " terms with a leader, %" PRIu64 " entries committed (%" PRIu64
               " watermark records, %" PRIu64 " proposed); highest term %" PRIu64
               ", slowest leader after the final heal: %" PRIu64 " ms virtual\n",
               st->raft_leaders, st->raft_entries, st->raft_records, st->raft_proposals,
               st->raft_term_max, st->raft_leader_ms_max);
    sim_templates_free();
    tu_rm_tree(g_root);
    return rc;
}
