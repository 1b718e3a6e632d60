#!/usr/bin/env bash
# An MLflow tracking server on 127.0.0.1 with a PostgreSQL backend store (start
# scripts/services/postgres.sh first) and an artifact store: a folder by default, or the S3
# server (MLFLOW_ARTIFACTS=s3://cropaudit/mlflow, after scripts/services/s3.sh start).
#
#   scripts/services/mlflow.sh start
#   eval "$(scripts/services/mlflow.sh env)"   # MLFLOW_TRACKING_URI=http://127.0.0.1:PORT
#   cropaudit log-run ...                       # or snakemake: the log_run rule reads it
#   scripts/services/mlflow.sh status | stop
#
# Clients upload artifacts through the server (--serve-artifacts), so they need no S3
# credentials. Settings: MLFLOW_PORT (default 5050), MLFLOW_WORKERS (2),
# MLFLOW_WORKER_HEALTHCHECK_S (60: uvicorn's default 5 s restarts busy workers on a loaded
# machine, which then answer nothing while they re-import MLflow), MLFLOW_ARTIFACTS
# (default .services/mlflow/artifacts), MLFLOW_BACKEND_STORE_URI (default: postgres.sh's
# database), S3_PORT (with an s3:// artifact store).

SERVICE_NAME=mlflow
. "$(dirname "$0")/lib.sh"

DIR="$SERVICES_DIR/mlflow"
PORT="${MLFLOW_PORT:-5050}"
URI="http://127.0.0.1:$PORT"
HERE="$(dirname "$0")"

start() {
  need mlflow "pip install -e . with the environment active"
  if pid_alive "$DIR/mlflow.pid"; then
    say "already running ($URI)"
    return 0
  fi
  port_free "$PORT" || die "port $PORT is in use (set MLFLOW_PORT)"
  mkdir -p "$DIR"
  local backend artifacts
  backend="${MLFLOW_BACKEND_STORE_URI:-$("$HERE/postgres.sh" env | sed 's/^export POSTGRES_URI=//')}"
  case "$backend" in
    postgresql://*)
      "$HERE/postgres.sh" status >/dev/null || die "PostgreSQL is not running (scripts/services/postgres.sh start)" ;;
  esac
  artifacts="${MLFLOW_ARTIFACTS:-$DIR/artifacts}"
  case "$artifacts" in
    s3://*)
      "$HERE/s3.sh" status >/dev/null || die "the S3 server is not running (scripts/services/s3.sh start)"
      eval "$("$HERE/s3.sh" env)" ;;
    *) mkdir -p "$artifacts" ;;
  esac
  MLFLOW_DISABLE_TELEMETRY=true setsid mlflow server --backend-store-uri "$backend" \
    --artifacts-destination "$artifacts" --serve-artifacts \
    --host 127.0.0.1 --port "$PORT" --workers "${MLFLOW_WORKERS:-2}" \
    --uvicorn-opts "--timeout-worker-healthcheck ${MLFLOW_WORKER_HEALTHCHECK_S:-60}" \
    >"$DIR/mlflow.log" 2>&1 </dev/null &
  echo $! >"$DIR/mlflow.pid"
  wait_for 120 "mlflow server" "$DIR/mlflow.log" python -c \
    "import urllib.request; urllib.request.urlopen('$URI/health', timeout=2)"
  say "running: pid $(cat "$DIR/mlflow.pid") ($URI; backend $backend; artifacts $artifacts)"
}

stop() { stop_pid "mlflow server" "$DIR/mlflow.pid" TERM group; }

status() {
  if pid_alive "$DIR/mlflow.pid"; then say "running ($URI)"; else say "not running"; return 3; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) echo "export MLFLOW_TRACKING_URI=$URI" ;;
  *) usage ;;
esac
