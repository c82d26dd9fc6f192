#!/usr/bin/env bash
# Throw-away PostgreSQL server for Chainon tests and local development.
#
#   pg.sh install      ensure Debian's PostgreSQL server package is installed
#   pg.sh start DIR    init (if needed) and start a server in DIR; prints the DSN last
#                      (DIR/env holds it as CHAINON_POSTGRES_DSN=…); a DIR that was
#                      stopped with --keep starts again with its data, on its port if free
#   pg.sh stop DIR     stop the server started in DIR and remove DIR
#   pg.sh stop DIR --keep   stop the server, keep DIR and its data
#
# See infra/postgres/README.md. NOT for production: fsync is off, auth is trust.
#
# Environment overrides (all optional):
#   CHAINON_PG_BINDIR         server bin dir (default: pg_config --bindir, else the
#                             highest /usr/lib/postgresql/*/bin holding initdb)
#   CHAINON_PG_USER           OS user that runs initdb/postgres when we are root
#                             (default: postgres if it exists, else chainon-pg)
#   CHAINON_PG_START_TIMEOUT  seconds to wait for pg_isready (default: 30)
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib.sh"

SUPERUSER=chainon
DATABASE=chainon
HOST=127.0.0.1
PG_LIBDIR=/usr/lib/postgresql
MARKER=.chainon-pg
START_TIMEOUT=${CHAINON_PG_START_TIMEOUT:-30}
STOP_TIMEOUT=20

usage() {
    cat >&2 <<EOF
usage: $PROG install
       $PROG start DIR
       $PROG stop DIR [--keep]
EOF
    exit 2
}

# --- binaries ---------------------------------------------------------------

# A directory counts as a server bin dir if it has initdb, postgres and pg_isready.
is_server_bindir() {
    [[ -n $1 && -x $1/initdb && -x $1/postgres && -x $1/pg_isready && -x $1/psql ]]
}

# Prints the server bin dir, or returns 1 if no server is installed.
find_bindir() {
    local d
    if [[ -n ${CHAINON_PG_BINDIR:-} ]]; then
        is_server_bindir "$CHAINON_PG_BINDIR" || return 1
        printf '%s\n' "$CHAINON_PG_BINDIR"
        return 0
    fi
    # On Debian, pg_config (libpq-dev) may point at a version whose server is
    # not installed, hence the check.
    if command -v pg_config >/dev/null 2>&1; then
        d=$(pg_config --bindir 2>/dev/null || true)
        if is_server_bindir "$d"; then
            printf '%s\n' "$d"
            return 0
        fi
    fi
    if [[ -d $PG_LIBDIR ]]; then
        while IFS= read -r d; do
            if is_server_bindir "$d"; then
                printf '%s\n' "$d"
                return 0
            fi
        done < <(shopt -s nullglob; for d in "$PG_LIBDIR"/*/bin; do printf '%s\n' "$d"; done | sort -rV)
    fi
    return 1
}

# Sets BINDIR; installs the server package only when no initdb is found.
ensure_installed() {
    if BINDIR=$(find_bindir); then
        return 0
    fi
    [[ -z ${CHAINON_PG_BINDIR:-} ]] \
        || die "CHAINON_PG_BINDIR=$CHAINON_PG_BINDIR has no initdb/postgres/pg_isready/psql"
    is_root || die "PostgreSQL server binaries not found and not root: install the 'postgresql' package (or run as root)"
    command -v apt-get >/dev/null 2>&1 \
        || die "PostgreSQL server binaries not found and apt-get is unavailable"
    log "PostgreSQL server not found; installing the 'postgresql' package with apt-get"
    apt_install postgresql
    BINDIR=$(find_bindir) || die "postgresql installed but no server bin dir found under $PG_LIBDIR"
}

# --- running as an unprivileged user -----------------------------------------

# Sets RUN_AS (command prefix, may be empty) and PG_OWNER (user:group).
# initdb/postgres refuse to run as root, so as root we drop to PG_USER.
setup_user() {
    RUN_AS=()
    if ! is_root; then
        PG_OWNER="$(id -un):$(id -gn)"
        return 0
    fi
    local user=${CHAINON_PG_USER:-}
    if [[ -z $user ]]; then
        if id -u postgres >/dev/null 2>&1; then
            user=postgres
        else
            user=chainon-pg
        fi
    fi
    if ! id -u "$user" >/dev/null 2>&1; then
        [[ $user == chainon-pg ]] || die "user '$user' (CHAINON_PG_USER) does not exist"
        log "creating system user $user"
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$user" || die "useradd $user failed"
    fi
    [[ $(id -u "$user") -ne 0 ]] || die "user '$user' is root; postgres refuses to run as root"
    local group
    group=$(id -gn "$user")
    PG_OWNER="$user:$group"
    # setpriv execs in place (no extra process), so a backgrounded command's
    # $! is the postmaster itself; env -i keeps the caller's PG* variables out.
    RUN_AS=(setpriv "--reuid=$user" "--regid=$group" --init-groups)
}

# Runs "$@" as the unprivileged user with a clean environment.
as_pg() {
    "${RUN_AS[@]}" env -i PATH=/usr/bin:/bin LANG=C LC_ALL=C HOME="$DIR" "$@"
}

# --- helpers ------------------------------------------------------------------

# True if PID is alive and is a postgres process (guards against PID reuse).
is_postgres_pid() {
    pid_alive "$1" || return 1
    local comm
    comm=$(cat "/proc/$1/comm" 2>/dev/null || ps -o comm= -p "$1" 2>/dev/null || true)
    [[ $comm == postgres* ]]
}

# PID recorded by the postmaster itself (first line of postmaster.pid).
postmaster_pid() {
    local f=$1/data/postmaster.pid
    [[ -f $f ]] || return 1
    local p
    p=$(head -n1 "$f" 2>/dev/null || true)
    [[ $p =~ ^[0-9]+$ ]] || return 1
    printf '%s\n' "$p"
}

# True if PID is a postgres whose data directory is DIR/data. The postmaster
# chdirs into its data directory, so /proc/PID/cwd tells (guards against a
# recycled PID that now belongs to another server).
is_our_postmaster() {
    is_postgres_pid "$1" || return 1
    local cwd
    cwd=$(readlink "/proc/$1/cwd" 2>/dev/null) || return 0  # no /proc: trust comm
    [[ $cwd == "$2/data" ]]
}

# Prints the PID of the postmaster serving DIR ($1), or returns 1.
running_pid() {
    local p
    if [[ -f $1/pid ]]; then
        p=$(tr -dc '0-9' <"$1/pid")
        if is_our_postmaster "$p" "$1"; then printf '%s\n' "$p"; return 0; fi
    fi
    if p=$(postmaster_pid "$1") && is_our_postmaster "$p" "$1"; then
        printf '%s\n' "$p"
        return 0
    fi
    return 1
}

is_ready() { "$BINDIR/pg_isready" -q -h "$HOST" -p "$1" -U "$SUPERUSER" -d postgres -t 1 >/dev/null 2>&1; }

psql_admin() {
    PGCONNECT_TIMEOUT=5 "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$HOST" -p "$PORT" \
        -U "$SUPERUSER" -d postgres "$@"
}

print_log() {
    if [[ -f $DIR/log ]]; then
        printf -- '----- server log (%s) -----\n' "$DIR/log" >&2
        tail -n 100 "$DIR/log" >&2 || true
        printf -- '----- end of server log -----\n' >&2
    fi
}

sql_literal() { printf "'%s'" "${1//\'/\'\'}"; }

# --- subcommands --------------------------------------------------------------

cmd_install() {
    ensure_installed
    log "PostgreSQL server binaries: $BINDIR ($("$BINDIR/postgres" --version))"
}

init_cluster() {
    local data=$DIR/data
    if [[ -f $data/PG_VERSION ]]; then
        log "reusing existing cluster in $data"
        return 0
    fi
    if [[ -e $data ]] && [[ -n $(ls -A "$data" 2>/dev/null) ]]; then
        die "$data exists but is not a PostgreSQL cluster (no PG_VERSION)"
    fi
    log "initdb in $data"
    (cd "$DIR" && as_pg "$BINDIR/initdb" -D "$data" -U "$SUPERUSER" \
        --auth=trust --encoding=UTF8 --locale=C --no-sync) >"$DIR/initdb.log" 2>&1 || {
        cat "$DIR/initdb.log" >&2
        die "initdb failed (see above)"
    }
    # Trust only the local socket and 127.0.0.1; nothing else may connect.
    cat >"$data/pg_hba.conf" <<'EOF'
# Throw-away test server (infra/postgres/pg.sh): trust local + 127.0.0.1 only.
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 trust
host    all       all   127.0.0.1/32  trust
EOF
    cat >>"$data/postgresql.conf" <<EOF

# --- infra/postgres/pg.sh: throw-away test server, NOT for production ---
listen_addresses = '$HOST'
unix_socket_directories = $(sql_literal "$DIR")
# A Chainon process may hold 24 connections (store pool 10 + 10 overflow, read models 4);
# the distributed bench runs five beside the test session's own (100 ran out in CI).
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
EOF
    chown "$PG_OWNER" "$data/pg_hba.conf" "$data/postgresql.conf"
}

# Launches the postmaster on $PORT; sets SERVER_PID on success.
# Returns 1 on failure, 3 if the port was taken (caller retries).
launch() {
    : >"$DIR/log"
    chown "$PG_OWNER" "$DIR/log"
    local launcher
    # setsid: detach from the caller's terminal/session so Ctrl-C or the end
    # of a CI step does not kill it; stop uses the PID explicitly.
    (cd "$DIR" && exec setsid "${RUN_AS[@]}" env -i PATH=/usr/bin:/bin LANG=C LC_ALL=C \
        HOME="$DIR" "$BINDIR/postgres" -D "$DIR/data" -p "$PORT") \
        </dev/null >>"$DIR/log" 2>&1 &
    launcher=$!
    local deadline=$((SECONDS + START_TIMEOUT)) p
    while ((SECONDS < deadline)); do
        if is_ready "$PORT"; then
            p=$(postmaster_pid "$DIR") || { log "server answers but $DIR/data/postmaster.pid is unreadable"; return 1; }
            is_postgres_pid "$p" || { log "postmaster PID $p from postmaster.pid is not running"; return 1; }
            SERVER_PID=$p
            return 0
        fi
        if ! pid_alive "$launcher" && ! { p=$(postmaster_pid "$DIR") && pid_alive "$p"; }; then
            wait "$launcher" 2>/dev/null || true
            if grep -q -e 'could not bind' -e 'Address already in use' "$DIR/log" 2>/dev/null; then
                return 3
            fi
            log "postgres exited during start-up"
            return 1
        fi
        sleep 0.2
    done
    log "server did not answer pg_isready on $HOST:$PORT within ${START_TIMEOUT}s"
    # Do not leave a half-started server behind.
    if p=$(postmaster_pid "$DIR") && is_postgres_pid "$p"; then
        kill_server "$p"
    elif pid_alive "$launcher"; then
        kill -KILL "$launcher" 2>/dev/null || true
    fi
    return 1
}

write_state() {
    local dsn=$1
    write_atomic "$DIR/port" "$PORT"
    write_atomic "$DIR/pid" "$SERVER_PID"
    write_atomic "$DIR/env" "CHAINON_POSTGRES_DSN=$dsn"
    chmod 0644 "$DIR/port" "$DIR/pid" "$DIR/env"
}

dsn_for() { printf 'postgresql://%s@%s:%s/%s\n' "$SUPERUSER" "$HOST" "$1" "$DATABASE"; }

cmd_start() {
    [[ $# -eq 1 && -n $1 ]] || usage
    ensure_installed
    setup_user

    mkdir -p -- "$1" || die "cannot create directory $1"
    resolve_dir "$1"

    # Idempotent: a server already running in DIR is reused as is.
    local pid
    if pid=$(running_pid "$DIR"); then
        PORT=$(tr -dc '0-9' <"$DIR/port" 2>/dev/null || true)
        if [[ -n $PORT ]] && is_ready "$PORT"; then
            log "server already running in $DIR (pid $pid, port $PORT); reusing it"
            SERVER_PID=$pid
            write_state "$(dsn_for "$PORT")"
            dsn_for "$PORT"
            return 0
        fi
        die "a postgres process (pid $pid) owns $DIR but does not answer; run '$PROG stop $DIR' first"
    fi

    # Unix socket paths are limited to 107 bytes ("$DIR/.s.PGSQL.NNNNN").
    ((${#DIR} <= 90)) || die "DIR path too long for a Unix socket (${#DIR} > 90 chars): $DIR"

    touch "$DIR/$MARKER"
    chown "$PG_OWNER" "$DIR"
    chmod 0755 "$DIR"
    if is_root; then
        as_pg test -w "$DIR" -a -x "$DIR" \
            || die "user ${PG_OWNER%%:*} cannot write to $DIR (are all parent directories traversable?)"
    fi

    init_cluster

    # A SIGKILLed postmaster can linger as a zombie until its parent (often
    # PID 1) reaps it; postgres would then refuse to start because the PID in
    # its stale postmaster.pid still "exists". Give the reaper a moment.
    local stale deadline=$((SECONDS + 10))
    if stale=$(postmaster_pid "$DIR"); then
        while kill -0 "$stale" 2>/dev/null && ! pid_alive "$stale" && ((SECONDS < deadline)); do
            sleep 0.2
        done
    fi

    # A restart keeps its DSN when it can: the port of the previous run, if still free.
    local previous
    previous=$(tr -dc '0-9' 2>/dev/null <"$DIR/port" || true)
    local attempt rc
    for attempt in 1 2 3 4 5; do
        if [[ $attempt == 1 && -n $previous ]] && port_is_free "$previous"; then
            PORT=$previous
        else
            PORT=$(free_ports 1) || die "could not find a free TCP port on $HOST"
        fi
        log "starting postgres on $HOST:$PORT (socket dir $DIR)"
        rc=0
        launch || rc=$?
        ((rc == 0)) && break
        if ((rc == 3)); then
            log "port $PORT was taken meanwhile; retrying with another port (attempt $attempt)"
            continue
        fi
        print_log
        die "could not start postgres in $DIR"
    done
    ((rc == 0)) || { print_log; die "could not bind a free port after 5 attempts"; }

    # From here on, stop the server again if anything fails.
    trap 'rc=$?; if ((rc != 0)); then print_log; kill_server "$SERVER_PID"; fi' EXIT

    local exists
    exists=$(psql_admin -tA -c "select 1 from pg_database where datname = '$DATABASE'") \
        || die "could not query the server on port $PORT"
    if [[ $exists != 1 ]]; then
        psql_admin -c "create database $DATABASE" || die "could not create database $DATABASE"
    fi

    local dsn
    dsn=$(dsn_for "$PORT")
    write_state "$dsn" || die "could not write state files in $DIR"
    PGCONNECT_TIMEOUT=5 "$BINDIR/psql" -X -q -tA "$dsn" -c 'select 1' >/dev/null \
        || die "server started but the DSN does not connect: $dsn"
    trap - EXIT
    log "postgres running: pid $SERVER_PID, port $PORT, data $DIR/data, log $DIR/log"
    printf '%s\n' "$dsn"
}

# SIGINT (fast shutdown), wait up to STOP_TIMEOUT s, then SIGKILL the
# postmaster's process group (it is a session leader thanks to setsid).
kill_server() {
    local pid=$1
    is_postgres_pid "$pid" || return 0
    local pgid
    pgid=$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ' || true)
    kill -INT "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" "$STOP_TIMEOUT"; then
        log "postgres (pid $pid) did not stop within ${STOP_TIMEOUT}s; sending SIGKILL"
        if [[ $pgid == "$pid" ]]; then
            kill -KILL -- "-$pid" 2>/dev/null || true
        else
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait_gone "$pid" 5 || die "could not kill postgres pid $pid"
    fi
    # Children of a killed postmaster exit on their own; make sure.
    if [[ $pgid == "$pid" ]]; then
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    # The exited processes stay zombies until their parent (PID 1 for a
    # daemon) reaps them; wait briefly so a follow-up `pgrep postgres` is
    # clean. Not an error if the reaper is slow: they are already dead.
    local deadline=$((SECONDS + 5))
    while ((SECONDS < deadline)); do
        if kill -0 "$pid" 2>/dev/null; then
            :
        elif [[ $pgid == "$pid" ]] && kill -0 -- "-$pid" 2>/dev/null; then
            :
        else
            break
        fi
        sleep 0.1
    done
}

cmd_stop() {
    local keep=no
    if [[ $# -eq 2 && $2 == --keep ]]; then
        keep=yes
    else
        [[ $# -eq 1 && -n $1 ]] || usage
    fi
    if [[ ! -e $1 ]]; then
        log "$1 does not exist; nothing to stop"
        return 0
    fi
    resolve_dir "$1"
    # Refuse to rm -rf a directory this script did not create.
    [[ -e $DIR/$MARKER ]] \
        || die "$DIR was not created by '$PROG start' (no $MARKER); not touching it"

    local pid
    if pid=$(running_pid "$DIR"); then
        log "stopping postgres (pid $pid) in $DIR"
        kill_server "$pid"
    else
        log "no running postgres in $DIR"
    fi
    if [[ $keep == yes ]]; then
        rm -f -- "$DIR/pid"
        log "kept $DIR ('$PROG start $DIR' starts it again with its data)"
        return 0
    fi
    rm -rf -- "$DIR" || die "could not remove $DIR"
    log "removed $DIR"
}

main() {
    [[ $# -ge 1 ]] || usage
    local cmd=$1
    shift
    case $cmd in
        install) [[ $# -eq 0 ]] || usage; cmd_install ;;
        start) cmd_start "$@" ;;
        stop) cmd_stop "$@" ;;
        -h | --help | help) usage ;;
        *) log "unknown command: $cmd"; usage ;;
    esac
}

main "$@"
