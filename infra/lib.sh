# Shell functions shared by the throw-away servers' scripts (infra/postgres/pg.sh,
# infra/kafka/kafka.sh), so that both report, pick ports and watch processes alike.
# Sourced, never run: `source "$(dirname -- "${BASH_SOURCE[0]}")/../lib.sh"`.

PROG=${0##*/}  # the script that sourced this file, for its messages

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

is_root() { [[ $(id -u) -eq 0 ]]; }

# Installs Debian packages (the caller has checked that it is root and has apt-get).
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2 || die "apt-get update failed"
    apt-get install -y --no-install-recommends "$@" >&2 || die "apt-get install $* failed"
}

# COUNT (default 1) distinct free TCP ports on 127.0.0.1, one per line (the sockets are
# held open together, so they differ). Another process may take one before the server
# binds it: the callers retry on "address in use".
free_ports() {
    local count=${1:-1}
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()' "$count"
        return
    fi
    # Fallback: random high ports that nothing answers on.
    local p n found=()
    for ((n = 0; n < 50 * count && ${#found[@]} < count; n++)); do
        p=$((20000 + RANDOM % 40000))
        [[ " ${found[*]} " != *" $p "* ]] || continue
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            found+=("$p")
        fi
    done
    ((${#found[@]} == count)) || return 1
    printf '%s\n' "${found[@]}"
}

# True if nothing listens on 127.0.0.1:PORT: it can be bound now as a server binds it
# (SO_REUSEADDR: the connections of a server just stopped may linger in TIME_WAIT).
port_is_free() {
    python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()' "$1" 2>/dev/null
}

# Alive = exists and is not a zombie (a killed server whose parent, e.g. a container's
# PID 1, has not reaped it yet still answers kill -0). Without ps, kill -0 decides.
pid_alive() {
    [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null || return 1
    command -v ps >/dev/null 2>&1 || return 0
    local state
    state=$(ps -o stat= -p "$1" 2>/dev/null || true)
    [[ -n $state && $state != Z* ]]
}

# Waits up to SECONDS for PID to exit; status 1 if it still runs then.
wait_gone() {
    local pid=$1 deadline=$((SECONDS + $2))
    while pid_alive "$pid" && ((SECONDS < deadline)); do
        sleep 0.1
    done
    ! pid_alive "$pid"
}

# Sets DIR to the physical absolute path of the existing directory $1, never /: the
# scripts delete DIR on stop.
resolve_dir() {
    DIR=$(cd -- "$1" && pwd -P) || die "cannot resolve $1"
    [[ $DIR != / ]] || die "refusing to use / as DIR"
}

# Writes LINE to FILE through a rename, so a reader never sees half of it.
write_atomic() {
    printf '%s\n' "$2" >"$1.tmp" && mv -f "$1.tmp" "$1"
}
