#!/usr/bin/env bash
# A real single-node SLURM on this machine, for testing the SLURM profile (tests/workflow/test_slurm.py, .ci/run).
#
#   workflow/profiles/slurm-local/cluster.sh up      # install (Debian's slurm and munge), configure, start; idempotent
#   workflow/profiles/slurm-local/cluster.sh down    # stop the daemons it started
#   workflow/profiles/slurm-local/cluster.sh status  # exit 0 when the node is up and idle or busy
#
# Needs root and apt (Debian bookworm: Slurm 22.05), no systemd. One node `localhost` with this machine's CPUs
# and 95% of its memory, two partitions (`cpu`, the default, and `gpu`, which holds the same node: it has no GPUs,
# so a job asking for one is refused at submission), no accounting (so the profile queries squeue), daemons
# listening on 127.0.0.1 only. EnforcePartLimits=ALL makes sbatch refuse a job that asks more than a node has,
# instead of leaving it pending. A slurm.conf this script did not write is never overwritten.
set -euo pipefail

CONF=/etc/slurm/slurm.conf
MARK="# written by beeformer workflow/profiles/slurm-local/cluster.sh"
RUN=/run/beeformer-slurm

die() { echo "cluster.sh: $*" >&2; exit 1; }

idle() { sinfo -h -n localhost -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; }

install_packages() {
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null && return
    command -v apt-get >/dev/null || die "apt-get is not available: install slurmctld, slurmd, slurm-client and munge"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge \
        >/dev/null || die "apt-get install of slurmctld slurmd slurm-client munge failed"
}

write_config() {
    if [[ -f $CONF ]] && ! grep -qF "$MARK" "$CONF"; then
        die "$CONF exists and was not written by this script; refusing to overwrite it"
    fi
    local cpus memory
    cpus=$(nproc)
    memory=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.95}' /proc/meminfo)
    mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm "$RUN"
    cat >"$CONF.tmp" <<EOF
$MARK
ClusterName=beeformer-test
SlurmctldHost=localhost(127.0.0.1)
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
EnforcePartLimits=ALL
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmUser=root
MinJobAge=300
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=cpu Nodes=localhost Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=localhost Default=NO MaxTime=INFINITE State=UP
EOF
    mv "$CONF.tmp" "$CONF"
}

running() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
    mkdir -p /run/munge /var/log/munge /var/lib/munge "$RUN"
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    [[ -f /etc/munge/munge.key ]] || { mungekey --create --keyfile /etc/munge/munge.key && chown munge:munge /etc/munge/munge.key; }
    running /run/munge/munged.pid || runuser -u munge -- munged
    running "$RUN/slurmctld.pid" || slurmctld
    running "$RUN/slurmd.pid" || slurmd -N localhost 2>/dev/null
    for _ in $(seq 60); do
        if idle; then
            echo "cluster.sh: SLURM is up: $(sinfo -h -o '%P %D %c %m %T' | tr '\n' ';')"
            return
        fi
        scontrol update nodename=localhost state=resume >/dev/null 2>&1 || true
        sleep 1
    done
    die "the node did not become idle within 60 s; see /var/log/slurm/slurmctld.log and slurmd.log"
}

stop() {
    for pid in "$RUN/slurmd.pid" "$RUN/slurmctld.pid" /run/munge/munged.pid; do
        running "$pid" && kill "$(cat "$pid")"
    done
    echo "cluster.sh: stopped"
}

[[ $EUID -eq 0 ]] || die "needs root (it installs packages and starts daemons)"
case "${1:-}" in
    up) install_packages; write_config; start ;;
    down) stop ;;
    status) idle ;;
    *) die "usage: cluster.sh up|down|status" ;;
esac
