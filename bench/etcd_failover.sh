#!/usr/bin/env bash
# etcd's side of bench/failover: leader failover and spurious elections of an
# etcd cluster on loopback, measured the same way as kassa's terminals.
#
#   bench/etcd_failover.sh --nodes 3|5 [--kills 50] [--steady-s 600] [--rate 250]
#                          [--writers 5] [--dir DIR] [--keep] [--quick]
#                          [--heartbeat-ms 60] [--election-ms 300] [--pre-vote]
#
# 1. Starts N etcd members (Debian's etcd-server) on 127.0.0.1 with free
#    client/peer ports, data dirs and logs in a temp dir (under --dir if given).
# 2. --kills times: find the leader, kill -9 it, poll the survivors' status
#    (POST /v3/maintenance/status, all survivors in parallel in one curl) until
#    they all report the same new leader (not the killed one) at a higher
#    term; failover time = kill -> that poll's answers received.  Then restart
#    the killed member on its data dir, wait for N healthy members, 1 s, next.
# 3. Steady phase: --steady-s seconds of puts at --rate puts/s in total, no
#    faults; count the elections (raft term increases) and leader changes.
#    Like kassa's 5 terminals at 50 sales/s each, --writers (5) sequential
#    writers (one curl each, keep-alive, paced by curl --rate) put distinct
#    keys, writer w to member w mod N.  curl's pacing runs a few % under the
#    target; the achieved rate is printed and put in the JSON.
# --quick is --kills 10 --steady-s 20.  --pre-vote turns on etcd's PreVote
# (off by default in etcd 3.4; kassa's Raft has it), for a closer comparison.
#
# Human-readable lines go to stdout, then ONE last line of JSON.  Only the
# processes this script started are ever signalled, by pid.  Needs etcd,
# curl, ss (iproute2) and coreutils.
#
# Timestamps come from bash's $EPOCHREALTIME (microseconds, no fork).  It is
# the wall clock, not a monotonic one; over sub-second intervals on a machine
# without clock steps the difference is nil.  The precision of each failover
# sample is bounded by the poll period, printed as poll_resolution_ms.
set -euo pipefail

NODES=""
KILLS=50
STEADY_S=600
RATE=250
WRITERS=5
DIR=""
KEEP=0
HB_MS=60
ET_MS=300
PRE_VOTE=false

usage() {
  sed -n '5,7p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) NODES=${2:?}; shift 2 ;;
    --kills) KILLS=${2:?}; shift 2 ;;
    --steady-s) STEADY_S=${2:?}; shift 2 ;;
    --rate) RATE=${2:?}; shift 2 ;;
    --writers) WRITERS=${2:?}; shift 2 ;;
    --dir) DIR=${2:?}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --quick) KILLS=10; STEADY_S=20; shift ;;
    --heartbeat-ms) HB_MS=${2:?}; shift 2 ;;
    --election-ms) ET_MS=${2:?}; shift 2 ;;
    --pre-vote) PRE_VOTE=true; shift ;;
    -h|--help) usage ;;
    *) echo "etcd_failover: unknown argument: $1" >&2; usage ;;
  esac
done

die() {
  echo "etcd_failover: FAILED: $*" >&2
  exit 1
}

case "$NODES" in 3|5) ;; *) die "--nodes must be 3 or 5" ;; esac
case "$WRITERS" in [1-9]) ;; *) die "--writers must be 1..9" ;; esac
for v in KILLS STEADY_S RATE HB_MS ET_MS; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "--${v,,} must be a non-negative integer"
done
command -v etcd >/dev/null || die "etcd not found (Debian package etcd-server; scripts/deps.sh installs it)"
command -v curl >/dev/null || die "curl not found"

VERSION=$(etcd --version 2>/dev/null | awk '/^etcd Version:/ {print $3}')
[ -n "$VERSION" ] || die "cannot read etcd --version"

# ---------------------------------------------------------------- state ----
WORK=""
declare -a PID=() CPORT=() PPORT=() MID=() WRITER_PID=()
declare -A IDX_OF=()         # member id -> index

# Children are disowned (so bash prints no "Killed" line for them) and bash
# reaps them itself; ours PID checks that PID still runs one of our command
# lines (it carries this run's work dir) before anything signals it.
ours() {
  [ -n "$1" ] && [ "$1" != 0 ] && [ -r "/proc/$1/cmdline" ] &&
    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "$WORK/"
}
# stop PID: kill -9 it if it is still ours, and wait until it is gone.
stop() {
  local _
  ours "$1" || return 0
  kill -9 "$1" 2>/dev/null || true
  for _ in $(seq 1 200); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.01
  done
}

cleanup() {
  local rc=$? p
  trap - EXIT INT TERM
  for p in "${WRITER_PID[@]}" "${PID[@]}"; do
    stop "$p"
  done
  if [ "$rc" -ne 0 ] && [ -n "$WORK" ] && [ -d "$WORK" ]; then
    for p in "$WORK"/e*.log; do
      [ -f "$p" ] || continue
      echo "--- last lines of $p" >&2
      tail -n 3 "$p" >&2 || true
    done
  fi
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "$KEEP" = 1 ]; then
      echo "etcd_failover: kept $WORK" >&2
    else
      rm -rf "$WORK"
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -n "$DIR" ]; then
  mkdir -p "$DIR"
  WORK=$(mktemp -d "$DIR/etcd-failover.XXXXXX")
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/etcd-failover.XXXXXX")
fi

# Microseconds since the epoch, into $NOW (no subshell).
now() { NOW=${EPOCHREALTIME//[.,]/}; }
# Microseconds to milliseconds with one decimal.
ms() { printf '%d.%d' $(($1 / 1000)) $((($1 % 1000) / 100)); }

# ---------------------------------------------------------------- ports ----
# Ports come from outside the kernel's ephemeral range, so that no outgoing
# connection (curl, etcd's own peer dials) can hold one when a member binds it.
port_free() {
  if command -v ss >/dev/null; then
    [ -z "$(ss -Htan "sport = :$1" 2>/dev/null)" ]
  else
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 1; fi
  fi
}

pick_ports() {
  local base i ok eph_lo=32768 eph_hi=60999 lo hi
  if [ -r /proc/sys/net/ipv4/ip_local_port_range ]; then
    read -r eph_lo eph_hi </proc/sys/net/ipv4/ip_local_port_range || true
  fi
  if [ "$eph_lo" -gt 12000 ]; then
    lo=10000 hi=$((eph_lo - 2 * NODES))
  else
    lo=$((eph_hi + 1)) hi=$((65535 - 2 * NODES))
  fi
  for _ in $(seq 1 50); do
    base=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo)))
    ok=1
    for i in $(seq 0 $((2 * NODES - 1))); do
      port_free $((base + i)) || { ok=0; break; }
    done
    if [ "$ok" = 1 ]; then
      for i in $(seq 0 $((NODES - 1))); do
        CPORT[i]=$((base + 2 * i))
        PPORT[i]=$((base + 2 * i + 1))
      done
      return 0
    fi
  done
  die "no free block of $((2 * NODES)) ports on 127.0.0.1"
}

# ------------------------------------------------------------- members ----
INITIAL_CLUSTER=""
TOKEN="kassa-bench-$$-$RANDOM"

start_member() {
  local i=$1
  etcd --name "e$i" --data-dir "$WORK/e$i.data" \
    --listen-client-urls "http://127.0.0.1:${CPORT[i]}" \
    --advertise-client-urls "http://127.0.0.1:${CPORT[i]}" \
    --listen-peer-urls "http://127.0.0.1:${PPORT[i]}" \
    --initial-advertise-peer-urls "http://127.0.0.1:${PPORT[i]}" \
    --initial-cluster "$INITIAL_CLUSTER" \
    --initial-cluster-state new --initial-cluster-token "$TOKEN" \
    --heartbeat-interval="$HB_MS" --election-timeout="$ET_MS" \
    --pre-vote="$PRE_VOTE" \
    --logger=zap --log-outputs=stderr \
    </dev/null >>"$WORK/e$i.log" 2>&1 &
  PID[i]=$!
  disown "${PID[i]}"
}

# ---------------------------------------------------------- status poll ----
# poll PORT...: one curl, all endpoints in parallel.  Fills ST_LEADER[id] and
# ST_TERM[id] for each member id that answered (leader 0 = none known).
declare -A ST_LEADER=() ST_TERM=()
POLL_TIMEOUT=0.25
poll() {
  local urls=() p out line id
  for p in "$@"; do urls+=("http://127.0.0.1:$p/v3/maintenance/status"); done
  out=$(curl -q -s --no-progress-meter --parallel --parallel-immediate \
    --max-time "$POLL_TIMEOUT" -X POST -d '{}' "${urls[@]}" 2>/dev/null) || true
  ST_LEADER=()
  ST_TERM=()
  # One object per answer, each starting with {"header":{...member_id...}.
  out=${out//\{\"header\":/$'\n'}
  while IFS= read -r line; do
    [[ $line =~ \"member_id\":\"([0-9]+)\" ]] || continue
    id=${BASH_REMATCH[1]}
    [[ $line =~ \"raftTerm\":\"([0-9]+)\" ]] || continue
    ST_TERM[$id]=${BASH_REMATCH[1]}
    if [[ $line =~ \"leader\":\"([0-9]+)\" ]]; then
      ST_LEADER[$id]=${BASH_REMATCH[1]}
    else
      ST_LEADER[$id]=0   # zero fields are omitted from the JSON
    fi
  done <<<"$out"
}

all_ports() { local i; for i in $(seq 0 $((NODES - 1))); do printf '%s ' "${CPORT[i]}"; done; }

# agreed ID...: true when every listed member answered, all name the same
# non-zero leader at the same term.  Sets AG_LEADER and AG_TERM.
agreed() {
  local id l="" t=""
  for id in "$@"; do
    [ -n "${ST_LEADER[$id]+x}" ] || return 1
    [ "${ST_LEADER[$id]}" != 0 ] || return 1
    if [ -z "$l" ]; then
      l=${ST_LEADER[$id]}
      t=${ST_TERM[$id]}
    else
      [ "${ST_LEADER[$id]}" = "$l" ] || return 1
      [ "${ST_TERM[$id]}" = "$t" ] || return 1
    fi
  done
  AG_LEADER=$l
  AG_TERM=$t
}

all_ids() { local i; for i in $(seq 0 $((NODES - 1))); do printf '%s ' "${MID[i]}"; done; }

# wait_healthy SECONDS: all N members answer and agree on one leader.
wait_healthy() {
  local limit=$1 start
  now; start=$NOW
  while :; do
    # shellcheck disable=SC2046
    poll $(all_ports)
    # shellcheck disable=SC2046
    if agreed $(all_ids); then return 0; fi
    now
    [ $((NOW - start)) -lt $((limit * 1000000)) ] || return 1
    sleep 0.05
  done
}

# ---------------------------------------------------------------- start ----
# start_cluster: fresh ports, N members, learn each member's id from its own
# status answer (header.member_id).  Returns 1 if a member exited at start
# (say a port taken between the check and the bind).
start_cluster() {
  local i id t0
  pick_ports
  INITIAL_CLUSTER=""
  for i in $(seq 0 $((NODES - 1))); do
    INITIAL_CLUSTER+="${INITIAL_CLUSTER:+,}e$i=http://127.0.0.1:${PPORT[i]}"
  done
  for i in $(seq 0 $((NODES - 1))); do start_member "$i"; done
  now; t0=$NOW
  for i in $(seq 0 $((NODES - 1))); do
    while :; do
      if ! kill -0 "${PID[i]}" 2>/dev/null; then
        echo "etcd_failover: etcd e$i exited at start: $(grep -o '"error":"[^"]*"' "$WORK/e$i.log" | tail -n1)" >&2
        return 1
      fi
      poll "${CPORT[i]}"
      if [ ${#ST_TERM[@]} -eq 1 ]; then
        for id in "${!ST_TERM[@]}"; do MID[i]=$id; IDX_OF[$id]=$i; done
        break
      fi
      now
      [ $((NOW - t0)) -lt 20000000 ] || die "etcd e$i did not answer within 20 s"
      sleep 0.05
    done
  done
}

for attempt in 1 2 3; do
  start_cluster && break
  [ "$attempt" -lt 3 ] || die "etcd did not start in 3 attempts (see $WORK/e*.log*)"
  for i in $(seq 0 $((NODES - 1))); do
    stop "${PID[i]}"
    PID[i]=0
    rm -rf "$WORK/e$i.data"
    [ ! -f "$WORK/e$i.log" ] || mv "$WORK/e$i.log" "$WORK/e$i.log.attempt$attempt"
  done
  MID=()
  IDX_OF=()
  echo "etcd_failover: retrying on other ports" >&2
done
wait_healthy 20 || die "no leader agreed by all $NODES members within 20 s of start"

# What etcd really runs with, from its own start-up log line.
HB_USED=$(grep -o '"heartbeat-interval":"[0-9]*ms"' "$WORK/e0.log" | head -n1 | grep -o '[0-9]*' || true)
ET_USED=$(grep -o '"election-timeout":"[0-9]*ms"' "$WORK/e0.log" | head -n1 | grep -o '[0-9]*' || true)
HB_USED=${HB_USED:-$HB_MS}
ET_USED=${ET_USED:-$ET_MS}
PREVOTE=$(grep -o '"pre-vote":[a-z]*' "$WORK/e0.log" | head -n1 | cut -d: -f2 || true)

echo "etcd $VERSION: $NODES members on 127.0.0.1, client ports $(all_ports)"
echo "timing used: --heartbeat-interval=$HB_USED --election-timeout=$ET_USED (requested $HB_MS/$ET_MS), pre-vote=${PREVOTE:-?}"
echo "work dir: $WORK"

# ---------------------------------------------------------------- kills ----
declare -a SAMPLES=() POLL_US=()
for round in $(seq 1 "$KILLS"); do
  # shellcheck disable=SC2046
  poll $(all_ports)
  # shellcheck disable=SC2046
  agreed $(all_ids) || wait_healthy 10 || die "round $round: no leader agreed within 10 s before the kill"
  old_leader=$AG_LEADER
  old_term=$AG_TERM
  k=${IDX_OF[$old_leader]:-}
  [ -n "$k" ] || die "round $round: leader id $old_leader is not a known member"

  survivors_p=()
  survivors_id=()
  for i in $(seq 0 $((NODES - 1))); do
    [ "$i" = "$k" ] && continue
    survivors_p+=("${CPORT[i]}")
    survivors_id+=("${MID[i]}")
  done

  ours "${PID[k]}" || die "round $round: leader e$k (pid ${PID[k]}) is not running"
  now; t_kill=$NOW
  kill -9 "${PID[k]}"
  polls=0
  while :; do
    now; t_s=$NOW
    poll "${survivors_p[@]}"
    now; t_e=$NOW
    POLL_US+=($((t_e - t_s)))
    polls=$((polls + 1))
    if agreed "${survivors_id[@]}" && [ "$AG_LEADER" != "$old_leader" ] && [ "$AG_TERM" -gt "$old_term" ]; then
      break
    fi
    [ $((t_e - t_kill)) -lt 10000000 ] || die "round $round: survivors agreed on no new leader within 10 s of killing e$k"
  done
  dt=$((t_e - t_kill))
  SAMPLES+=("$dt")
  stop "${PID[k]}"
  PID[k]=0
  new_i=${IDX_OF[$AG_LEADER]}
  printf 'kill %d/%d: e%d (leader, term %d) -> e%d leader at term %d, agreed after %s ms (%d polls)\n' \
    "$round" "$KILLS" "$k" "$old_term" "$new_i" "$AG_TERM" "$(ms "$dt")" "$polls"

  start_member "$k"
  wait_healthy 15 || die "round $round: cluster not healthy with $NODES members within 15 s of restarting e$k"
  sleep 1
done

pct() { # pct P: nearest rank on SORTED (microseconds)
  local n=${#SORTED[@]} r
  r=$(( (n * $1 + 99) / 100 ))
  [ "$r" -ge 1 ] || r=1
  echo "${SORTED[r - 1]}"
}

F_MIN=null F_P50=null F_P99=null F_MAX=null RES=null
if [ "${#SAMPLES[@]}" -gt 0 ]; then
  mapfile -t SORTED < <(printf '%s\n' "${SAMPLES[@]}" | sort -n)
  F_MIN=$(ms "${SORTED[0]}")
  F_P50=$(ms "$(pct 50)")
  F_P99=$(ms "$(pct 99)")
  F_MAX=$(ms "${SORTED[${#SORTED[@]} - 1]}")
  mapfile -t PS < <(printf '%s\n' "${POLL_US[@]}" | sort -n)
  RES=$(ms "${PS[$(((${#PS[@]} - 1) / 2))]}")
  echo "failover over ${#SAMPLES[@]} kills (ms): min $F_MIN p50 $F_P50 p99 $F_P99 max $F_MAX"
  echo "poll period while waiting (survivors in parallel, one curl): median $RES ms, max $(ms "${PS[${#PS[@]} - 1]}") ms over ${#PS[@]} polls"
fi

# ---------------------------------------------------------------- steady ---
WRITES=0 SPURIOUS=0 LCHANGES=0 ACHIEVED=0 CAMPAIGNS=0
if [ "$STEADY_S" -gt 0 ]; then
  wait_healthy 10 || die "cluster not healthy before the steady phase"
  # base64 of 3-digit groups "000".."999", so keys need no fork to encode.
  B64D=$(printf '%03d' $(seq 0 999) | base64 -w0)
  VALUE=$(printf '{"sale":1,"terminal":0,"lines":[{"sku":"4006381333931","qty":2,"cents":399}],"total":798}' | base64 -w0)
  per_writer_total=$(( (STEADY_S * RATE + WRITERS - 1) / WRITERS ))
  per_min=$(( (RATE * 60 + WRITERS - 1) / WRITERS ))
  [ "$per_writer_total" -le 999999 ] || die "too many writes per writer ($per_writer_total)"
  for w in $(seq 0 $((WRITERS - 1))); do
    prefix=$(printf 's%d/' "$w" | base64 -w0)   # 3 bytes -> 4 chars
    url="http://127.0.0.1:${CPORT[w % NODES]}/v3/kv/put"
    {
      for ((n = 0; n < per_writer_total; n++)); do
        hi=$((n / 1000)) lo=$((n % 1000))
        [ "$n" -gt 0 ] && echo next
        printf 'url = "%s"\ndata = "{\\"key\\":\\"%s%s%s\\",\\"value\\":\\"%s\\"}"\n' \
          "$url" "$prefix" "${B64D:hi * 4:4}" "${B64D:lo * 4:4}" "$VALUE"
      done
    } >"$WORK/writer$w.cfg"
  done
  c0=$(cat "$WORK"/e*.log | grep -c 'starting a new election' || true)
  # shellcheck disable=SC2046
  poll $(all_ports)
  term0=0
  for id in "${!ST_TERM[@]}"; do [ "${ST_TERM[$id]}" -gt "$term0" ] && term0=${ST_TERM[$id]}; done
  last_leader=""
  for id in "${!ST_LEADER[@]}"; do [ "${ST_LEADER[$id]}" != 0 ] && last_leader=${ST_LEADER[$id]}; done
  echo "steady: ${STEADY_S} s, $RATE puts/s in total ($WRITERS writers x $per_min/min, round-robin over the $NODES members), term $term0"
  now; s_start=$NOW
  for w in $(seq 0 $((WRITERS - 1))); do
    curl -q -s --no-progress-meter --max-time 5 --rate "${per_min}/m" -K "$WORK/writer$w.cfg" \
      >"$WORK/writer$w.out" 2>"$WORK/writer$w.err" &
    WRITER_PID[w]=$!
    disown "${WRITER_PID[w]}"
  done
  maxterm=$term0
  while :; do
    now
    [ $((NOW - s_start)) -lt $((STEADY_S * 1000000)) ] || break
    # shellcheck disable=SC2046
    poll $(all_ports)
    for id in "${!ST_TERM[@]}"; do
      [ "${ST_TERM[$id]}" -gt "$maxterm" ] && maxterm=${ST_TERM[$id]}
      l=${ST_LEADER[$id]}
      if [ "$l" != 0 ]; then
        if [ -n "$last_leader" ] && [ "$l" != "$last_leader" ]; then
          LCHANGES=$((LCHANGES + 1))
          echo "steady: leader change to e${IDX_OF[$l]:-?} at +$(ms $((NOW - s_start))) ms"
        fi
        last_leader=$l
      fi
    done
    sleep 0.1
  done
  for w in $(seq 0 $((WRITERS - 1))); do
    stop "${WRITER_PID[w]}"
    WRITER_PID[w]=0
  done
  # shellcheck disable=SC2046
  poll $(all_ports)
  for id in "${!ST_TERM[@]}"; do [ "${ST_TERM[$id]}" -gt "$maxterm" ] && maxterm=${ST_TERM[$id]}; done
  SPURIOUS=$((maxterm - term0))
  c1=$(cat "$WORK"/e*.log | grep -c 'starting a new election' || true)
  CAMPAIGNS=$((c1 - c0))
  WRITES=$(cat "$WORK"/writer*.out | { grep -o '"revision"' || true; } | wc -l)
  errs=$(cat "$WORK"/writer*.out | { grep -o '"error"' || true; } | wc -l)
  ACHIEVED=$(awk -v w="$WRITES" -v s="$STEADY_S" 'BEGIN { printf "%.1f", w / s }')
  echo "steady: $WRITES puts acknowledged in ${STEADY_S} s ($ACHIEVED/s achieved, target $RATE/s), $errs error answers"
  echo "steady: spurious elections (raft term increases) $SPURIOUS, leader changes seen $LCHANGES, campaigns in member logs $CAMPAIGNS"
fi

printf '{"peer":"etcd","version":"%s","nodes":%d,"kills":%d,"failover_ms":{"min":%s,"p50":%s,"p99":%s,"max":%s},"poll_resolution_ms":%s,"steady_s":%d,"writes":%d,"spurious_elections":%d,"heartbeat_ms":%d,"election_timeout_ms":%d,"rate_target":%d,"rate_achieved":%s,"leader_changes":%d,"pre_vote":%s}\n' \
  "$VERSION" "$NODES" "${#SAMPLES[@]}" "$F_MIN" "$F_P50" "$F_P99" "$F_MAX" "$RES" \
  "$STEADY_S" "$WRITES" "$SPURIOUS" "$HB_USED" "$ET_USED" "$RATE" "$ACHIEVED" "$LCHANGES" "${PREVOTE:-$PRE_VOTE}"
