#!/usr/bin/env bash
# capledger development/test/CI Kafka broker: a real Apache Kafka 3.9 broker in
# single-node KRaft mode (combined broker+controller), listening on 127.0.0.1 only.
#
#   bash deploy/kafka/kafka.sh build|start|wait|stop|status|restart
#
# The broker jars come from Maven Central through deploy/kafka/pom.xml.
# See deploy/kafka/README.md for the environment variables.
set -Eeuo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROG="kafka.sh"

# ---------------------------------------------------------------- settings
KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/capledger/kafka}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP="${KAFKA_HEAP:--Xmx512m -Xms256m}"
KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss1m}"
KAFKA_LIB_DIR="${KAFKA_LIB_DIR:-$SCRIPT_DIR/target/lib}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"   # seconds, for start/wait
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"     # seconds before SIGKILL
KAFKA_EXTRA_PROPERTIES="${KAFKA_EXTRA_PROPERTIES:-}" # extra server.properties lines
MVN="${MVN:-mvn}"
if [[ -n "${JAVA_HOME:-}" && -x "${JAVA_HOME}/bin/java" ]]; then
  JAVA="${JAVA_HOME}/bin/java"
else
  JAVA="${JAVA:-java}"
fi

HOST="127.0.0.1"
CONFIG_DIR="$KAFKA_DATA_DIR/config"
LOG_DIRS="$KAFKA_DATA_DIR/data"          # Kafka's log.dirs (the topic data)
APP_LOG_DIR="$KAFKA_DATA_DIR/logs"       # server.log (log4j) and kafka.out (stdout/stderr)
PID_FILE="$KAFKA_DATA_DIR/kafka.pid"
START_OFFSET_FILE="$KAFKA_DATA_DIR/logs/.start-offset"
SERVER_PROPERTIES="$CONFIG_DIR/server.properties"
LOG4J_PROPERTIES="$CONFIG_DIR/log4j.properties"
SERVER_LOG="$APP_LOG_DIR/server.log"
STDOUT_LOG="$APP_LOG_DIR/kafka.out"
BUILD_STAMP="$KAFKA_LIB_DIR/.capledger-build-stamp"
STARTED_MARKER="Kafka Server started"

# ---------------------------------------------------------------- helpers
die() { echo "$PROG: error: $*" >&2; exit 1; }
info() { echo "$PROG: $*"; }
trap 'rc=$?; echo "$PROG: error: unexpected failure (exit $rc) at line $LINENO: $BASH_COMMAND" >&2; exit $rc' ERR

is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }

check_settings() {
  is_uint "$KAFKA_PORT" || die "KAFKA_PORT must be a number, got '$KAFKA_PORT'"
  is_uint "$KAFKA_CONTROLLER_PORT" || die "KAFKA_CONTROLLER_PORT must be a number, got '$KAFKA_CONTROLLER_PORT'"
  [[ "$KAFKA_PORT" != "$KAFKA_CONTROLLER_PORT" ]] || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ (both $KAFKA_PORT)"
  is_uint "$KAFKA_START_TIMEOUT" || die "KAFKA_START_TIMEOUT must be a number of seconds"
  is_uint "$KAFKA_STOP_TIMEOUT" || die "KAFKA_STOP_TIMEOUT must be a number of seconds"
}

require_java() {
  command -v "$JAVA" >/dev/null 2>&1 || die "java not found (install a JDK >= 17, e.g. apt-get install -y openjdk-17-jre-headless, or set JAVA_HOME)"
}

pom_hash() { sha256sum "$SCRIPT_DIR/pom.xml" | cut -d' ' -f1; }

lib_is_built() {
  [[ -f "$BUILD_STAMP" ]] && [[ "$(cat "$BUILD_STAMP")" == "$(pom_hash)" ]] \
    && compgen -G "$KAFKA_LIB_DIR/kafka_2.13-*.jar" >/dev/null
}

kafka_version() {
  local jar
  jar="$(compgen -G "$KAFKA_LIB_DIR/kafka_2.13-*.jar" | head -n1 || true)"
  jar="${jar##*/kafka_2.13-}"
  echo "${jar%.jar}"
}

# Prints the pid of the broker this script started, if it is alive; else fails.
running_pid() {
  local pid
  [[ -f "$PID_FILE" ]] || return 1
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  is_uint "$pid" || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Guard against a recycled pid: it must be a JVM running kafka.Kafka.
  if [[ -r "/proc/$pid/cmdline" ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'kafka\.Kafka' || return 1
  fi
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# A real Kafka API round trip, in plain bash: send ApiVersionsRequest v0
# (api_key 18, version 0, correlation id 1, empty client id) and expect a
# response with correlation id 1 and error code 0.
api_versions_ok() {
  local reply
  # shellcheck disable=SC2016  # the inner script's $0/$1 are its arguments
  reply="$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x01\x00\x00" >&3
    head -c 10 <&3 | od -An -tx1 | tr -d " \n"
  ' "$HOST" "$KAFKA_PORT" 2>/dev/null || true)"
  # bytes: size(4) correlation_id(4)=00000001 error_code(2)=0000
  [[ "${reply:8:12}" == "000000010000" ]]
}

log_says_started() {
  local offset=0 size
  [[ -f "$SERVER_LOG" ]] || return 1
  [[ -f "$START_OFFSET_FILE" ]] && offset="$(cat "$START_OFFSET_FILE" 2>/dev/null || echo 0)"
  is_uint "$offset" || offset=0
  size="$(stat -c %s "$SERVER_LOG")"
  (( size >= offset )) || offset=0   # the log rolled over since the start
  # Not `tail | grep -q`: grep stops at the first match, tail then dies of SIGPIPE, and with
  # pipefail a long log since the start reads as "not started" (and trips the ERR trap).
  grep -q "$STARTED_MARKER" < <(tail -c "+$((offset + 1))" "$SERVER_LOG" || true)
}

# The first exception line logged since this start (e.g. a ConfigException), if any.
startup_failure_reason() {
  local offset=0
  [[ -f "$SERVER_LOG" ]] || return 0
  [[ -f "$START_OFFSET_FILE" ]] && offset="$(cat "$START_OFFSET_FILE" 2>/dev/null || echo 0)"
  is_uint "$offset" || offset=0
  tail -c "+$((offset + 1))" "$SERVER_LOG" \
    | grep -m1 -E '^[a-zA-Z_$][a-zA-Z0-9_.$]*(Exception|Error)(: |$)' | cut -c1-300 || true
}

died_during_startup() {
  local reason
  reason="$(startup_failure_reason)"
  if [[ -z "$reason" && -f "$STDOUT_LOG" ]]; then   # e.g. the JVM refused its options
    reason="$(awk '/^===== .* starting Kafka/ {buf=""; next} NF && buf == "" {buf=$0} END {print buf}' "$STDOUT_LOG" | cut -c1-300)"
  fi
  die "the broker process exited during startup${reason:+: $reason}; see $SERVER_LOG and $STDOUT_LOG"
}

# ---------------------------------------------------------------- build
cmd_build() {
  if lib_is_built; then
    info "broker jars already present in $KAFKA_LIB_DIR (Kafka $(kafka_version)); skipping maven"
    return 0
  fi
  command -v "$MVN" >/dev/null 2>&1 || die "maven not found (install it, e.g. apt-get install -y maven, or set MVN)"
  require_java
  mkdir -p "$(dirname "$KAFKA_LIB_DIR")"
  local lock
  lock="$(dirname "$KAFKA_LIB_DIR")/.kafka-build.lock"
  exec 9>"$lock"
  flock 9
  if lib_is_built; then   # someone else built it while we waited for the lock
    exec 9>&-
    return 0
  fi
  info "fetching the Kafka broker and its dependencies from Maven Central into $KAFKA_LIB_DIR ..."
  local t0=$SECONDS
  rm -rf "$KAFKA_LIB_DIR"
  # (Debian's maven 3.8 prints bare colour resets even with -B; strip them.)
  if ! "$MVN" -q -B -Dstyle.color=never -f "$SCRIPT_DIR/pom.xml" -Dlib.dir="$KAFKA_LIB_DIR" package 2>&1 \
      | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^[[:space:]]*$/d' >&2; then
    exec 9>&-
    die "maven build of $SCRIPT_DIR/pom.xml failed (output above)"
  fi
  compgen -G "$KAFKA_LIB_DIR/kafka_2.13-*.jar" >/dev/null || { exec 9>&-; die "maven finished but no kafka_2.13 jar is in $KAFKA_LIB_DIR"; }
  pom_hash >"$BUILD_STAMP"
  exec 9>&-
  info "built Kafka $(kafka_version) broker classpath ($(compgen -G "$KAFKA_LIB_DIR/*.jar" | wc -l) jars) in $((SECONDS - t0))s"
}

# ---------------------------------------------------------------- config
write_config() {
  mkdir -p "$CONFIG_DIR" "$LOG_DIRS" "$APP_LOG_DIR"
  cat >"$SERVER_PROPERTIES" <<EOF
# Generated by deploy/kafka/kafka.sh on every start; edits are overwritten.
# Single-node KRaft: this process is both the broker and the only controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$LOG_DIRS

# Topics: explicit creation only.
auto.create.topics.enable=false
delete.topic.enable=true
num.partitions=3
default.replication.factor=1
min.insync.replicas=1

# Single-node settings that make consumer groups, transactions and
# read_committed consumers work with one replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
group.initial.rebalance.delay.ms=0

# Small footprint for development machines and CI.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=168
log.segment.bytes=104857600
log.retention.check.interval.ms=300000
EOF
  if [[ -n "$KAFKA_EXTRA_PROPERTIES" ]]; then
    printf '\n# From KAFKA_EXTRA_PROPERTIES\n%s\n' "$KAFKA_EXTRA_PROPERTIES" >>"$SERVER_PROPERTIES"
  fi

  cat >"$LOG4J_PROPERTIES" <<'EOF'
# Generated by deploy/kafka/kafka.sh. Everything goes to ${kafka.logs.dir}/server.log.
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=${kafka.logs.dir}/server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=3
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.authorizer.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.zookeeper=WARN
EOF
}

format_storage_if_needed() {
  if [[ -f "$LOG_DIRS/meta.properties" ]]; then
    return 0
  fi
  local cluster_id out
  cluster_id="$("$JAVA" -cp "$KAFKA_LIB_DIR/*" -Dlog4j.configuration="file:$LOG4J_PROPERTIES" \
      -Dkafka.logs.dir="$APP_LOG_DIR" kafka.tools.StorageTool random-uuid 2>>"$STDOUT_LOG" | tail -n1)" \
    || die "kafka.tools.StorageTool random-uuid failed (see $STDOUT_LOG)"
  [[ "$cluster_id" =~ ^[A-Za-z0-9_-]{22}$ ]] || die "kafka.tools.StorageTool returned an invalid cluster id '$cluster_id'"
  if ! out="$("$JAVA" -cp "$KAFKA_LIB_DIR/*" -Dlog4j.configuration="file:$LOG4J_PROPERTIES" \
      -Dkafka.logs.dir="$APP_LOG_DIR" kafka.tools.StorageTool format \
      -t "$cluster_id" -c "$SERVER_PROPERTIES" 2>&1)"; then
    printf '%s\n' "$out" >>"$STDOUT_LOG"
    die "formatting the KRaft storage in $LOG_DIRS failed: $(printf '%s' "$out" | tail -n1)"
  fi
  info "formatted new KRaft storage in $LOG_DIRS (cluster id $cluster_id)"
}

# ---------------------------------------------------------------- commands
cmd_wait() {
  local deadline=$((SECONDS + KAFKA_START_TIMEOUT)) have_pid=0 pid=""
  [[ -f "$PID_FILE" ]] && have_pid=1
  while :; do
    if (( have_pid )); then
      pid="$(running_pid)" || died_during_startup
    fi
    if port_open "$KAFKA_PORT" && api_versions_ok && { (( ! have_pid )) || log_says_started; }; then
      return 0
    fi
    (( SECONDS < deadline )) || die "Kafka did not become ready on $HOST:$KAFKA_PORT within ${KAFKA_START_TIMEOUT}s; see $SERVER_LOG"
    sleep 0.2
  done
}

cmd_start() {
  local pid t0=$SECONDS
  if pid="$(running_pid)"; then
    info "already running (pid $pid); waiting until it is ready"
    cmd_wait
    info "Kafka ready on $HOST:$KAFKA_PORT (pid $pid)"
    return 0
  fi
  rm -f "$PID_FILE"
  port_open "$KAFKA_PORT" && die "port $HOST:$KAFKA_PORT is already in use by another process (another Kafka? set KAFKA_PORT)"
  port_open "$KAFKA_CONTROLLER_PORT" && die "port $HOST:$KAFKA_CONTROLLER_PORT is already in use by another process (set KAFKA_CONTROLLER_PORT)"

  cmd_build
  require_java
  write_config
  format_storage_if_needed

  # Remember where this run's log output begins, so `wait` only trusts it.
  if [[ -f "$SERVER_LOG" ]]; then stat -c %s "$SERVER_LOG" >"$START_OFFSET_FILE"; else echo 0 >"$START_OFFSET_FILE"; fi
  printf '\n===== %s starting Kafka %s =====\n' "$(date -Is)" "$(kafka_version)" >>"$STDOUT_LOG"

  # New session (setsid) so the broker outlives this shell and ignores its
  # terminal's signals; the inner shell writes its own pid, closes every
  # inherited descriptor above 2 (so no caller's pipe is held open, e.g. by a
  # CI runner waiting for EOF), then becomes java.
  # shellcheck disable=SC2016,SC2086  # $$ is the inner shell's; word-split options
  setsid bash -c '
    echo $$ >"$0"
    for fd in /proc/$$/fd/*; do
      fd=${fd##*/}; [[ $fd -gt 2 ]] && eval "exec $fd>&-"
    done
    exec "$@"' "$PID_FILE" \
    "$JAVA" $KAFKA_HEAP $KAFKA_JVM_OPTS -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$LOG4J_PROPERTIES" -Dkafka.logs.dir="$APP_LOG_DIR" \
    -cp "$KAFKA_LIB_DIR/*" kafka.Kafka "$SERVER_PROPERTIES" \
    </dev/null >>"$STDOUT_LOG" 2>&1 &
  local _
  for _ in $(seq 50); do [[ -s "$PID_FILE" ]] && break; sleep 0.05; done
  [[ -s "$PID_FILE" ]] || die "could not launch java (no pid file $PID_FILE); see $STDOUT_LOG"

  cmd_wait
  pid="$(running_pid)" || died_during_startup
  info "Kafka $(kafka_version) ready on $HOST:$KAFKA_PORT (pid $pid, data $KAFKA_DATA_DIR) in $((SECONDS - t0))s"
}

cmd_stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    info "not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if (( SECONDS >= deadline )); then
      echo "$PROG: broker (pid $pid) did not stop within ${KAFKA_STOP_TIMEOUT}s; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      local _
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && die "could not kill the broker (pid $pid)"
      break
    fi
    sleep 0.2
  done
  rm -f "$PID_FILE"
  info "stopped (pid $pid)"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    if api_versions_ok; then
      info "running: Kafka $(kafka_version), pid $pid, $HOST:$KAFKA_PORT answers, data $KAFKA_DATA_DIR"
      return 0
    fi
    info "starting or unhealthy: pid $pid is alive but $HOST:$KAFKA_PORT does not answer yet; see $SERVER_LOG"
    return 1
  fi
  if port_open "$KAFKA_PORT"; then
    info "not started by this script, but something listens on $HOST:$KAFKA_PORT"
    return 3
  fi
  info "stopped (data $KAFKA_DATA_DIR)"
  return 3
}

usage() {
  cat <<EOF
usage: bash deploy/kafka/kafka.sh {build|start|wait|stop|status|restart}

  build    fetch Kafka $(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$SCRIPT_DIR/pom.xml") and its dependencies with maven (skipped when done)
  start    build if needed, write config, format storage once, start, wait until ready
  wait     wait until the broker answers on $HOST:\$KAFKA_PORT (timeout \$KAFKA_START_TIMEOUT s)
  stop     SIGTERM, then SIGKILL after \$KAFKA_STOP_TIMEOUT s
  status   exit 0 if running and answering, 3 if stopped, 1 if not healthy
  restart  stop then start

settings (env): KAFKA_DATA_DIR=$KAFKA_DATA_DIR
  KAFKA_PORT=$KAFKA_PORT KAFKA_CONTROLLER_PORT=$KAFKA_CONTROLLER_PORT KAFKA_HEAP='$KAFKA_HEAP'
EOF
}

main() {
  local cmd="${1:-}"
  [[ $# -le 1 ]] || { usage >&2; die "expected one subcommand, got: $*"; }
  check_settings
  case "$cmd" in
    build) cmd_build ;;
    start) cmd_start ;;
    wait) cmd_wait; info "Kafka ready on $HOST:$KAFKA_PORT" ;;
    stop) cmd_stop ;;
    status) local rc=0; cmd_status || rc=$?; exit "$rc" ;;
    restart) cmd_stop; cmd_start ;;
    -h|--help|help) usage ;;
    "") usage >&2; die "missing subcommand" ;;
    *) usage >&2; die "unknown subcommand '$cmd'" ;;
  esac
}

main "$@"
