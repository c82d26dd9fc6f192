#!/usr/bin/env bash
# Throw-away Apache Kafka broker (KRaft, broker + controller in one JVM) for
# Chainon tests and local development, assembled from Maven Central jars.
#
#   kafka.sh build        ensure java/mvn, build lib/ from pom.xml if missing or stale
#   kafka.sh start DIR    format (first time) and start a broker in DIR;
#                         prints the bootstrap address (127.0.0.1:PORT) last (DIR/env
#                         holds it as CHAINON_KAFKA_BOOTSTRAP=…); a DIR stopped with
#                         --keep starts again with its data and ports
#   kafka.sh stop DIR     stop the broker started in DIR and remove DIR
#   kafka.sh stop DIR --keep   stop the broker, keep DIR and its data
#
# See infra/kafka/README.md. NOT for production: one node, replication factor 1.
#
# Environment overrides (all optional):
#   CHAINON_PYTHON               python with aiokafka, for the readiness probe
#                                (default: <repo>/.venv/bin/python, else python3)
#   CHAINON_KAFKA_START_TIMEOUT  seconds to wait for the admin API (default: 60)
#   CHAINON_KAFKA_HEAP_OPTS      JVM heap flags (default: -Xmx512m -Xms256m)
#   CHAINON_KAFKA_CDS            0 = no class-data sharing archive (default: 1)
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../lib.sh"

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd -- "$HERE/../.." && pwd -P)
LIB=$HERE/lib
POM=$HERE/pom.xml
LOG4J_CONFIG=$HERE/log4j2.properties
STAMP=$LIB/.stamp
CDS_ARCHIVE=$LIB/kafka.jsa
CDS_STAMP=$LIB/.jsa-stamp
HOST=127.0.0.1
NODE_ID=1
MARKER=.chainon-kafka
START_TIMEOUT=${CHAINON_KAFKA_START_TIMEOUT:-60}
STOP_TIMEOUT=30
MIN_JAVA=17
read -r -a HEAP_OPTS <<<"${CHAINON_KAFKA_HEAP_OPTS:--Xmx512m -Xms256m}"
JVM_EXTRA=()
JAVA_ID=

usage() {
    cat >&2 <<EOF
usage: $PROG build
       $PROG start DIR
       $PROG stop DIR [--keep]
EOF
    exit 2
}

# Microseconds since the epoch (bash 5 EPOCHREALTIME; date as a fallback).
now_us() {
    local t=${EPOCHREALTIME:-}
    [[ -n $t ]] || t=$(date +%s.%N)
    t=${t/,/.}
    local s=${t%.*} f=${t#*.}000000
    printf '%s\n' "$((s * 1000000 + 10#${f:0:6}))"
}

seconds_since() {
    local d=$(($(now_us) - $1))
    printf '%d.%02d\n' "$((d / 1000000))" "$(((d % 1000000) / 10000))"
}

# --- toolchain ---------------------------------------------------------------

# Sets JAVA_MAJOR and JAVA_ID (vendor, version and home of `java`: the key of
# the class-data archive, which only fits the exact JVM that wrote it).
java_info() {
    local props
    props=$(java -XshowSettings:properties -version 2>&1) || return 1
    JAVA_MAJOR=$(sed -n 's/^ *java\.specification\.version = //p' <<<"$props" | head -n1)
    JAVA_MAJOR=${JAVA_MAJOR#1.}
    [[ $JAVA_MAJOR =~ ^[0-9]+$ ]] || return 1
    JAVA_ID=$(grep -E '^ *java\.(vm\.vendor|vm\.version|home) = ' <<<"$props" | tr -s ' ' | sort | tr '\n' ';')
}

# Installs openjdk-17-jre-headless and/or maven from Debian when missing.
ensure_toolchain() {
    local need_mvn=${1:-yes} pkgs=()
    command -v java >/dev/null 2>&1 || pkgs+=(openjdk-17-jre-headless)
    if [[ $need_mvn == yes ]] && ! command -v mvn >/dev/null 2>&1; then
        pkgs+=(maven)
    fi
    if ((${#pkgs[@]} > 0)); then
        is_root || die "missing ${pkgs[*]} and not root: install them (apt-get install ${pkgs[*]}) or run as root"
        command -v apt-get >/dev/null 2>&1 || die "missing ${pkgs[*]} and apt-get is unavailable"
        log "installing ${pkgs[*]} with apt-get"
        apt_install "${pkgs[@]}"
    fi
    java_info || die "cannot tell the version of $(command -v java)"
    ((JAVA_MAJOR >= MIN_JAVA)) || die "Kafka 4 needs Java $MIN_JAVA+, but java is $JAVA_MAJOR ($(command -v java))"
}

pom_hash() { sha256sum "$POM" | cut -d' ' -f1; }

lib_is_current() {
    [[ -f $STAMP ]] && [[ $(<"$STAMP") == "$(pom_hash)" ]] \
        && compgen -G "$LIB/kafka_2.13-*.jar" >/dev/null
}

cds_key() { printf '%s %s\n' "$(pom_hash)" "$JAVA_ID"; }

# The training run proper, in DIR=$1 (errexit does not apply here: checked).
cds_train() {
    local DIR=$1 ports
    mapfile -t ports < <(free_ports 2)
    ((${#ports[@]} == 2)) || return 1
    write_server_properties "${ports[0]}" "${ports[1]}" || return 1
    format_storage || return 1
    launch "-XX:ArchiveClassesAtExit=$CDS_ARCHIVE.tmp" || return 1
    local deadline=$((SECONDS + START_TIMEOUT))
    until grep -q 'Kafka Server started' "$DIR/broker.log" 2>/dev/null; do
        pid_alive "$BROKER_PID" && ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
    # Also load the request-handling classes, if the probe can run (optional).
    wait_ready "${ports[0]}" "$BROKER_PID" 10 || true
    kill_broker "$BROKER_PID" || return 1  # the archive is written as the JVM exits
    [[ -s $CDS_ARCHIVE.tmp ]]
}

# The archive is usable when it was written by this JVM for this lib/.
cds_is_current() {
    [[ ${CHAINON_KAFKA_CDS:-1} != 0 && -f $CDS_ARCHIVE && -f $CDS_STAMP ]] \
        && [[ $(<"$CDS_STAMP") == "$(cds_key)" ]]
}

# A training run already failed for this JVM and lib/: do not retry on every
# start (delete lib/.jsa-stamp to retry).
cds_failed_before() {
    [[ -f $CDS_STAMP ]] && [[ $(<"$CDS_STAMP") == "failed $(cds_key)" ]]
}

# AppCDS: one training run (format + start a broker in a temp dir, answer one
# admin request, stop) dumps the classes it loaded into lib/kafka.jsa; later
# JVMs map it instead of parsing ~5000 classes from the jars, which roughly
# halves the broker's start-up on 2 cores. Best effort: any failure only
# costs speed (no archive, a warning), never the build.
build_cds() {
    [[ ${CHAINON_KAFKA_CDS:-1} != 0 ]] || return 0
    if cds_is_current || cds_failed_before; then return 0; fi
    local start tmp rc=0
    start=$(now_us)
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/chainon-kafka-cds.XXXXXX") || { log "warning: no temp dir for the CDS training run"; return 0; }
    rm -f -- "$CDS_ARCHIVE" "$CDS_STAMP"
    log "training the class-data archive $CDS_ARCHIVE (one broker start, ~10 s)"
    # In a subshell: `die` in the helpers must end the training, not the build.
    (cds_train "$tmp") >/dev/null 2>&1 || rc=$?
    if ((rc == 0)); then
        mv -f -- "$CDS_ARCHIVE.tmp" "$CDS_ARCHIVE"
        cds_key >"$CDS_STAMP"
        log "class-data archive ready in $(seconds_since "$start")s"
    else
        rm -f -- "$CDS_ARCHIVE.tmp"
        printf 'failed %s\n' "$(cds_key)" >"$CDS_STAMP"
        log "warning: CDS training run failed (status $rc); brokers start without the archive (slower); rm $CDS_STAMP to retry"
        if [[ -f $tmp/broker.log ]]; then tail -n 20 "$tmp/broker.log" >&2 || true; fi
    fi
    if [[ -f $tmp/pid ]]; then kill -KILL "$(<"$tmp/pid")" 2>/dev/null || true; fi
    rm -rf -- "$tmp"
}

# Copies the broker's runtime class path into lib/ with Maven, unless lib/
# already matches the pom (hash stamp), then makes sure the class-data archive
# fits this JVM. Serialised with flock: parallel CI jobs on one checkout build
# once.
cmd_build() {
    if lib_is_current; then
        ensure_toolchain no
        if [[ ${CHAINON_KAFKA_CDS:-1} == 0 ]] || cds_is_current || cds_failed_before; then
            return 0
        fi
    else
        ensure_toolchain yes
    fi
    mkdir -p "$LIB"
    exec 9>"$LIB/.lock"
    if command -v flock >/dev/null 2>&1; then
        flock 9 || die "cannot lock $LIB/.lock"
    fi
    if ! lib_is_current; then  # (re-check: another job may have built it meanwhile)
        local start tmp
        start=$(now_us)
        tmp=$LIB/.new
        rm -rf -- "$tmp"
        log "building $LIB from $POM with Maven (the first build downloads ~45 MB)"
        # (Maven 3.8 prints bare colour resets even in batch mode: strip them.)
        mvn -q -B -Dstyle.color=never -f "$POM" package "-Dkafka.lib.dir=$tmp" 2>&1 \
            | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^[[:space:]]*$/d' >&2 \
            || { rm -rf -- "$tmp"; die "mvn package failed (see above)"; }
        compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null || die "mvn produced no kafka_2.13 jar in $tmp"
        rm -f -- "$STAMP" "$CDS_STAMP" "$CDS_ARCHIVE" "$LIB"/*.jar
        mv -- "$tmp"/*.jar "$LIB"/
        rmdir -- "$tmp"
        pom_hash >"$STAMP"
        log "built $LIB ($(find "$LIB" -maxdepth 1 -name '*.jar' | wc -l) jars) in $(seconds_since "$start")s"
    fi
    build_cds
    exec 9>&-
}

# --- processes ----------------------------------------------------------------

# True if PID is alive and is the kafka.Kafka JVM serving DIR ($2) (guards
# against a recycled PID).
is_our_broker() {
    pid_alive "$1" || return 1
    local cmdline
    cmdline=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) \
        || cmdline=$(ps -o args= -p "$1" 2>/dev/null) || return 1
    [[ $cmdline == *" kafka.Kafka $2/server.properties"* ]]
}

# Prints the PID of the broker serving DIR ($1), or returns 1.
running_pid() {
    local p
    [[ -f $1/pid ]] || return 1
    p=$(tr -dc '0-9' <"$1/pid")
    is_our_broker "$p" "$1" || return 1
    printf '%s\n' "$p"
}

# SIGTERM (controlled shutdown), wait up to STOP_TIMEOUT s, then SIGKILL.
kill_broker() {
    local pid=$1
    pid_alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    kill -CONT "$pid" 2>/dev/null || true  # a paused (SIGSTOPped) JVM must run to exit
    if ! wait_gone "$pid" "$STOP_TIMEOUT"; then
        log "broker (pid $pid) did not stop within ${STOP_TIMEOUT}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" 5 || die "could not kill broker pid $pid"
    fi
    # A dead JVM stays a zombie until its parent (PID 1 for a daemon) reaps it;
    # wait briefly so a follow-up `pgrep java` is clean. Not an error if slow.
    local deadline=$((SECONDS + 5))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.1
    done
}

# --- configuration --------------------------------------------------------------

# Kafka's Uuid: 16 random bytes, URL-safe base64 without padding, never
# starting with '-' (what `StorageTool random-uuid` prints), without a JVM.
random_cluster_id() {
    local id
    while :; do
        id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
        [[ $id != -* && ${#id} -eq 22 ]] && break
    done
    printf '%s\n' "$id"
}

write_server_properties() {
    local broker_port=$1 controller_port=$2
    cat >"$DIR/server.properties.tmp" <<EOF
# Written by infra/kafka/kafka.sh: dev/CI single node, NOT for production
# (see infra/kafka/README.md for production settings). Reused as is by later
# 'kafka.sh start $DIR' runs, so a restart keeps the same ports and data.

# KRaft combined mode: this one JVM is the broker and the only controller.
process.roles=broker,controller
node.id=$NODE_ID
controller.quorum.bootstrap.servers=$HOST:$controller_port
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://$HOST:$broker_port,CONTROLLER://$HOST:$controller_port
advertised.listeners=PLAINTEXT://$HOST:$broker_port,CONTROLLER://$HOST:$controller_port
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DIR/data

# Topics: explicit creation only (Chainon's Bus.ensure_topics creates what it
# uses, as in production), 4 partitions unless the creator says otherwise.
auto.create.topics.enable=false
num.partitions=4
default.replication.factor=1
min.insync.replicas=1

# Internal topics on one node: replication factor 1, few partitions (quicker
# to create; the defaults are 50 each).
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=4

# Tests: no 3 s wait before the first consumer group rebalance.
group.initial.rebalance.delay.ms=0

# Crash-restart (kill -9, then start again): the controller refuses the new
# broker incarnation until the old one's session expires (default 9 s), so
# keep sessions short. Fine for one node; keep the defaults in production.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=2000

# Small machine (2 cores, 512 MB heap): fewer threads, a 2 MB cleaner buffer
# for the compacted __consumer_offsets (default 128 MB; Kafka requires strictly
# more than 1 MB per cleaner thread, so 1048576 is rejected).
num.network.threads=2
num.io.threads=4
background.threads=4
num.replica.fetchers=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=2097152
EOF
    mv -f "$DIR/server.properties.tmp" "$DIR/server.properties"
}

# Reads KEY from DIR/server.properties.
property() { sed -n "s/^$1=//p" "$DIR/server.properties" | tail -n1; }

# Port of the NAME listener (PLAINTEXT / CONTROLLER) in DIR/server.properties.
listener_port() {
    local p
    p=$(property listeners | tr ',' '\n' | sed -n "s|^$1://[^:]*:\([0-9][0-9]*\)\$|\1|p" | head -n1)
    [[ -n $p ]] || return 1
    printf '%s\n' "$p"
}

is_formatted() { [[ -f $DIR/data/meta.properties ]]; }

# Sets JAVA to the command line of a JVM running "$@" (main class and
# arguments) with its log4j output in $1. Options before the main class go
# in JVM_EXTRA.
java_cmd() {
    local logfile=$1
    shift
    JAVA=(java "${HEAP_OPTS[@]}" -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError
        -Djava.awt.headless=true)
    if cds_is_current; then
        JAVA+=(-Xshare:auto "-XX:SharedArchiveFile=$CDS_ARCHIVE")
    fi
    JAVA+=("${JVM_EXTRA[@]}"
        "-Dlog4j2.configurationFile=$LOG4J_CONFIG"
        "-Dchainon.kafka.log=$logfile"
        -cp "$LIB/*" "$@")
}

format_storage() {
    local id
    id=$(random_cluster_id)
    log "formatting $DIR/data (cluster id $id, standalone KRaft controller)"
    java_cmd "$DIR/storage.log" kafka.tools.StorageTool format \
        --cluster-id "$id" --config "$DIR/server.properties" --standalone
    "${JAVA[@]}" </dev/null >>"$DIR/storage.log" 2>&1 || {
        tail -n 50 "$DIR/storage.log" >&2 || true
        die "kafka.tools.StorageTool format failed (see above)"
    }
}

print_log() {
    local f
    for f in "$DIR/broker.out" "$DIR/broker.log"; do
        [[ -s $f ]] || continue
        printf -- '----- %s (last 60 lines) -----\n' "$f" >&2
        tail -n 60 "$f" >&2 || true
    done
    printf -- '----- end of broker log -----\n' >&2
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

# Polls the admin API (Metadata request: describe_cluster) until the broker
# lists itself. Exit status: 0 ready, 3 the JVM died, 4 timed out, 5 no aiokafka.
wait_ready() {
    "$(python_bin)" - "$HOST:$1" "$2" "$3" <<'EOF'
import asyncio
import logging
import os
import sys
import time

logging.basicConfig(level=logging.CRITICAL)
try:
    from aiokafka.admin import AIOKafkaAdminClient
except ImportError as exc:
    print(f"readiness probe needs aiokafka ({exc}); run `make install` or set CHAINON_PYTHON",
          file=sys.stderr)
    sys.exit(5)

bootstrap, pid, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])


def alive() -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


async def probe() -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="chainon-kafka-probe",
                                request_timeout_ms=3000)
    try:
        await asyncio.wait_for(admin.start(), 5)
        cluster = await asyncio.wait_for(admin.describe_cluster(), 5)
        await asyncio.wait_for(admin.list_topics(), 5)
        return bool(cluster.get("brokers"))
    except Exception:
        return False
    finally:
        try:
            await admin.close()
        except Exception:
            pass


async def main() -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            return 3
        if await probe():
            return 0
        await asyncio.sleep(0.2)
    return 4


sys.exit(asyncio.run(main()))
EOF
}

# Launches the JVM in the background; sets BROKER_PID and writes DIR/pid.
# Arguments are extra JVM options.
launch() {
    JVM_EXTRA=("$@")
    java_cmd "$DIR/broker.log" kafka.Kafka "$DIR/server.properties"
    JVM_EXTRA=()
    : >"$DIR/broker.out"
    # setsid: detach from the caller's terminal/session so Ctrl-C or the end of
    # a CI step does not kill it; it execs in place, so $! is the JVM itself.
    # 9>&-: the JVM must not inherit the build lock.
    (cd "$DIR" && exec setsid "${JAVA[@]}") </dev/null >>"$DIR/broker.out" 2>&1 9>&- &
    BROKER_PID=$!
    write_atomic "$DIR/pid" "$BROKER_PID"
}

write_state() {
    write_atomic "$DIR/port" "$1"
    write_atomic "$DIR/env" "CHAINON_KAFKA_BOOTSTRAP=$HOST:$1"
}

# --- subcommands ---------------------------------------------------------------

cmd_start() {
    [[ $# -eq 1 && -n $1 ]] || usage
    local t0
    t0=$(now_us)
    cmd_build

    mkdir -p -- "$1" || die "cannot create directory $1"
    resolve_dir "$1"
    [[ $DIR != *[[:space:]]* ]] || die "DIR must not contain whitespace: $DIR"

    # Idempotent: a broker already running in DIR is reused as is.
    local pid port rc
    if pid=$(running_pid "$DIR"); then
        port=$(listener_port PLAINTEXT) || die "no PLAINTEXT listener in $DIR/server.properties"
        rc=0
        wait_ready "$port" "$pid" 5 || rc=$?
        ((rc == 0)) || die "a broker (pid $pid) owns $DIR but does not answer on $HOST:$port (paused?); run '$PROG stop $DIR' first"
        log "broker already running in $DIR (pid $pid, $HOST:$port); reusing it"
        write_state "$port"
        printf '%s:%s\n' "$HOST" "$port"
        return 0
    fi

    if [[ -n $(ls -A "$DIR" 2>/dev/null) && ! -e $DIR/$MARKER ]]; then
        die "$DIR is not empty and was not created by '$PROG start' (no $MARKER)"
    fi
    touch "$DIR/$MARKER"

    local reuse=no
    if [[ -f $DIR/server.properties ]] && is_formatted; then
        reuse=yes
    else
        # Nothing usable (first start, or a start that failed before the
        # format completed): begin afresh.
        rm -rf -- "$DIR/data" "$DIR/server.properties"
    fi

    local attempt ports
    for attempt in 1 2 3 4 5; do
        if [[ $reuse == no ]]; then
            mapfile -t ports < <(free_ports 2) || true
            ((${#ports[@]} == 2)) || die "could not find two free TCP ports on $HOST"
            write_server_properties "${ports[0]}" "${ports[1]}"
            format_storage
        else
            log "reusing $DIR/server.properties and the formatted data in $DIR/data"
        fi
        port=$(listener_port PLAINTEXT) || die "no PLAINTEXT listener in $DIR/server.properties"
        log "starting Kafka on $HOST:$port (controller $HOST:$(listener_port CONTROLLER || echo '?'), data $DIR/data)"
        launch
        rc=0
        wait_ready "$port" "$BROKER_PID" "$START_TIMEOUT" || rc=$?
        ((rc == 0)) && break
        if ((rc == 3)) && [[ $reuse == no ]] \
            && grep -q -e 'Address already in use' -e 'BindException' "$DIR/broker.log" "$DIR/broker.out" 2>/dev/null; then
            log "a port was taken meanwhile; retrying with new ports (attempt $attempt)"
            rm -rf -- "$DIR/data" "$DIR/server.properties"
            mv -f "$DIR/broker.log" "$DIR/broker.log.$attempt" 2>/dev/null || true
            continue
        fi
        case $rc in
            3)
                log "the broker exited during start-up"
                if [[ $reuse == yes ]] && grep -q -e 'Address already in use' -e 'BindException' \
                    "$DIR/broker.log" "$DIR/broker.out" 2>/dev/null; then
                    log "its ports (kept for restarts, see $DIR/server.properties) are taken by another process; '$PROG stop $DIR' and start afresh for new ones"
                fi
                ;;
            4) log "the broker did not answer the admin API on $HOST:$port within ${START_TIMEOUT}s" ;;
            5) ;;
            *) log "readiness probe failed (status $rc)" ;;
        esac
        print_log
        kill_broker "$BROKER_PID"
        die "could not start Kafka in $DIR"
    done
    ((rc == 0)) || { print_log; die "could not bind free ports after 5 attempts"; }

    write_state "$port"
    log "Kafka running: pid $BROKER_PID, $HOST:$port, data $DIR/data, log $DIR/broker.log"
    log "started in $(seconds_since "$t0")s"
    printf '%s:%s\n' "$HOST" "$port"
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
    [[ -e $DIR/$MARKER ]] || die "$DIR was not created by '$PROG start' (no $MARKER); not touching it"

    local pid
    if pid=$(running_pid "$DIR"); then
        log "stopping Kafka (pid $pid) in $DIR"
        kill_broker "$pid"
    else
        log "no running broker in $DIR"
    fi
    if [[ $keep == yes ]]; then
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
        build) [[ $# -eq 0 ]] || usage; cmd_build ;;
        start) cmd_start "$@" ;;
        stop) cmd_stop "$@" ;;
        -h | --help | help) usage ;;
        *) log "unknown command: $cmd"; usage ;;
    esac
}

main "$@"
