#!/usr/bin/env bash
# deploy/postgres/pg.sh — the private PostgreSQL server capledger uses for
# development, tests and CI, built from Debian's packages.
#
#   bash deploy/postgres/pg.sh start|stop|status|url|env|psql [args]|install
#
# See deploy/postgres/README.md for what it does and the settings it reads.
set -euo pipefail
set -o errtrace

PROG=pg.sh
HOST=127.0.0.1

die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
info() { printf '%s: %s\n' "$PROG" "$*" >&2; }
on_err() {
  local rc=$?
  printf '%s: error: unexpected failure (exit %s) at line %s: %s\n' "$PROG" "$rc" "$1" "$2" >&2
  exit "$rc"
}
trap 'on_err "$LINENO" "$BASH_COMMAND"' ERR

usage() {
  cat >&2 <<'EOF'
usage: pg.sh COMMAND
  install   install Debian's postgresql + postgresql-contrib if missing (root)
  start     install if needed, initialise the cluster if needed, start it,
            create the role and database if missing (idempotent)
  stop      stop the server (fast shutdown)
  status    print the server's state; exit 0 if running, 3 if not
  url       print the connection URL
  env       print `export CAPLEDGER_POSTGRES_*=...` lines for eval
  psql      open psql on the database as the app role (extra args passed on)
settings (env): PG_DATA_DIR PG_PORT PG_USER PG_PASSWORD PG_DB PG_FAST
EOF
}

# ---------------------------------------------------------------- settings
IS_ROOT=0
if [[ $(id -u) -eq 0 ]]; then IS_ROOT=1; fi

if ((IS_ROOT)); then
  # /root is not reachable by the postgres OS user, which runs the server.
  DEFAULT_DATA_DIR=/var/tmp/capledger-postgres
else
  DEFAULT_DATA_DIR="${XDG_DATA_HOME:-$HOME/.local/share}/capledger/postgres"
fi
PG_DATA_DIR="${PG_DATA_DIR:-$DEFAULT_DATA_DIR}"
PG_PORT="${PG_PORT:-5432}"
PG_USER="${PG_USER:-capledger}"
PG_PASSWORD="${PG_PASSWORD:-capledger}"
PG_DB="${PG_DB:-capledger}"
PG_FAST="${PG_FAST:-0}"

[[ $PG_DATA_DIR == /* ]] || PG_DATA_DIR="$PWD/$PG_DATA_DIR"
PG_DATA_DIR="${PG_DATA_DIR%/}"
if ! [[ $PG_PORT =~ ^[0-9]{1,5}$ ]] || ((10#$PG_PORT < 1 || 10#$PG_PORT > 65535)); then
  die "PG_PORT must be a TCP port number, got '$PG_PORT'"
fi
PG_PORT=$((10#$PG_PORT))
[[ -n $PG_USER ]] || die "PG_USER must not be empty"
[[ -n $PG_DB ]] || die "PG_DB must not be empty"
[[ -n $PG_PASSWORD ]] || die "PG_PASSWORD must not be empty (the server uses password authentication)"
case "${PG_FAST,,}" in
  1 | true | yes | on) FAST=1 ;;
  0 | false | no | off | '') FAST=0 ;;
  *) die "PG_FAST must be 0 or 1, got '$PG_FAST'" ;;
esac

PGDATA_DIR="$PG_DATA_DIR/pgdata"  # the cluster itself (initdb target)
RUN_DIR="$PG_DATA_DIR/run"        # unix socket, mode 0700: admin access only
LOG_FILE="$PG_DATA_DIR/postgres.log"
INITDB_LOG="$PG_DATA_DIR/initdb.log"
CONF_NAME=capledger.conf          # included from postgresql.conf, rewritten on start

BINDIR=""

# ---------------------------------------------------------------- helpers
now() { printf '%s' "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }'; }

# Newest installed server version (Debian 12 ships PostgreSQL 15).
find_bindir() {
  local f
  f=$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)
  [[ -x $f ]] || return 1
  printf '%s\n' "${f%/initdb}"
}

pg_major() { basename "$(dirname "$BINDIR")"; }
pg_version() { "$BINDIR/postgres" --version | awk '{ print $3 }'; }

# Run a command as the OS user that owns the cluster: `postgres` when we are
# root (initdb and the server refuse to run as root), else ourselves.
# fd 9 (our flock) is closed so a server started here does not inherit it.
as_owner() {
  if ((IS_ROOT)); then
    (cd / && runuser -u postgres -- "$@") 9>&-
  else
    "$@" 9>&-
  fi
}

urlencode() {
  local LC_ALL=C s=$1 out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      [a-zA-Z0-9._~-]) out+=$c ;;
      *) printf -v c '%%%02X' "'$c"; out+=$c ;;
    esac
  done
  printf '%s' "$out"
}

conn_url() {
  printf 'postgresql://%s:%s@%s:%s/%s' "$(urlencode "$PG_USER")" \
    "$(urlencode "$PG_PASSWORD")" "$HOST" "$PG_PORT" "$(urlencode "$PG_DB")"
}

is_running() {
  [[ -n $BINDIR && -f $PGDATA_DIR/PG_VERSION ]] || return 1
  as_owner "$BINDIR/pg_ctl" status -D "$PGDATA_DIR" >/dev/null 2>&1
}

running_pid() { sed -n 1p "$PGDATA_DIR/postmaster.pid" 2>/dev/null || true; }
running_port() { sed -n 4p "$PGDATA_DIR/postmaster.pid" 2>/dev/null || true; }

port_in_use() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# "15/main" if a Debian-managed (pg_createcluster) cluster is online on port $1.
debian_cluster_on_port() {
  command -v pg_lsclusters >/dev/null 2>&1 || return 1
  pg_lsclusters -h 2>/dev/null | awk -v p="$1" '$3 == p && $4 ~ /^online/ { print $1 "/" $2; f = 1 } END { exit !f }'
}

online_debian_clusters() {
  command -v pg_lsclusters >/dev/null 2>&1 || return 0
  pg_lsclusters -h 2>/dev/null | awk '$4 ~ /^online/ { print $1 " " $2 }'
}

take_lock() {
  exec 9>>"$PG_DATA_DIR/.pg.sh.lock"
  flock -w 300 9 || die "timed out waiting for another pg.sh run on $PG_DATA_DIR"
}

# ---------------------------------------------------------------- install
cmd_install() {
  if BINDIR=$(find_bindir); then
    info "PostgreSQL $(pg_version) is installed ($BINDIR)"
    return 0
  fi
  ((IS_ROOT)) || die "PostgreSQL is not installed and installing needs root: run 'sudo bash $0 install'"
  command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and apt-get is not available"

  local log t0 before ver name
  log=$(mktemp /tmp/capledger-pg-install.XXXXXX.log)
  t0=$(now)
  before=$(online_debian_clusters)
  info "installing postgresql postgresql-contrib from Debian's packages (log: $log) ..."
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0
    -o DPkg::Lock::Timeout=300 install postgresql postgresql-contrib)
  if ! "${apt[@]}" >"$log" 2>&1; then
    # Usually a missing or stale package list: refresh once and retry.
    apt-get -q -o DPkg::Lock::Timeout=300 update >>"$log" 2>&1 || die "apt-get update failed (see $log)"
    "${apt[@]}" >>"$log" 2>&1 || die "apt-get install postgresql postgresql-contrib failed (see $log)"
  fi
  BINDIR=$(find_bindir) || die "apt-get install finished but no /usr/lib/postgresql/*/bin/initdb exists (see $log)"

  # The package creates Debian's own cluster (15/main, port 5432) and may start
  # it. It is not ours: stop any cluster the install brought up and keep it
  # from starting at boot, so port 5432 is left for our private cluster.
  while read -r ver name; do
    [[ -n ${ver:-} ]] || continue
    if ! grep -qx "$ver $name" <<<"$before"; then
      info "stopping Debian's packaged cluster $ver/$name and setting it to start manually"
      pg_ctlcluster "$ver" "$name" stop >>"$log" 2>&1 || true
      if [[ -f /etc/postgresql/$ver/$name/start.conf ]]; then
        sed -i 's/^auto$/manual/' "/etc/postgresql/$ver/$name/start.conf"
      fi
    fi
  done < <(online_debian_clusters)

  info "installed PostgreSQL $(pg_version) in $(since "$t0")"
}

ensure_installed() {
  BINDIR=$(find_bindir) || cmd_install
  BINDIR=$(find_bindir) || die "PostgreSQL is not installed"
}

# ---------------------------------------------------------------- start
prepare_dir() {
  if ((IS_ROOT)); then
    id postgres >/dev/null 2>&1 || die "the postgres OS user does not exist (is the postgresql package installed?)"
  fi
  if [[ ! -d $PG_DATA_DIR ]]; then
    mkdir -p "$PG_DATA_DIR" || die "cannot create PG_DATA_DIR=$PG_DATA_DIR"
    chmod 700 "$PG_DATA_DIR"
    if ((IS_ROOT)); then chown postgres:postgres "$PG_DATA_DIR"; fi
  fi
  as_owner test -w "$PG_DATA_DIR" -a -x "$PG_DATA_DIR" ||
    die "PG_DATA_DIR=$PG_DATA_DIR is not writable by OS user $(as_owner id -un) (the server's owner); pick another PG_DATA_DIR"
  as_owner mkdir -p "$RUN_DIR"
  as_owner chmod 700 "$RUN_DIR"
  local sock="$RUN_DIR/.s.PGSQL.$PG_PORT"
  ((${#sock} <= 107)) || die "PG_DATA_DIR is too long for a unix socket path ($sock); pick a shorter PG_DATA_DIR"
}

init_cluster() {
  if [[ -e $PGDATA_DIR ]] && [[ -n $(ls -A "$PGDATA_DIR" 2>/dev/null) ]]; then
    die "$PGDATA_DIR exists, is not empty and holds no cluster; remove it or pick another PG_DATA_DIR"
  fi
  local t0
  t0=$(now)
  # Superuser = the owning OS user, reachable only through the private unix
  # socket (peer auth); every TCP client must present a SCRAM password.
  # Locale C + UTF8: byte-order collation, same result on every machine.
  as_owner "$BINDIR/initdb" -D "$PGDATA_DIR" --auth-local=peer --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C >"$INITDB_LOG" 2>&1 ||
    die "initdb failed: $(grep -m1 -iE 'error|fatal' "$INITDB_LOG" || tail -n1 "$INITDB_LOG") (see $INITDB_LOG)"
  printf "\n# capledger: settings managed by deploy/postgres/pg.sh\ninclude_if_exists = '%s'\n" "$CONF_NAME" |
    as_owner tee -a "$PGDATA_DIR/postgresql.conf" >/dev/null
  info "initialised cluster in $PGDATA_DIR in $(since "$t0")"
}

sql_quote() { printf "'%s'" "${1//\'/\'\'}"; }

render_conf() {
  local on=on
  if ((FAST)); then on=off; fi
  cat <<EOF
# Written by deploy/postgres/pg.sh on every start; edits here are overwritten.
cluster_name = 'capledger'
listen_addresses = '$HOST'
port = $PG_PORT
unix_socket_directories = $(sql_quote "$RUN_DIR")
unix_socket_permissions = 0700
max_connections = 200
password_encryption = 'scram-sha-256'
# PG_FAST=$FAST (off = durable; on trades crash safety for test speed)
fsync = $on
synchronous_commit = $on
full_page_writes = $on
EOF
}

# Write capledger.conf; returns 0 if its content changed.
write_conf() {
  local want
  want=$(render_conf)
  if [[ -f $PGDATA_DIR/$CONF_NAME && "$(cat "$PGDATA_DIR/$CONF_NAME")" == "$want" ]]; then
    return 1
  fi
  as_owner tee "$PGDATA_DIR/$CONF_NAME" >/dev/null <<<"$want"
  return 0
}

admin_psql() {
  as_owner "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$RUN_DIR" -p "$PG_PORT" -d postgres "$@"
}

ensure_role_db() {
  local err
  err=$(admin_psql -v app_user="$PG_USER" -v app_password="$PG_PASSWORD" -v app_db="$PG_DB" 2>&1 <<'SQL'
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', :'app_user', :'app_password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_user') \gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'app_user', :'app_password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'app_db', :'app_user')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'app_db') \gexec
SQL
  ) || die "creating role '$PG_USER' / database '$PG_DB' failed: $(head -n1 <<<"$err")"
}

wait_ready() {
  local i
  for ((i = 0; i < 300; i++)); do
    if "$BINDIR/pg_isready" -q -h "$HOST" -p "$PG_PORT" -t 1; then return 0; fi
    sleep 0.1
  done
  die "server did not accept connections on $HOST:$PG_PORT within 30s (see $LOG_FILE)"
}

cmd_start() {
  local t0 cluster
  t0=$(now)
  ensure_installed
  prepare_dir
  take_lock

  if [[ ! -f $PGDATA_DIR/PG_VERSION ]]; then
    init_cluster
  fi
  local have
  have=$(cat "$PGDATA_DIR/PG_VERSION")
  [[ $have == "$(pg_major)" ]] ||
    die "cluster in $PGDATA_DIR is PostgreSQL $have but $(pg_major) is installed; remove it or pick another PG_DATA_DIR"

  if is_running; then
    local port
    port=$(running_port)
    [[ $port == "$PG_PORT" ]] ||
      die "server for $PGDATA_DIR is already running on port $port, not PG_PORT=$PG_PORT; run 'pg.sh stop' first"
    if write_conf; then
      as_owner "$BINDIR/pg_ctl" reload -D "$PGDATA_DIR" -s >/dev/null
      info "settings changed (PG_FAST=$FAST): reloaded"
    fi
    wait_ready
    ensure_role_db
    info "already running: PostgreSQL $(pg_version) on $HOST:$PG_PORT (pid $(running_pid), data $PGDATA_DIR)"
    return 0
  fi

  if port_in_use "$PG_PORT"; then
    if cluster=$(debian_cluster_on_port "$PG_PORT"); then
      die "port $PG_PORT is taken by Debian's cluster $cluster: stop it ('pg_ctlcluster ${cluster/\// } stop') or set PG_PORT"
    fi
    die "port $PG_PORT on $HOST is already in use by another program; set PG_PORT to a free port"
  fi

  write_conf || true
  local t1
  t1=$(now)
  if ! as_owner "$BINDIR/pg_ctl" start -D "$PGDATA_DIR" -l "$LOG_FILE" -w -t 60 -s >/dev/null 2>&1; then
    die "server failed to start: $(grep -E 'FATAL|PANIC|ERROR' "$LOG_FILE" 2>/dev/null | tail -n1 || true) (see $LOG_FILE)"
  fi
  wait_ready
  ensure_role_db
  info "started PostgreSQL $(pg_version) on $HOST:$PG_PORT (pid $(running_pid), fsync $([[ $FAST == 1 ]] && echo off || echo on), data $PGDATA_DIR) in $(since "$t1"); total $(since "$t0")"
}

# ---------------------------------------------------------------- others
cmd_stop() {
  if ! BINDIR=$(find_bindir); then info "PostgreSQL is not installed: nothing to stop"; return 0; fi
  if [[ ! -d $PG_DATA_DIR ]]; then info "no cluster in $PG_DATA_DIR: nothing to stop"; return 0; fi
  take_lock
  if ! is_running; then info "not running (data $PGDATA_DIR)"; return 0; fi
  local t0
  t0=$(now)
  as_owner "$BINDIR/pg_ctl" stop -D "$PGDATA_DIR" -m fast -w -t 60 -s >/dev/null 2>&1 ||
    die "pg_ctl stop failed (see $LOG_FILE)"
  info "stopped in $(since "$t0")"
}

cmd_status() {
  if ! BINDIR=$(find_bindir); then echo "not installed"; exit 3; fi
  if [[ ! -f $PGDATA_DIR/PG_VERSION ]]; then echo "not initialised (data $PGDATA_DIR)"; exit 3; fi
  if ! is_running; then echo "stopped (data $PGDATA_DIR)"; exit 3; fi
  local ready="not accepting connections"
  if "$BINDIR/pg_isready" -q -h "$HOST" -p "$(running_port)" -t 2; then ready="accepting connections"; fi
  echo "running: PostgreSQL $(pg_version), pid $(running_pid), $HOST:$(running_port), $ready, data $PGDATA_DIR"
}

cmd_env() {
  printf 'export %s=%q\n' \
    CAPLEDGER_PERSISTENCE postgres \
    CAPLEDGER_POSTGRES_HOST "$HOST" \
    CAPLEDGER_POSTGRES_PORT "$PG_PORT" \
    CAPLEDGER_POSTGRES_USER "$PG_USER" \
    CAPLEDGER_POSTGRES_PASSWORD "$PG_PASSWORD" \
    CAPLEDGER_POSTGRES_DBNAME "$PG_DB"
}

cmd_psql() {
  local psql
  if BINDIR=$(find_bindir); then psql="$BINDIR/psql"; else psql=$(command -v psql) || die "psql is not installed; run 'pg.sh install'"; fi
  if [[ -n $BINDIR ]] && ! "$BINDIR/pg_isready" -q -h "$HOST" -p "$PG_PORT" -t 2; then
    die "no server accepting connections on $HOST:$PG_PORT; run 'pg.sh start'"
  fi
  PGPASSWORD="$PG_PASSWORD" exec "$psql" -h "$HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" "$@"
}

cmd=${1:-}
if (($#)); then shift; fi
case "$cmd" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  url) conn_url; echo ;;
  env) cmd_env ;;
  psql) cmd_psql "$@" ;;
  -h | --help | help) usage ;;
  '') usage; exit 2 ;;
  *) usage; die "unknown command '$cmd'" ;;
esac
