#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the tests and the demo.
#
#   scripts/pg-cluster.sh start DIR   create (initdb) and start a cluster in
#                                     DIR/data; prints its conninfo
#   scripts/pg-cluster.sh stop DIR    stop it and remove DIR/data
#
# DIR is created if needed. Run as root, the cluster belongs to and runs as
# the `postgres` system user (initdb refuses to run as root): DIR itself is
# chowned to postgres, and every directory above DIR must be searchable by
# postgres (a `mktemp -d` directory is 0700: chmod it 0711 first). Run as a
# normal user, it runs as that user.
#
# Files in DIR:
#   data/          the cluster (initdb -A trust -U postgres -E UTF8 --locale=C)
#   postgres.log   the server log (pg_ctl -l)
#   conninfo       one line: host=127.0.0.1 port=PORT user=postgres dbname=postgres
#   port           the TCP port
#   .s.PGSQL.PORT  the server's Unix socket (unix_socket_directories = DIR,
#                  so nothing under /var/run is needed)
#
# THIS IS A TEST CLUSTER ONLY. It trades every safety for speed: fsync=off,
# synchronous_commit=off and full_page_writes=off mean a crash of the machine
# (not of a single process) can corrupt it beyond repair. Authentication is
# `trust`: any local user can connect to 127.0.0.1:PORT as the superuser.
# Never point anything at it that holds data worth keeping.
#
# The TCP port is chosen at random in 20000-60000 among the ports no socket
# uses (ss), and the start is retried with another port when the server
# still could not bind it (another process took it in between).
#
# start is idempotent: when the cluster in DIR is already running it only
# prints the conninfo. A cluster that exists but is not running (e.g. after a
# reboot) is started again, on a fresh port if its old one is taken. stop
# succeeds when nothing runs; it only ever signals (through pg_ctl) the
# postmaster whose working directory is DIR/data, never anything else, and
# keeps DIR/postgres.log (and DIR/data) when the stop failed.
set -euo pipefail

PGBIN=/usr/lib/postgresql/15/bin
PG_USER=postgres          # the system user that runs the server when we are root
START_TRIES=5             # ports tried before giving up
LOG_TAIL=30               # lines of postgres.log shown on a failure

prog=pg-cluster

usage()
{
    echo "usage: $0 start|stop DIR" >&2
    exit 2
}

die()
{
    echo "$prog: $*" >&2
    exit 1
}

# die_log MESSAGE: fails, with the end of the server log.
die_log()
{
    echo "$prog: $*" >&2
    if [ -n "${LOG:-}" ] && [ -s "$LOG" ]; then
        echo "$prog: last $LOG_TAIL lines of $LOG:" >&2
        tail -n "$LOG_TAIL" "$LOG" | sed 's/^/    /' >&2
    fi
    exit 1
}

[ $# -eq 2 ] || usage
cmd=$1
[ -n "$2" ] || usage
case $cmd in start | stop) ;; *) usage ;; esac

for b in initdb pg_ctl postgres; do
    [ -x "$PGBIN/$b" ] || die "no $PGBIN/$b: install postgresql-15 (scripts/deps.sh)"
done

# Settings in the environment that would change what initdb/pg_ctl do.
unset PGDATA PGOPTIONS PGPORT PGHOST PGHOSTADDR PGUSER PGDATABASE

if [ "$(id -u)" -eq 0 ]; then
    id -u "$PG_USER" >/dev/null 2>&1 ||
        die "running as root but there is no '$PG_USER' system user (install postgresql-15)"
    AS_PG=(runuser -u "$PG_USER" --)
else
    AS_PG=()
fi

# as_pg CMD...: CMD as the cluster's owner, from DIR (so that a current
# directory the owner cannot enter, e.g. /root, does not matter).
as_pg()
{
    (cd "$DIR" && "${AS_PG[@]}" "$@")
}

# ---- the directory ----

DIR_ARG=$2
if [ "$cmd" = start ]; then
    mkdir -p -- "$DIR_ARG" || die "cannot create $DIR_ARG"
fi
if [ ! -d "$DIR_ARG" ]; then
    # stop of something that was never started (or is gone): nothing to do.
    [ "$cmd" = stop ] && exit 0
    die "$DIR_ARG is not a directory"
fi
DIR=$(cd -- "$DIR_ARG" && pwd -P) || die "cannot enter $DIR_ARG"
DATA=$DIR/data
LOG=$DIR/postgres.log
CONNINFO=$DIR/conninfo
PORTFILE=$DIR/port

# The server's Unix socket is DIR/.s.PGSQL.PORT (plus ".lock"); sun_path
# holds 107 bytes.
if [ $((${#DIR} + 20)) -gt 107 ]; then
    die "$DIR is too long for a Unix socket path (at most 87 bytes)"
fi

# ---- is our server running? ----

# alive PID: PID is a process that has not exited (a zombie has: a killed
# server whose parent, e.g. a container's init, does not reap it).
alive()
{
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

# Prints the postmaster's PID when DIR/data/postmaster.pid names a live
# process that really is the postmaster of DIR/data (its working directory
# is DIR/data): a stale lock file whose PID was reused by some unrelated
# process must never make us signal that process.
our_postmaster()
{
    local pid cwd
    [ -f "$DATA/postmaster.pid" ] || return 1
    pid=$(head -n1 "$DATA/postmaster.pid" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] && [ "$pid" -gt 1 ] || return 1
    alive "$pid" || return 1
    cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || return 1
    [ "$cwd" = "$DATA" ] || return 1
    echo "$pid"
}

pg_status_ok()
{
    as_pg "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

is_running()
{
    our_postmaster >/dev/null && pg_status_ok
}

# ---- stop ----

if [ "$cmd" = stop ]; then
    if [ ! -e "$DATA" ]; then
        rm -f -- "$CONNINFO" "$PORTFILE" "$LOG"
        exit 0
    fi
    if our_postmaster >/dev/null; then
        out=$(as_pg "$PGBIN/pg_ctl" -D "$DATA" -w -t 60 -m fast stop 2>&1) ||
            die_log "pg_ctl stop failed for $DATA (cluster and log kept):"$'\n'"$out"
        ! our_postmaster >/dev/null ||
            die_log "the server of $DATA still runs after pg_ctl stop (cluster and log kept)"
    elif [ -f "$DATA/postmaster.pid" ]; then
        echo "$prog: $DATA/postmaster.pid is stale (no server of $DATA runs); removing the cluster" >&2
    fi
    rm -rf -- "$DATA" || die "cannot remove $DATA"
    rm -f -- "$CONNINFO" "$PORTFILE" "$LOG"
    # Sockets left behind by a server of ours that was killed: only those
    # whose lock file names no live process.
    for lock in "$DIR"/.s.PGSQL.*.lock; do
        [ -f "$lock" ] || continue
        pid=$(head -n1 "$lock" 2>/dev/null || true)
        if [[ $pid =~ ^[0-9]+$ ]] && alive "$pid"; then
            continue
        fi
        rm -f -- "${lock%.lock}" "$lock"
    done
    exit 0
fi

# ---- start ----

print_conninfo()
{
    [ -s "$CONNINFO" ] || die "$DIR: the server runs but $CONNINFO is missing"
    cat "$CONNINFO"
}

if is_running; then
    print_conninfo
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    chown "$PG_USER:" "$DIR" || die "cannot chown $DIR to $PG_USER"
    "${AS_PG[@]}" test -w "$DIR" -a -x "$DIR" ||
        die "user $PG_USER cannot write to $DIR: every directory above it must be searchable by $PG_USER (chmod o+x)"
fi

if [ -e "$DATA" ] && [ ! -f "$DATA/PG_VERSION" ]; then
    if [ -d "$DATA" ] && [ -z "$(ls -A "$DATA")" ]; then
        rmdir "$DATA"
    else
        die "$DATA exists but is not a PostgreSQL cluster; not touching it"
    fi
fi

if [ -f "$DATA/PG_VERSION" ]; then
    v=$(cat "$DATA/PG_VERSION")
    [ "$v" = 15 ] || die "$DATA is a PostgreSQL $v cluster, not 15"
else
    out=$(as_pg "$PGBIN/initdb" -D "$DATA" -A trust -U postgres --no-sync \
        -E UTF8 --locale=C 2>&1) ||
        die "initdb of $DATA failed:"$'\n'"$out"
    # Our settings live in their own file, rewritten at every start.
    echo "include_if_exists = 'kassa-test.conf'" >>"$DATA/postgresql.conf"
fi

# A stale lock file (the machine rebooted, the server was SIGKILLed) whose
# PID now belongs to another process would make postgres refuse to start.
if [ -f "$DATA/postmaster.pid" ] && ! our_postmaster >/dev/null; then
    rm -f -- "$DATA/postmaster.pid"
fi

# port_in_use PORT: some TCP socket (listening or not) uses PORT locally.
port_in_use()
{
    local p=$1
    if command -v ss >/dev/null 2>&1; then
        [ -n "$(ss -tanH "( sport = :$p )" 2>/dev/null)" ]
    else
        # Something answers on 127.0.0.1:PORT.
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null
    fi
}

pick_port()
{
    local p i
    for ((i = 0; i < 200; i++)); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 40001))
        if ! port_in_use "$p"; then
            echo "$p"
            return 0
        fi
    done
    die "no free TCP port found in 20000-60000"
}

write_conf()
{
    as_pg tee "$DATA/kassa-test.conf" >/dev/null <<EOF
# Written by scripts/pg-cluster.sh: a TEST cluster, no durability at all.
listen_addresses = '127.0.0.1'
port = $1
unix_socket_directories = '$DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 128MB
max_connections = 200
log_destination = 'stderr'
logging_collector = off
EOF
}

# The postmaster's own output goes to the log (pg_ctl -l); pg_ctl's chatter
# is shown only on a failure, so that stdout is just the conninfo.
started=0
for ((try = 1; try <= START_TRIES; try++)); do
    port=$(pick_port)
    write_conf "$port"
    log_from=0
    [ ! -f "$LOG" ] || log_from=$(stat -c %s "$LOG")
    if out=$(as_pg "$PGBIN/pg_ctl" -D "$DATA" -w -t 60 -l "$LOG" start 2>&1); then
        started=1
        break
    fi
    # Retry on another port only when this one was taken after all.
    if tail -c +$((log_from + 1)) "$LOG" 2>/dev/null |
        grep -qE 'could not bind IPv4 address|Address already in use'; then
        echo "$prog: port $port was taken, trying another one" >&2
        continue
    fi
    # pg_ctl may give up while the server still starts: never leave it behind.
    if our_postmaster >/dev/null; then
        as_pg "$PGBIN/pg_ctl" -D "$DATA" -w -t 60 -m immediate stop >/dev/null 2>&1 || true
    fi
    die_log "pg_ctl start of $DATA failed:"$'\n'"$out"
done
[ "$started" -eq 1 ] || die_log "could not start the server of $DATA on a free port after $START_TRIES tries"

echo "$port" >"$PORTFILE"
echo "host=127.0.0.1 port=$port user=postgres dbname=postgres" >"$CONNINFO"
print_conninfo
