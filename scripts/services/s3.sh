#!/usr/bin/env bash
# An S3-compatible server on 127.0.0.1 (moto's `moto_server`, PyPI `moto[server]`), e.g. as a
# DVC remote or MLflow's artifact store, with the buckets the workflow uses created.
#
#   scripts/services/s3.sh start          # moto_server on port S3_PORT, buckets S3_BUCKETS
#   eval "$(scripts/services/s3.sh env)"  # AWS_* and endpoint variables for boto3, DVC, MLflow
#   scripts/services/s3.sh status | stop
#
# moto keeps objects in memory: `stop` discards them. Any access key is accepted. Settings:
# S3_PORT (default 9000), S3_BUCKETS (default "cropaudit"; space-separated). Run with the
# project's environment active (moto_server and python from it).

SERVICE_NAME=s3
. "$(dirname "$0")/lib.sh"

DIR="$SERVICES_DIR/s3"
PORT="${S3_PORT:-9000}"
ENDPOINT="http://127.0.0.1:$PORT"
BUCKETS="${S3_BUCKETS:-cropaudit}"

print_env() {
  cat <<ENV
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
export AWS_ENDPOINT_URL=$ENDPOINT MLFLOW_S3_ENDPOINT_URL=$ENDPOINT
ENV
}

start() {
  need moto_server "pip install 'moto[server]' (the [scale] extra), with the environment active"
  if pid_alive "$DIR/moto.pid"; then
    say "already running ($ENDPOINT)"
    return 0
  fi
  port_free "$PORT" || die "port $PORT is in use (set S3_PORT)"
  mkdir -p "$DIR"
  setsid moto_server -H 127.0.0.1 -p "$PORT" >"$DIR/moto.log" 2>&1 </dev/null &
  echo $! >"$DIR/moto.pid"
  wait_for 60 moto_server "$DIR/moto.log" listening "$PORT"
  eval "$(print_env)"
  python - "$BUCKETS" <<'PY' || die "could not create buckets $BUCKETS"
import sys

import boto3

s3 = boto3.client("s3")
existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
for name in sys.argv[1].split():
    if name not in existing:
        s3.create_bucket(Bucket=name)
PY
  say "running: pid $(cat "$DIR/moto.pid") ($ENDPOINT, buckets: $BUCKETS)"
}

stop() { stop_pid moto_server "$DIR/moto.pid" TERM group; }

status() {
  if pid_alive "$DIR/moto.pid"; then say "running ($ENDPOINT)"; else say "not running"; return 3; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) print_env ;;
  *) usage ;;
esac
