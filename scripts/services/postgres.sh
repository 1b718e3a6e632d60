#!/usr/bin/env bash
# A local PostgreSQL server on 127.0.0.1 (Debian `postgresql`), e.g. as MLflow's backend store.
#
#   scripts/services/postgres.sh start    # initdb on first use, then start; creates database mlflow
#   scripts/services/postgres.sh env      # POSTGRES_URI=postgresql://cropaudit@127.0.0.1:PORT/mlflow
#   scripts/services/postgres.sh status | stop
#
# Data in .services/postgres/data; user `cropaudit`, trust authentication on 127.0.0.1 only
# (a local test server: never expose it). PostgreSQL refuses to run as root, so as root the
# server runs as the `postgres` system user. Settings: POSTGRES_PORT (default 5433),
# POSTGRES_DB (mlflow), PG_BIN (folder of initdb/postgres; found from pg_config or Debian's
# /usr/lib/postgresql/<version>/bin).

SERVICE_NAME=postgres
. "$(dirname "$0")/lib.sh"

DIR="$SERVICES_DIR/postgres"
DATA="$DIR/data"
PORT="${POSTGRES_PORT:-5433}"
DB="${POSTGRES_DB:-mlflow}"
DB_USER=cropaudit
URI="postgresql://$DB_USER@127.0.0.1:$PORT/$DB"

pg_bin() {
  if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
  local found
  found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
  if [ -n "$found" ]; then echo "$found"; return; fi
  command -v pg_config >/dev/null && pg_config --bindir && return
  die "PostgreSQL server binaries not found (apt-get install postgresql, or set PG_BIN)"
}

as_owner() {  # PostgreSQL will not run as root: use the postgres system user then
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pidfile() { echo "$DATA/postmaster.pid"; }

start() {
  local bin
  bin="$(pg_bin)"
  [ -x "$bin/postgres" ] || die "$bin/postgres not found (apt-get install postgresql, or set PG_BIN)"
  if pid_alive "$(pidfile)"; then
    say "already running ($URI)"
    return 0
  fi
  port_free "$PORT" || die "port $PORT is in use (set POSTGRES_PORT)"
  mkdir -p "$DIR"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the postgres system user (apt-get install postgresql)"
    chown postgres: "$DIR"
  fi
  if [ ! -s "$DATA/PG_VERSION" ]; then
    as_owner "$bin/initdb" -D "$DATA" -U "$DB_USER" --auth=trust --encoding=UTF8 --no-instructions \
      >"$DIR/initdb.log" 2>&1 || die "initdb failed: $(tail -n1 "$DIR/initdb.log") ($DIR/initdb.log)"
  fi
  as_owner "$bin/pg_ctl" -D "$DATA" -l "$DIR/postgres.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $PORT -k $DIR" start >/dev/null \
    || die "server did not start: $(tail -n1 "$DIR/postgres.log") ($DIR/postgres.log)"
  if ! as_owner "$bin/psql" -h 127.0.0.1 -p "$PORT" -U "$DB_USER" -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
    as_owner "$bin/createdb" -h 127.0.0.1 -p "$PORT" -U "$DB_USER" "$DB" \
      || die "could not create database $DB"
  fi
  say "running: pid $(head -n1 "$(pidfile)") ($URI)"
}

stop() {
  stop_pid postgres "$(pidfile)" INT  # SIGINT: PostgreSQL's fast shutdown
}

status() {
  if pid_alive "$(pidfile)"; then say "running ($URI)"; else say "not running"; return 3; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) echo "export POSTGRES_URI=$URI" ;;
  *) usage ;;
esac
