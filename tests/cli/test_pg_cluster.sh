#!/usr/bin/env bash
# scripts/pg-cluster.sh: the throwaway PostgreSQL 15 cluster of the cloud
# tests and the demo. start prints the conninfo (and writes DIR/conninfo and
# DIR/port), the server answers `SELECT 1` over TCP and over its Unix socket
# in DIR, runs with the test settings, and as the `postgres` user (never
# root) when the test runs as root; a second start only prints the same
# conninfo; stop frees the port and removes DIR/data; a second stop is a
# no-op. The cluster is stopped in the exit trap whatever happens.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PGC=$KASSA_SRC/scripts/pg-cluster.sh
PSQL=/usr/lib/postgresql/15/bin/psql
[ -x "$PSQL" ] || PSQL=$(command -v psql) || fail "no psql (install postgresql-client-15: scripts/deps.sh)"
[ -x /usr/lib/postgresql/15/bin/postgres ] || fail "no PostgreSQL 15 server (install postgresql-15: scripts/deps.sh)"

make_tmpdir
# As root the server runs as postgres, which must be able to reach DIR.
chmod 711 "$TEST_TMP"
PG=$TEST_TMP/pg
# shellcheck disable=SC2016 # expanded when the trap runs
on_exit '"$PGC" stop "$PG" >/dev/null 2>&1 || true'

q() { "$PSQL" -X -A -t -v ON_ERROR_STOP=1 -d "$CONNINFO" -c "$1"; }

port_listening()
{
    if command -v ss >/dev/null 2>&1; then
        [ -n "$(ss -ltnH "( sport = :$1 )")" ]
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
    fi
}

# A process that exists and is not a zombie (this machine's init may not
# reap the exited postmaster).
alive()
{
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

note "start"
t0=$(date +%s%N)
CONNINFO=$("$PGC" start "$PG")
note "start took $((($(date +%s%N) - t0) / 1000000)) ms"
expect_match "conninfo" '^host=127\.0\.0\.1 port=[0-9]+ user=postgres dbname=postgres$' "$CONNINFO"
expect_eq "DIR/conninfo" "$CONNINFO" "$(cat "$PG/conninfo")"
PORT=$(cat "$PG/port")
expect_eq "DIR/port" "port=$PORT" "$(grep -oE 'port=[0-9]+' <<<"$CONNINFO")"
if [ "$PORT" -lt 20000 ] || [ "$PORT" -gt 60000 ]; then
    fail "port $PORT outside 20000-60000"
fi
[ -f "$PG/data/PG_VERSION" ] || fail "no cluster in $PG/data"
[ -s "$PG/postgres.log" ] || fail "no server log in $PG/postgres.log"

expect_eq "SELECT 1 over TCP" 1 "$(q 'SELECT 1')"
expect_eq "SELECT 1 over the socket in DIR" 1 \
    "$("$PSQL" -X -A -t -h "$PG" -p "$PORT" -U postgres -d postgres -c 'SELECT 1')"
expect_eq "server version" 15 "$(q 'SHOW server_version' | cut -d. -f1)"
expect_eq "settings" \
    "127.0.0.1|$PG|off|off|off|128MB|200|UTF8|C" \
    "$(q "SELECT current_setting('listen_addresses'), current_setting('unix_socket_directories'),
          current_setting('fsync'), current_setting('synchronous_commit'),
          current_setting('full_page_writes'), current_setting('shared_buffers'),
          current_setting('max_connections'), pg_encoding_to_char(encoding), datcollate
          FROM pg_database WHERE datname = 'postgres'")"

PID=$(head -n1 "$PG/data/postmaster.pid")
alive "$PID" || fail "postmaster $PID from postmaster.pid is not running"
server_user=$(ps -o user= -p "$PID" | tr -d ' ')
if [ "$(id -u)" -eq 0 ]; then
    expect_eq "server user (test runs as root)" postgres "$server_user"
    expect_eq "owner of DIR/data" postgres "$(stat -c %U "$PG/data")"
else
    expect_eq "server user" "$(id -un)" "$server_user"
fi
# Every backend too, not only the postmaster.
expect_eq "users of the server's processes" "$server_user" \
    "$(ps -o user= --ppid "$PID" | tr -d ' ' | sort -u)"

note "start again (idempotent)"
again=$("$PGC" start "$PG")
expect_eq "second start prints the same conninfo" "$CONNINFO" "$again"
expect_eq "second start keeps the server" "$PID" "$(head -n1 "$PG/data/postmaster.pid")"
expect_eq "SELECT 1 after the second start" 1 "$(q 'SELECT 1')"

note "stop"
t0=$(date +%s%N)
out=$("$PGC" stop "$PG" 2>&1)
note "stop took $((($(date +%s%N) - t0) / 1000000)) ms"
expect_eq "stop output" "" "$out"
! alive "$PID" || fail "postmaster $PID still runs after stop"
! port_listening "$PORT" || fail "port $PORT still listening after stop"
[ ! -e "$PG/data" ] || fail "$PG/data still there after stop"
[ ! -e "$PG/conninfo" ] || fail "$PG/conninfo still there after stop"
[ -z "$(ls -A "$PG")" ] || fail "stop left files in $PG: $(ls -A "$PG")"

note "stop again (no-op)"
out=$("$PGC" stop "$PG" 2>&1) || fail "second stop failed: $out"
expect_eq "second stop output" "" "$out"

note "usage"
rc=0
out=$("$PGC" restart "$PG" 2>&1) || rc=$?
expect_eq "bad command exit status" 2 "$rc"
expect_match "bad command message" '^usage: .*pg-cluster\.sh start\|stop DIR' "$out"

finish
