#!/usr/bin/env bash
# The distributed mode on one machine: PostgreSQL, Kafka, the four workers and the API,
# started in the background and stopped by their PIDs, from any shell (make dist-up /
# make dist-down).
#
#   dist.sh up DIR     start (or reuse) PostgreSQL in DIR/postgres and Kafka in DIR/kafka,
#                      then `chainon serve` and `chainon worker core|relay|dispatch|webhooks`, each
#                      detached, with DIR/run/NAME.pid and DIR/run/NAME.log; waits until
#                      each answers, and prints the settings they use (DIR/run/env)
#   dist.sh down DIR   stop the API and the workers (SIGTERM: each finishes its batch,
#                      commits and leaves its group), then Kafka and PostgreSQL, keeping
#                      every piece of data: `up` starts the same set again
#   dist.sh env DIR    print the settings of the running set, as `export` lines
#
# DIR is also the CHAINON_DATA_DIR of the processes (the demo API key is kept there).
# Environment overrides (all optional):
#   CHAINON_PORT          the API's port (default 8000)
#   CHAINON_PYTHON        the python that has chainon (default: <repo>/.venv/bin/python)
#   CHAINON_DIST_TIMEOUT  seconds to wait for each process to answer (default: 90)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd -- "$HERE/.." && pwd -P)
HOST=127.0.0.1
API_PORT=${CHAINON_PORT:-8000}
TIMEOUT=${CHAINON_DIST_TIMEOUT:-90}
WORKERS=(core relay dispatch webhooks)
STOP_TIMEOUT=30

usage() {
    cat >&2 <<EOF
usage: $PROG up DIR
       $PROG down DIR
       $PROG env DIR
EOF
    exit 2
}

python_bin() {
    if [[ -n ${CHAINON_PYTHON:-} ]]; then
        printf '%s\n' "$CHAINON_PYTHON"
    elif [[ -x $ROOT/.venv/bin/python ]]; then
        printf '%s\n' "$ROOT/.venv/bin/python"
    else
        printf '%s\n' python3
    fi
}

# The PID in DIR/run/NAME.pid if that process is alive and is a chainon command.
running_pid() {
    local file=$RUN/$1.pid p
    [[ -f $file ]] || return 1
    p=$(tr -dc '0-9' <"$file")
    pid_alive "$p" || return 1
    local cmdline
    cmdline=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || cmdline=$(ps -o args= -p "$p" 2>/dev/null) || return 1
    [[ $cmdline == *chainon.cli* ]] || return 1  # not a recycled PID
    printf '%s\n' "$p"
}

# Polls URL until it answers 2xx; fails early if PID exits.
wait_http() {
    local name=$1 url=$2 pid=$3
    "$(python_bin)" - "$url" "$pid" "$TIMEOUT" <<'EOF' || die "$name did not answer on $url (its log: $RUN/$name.log)"
import os, sys, time, urllib.request

url, pid, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit(1)
    try:
        with urllib.request.urlopen(url, timeout=1) as answer:
            if 200 <= answer.status < 300:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.2)
sys.exit(1)
EOF
}

# Starts `chainon ARGS…` detached (its own session: the caller's shell, Ctrl-C or the
# end of a CI step do not stop it) with the settings in DIR/run/env.
launch() {
    local name=$1
    shift
    (
        set -a
        # shellcheck source=/dev/null
        source "$RUN/env"
        set +a
        exec setsid "$(python_bin)" -m chainon.cli "$@"
    ) </dev/null >>"$RUN/$name.log" 2>&1 &
    write_atomic "$RUN/$name.pid" "$!"
    log "$name: pid $!, log $RUN/$name.log"
}

cmd_up() {
    [[ $# -eq 1 && -n $1 ]] || usage
    mkdir -p -- "$1/run" || die "cannot create $1/run"
    resolve_dir "$1"
    RUN=$DIR/run

    bash "$HERE/postgres/pg.sh" start "$DIR/postgres" >/dev/null
    bash "$HERE/kafka/kafka.sh" start "$DIR/kafka" >/dev/null
    local ports
    mapfile -t ports < <(free_ports "${#WORKERS[@]}")
    ((${#ports[@]} == ${#WORKERS[@]})) || die "could not find ${#WORKERS[@]} free TCP ports on $HOST"
    if ! running_pid serve >/dev/null; then
        {
            printf 'CHAINON_STORE=postgres\nCHAINON_BUS=kafka\n'
            cat "$DIR/postgres/env" "$DIR/kafka/env"
            printf 'CHAINON_DATA_DIR=%s\nCHAINON_HOST=%s\nCHAINON_PORT=%s\n' "$DIR" "$HOST" "$API_PORT"
        } >"$RUN/env.tmp"
        mv -f "$RUN/env.tmp" "$RUN/env"
    fi

    # The API first: it creates the store's tables and the demo brand, then the workers.
    local pid
    if pid=$(running_pid serve); then
        log "serve already running (pid $pid); reusing it"
    else
        launch serve serve
        wait_http serve "http://$HOST:$API_PORT/readyz" "$(<"$RUN/serve.pid")"
    fi
    local i name
    for i in "${!WORKERS[@]}"; do
        name=${WORKERS[$i]}
        if pid=$(running_pid "$name"); then
            log "worker $name already running (pid $pid); reusing it"
            continue
        fi
        CHAINON_WORKER_PORT=${ports[$i]} launch "$name" worker "$name"
        printf '%s\n' "${ports[$i]}" >"$RUN/$name.port"
    done
    for name in "${WORKERS[@]}"; do
        wait_http "$name" "http://$HOST:$(<"$RUN/$name.port")/healthz" "$(<"$RUN/$name.pid")"
    done
    log "running: API http://$HOST:$API_PORT/docs, demo API key in $DIR/demo-api-key"
    log "for the CLI on this set: eval \"\$(bash infra/dist.sh env $1)\"; to stop: make dist-down"
    cmd_env "$DIR"
}

cmd_env() {
    [[ $# -eq 1 && -n $1 ]] || usage
    [[ -f $1/run/env ]] || die "$1/run/env does not exist: start the set with '$PROG up $1'"
    sed -e '/^$/d' -e 's/^/export /' "$1/run/env"
}

# SIGTERM, then SIGKILL after STOP_TIMEOUT seconds.
stop_process() {
    local name=$1 pid
    if ! pid=$(running_pid "$name"); then
        rm -f -- "$RUN/$name.pid"
        return 0
    fi
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" "$STOP_TIMEOUT"; then
        log "$name (pid $pid) did not stop within ${STOP_TIMEOUT}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" 5 || die "could not stop $name (pid $pid)"
    fi
    rm -f -- "$RUN/$name.pid"
}

cmd_down() {
    [[ $# -eq 1 && -n $1 ]] || usage
    if [[ ! -d $1 ]]; then
        log "$1 does not exist; nothing to stop"
        return 0
    fi
    resolve_dir "$1"
    RUN=$DIR/run
    # The API first (nothing new comes in), then the stages in the order records flow.
    local name
    for name in serve core relay dispatch webhooks; do
        stop_process "$name"
    done
    if [[ -d $DIR/kafka ]]; then bash "$HERE/kafka/kafka.sh" stop "$DIR/kafka" --keep; fi
    if [[ -d $DIR/postgres ]]; then bash "$HERE/postgres/pg.sh" stop "$DIR/postgres" --keep; fi
    log "stopped; the data stays in $DIR ('make kafka-down postgres-down' deletes the servers' data)"
}

main() {
    [[ $# -ge 1 ]] || usage
    local cmd=$1
    shift
    case $cmd in
        up) cmd_up "$@" ;;
        down) cmd_down "$@" ;;
        env) cmd_env "$@" ;;
        -h | --help | help) usage ;;
        *) log "unknown command: $cmd"; usage ;;
    esac
}

main "$@"
