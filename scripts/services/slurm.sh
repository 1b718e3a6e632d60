#!/usr/bin/env bash
# A single-node Slurm cluster on this machine (munged + slurmctld + slurmd, Debian `slurm-wlm`
# and `munge`), for trying `snakemake --executor slurm` without a cluster.
#
#   scripts/services/slurm.sh start     # writes .services/slurm/slurm.conf, starts the daemons
#   eval "$(scripts/services/slurm.sh env)"   # SLURM_CONF for sbatch/squeue/snakemake
#   scripts/services/slurm.sh status
#   scripts/services/slurm.sh stop
#
# No accounting daemon (slurmdbd): the Snakemake plugin is told to read job states with
# `squeue` (workflow/profiles/slurm), and finished jobs stay listed for MinJobAge seconds.
# Every finished job is also recorded by Slurm's own job-completion log (jobcomp/filetxt,
# .services/slurm/jobcomp.log).
#
# /etc/slurm/slurm.conf: the Snakemake job-step plugin (snakemake-executor-plugin-slurm-jobstep
# 0.6) removes every SLURM_* variable, SLURM_CONF included, before the `srun` inside a job, so
# that srun reads Slurm's default file. `start` links /etc/slurm/slurm.conf to this cluster's
# file when no such file exists (as root), and `stop` removes only that link; an existing
# /etc/slurm/slurm.conf that is not ours stops `start` with an error. Settings: SLURM_CTLD_PORT (default 6817), SLURM_D_PORT
# (6818), SLURM_CPUS (all cores), SLURM_MIN_JOB_AGE (3600 s).

SERVICE_NAME=slurm
. "$(dirname "$0")/lib.sh"

DIR="$SERVICES_DIR/slurm"
CONF="$DIR/slurm.conf"
MUNGE_SOCKET="$DIR/munge/munge.socket.2"
CTLD_PORT="${SLURM_CTLD_PORT:-6817}"
D_PORT="${SLURM_D_PORT:-6818}"
export SLURM_CONF="$CONF"

write_conf() {
  local user cpus mem
  user="$(id -un)"
  cpus="${SLURM_CPUS:-$(nproc)}"
  mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10))  # MB, 90 % of RAM
  mkdir -p "$DIR/state" "$DIR/spool" "$DIR/munge"
  cat >"$CONF" <<CONF
# Written by scripts/services/slurm.sh: a one-node cluster on 127.0.0.1.
ClusterName=cropaudit
SlurmctldHost=localhost
SlurmctldPort=$CTLD_PORT
SlurmdPort=$D_PORT
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
SchedulerParameters=sched_interval=2
MinJobAge=${SLURM_MIN_JOB_AGE:-3600}
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/jobcomp.log
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
}

DEFAULT_CONF=/etc/slurm/slurm.conf

link_default_conf() {  # see the header: jobs' srun finds only the default path
  if [ -L "$DEFAULT_CONF" ] && [ "$(readlink "$DEFAULT_CONF")" = "$CONF" ]; then return 0; fi
  # a link left by one of these clusters that was killed before its `stop`: its file is gone,
  # or it is a file this script wrote (its pid-file line) and that cluster's slurmctld is dead
  if [ -L "$DEFAULT_CONF" ]; then
    local other other_dir
    other="$(readlink "$DEFAULT_CONF")"
    other_dir="$(dirname "$other")"
    if [ ! -e "$other" ] || { grep -qx "SlurmctldPidFile=$other_dir/slurmctld.pid" "$other" \
        && ! pid_alive "$other_dir/slurmctld.pid"; }; then
      rm -f "$DEFAULT_CONF"
    fi
  fi
  [ -e "$DEFAULT_CONF" ] && die "$DEFAULT_CONF exists and is not this cluster's (jobs' srun would read it); move it away or use that cluster"
  mkdir -p "$(dirname "$DEFAULT_CONF")" 2>/dev/null && ln -s "$CONF" "$DEFAULT_CONF" 2>/dev/null \
    || die "cannot link $DEFAULT_CONF -> $CONF (run as root): jobs' srun needs it"
}

unlink_default_conf() {
  if [ -L "$DEFAULT_CONF" ] && [ "$(readlink "$DEFAULT_CONF")" = "$CONF" ]; then rm -f "$DEFAULT_CONF"; fi
}

node_idle() {
  sinfo -h -N -o %t | grep -Eq '^(idle|mix|alloc)'
}

start() {
  need munged "apt-get install munge"
  need slurmctld "apt-get install slurm-wlm"
  need slurmd "apt-get install slurm-wlm"
  if pid_alive "$DIR/munged.pid" && pid_alive "$DIR/slurmctld.pid" && pid_alive "$DIR/slurmd.pid"; then
    say "already running (SLURM_CONF=$CONF)"
    return 0
  fi
  stop >/dev/null
  for port in "$CTLD_PORT" "$D_PORT"; do
    port_free "$port" || die "port $port is in use (set SLURM_CTLD_PORT / SLURM_D_PORT)"
  done
  write_conf
  link_default_conf
  if [ ! -s "$DIR/munge/munge.key" ]; then
    mungekey --create --keyfile="$DIR/munge/munge.key" >/dev/null \
      || die "mungekey could not create $DIR/munge/munge.key"
  fi
  chmod 700 "$DIR/munge"
  chmod 400 "$DIR/munge/munge.key"
  munged --force --socket="$MUNGE_SOCKET" --key-file="$DIR/munge/munge.key" \
    --pid-file="$DIR/munged.pid" --log-file="$DIR/munged.log" \
    --seed-file="$DIR/munge/munged.seed" \
    || die "munged did not start ($(tail -n1 "$DIR/munged.log" 2>/dev/null))"
  wait_for 10 munged "$DIR/munged.log" test -S "$MUNGE_SOCKET"
  slurmctld -f "$CONF" || die "slurmctld did not start ($(tail -n1 "$DIR/slurmctld.log" 2>/dev/null))"
  wait_for 30 slurmctld "$DIR/slurmctld.log" scontrol ping
  slurmd -f "$CONF" -N localhost || die "slurmd did not start ($(tail -n1 "$DIR/slurmd.log" 2>/dev/null))"
  # a node left down by an earlier unclean stop is brought back
  scontrol update nodename=localhost state=resume >/dev/null 2>&1 || true
  wait_for 60 "slurm node" "$DIR/slurmd.log" node_idle
  say "running: slurmctld pid $(cat "$DIR/slurmctld.pid"), slurmd pid $(cat "$DIR/slurmd.pid") (SLURM_CONF=$CONF)"
}

stop() {
  stop_pid slurmd "$DIR/slurmd.pid"
  stop_pid slurmctld "$DIR/slurmctld.pid"
  stop_pid munged "$DIR/munged.pid"
  unlink_default_conf
}

status() {
  if pid_alive "$DIR/slurmctld.pid" && pid_alive "$DIR/slurmd.pid"; then
    say "running (SLURM_CONF=$CONF)"
    sinfo
  else
    say "not running"
    return 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  *) usage ;;
esac
