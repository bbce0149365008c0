#!/usr/bin/env bash
# Local JanusGraph Server 1.1.0 (in-memory backend, custom string vertex ids) without Docker.
#
#   docker/janusgraph/local-server.sh start|stop|restart|status
#
# start   builds the classpath on first use (mvn -f docker/janusgraph/pom.xml package -> target/lib),
#         renders conf/ into run/<port>/, starts the server in the background and returns only once
#         a real traversal (g.inject(1).next() through gremlinpython) answers. Idempotent.
# stop    SIGTERM, waits, SIGKILL after $JANUSGRAPH_STOP_TIMEOUT s; removes the pid file.
# status  exit 0 if the server runs and answers a traversal, 1 otherwise.
#
# Environment:
#   JANUSGRAPH_PORT           port on 127.0.0.1 (default 8182); one run/<port>/ directory per port
#   JANUSGRAPH_START_TIMEOUT  seconds to wait for readiness (default 180)
#   JANUSGRAPH_STOP_TIMEOUT   seconds to wait after SIGTERM before SIGKILL (default 30)
#   JANUSGRAPH_HEAP           heap flags (default "-Xms1g -Xmx2g")
#   JANUSGRAPH_GC             garbage collector flags (default "-XX:+UseParallelGC")
#   JANUSGRAPH_JAVA_OPTS      extra JVM flags (appended)
#   JANUSGRAPH_SCHEMA_JSON    optional JSON schema file (JanusGraph 1.1 schema.init.strategy=json),
#                             applied when the graph opens
#   JANUSGRAPH_PROPERTIES     optional graph .properties template replacing
#                             conf/janusgraph-inmemory.properties (@@RUN_DIR@@ is substituted),
#                             e.g. conf/janusgraph-cql.properties (persistent, needs a running
#                             docker/cassandra/local-cassandra.sh)
#   CASSANDRA_PORT            substituted for @@CASSANDRA_PORT@@ in the templates (default 9042)
#   PYTHON                    python with gremlinpython 3.7.x for the readiness probe
#                             (default: <repo>/.venv/bin/python if present, else python3)
#   JAVA                      java binary (default: $JAVA_HOME/bin/java, else java on PATH)
#   MVN                       maven binary (default: mvn)
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/../.." && pwd -P)
CONF_DIR=$SCRIPT_DIR/conf
LIB_DIR=$SCRIPT_DIR/target/lib
LIB_STAMP=$LIB_DIR/.complete

PORT=${JANUSGRAPH_PORT:-8182}
START_TIMEOUT=${JANUSGRAPH_START_TIMEOUT:-180}
STOP_TIMEOUT=${JANUSGRAPH_STOP_TIMEOUT:-30}
# Throughput over footprint: a write transaction holds its whole batch until commit, and the
# serial collector with a small heap copied it again at every young collection. Measured with
# bench.janusgraph_write (2 cores): serial, 256m-1g 19,703 elements/s; serial, 2g with a 1g
# young generation 19,721; G1, 2g 22,961; parallel, 1g-2g 24,358.
HEAP=${JANUSGRAPH_HEAP:--Xms1g -Xmx2g}
GC=${JANUSGRAPH_GC:--XX:+UseParallelGC}
EXTRA_OPTS=${JANUSGRAPH_JAVA_OPTS:-}
PROPS_TEMPLATE=${JANUSGRAPH_PROPERTIES:-$CONF_DIR/janusgraph-inmemory.properties}
SCHEMA_JSON=${JANUSGRAPH_SCHEMA_JSON:-}
# CQL port of the local Cassandra (docker/cassandra/local-cassandra.sh), for @@CASSANDRA_PORT@@
CASSANDRA_PORT=${CASSANDRA_PORT:-9042}
MVN=${MVN:-mvn}
if [ -n "${JAVA:-}" ]; then
  :
elif [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
  JAVA=$JAVA_HOME/bin/java
else
  JAVA=java
fi
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$REPO_ROOT/.venv/bin/python" ]; then PYTHON=$REPO_ROOT/.venv/bin/python; else PYTHON=python3; fi
fi

RUN_DIR=$SCRIPT_DIR/run/$PORT
PID_FILE=$RUN_DIR/server.pid
LOG_FILE=$RUN_DIR/server.log
YAML=$RUN_DIR/janusgraph-server.yaml

log() { printf 'janusgraph[%s]: %s\n' "$PORT" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

usage() {
  echo "usage: $0 start|stop|restart|status   (port: \$JANUSGRAPH_PORT, default 8182)" >&2
  exit 2
}

case "$PORT" in ''|*[!0-9]*) die "JANUSGRAPH_PORT must be a number, got '$PORT'";; esac
case "$CASSANDRA_PORT" in ''|*[!0-9]*) die "CASSANDRA_PORT must be a number, got '$CASSANDRA_PORT'";; esac

# --- classpath ------------------------------------------------------------------------------------

pom_hash() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$SCRIPT_DIR/pom.xml"; else shasum -a 256 "$SCRIPT_DIR/pom.xml"; fi | cut -d' ' -f1
}

lib_complete() {
  [ -f "$LIB_STAMP" ] || return 1
  [ "$(head -n1 "$LIB_STAMP")" = "$(pom_hash)" ] || return 1
  # every jar listed at build time must still be there
  local jar
  while IFS= read -r jar; do
    [ -f "$LIB_DIR/$jar" ] || return 1
  done < <(tail -n +2 "$LIB_STAMP")
  return 0
}

ensure_lib() {
  lib_complete && return 0
  command -v "$MVN" >/dev/null 2>&1 || die "target/lib is missing or stale and '$MVN' is not on PATH (Maven 3.6+ needed)"
  log "building the JanusGraph classpath (mvn package -> $LIB_DIR) ..."
  rm -rf "$LIB_DIR"
  mkdir -p "$SCRIPT_DIR/target"
  if ! "$MVN" -q -B -f "$SCRIPT_DIR/pom.xml" package > "$SCRIPT_DIR/target/mvn.log" 2>&1; then
    tail -n 40 "$SCRIPT_DIR/target/mvn.log" >&2
    die "maven could not resolve the JanusGraph server classpath (Maven Central reachable? ~/.m2 cached?); full output: $SCRIPT_DIR/target/mvn.log"
  fi
  ls "$LIB_DIR"/janusgraph-server-*.jar >/dev/null 2>&1 || die "maven ran but $LIB_DIR has no janusgraph-server jar"
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

# true if $1 is alive and is our JanusGraph server for this run dir (guards against pid reuse)
is_our_server() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 1
  [ -r "/proc/$pid/cmdline" ] || return 0   # no procfs: trust kill -0
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "JanusGraphServer $YAML"
}

port_open() {
  # bash's /dev/tcp; a closed port fails immediately
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
}

check_python() {
  command -v "$PYTHON" >/dev/null 2>&1 || [ -x "$PYTHON" ] \
    || die "python '$PYTHON' not found; set PYTHON to a python with gremlinpython 3.7.x (e.g. the repo's .venv)"
  "$PYTHON" -c 'import gremlin_python' 2>/dev/null \
    || die "'$PYTHON' has no gremlinpython; install it (pip install 'gremlinpython>=3.7.3,<3.8') or set PYTHON"
}

# one real traversal through gremlinpython (GraphBinary, the client default)
probe() {
  local to=()
  if command -v timeout >/dev/null 2>&1; then to=(timeout 30); fi
  ${to[@]+"${to[@]}"} "$PYTHON" - "$PORT" >/dev/null 2>&1 <<'PY'
import sys
from gremlin_python.driver.driver_remote_connection import DriverRemoteConnection
from gremlin_python.process.anonymous_traversal import traversal
conn = DriverRemoteConnection(f"ws://127.0.0.1:{sys.argv[1]}/gremlin", "g")
try:
    assert traversal().with_remote(conn).inject(1).next() == 1
finally:
    conn.close()
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
  local src=$1 dst=$2 run port
  run=$(sed_escape "$RUN_DIR")
  port=$(sed_escape "$PORT")
  sed -e "s|@@RUN_DIR@@|$run|g" -e "s|@@PORT@@|$port|g" \
      -e "s|@@CASSANDRA_PORT@@|$CASSANDRA_PORT|g" "$src" > "$dst"
}

render_config() {
  [ -f "$PROPS_TEMPLATE" ] || die "graph properties template not found: $PROPS_TEMPLATE"
  mkdir -p "$RUN_DIR"
  # in-memory graph: start from a clean slate (the Lucene files belong to the previous graph);
  # a persistent backend keeps its index
  if grep -q '^[[:space:]]*storage.backend[[:space:]]*=[[:space:]]*inmemory' "$PROPS_TEMPLATE"; then
    rm -rf "$RUN_DIR/lucene"
  fi
  render "$CONF_DIR/janusgraph-server.yaml" "$YAML"
  render "$PROPS_TEMPLATE" "$RUN_DIR/janusgraph.properties"
  render "$CONF_DIR/init-g.groovy" "$RUN_DIR/init-g.groovy"
  cp "$CONF_DIR/log4j2-server.xml" "$RUN_DIR/log4j2-server.xml"
  if [ -n "$SCHEMA_JSON" ]; then
    [ -f "$SCHEMA_JSON" ] || die "JANUSGRAPH_SCHEMA_JSON file not found: $SCHEMA_JSON"
    local abs
    abs=$(cd -- "$(dirname -- "$SCHEMA_JSON")" && pwd -P)/$(basename -- "$SCHEMA_JSON")
    {
      echo
      echo "# added by local-server.sh from JANUSGRAPH_SCHEMA_JSON"
      echo "schema.init.strategy=json"
      echo "schema.init.json.file=$abs"
    } >> "$RUN_DIR/janusgraph.properties"
  fi
}

# serialize start/stop/restart per port (two concurrent `start`s would launch two JVMs)
lock_run_dir() {
  mkdir -p "$RUN_DIR"
  command -v flock >/dev/null 2>&1 || return 0
  exec 9>"$RUN_DIR/.lock"
  flock -w "$((START_TIMEOUT + STOP_TIMEOUT + 60))" 9 || die "could not lock $RUN_DIR/.lock"
}

# --- commands --------------------------------------------------------------------------------------

JVM_OPENS=(
  # the JDK 17 set from TinkerPop 3.7's upgrade notes ("Building and Running with JDK 17")
  --add-opens=java.base/java.io=ALL-UNNAMED
  --add-opens=java.base/java.nio=ALL-UNNAMED
  --add-opens=java.base/sun.nio.cs=ALL-UNNAMED
  --add-opens=java.base/java.lang=ALL-UNNAMED
  --add-opens=java.base/java.lang.invoke=ALL-UNNAMED
  --add-opens=java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens=java.base/java.util=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED
  --add-opens=java.base/java.net=ALL-UNNAMED
)

wait_ready() {
  local pid=$1 deadline=$((SECONDS + START_TIMEOUT))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE"
      log_tail
      die "the server process (pid $pid) exited during startup; see $LOG_FILE"
    fi
    if port_open && probe; then
      return 0
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log_tail
      log "no answer to g.inject(1).next() on 127.0.0.1:$PORT within ${START_TIMEOUT}s; stopping pid $pid"
      terminate "$pid"
      die "JanusGraph did not become ready within ${START_TIMEOUT}s (JANUSGRAPH_START_TIMEOUT); see $LOG_FILE"
    fi
    sleep 1
  done
}

cmd_start() {
  check_python
  local pid
  if pid=$(read_pid); then
    if is_our_server "$pid"; then
      if probe; then
        log "already running (pid $pid) on 127.0.0.1:$PORT"
        return 0
      fi
      log "pid $pid is starting; waiting for it to answer ..."
      wait_ready "$pid"
      log "ready (pid $pid) on ws://127.0.0.1:$PORT/gremlin"
      return 0
    fi
    rm -f "$PID_FILE"   # stale
  fi
  if port_open; then
    die "127.0.0.1:$PORT is already in use by another process; set JANUSGRAPH_PORT"
  fi

  "$JAVA" -version >/dev/null 2>&1 || die "java not found ('$JAVA'); JDK 11 or 17 needed"
  local jmajor
  jmajor=$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -n1)
  case "$jmajor" in 1.*|'') die "java $jmajor is too old; JDK 11 or 17 needed";; esac

  ensure_lib
  render_config

  local started=$SECONDS
  local detach=()
  if command -v setsid >/dev/null 2>&1; then detach=(setsid); fi   # own session: no SIGINT from the caller's terminal
  # the child shell writes its own pid, then execs java (same pid)
  # shellcheck disable=SC2086,SC2016  # HEAP/GC/EXTRA_OPTS are word-split on purpose; $$ expands in the child
  ${detach[@]+"${detach[@]}"} bash -c 'echo $$ > "$0"; exec "$@"' "$PID_FILE" \
    "$JAVA" $HEAP -Xss512k $GC -XX:+ExitOnOutOfMemoryError \
    "${JVM_OPENS[@]}" \
    -Dlog4j2.configurationFile="file:$RUN_DIR/log4j2-server.xml" \
    -Dfile.encoding=UTF-8 \
    $EXTRA_OPTS \
    -cp "$LIB_DIR/*" \
    org.janusgraph.graphdb.server.JanusGraphServer "$YAML" \
    > "$LOG_FILE" 2>&1 < /dev/null 9>&- &
  local i=0
  while [ ! -s "$PID_FILE" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  pid=$(read_pid) || die "could not read the server pid from $PID_FILE"
  log "starting (pid $pid), log: $LOG_FILE"
  wait_ready "$pid"
  log "ready after $((SECONDS - started))s (pid $pid) on ws://127.0.0.1:$PORT/gremlin"
}

# SIGTERM (Gremlin Server and JanusGraph close the graphs in shutdown hooks), SIGKILL after
# $STOP_TIMEOUT seconds; removes the pid file
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
  if ! is_our_server "$pid"; then
    log "not running (stale pid file for pid $pid removed)"
    rm -f "$PID_FILE"
    return 0
  fi
  terminate "$pid"
  log "stopped (pid $pid)"
}

cmd_status() {
  local pid
  if pid=$(read_pid) && is_our_server "$pid"; then
    check_python
    if probe; then
      log "running (pid $pid) on ws://127.0.0.1:$PORT/gremlin"
      return 0
    fi
    log "process $pid is alive but does not answer a traversal"
    return 1
  fi
  log "not running"
  return 1
}

[ $# -eq 1 ] || usage
case "$1" in
  start) lock_run_dir; cmd_start ;;
  stop) lock_run_dir; cmd_stop ;;
  restart) lock_run_dir; cmd_stop; cmd_start ;;
  status) cmd_status ;;
  *) usage ;;
esac
