# Shared by the service scripts (sourced, not run): where state lives, one-line errors, and
# starting/stopping daemons by the process id they record.
#
# State of every service lives under $CROPAUDIT_SERVICES_DIR (default: .services/ in the
# repository root, git-ignored): configuration, data, logs and pid files. Nothing is written
# elsewhere, so `rm -rf .services` after `stop` removes every trace.

set -euo pipefail

SERVICES_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SERVICES_DIR="${CROPAUDIT_SERVICES_DIR:-$SERVICES_REPO/.services}"
mkdir -p "$SERVICES_DIR"
SERVICES_DIR="$(cd "$SERVICES_DIR" && pwd)"

die() {  # one-line error on stderr, exit 1
  echo "${SERVICE_NAME:-service}: error: $*" >&2
  exit 1
}

say() { echo "${SERVICE_NAME:-service}: $*"; }

need() {  # need COMMAND HINT: stop with a one-line error when a program is missing
  command -v "$1" >/dev/null 2>&1 || die "$1 not found ($2)"
}

pid_alive() {  # pid_alive PIDFILE: the recorded process is running
  local pid
  [ -s "$1" ] || return 1
  pid="$(head -n1 "$1" | tr -dc 0-9)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

stop_pid() {  # stop_pid NAME PIDFILE [SIGNAL] [group]: signal the recorded process (or the
  # process group it leads, for servers with worker processes), wait up to 30 s, then KILL
  local name="$1" file="$2" sig="${3:-TERM}" group="${4:-}" pid target i
  if ! pid_alive "$file"; then
    rm -f "$file"
    return 0
  fi
  pid="$(head -n1 "$file" | tr -dc 0-9)"
  target="$pid"
  [ -n "$group" ] && target="-$pid"
  kill -s "$sig" -- "$target"
  for i in $(seq 300); do
    kill -0 -- "$target" 2>/dev/null || { rm -f "$file"; say "stopped $name (pid $pid)"; return 0; }
    sleep 0.1
  done
  kill -s KILL -- "$target" 2>/dev/null || true
  rm -f "$file"
  say "killed $name (pid $pid) after 30 s"
}

wait_for() {  # wait_for SECONDS DESCRIPTION LOGFILE COMMAND...: poll until COMMAND succeeds
  local seconds="$1" what="$2" log="$3" i
  shift 3
  for i in $(seq $((seconds * 5))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  die "$what not ready after ${seconds} s; last log line: $(tail -n1 "$log" 2>/dev/null || echo none) ($log)"
}

listening() {  # listening PORT: something accepts connections on 127.0.0.1:PORT
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

port_free() {  # port_free PORT: nothing listens on 127.0.0.1:PORT
  ! listening "$1"
}

usage() {
  echo "usage: $0 start|stop|status|env" >&2
  exit 2
}
