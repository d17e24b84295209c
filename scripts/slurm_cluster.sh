#!/usr/bin/env bash
# A single-node Slurm cluster (with accounting) on this machine, for tests and CI, without systemd.
#
#   bash scripts/slurm_cluster.sh start   # install (Debian packages) if needed, start, wait until idle
#   bash scripts/slurm_cluster.sh stop    # stop exactly the daemons `start` started (by PID)
#   source <(bash scripts/slurm_cluster.sh env)   # SLURM_CONF for clients (sbatch, sacct, submitit)
#
# State, configs, logs and PID files live in $FREQKIT_SLURM_DIR (default /tmp/freqkit-slurm).
# What it takes (measured on Debian 12 as root): munged must run as the munge user (it refuses root
# with an insecure-logfile error) with /run/munge created by hand; submitit reads job states only from
# sacct, so slurmdbd + MariaDB are needed (MariaDB with --no-defaults on a loopback port, its files
# owned by mysql); clients need slurm.conf before slurmdbd starts; slurmdbd.conf must be mode 0600;
# no cgroups here (proctrack/linuxproc, task/none); CR_CPU_Memory needs DefMemPerCPU or every job
# takes the node's memory; batch_sched_delay=0 and AuthInfo cred_expire=10 remove submit/requeue
# delays; a small KillWait because submitit ignores SIGTERM; policy-rc.d stops package scripts from
# starting services.
set -euo pipefail
S="${FREQKIT_SLURM_DIR:-/tmp/freqkit-slurm}"
DB_PORT="${FREQKIT_SLURM_DB_PORT:-33061}"
HOST="$(hostname -s)"
log() { printf '[slurm] %s\n' "$*" >&2; }

install_packages() {
    local pkgs=(slurmctld slurmd slurm-client munge slurmdbd mariadb-server) missing=() p
    for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || { log "need root to apt-get install ${missing[*]}"; exit 1; }
    log "apt-get install ${missing[*]}"
    local made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
        made_policy=1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    [ "$made_policy" -eq 1 ] && rm -f /usr/sbin/policy-rc.d
    return 0
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
    local limit=$1 what=$2 i
    shift 2
    for ((i = 0; i < limit * 10; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    log "timed out after ${limit}s waiting for $what"
    return 1
}

write_configs() {
    local mem cpus
    cpus="$(nproc)"
    mem=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) * 8 / 10 ))
    mkdir -p "$S/state" "$S/spool"
    cat >"$S/slurm.conf" <<EOF
ClusterName=freqkit
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=cred_expire=10
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/slurmctld.log
SlurmdLogFile=$S/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=256
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
KillWait=2
MinJobAge=600
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
NodeName=$HOST CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
    cat >"$S/slurmdbd.conf" <<EOF
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=freqkit
StorageLoc=slurm_acct_db
PidFile=$S/slurmdbd.pid
LogFile=$S/slurmdbd.log
EOF
    chmod 600 "$S/slurmdbd.conf"
}

start_munge() {
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        log "munged already running (not ours: left alone)"
        return 0
    fi
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    chmod 0755 /run/munge
    [ -f /etc/munge/munge.key ] || { mungekey --create >/dev/null 2>&1 || true; chown munge:munge /etc/munge/munge.key; }
    runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
    wait_for 10 munged sh -c 'munge -n | unmunge'
    cp /run/munge/munged.pid "$S/munged.pid"
}

start_mariadb() {
    local db="$S/mysql"
    if [ ! -d "$db/mysql" ]; then
        mkdir -p "$db"
        chown mysql:mysql "$db"
        mariadb-install-db --no-defaults --datadir="$db" --user=mysql --auth-root-authentication-method=normal \
            >"$S/mariadb-install.log" 2>&1
    fi
    mkdir -p "$S/mysql-run"  # socket, pid and log: in a folder the mysql user owns
    chown -R mysql:mysql "$db" "$S/mysql-run"
    /usr/sbin/mariadbd --no-defaults --datadir="$db" --user=mysql --bind-address=127.0.0.1 \
        --port="$DB_PORT" --socket="$S/mysql-run/mysql.sock" --pid-file="$S/mysql-run/mariadb.pid" \
        --log-error="$S/mysql-run/mariadb.log" --skip-name-resolve >/dev/null 2>&1 &
    wait_for 30 mariadb mariadb --no-defaults -S "$S/mysql-run/mysql.sock" -u root -e "select 1"
    mariadb --no-defaults -S "$S/mysql-run/mysql.sock" -u root -e "
        CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'freqkit';
        CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'freqkit';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"
}

start() {
    install_packages
    if [ -f "$S/slurmctld.pid" ] && kill -0 "$(cat "$S/slurmctld.pid")" 2>/dev/null; then
        log "already running ($S)"
        return 0
    fi
    # a fresh cluster every start: recovered job state and old accounting records (job ids
    # restart at 1) would confuse schedulers and submitit's sacct lookups
    stop >/dev/null 2>&1 || true
    rm -rf "$S"
    mkdir -p "$S"
    write_configs
    export SLURM_CONF="$S/slurm.conf"
    start_munge
    start_mariadb
    /usr/sbin/slurmdbd
    wait_for 30 slurmdbd sacctmgr -n list cluster
    sacctmgr -i add cluster freqkit >/dev/null 2>&1 || true
    /usr/sbin/slurmctld
    wait_for 30 slurmctld scontrol ping
    /usr/sbin/slurmd
    wait_for 30 "node $HOST idle" sh -c "sinfo -h -N -o '%T' | grep -qx idle"
    log "up in $S (SLURM_CONF=$S/slurm.conf)"
}

stop_pid() {  # stop_pid NAME PIDFILE
    local name=$1 file=$2 pid i
    [ -f "$file" ] || return 0
    pid="$(cat "$file")"
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
        log "stopped $name (pid $pid)"
    fi
    rm -f "$file"
}

stop() {
    stop_pid slurmd "$S/slurmd.pid"
    stop_pid slurmctld "$S/slurmctld.pid"
    stop_pid slurmdbd "$S/slurmdbd.pid"
    stop_pid mariadbd "$S/mysql-run/mariadb.pid"
    stop_pid munged "$S/munged.pid"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    env) echo "export SLURM_CONF=$S/slurm.conf" ;;
    *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
