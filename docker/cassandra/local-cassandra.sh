#!/usr/bin/env bash
# Local single-node Apache Cassandra 5.0 (storage for JanusGraph over CQL) without Docker.
#
#   docker/cassandra/local-cassandra.sh start|stop|restart|status
#
# start   builds the classpath on first use (mvn -f docker/cassandra/pom.xml package -> target/lib),
#         renders conf/ into run/<port>/ (data, commitlog ... live there and survive restarts),
#         starts Cassandra in the background and returns only once the log says
#         "Starting listening for CQL clients" AND a real CQL query
#         (SELECT release_version FROM system.local, native protocol v4 over a raw socket,
#         python3 stdlib only) answers. Idempotent.
# stop    SIGTERM (Cassandra drains: memtables are flushed), waits, SIGKILL after
#         $CASSANDRA_STOP_TIMEOUT s; removes the pid file. Data is kept.
# status  exit 0 if Cassandra runs and answers the query, 1 otherwise.
# wipe    stop, then delete run/<port>/ (all data of that node).
#
# Environment:
#   CASSANDRA_PORT           CQL native port on 127.0.0.1 (default 9042); one run/<port>/ per port
#   CASSANDRA_STORAGE_PORT   internode port on 127.0.0.1 (default CQL port + 10000)
#   CASSANDRA_START_TIMEOUT  seconds to wait for readiness (default 180)
#   CASSANDRA_STOP_TIMEOUT   seconds to wait after SIGTERM before SIGKILL (default 60)
#   CASSANDRA_HEAP           heap flags (default "-Xms512m -Xmx1g")
#   CASSANDRA_JAVA_OPTS      extra JVM flags (appended)
#   PYTHON                   python3 for the readiness probe (stdlib only; default python3)
#   JAVA                     java binary (default: $JAVA_HOME/bin/java, else java on PATH); JDK 17
#   MVN                      maven binary (default: mvn)
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
CONF_DIR=$SCRIPT_DIR/conf
LIB_DIR=$SCRIPT_DIR/target/lib
LIB_STAMP=$LIB_DIR/.complete

PORT=${CASSANDRA_PORT:-9042}
case "$PORT" in ''|*[!0-9]*) echo "cassandra: CASSANDRA_PORT must be a number, got '$PORT'" >&2; exit 1;; esac
STORAGE_PORT=${CASSANDRA_STORAGE_PORT:-$((PORT + 10000))}
START_TIMEOUT=${CASSANDRA_START_TIMEOUT:-180}
STOP_TIMEOUT=${CASSANDRA_STOP_TIMEOUT:-60}
HEAP=${CASSANDRA_HEAP:--Xms512m -Xmx1g}
EXTRA_OPTS=${CASSANDRA_JAVA_OPTS:-}
MVN=${MVN:-mvn}
PYTHON=${PYTHON:-python3}
if [ -n "${JAVA:-}" ]; then
  :
elif [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
  JAVA=$JAVA_HOME/bin/java
else
  JAVA=java
fi

RUN_DIR=$SCRIPT_DIR/run/$PORT
PID_FILE=$RUN_DIR/cassandra.pid
LOG_FILE=$RUN_DIR/cassandra.log
YAML=$RUN_DIR/cassandra.yaml
READY_LINE='Starting listening for CQL clients'

log() { printf 'cassandra[%s]: %s\n' "$PORT" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

usage() {
  echo "usage: $0 start|stop|restart|status|wipe   (CQL port: \$CASSANDRA_PORT, default 9042)" >&2
  exit 2
}

case "$STORAGE_PORT" in ''|*[!0-9]*) die "CASSANDRA_STORAGE_PORT must be a number, got '$STORAGE_PORT'";; esac
[ "$STORAGE_PORT" -le 65535 ] || die "storage port $STORAGE_PORT > 65535; set CASSANDRA_STORAGE_PORT"

# --- classpath ------------------------------------------------------------------------------------

pom_hash() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$SCRIPT_DIR/pom.xml"; else shasum -a 256 "$SCRIPT_DIR/pom.xml"; fi | cut -d' ' -f1
}

lib_complete() {
  [ -f "$LIB_STAMP" ] || return 1
  [ "$(head -n1 "$LIB_STAMP")" = "$(pom_hash)" ] || return 1
  local jar
  while IFS= read -r jar; do
    [ -f "$LIB_DIR/$jar" ] || return 1
  done < <(tail -n +2 "$LIB_STAMP")
  return 0
}

ensure_lib() {
  lib_complete && return 0
  command -v "$MVN" >/dev/null 2>&1 || die "target/lib is missing or stale and '$MVN' is not on PATH (Maven 3.6+ needed)"
  log "building the Cassandra classpath (mvn package -> $LIB_DIR) ..."
  rm -rf "$LIB_DIR"
  mkdir -p "$SCRIPT_DIR/target"
  if ! "$MVN" -q -B -f "$SCRIPT_DIR/pom.xml" package > "$SCRIPT_DIR/target/mvn.log" 2>&1; then
    tail -n 40 "$SCRIPT_DIR/target/mvn.log" >&2
    die "maven could not resolve the Cassandra classpath (Maven Central reachable? ~/.m2 cached?); full output: $SCRIPT_DIR/target/mvn.log"
  fi
  ls "$LIB_DIR"/cassandra-all-*.jar >/dev/null 2>&1 || die "maven ran but $LIB_DIR has no cassandra-all jar"
  ls "$LIB_DIR"/jamm-*.jar >/dev/null 2>&1 || die "maven ran but $LIB_DIR has no jamm jar (the -javaagent)"
  { pom_hash; (cd "$LIB_DIR" && ls -1 -- *.jar); } > "$LIB_STAMP.tmp"
  mv "$LIB_STAMP.tmp" "$LIB_STAMP"
  log "classpath ready: $(($(wc -l < "$LIB_STAMP") - 1)) jars"
}

# --- process helpers -------------------------------------------------------------------------------

read_pid() {
  [ -f "$PID_FILE" ] || return 1
  local pid
  pid=$(head -n1 "$PID_FILE" 2>/dev/null || true)
  case "$pid" in ''|*[!0-9]*) return 1;; esac
  printf '%s\n' "$pid"
}

# true if $1 is alive and is our Cassandra for this run dir (guards against pid reuse)
is_ours() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 1
  [ -r "/proc/$pid/cmdline" ] || return 0
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "-Dcassandra.config=file://$YAML "
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# one real CQL query over the native protocol v4 (no driver needed): STARTUP, then
# QUERY "SELECT release_version FROM system.local"; prints the version
probe() {
  local to=()
  if command -v timeout >/dev/null 2>&1; then to=(timeout 20); fi
  ${to[@]+"${to[@]}"} "$PYTHON" - "$PORT" 2>/dev/null <<'PY'
import socket, struct, sys

def frame(stream, opcode, body):
    return struct.pack(">BBhBi", 0x04, 0, stream, opcode, len(body)) + body

def read_frame(s):
    hdr = b""
    while len(hdr) < 9:
        chunk = s.recv(9 - len(hdr))
        if not chunk:
            raise EOFError("connection closed")
        hdr += chunk
    _v, _f, _st, op, n = struct.unpack(">BBhBi", hdr)
    body = b""
    while len(body) < n:
        chunk = s.recv(n - len(body))
        if not chunk:
            raise EOFError("connection closed")
        body += chunk
    return op, body

def string(x):
    b = x.encode()
    return struct.pack(">H", len(b)) + b

s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=15)
try:
    s.sendall(frame(1, 0x01, struct.pack(">H", 1) + string("CQL_VERSION") + string("3.0.0")))
    op, body = read_frame(s)
    assert op == 0x02, f"STARTUP answered opcode {op:#x}: {body!r}"          # READY
    q = "SELECT release_version FROM system.local".encode()
    s.sendall(frame(2, 0x07, struct.pack(">i", len(q)) + q + struct.pack(">HB", 0x0001, 0)))
    op, body = read_frame(s)
    assert op == 0x08, f"QUERY answered opcode {op:#x}: {body!r}"            # RESULT
    kind, = struct.unpack(">i", body[:4])
    assert kind == 2, f"result kind {kind}"                                   # Rows
    # Rows: metadata flags, column count, (global table spec), column specs, row count, cells
    flags, ncols = struct.unpack(">ii", body[4:12])
    p = 12
    if flags & 0x0001:                                                        # global tables spec
        for _ in range(2):
            n, = struct.unpack(">H", body[p:p + 2]); p += 2 + n
    for _ in range(ncols):
        if not flags & 0x0001:
            for _ in range(2):
                n, = struct.unpack(">H", body[p:p + 2]); p += 2 + n
        n, = struct.unpack(">H", body[p:p + 2]); p += 2 + n                   # column name
        p += 2                                                                # type id (varchar)
    nrows, = struct.unpack(">i", body[p:p + 4]); p += 4
    assert nrows == 1, f"{nrows} rows"
    n, = struct.unpack(">i", body[p:p + 4]); p += 4
    print(body[p:p + n].decode())
finally:
    s.close()
PY
}

log_tail() {
  if [ -f "$LOG_FILE" ]; then
    echo "----- last 40 lines of $LOG_FILE -----" >&2
    tail -n 40 "$LOG_FILE" >&2
    echo "-----" >&2
  fi
}

# --- config rendering ------------------------------------------------------------------------------

sed_escape() { printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'; }

render() {
  local src=$1 dst=$2
  sed -e "s|@@RUN_DIR@@|$(sed_escape "$RUN_DIR")|g" \
      -e "s|@@PORT@@|$PORT|g" \
      -e "s|@@STORAGE_PORT@@|$STORAGE_PORT|g" "$src" > "$dst"
}

render_config() {
  mkdir -p "$RUN_DIR"/{data,commitlog,saved_caches,hints,cdc_raw}
  render "$CONF_DIR/cassandra.yaml" "$YAML"
  cp "$CONF_DIR/logback.xml" "$RUN_DIR/logback.xml"
}

lock_run_dir() {
  mkdir -p "$RUN_DIR"
  command -v flock >/dev/null 2>&1 || return 0
  exec 9>"$RUN_DIR/.lock"
  flock -w "$((START_TIMEOUT + STOP_TIMEOUT + 60))" 9 || die "could not lock $RUN_DIR/.lock"
}

# --- commands --------------------------------------------------------------------------------------

# JDK 17 flags from Cassandra 5.0's conf/jvm17-server.options (JPMS + netty) and the parts of
# conf/jvm-server.options / cassandra-env.sh that matter for one local node. G1 on a small heap.
JVM_FLAGS=(
  -XX:+UseG1GC
  -XX:+ParallelRefProcEnabled
  -XX:MaxTenuringThreshold=1
  -XX:MaxGCPauseMillis=300
  -XX:+ExitOnOutOfMemoryError
  -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath=/dev/null
  -Xss256k
  -Djdk.attach.allowAttachSelf=true
  --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
  --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
  --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
  --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
  --add-exports java.sql/java.sql=ALL-UNNAMED
  --add-exports java.base/java.lang.ref=ALL-UNNAMED
  --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
  --add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED
  --add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED
  --add-opens java.base/java.lang.module=ALL-UNNAMED
  --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
  --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
  --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
  --add-opens java.base/jdk.internal.math=ALL-UNNAMED
  --add-opens java.base/jdk.internal.module=ALL-UNNAMED
  --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
  --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
  --add-opens java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens java.base/java.io=ALL-UNNAMED
  --add-opens java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
  --add-opens java.base/java.lang=ALL-UNNAMED
  --add-opens java.base/java.util=ALL-UNNAMED
  -Dio.netty.tryReflectionSetAccessible=true
  -Dio.netty.allocator.useCacheForAllThreads=true
  -Dio.netty.allocator.maxOrder=11
  # one local seed node: no waiting for gossip to settle
  -Dcassandra.skip_wait_for_gossip_to_settle=0
  -Dcassandra.load_ring_state=false
)

wait_ready() {
  local pid=$1 deadline=$((SECONDS + START_TIMEOUT))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE"
      log_tail
      die "the Cassandra process (pid $pid) exited during startup; see $LOG_FILE"
    fi
    if grep -qF -- "$READY_LINE" "$LOG_FILE" 2>/dev/null && port_open "$PORT" && probe >/dev/null; then
      return 0
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log_tail
      log "no CQL answer on 127.0.0.1:$PORT within ${START_TIMEOUT}s; stopping pid $pid"
      terminate "$pid"
      die "Cassandra did not become ready within ${START_TIMEOUT}s (CASSANDRA_START_TIMEOUT); see $LOG_FILE"
    fi
    sleep 1
  done
}

cmd_start() {
  command -v "$PYTHON" >/dev/null 2>&1 || [ -x "$PYTHON" ] || die "python '$PYTHON' not found (needed for the CQL probe); set PYTHON"
  local pid
  if pid=$(read_pid); then
    if is_ours "$pid"; then
      if probe >/dev/null; then
        log "already running (pid $pid) on 127.0.0.1:$PORT"
        return 0
      fi
      log "pid $pid is starting; waiting for it to answer ..."
      wait_ready "$pid"
      log "ready (pid $pid) on 127.0.0.1:$PORT"
      return 0
    fi
    rm -f "$PID_FILE"   # stale
  fi
  port_open "$PORT" && die "127.0.0.1:$PORT is already in use by another process; set CASSANDRA_PORT"
  port_open "$STORAGE_PORT" && die "127.0.0.1:$STORAGE_PORT (storage port) is already in use; set CASSANDRA_STORAGE_PORT"

  "$JAVA" -version >/dev/null 2>&1 || die "java not found ('$JAVA'); JDK 17 (or 11) needed"
  local jmajor
  jmajor=$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -n1)
  case "$jmajor" in 11|17) ;; *) die "java $jmajor: Cassandra 5.0 runs on JDK 11 or 17 only";; esac

  ensure_lib
  render_config

  local jamm
  jamm=$(ls "$LIB_DIR"/jamm-*.jar | head -n1)
  local started=$SECONDS
  local detach=()
  if command -v setsid >/dev/null 2>&1; then detach=(setsid); fi
  # shellcheck disable=SC2086,SC2016  # HEAP/EXTRA_OPTS are word-split on purpose; $$ expands in the child
  ${detach[@]+"${detach[@]}"} bash -c 'echo $$ > "$0"; exec "$@"' "$PID_FILE" \
    "$JAVA" $HEAP "${JVM_FLAGS[@]}" \
    -javaagent:"$jamm" \
    -Dcassandra.config="file://$YAML" \
    -Dcassandra.storagedir="$RUN_DIR" \
    -Dcassandra.logdir="$RUN_DIR" \
    -Dlogback.configurationFile="file://$RUN_DIR/logback.xml" \
    -Dcassandra-foreground=yes \
    -Dfile.encoding=UTF-8 \
    $EXTRA_OPTS \
    -cp "$LIB_DIR/*" \
    org.apache.cassandra.service.CassandraDaemon \
    > "$LOG_FILE" 2>&1 < /dev/null 9>&- &
  local i=0
  while [ ! -s "$PID_FILE" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  pid=$(read_pid) || die "could not read the Cassandra pid from $PID_FILE"
  log "starting (pid $pid), log: $LOG_FILE"
  wait_ready "$pid"
  log "ready after $((SECONDS - started))s (pid $pid), Cassandra $(probe) on 127.0.0.1:$PORT"
}

terminate() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "no exit ${STOP_TIMEOUT}s after SIGTERM; sending SIGKILL to $pid"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  rm -f "$PID_FILE"
}

cmd_stop() {
  local pid
  if ! pid=$(read_pid); then
    log "not running (no pid file)"
    return 0
  fi
  if ! is_ours "$pid"; then
    log "not running (stale pid file for pid $pid removed)"
    rm -f "$PID_FILE"
    return 0
  fi
  terminate "$pid"
  log "stopped (pid $pid)"
}

cmd_status() {
  local pid
  if pid=$(read_pid) && is_ours "$pid"; then
    if probe >/dev/null; then
      log "running (pid $pid) on 127.0.0.1:$PORT"
      return 0
    fi
    log "process $pid is alive but does not answer a CQL query"
    return 1
  fi
  log "not running"
  return 1
}

cmd_wipe() {
  cmd_stop
  log "deleting $RUN_DIR"
  exec 9>&-
  rm -rf "$RUN_DIR"
}

[ $# -eq 1 ] || usage
case "$1" in
  start) lock_run_dir; cmd_start ;;
  stop) lock_run_dir; cmd_stop ;;
  restart) lock_run_dir; cmd_stop; cmd_start ;;
  status) cmd_status ;;
  wipe) lock_run_dir; cmd_wipe ;;
  *) usage ;;
esac
