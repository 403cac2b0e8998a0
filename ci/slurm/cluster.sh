#!/usr/bin/env bash
# A single-node Slurm cluster with accounting, started by hand (no systemd) for tests and demos.
#
#   ci/slurm/cluster.sh start    # install if needed, start munged, mariadbd, slurmdbd,
#                                # slurmctld, slurmd; prints the SLURM_CONF line to export
#   ci/slurm/cluster.sh status   # daemons and node state
#   ci/slurm/cluster.sh env      # the export line for clients (sbatch, sacct, squeue)
#   ci/slurm/cluster.sh stop     # cancel jobs, stop exactly the daemons this script started
#
# All configuration, databases, sockets, logs and PID files live under $BIDS_ENERGY_SLURM_DIR
# (default /tmp/bids-energy-slurm); ports are picked free at start. Jobs run inside this
# process's cgroup: proctrack/linuxproc and task/none create no cgroups of their own.
# Needs root (daemons as root/munge).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${BIDS_ENERGY_SLURM_DIR:-/tmp/bids-energy-slurm}
CLUSTER=${BIDS_ENERGY_SLURM_CLUSTER:-bidsenergy}
ACCOUNT=${BIDS_ENERGY_SLURM_ACCOUNT:-bids-energy}
CONF="$STATE/etc/slurm.conf"
PIDS="$STATE/pids"

log() { printf '[slurm-cluster %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

running() {  # running NAME: true when the recorded PID is alive
    local pidfile="$PIDS/$1.pid"
    [[ -s "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

launch() {  # launch NAME CMD...: start a foreground daemon in the background, record its PID
    local name=$1; shift
    setsid "$@" >>"$STATE/log/$name.out" 2>&1 < /dev/null &
    echo $! >"$PIDS/$name.pid"
}

wait_for() {  # wait_for WHAT SECONDS CMD...
    local what=$1 secs=$2; shift 2
    local i
    for ((i = 0; i < secs * 5; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.2
    done
    die "$what not ready after ${secs}s (logs in $STATE/log)"
}

ensure_installed() {
    local missing=0 exe
    for exe in munged mariadbd mariadb-install-db slurmdbd slurmctld slurmd sbatch sacct sacctmgr; do
        command -v "$exe" >/dev/null || missing=1
    done
    if [[ $missing -eq 1 ]]; then
        log "installing Slurm, munge, MariaDB"
        "$HERE/../install-system-packages.sh"
    fi
}

write_config() {
    local ctld_port=$1 slurmd_port=$2 dbd_port=$3 db_port=$4 db_pass=$5
    local cpus mem_mb
    cpus=$(nproc); ((cpus > 2)) && cpus=2
    mem_mb=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)
    cat >"$CONF" <<EOF
ClusterName=$CLUSTER
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$STATE/munge/munge.socket.2
CredType=cred/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$dbd_port
# For slurmdbd connections this names the munge socket (slurm.conf(5)).
AccountingStoragePass=$STATE/munge/munge.socket.2
AccountingStorageTRES=cpu,mem,energy,node
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
DefMemPerCPU=2000
MpiDefault=none
ReturnToService=2
SlurmdTimeout=60
MinJobAge=600
NodeName=localhost CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
    cat >"$STATE/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$STATE/munge/munge.socket.2
DbdHost=localhost
DbdPort=$dbd_port
SlurmUser=root
PidFile=$STATE/run/slurmdbd.pid
LogFile=$STATE/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$db_port
StorageUser=slurm
StoragePass=$db_pass
StorageLoc=slurm_acct_db
EOF
    chmod 600 "$STATE/etc/slurmdbd.conf"
}

start_munge() {
    install -d -o munge -g munge -m 0755 "$STATE/munge"
    if [[ ! -s "$STATE/munge/munge.key" ]]; then
        dd if=/dev/urandom bs=1 count=1024 of="$STATE/munge/munge.key" status=none
        chown munge:munge "$STATE/munge/munge.key"
        chmod 0400 "$STATE/munge/munge.key"
    fi
    # setpriv execs munged itself (no wrapper process), so the recorded PID is the daemon's.
    launch munged setpriv --reuid=munge --regid=munge --init-groups munged --foreground \
        --key-file="$STATE/munge/munge.key" --socket="$STATE/munge/munge.socket.2" \
        --pid-file="$STATE/munge/munged.pid" --log-file="$STATE/munge/munged.log" \
        --seed-file="$STATE/munge/munged.seed"
    wait_for munged 10 test -S "$STATE/munge/munge.socket.2"
}

start_mariadb() {
    local port=$1 pass=$2
    local sock="$STATE/mysql/mysqld.sock"
    if [[ ! -d "$STATE/mysql/data/mysql" ]]; then
        mkdir -p "$STATE/mysql/data"
        mariadb-install-db --no-defaults --user=root --datadir="$STATE/mysql/data" \
            --auth-root-authentication-method=socket --skip-test-db \
            >"$STATE/log/mariadb-install.log" 2>&1 || die "mariadb-install-db failed"
    fi
    launch mariadbd mariadbd --no-defaults --user=root --datadir="$STATE/mysql/data" \
        --socket="$sock" --port="$port" --bind-address=127.0.0.1 \
        --pid-file="$STATE/mysql/mariadbd.pid" --log-error="$STATE/log/mariadbd.log" \
        --innodb-buffer-pool-size=64M --innodb-lock-wait-timeout=900 --skip-log-bin
    wait_for mariadbd 60 mariadb --no-defaults --socket="$sock" -u root -e "SELECT 1"
    mariadb --no-defaults --socket="$sock" -u root <<SQL
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$pass';
ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$pass';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
FLUSH PRIVILEGES;
SQL
}

start() {
    [[ $(id -u) -eq 0 ]] || die "needs root"
    ensure_installed
    if running slurmctld; then
        log "already running (stop first)"; print_env; return 0
    fi
    mkdir -p "$STATE"/{etc,ctld,slurmd,run,log,pids,mysql}
    local ctld_port slurmd_port dbd_port db_port db_pass
    ctld_port=$(free_port); slurmd_port=$(free_port); dbd_port=$(free_port); db_port=$(free_port)
    db_pass=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
    write_config "$ctld_port" "$slurmd_port" "$dbd_port" "$db_port" "$db_pass"
    export SLURM_CONF="$CONF"
    local t0=$SECONDS
    start_munge
    start_mariadb "$db_port" "$db_pass"
    launch slurmdbd slurmdbd -D
    wait_for slurmdbd 60 sacctmgr -n list cluster
    sacctmgr -i add cluster "$CLUSTER" >/dev/null 2>&1 || true
    sacctmgr -i add account "$ACCOUNT" Cluster="$CLUSTER" Description=tests Organization=tests \
        >/dev/null 2>&1 || true
    sacctmgr -i add user root Account="$ACCOUNT" Cluster="$CLUSTER" >/dev/null 2>&1 || true
    launch slurmctld slurmctld -D -i -f "$CONF"
    wait_for slurmctld 30 scontrol ping
    launch slurmd slurmd -D -N localhost -f "$CONF"
    wait_for "node localhost" 60 node_idle
    log "cluster $CLUSTER up in $((SECONDS - t0)) s (state in $STATE)"
    print_env
}

node_idle() {
    local state
    state=$(sinfo -h -N -n localhost -o %T 2>/dev/null)
    [[ "$state" == idle* || "$state" == mixed* || "$state" == allocated* ]]
}

print_env() { echo "export SLURM_CONF=$CONF"; }

stop_one() {  # stop_one NAME: TERM the recorded PID, KILL after 15 s
    local name=$1 pidfile="$PIDS/$1.pid" pid i
    [[ -s "$pidfile" ]] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 75; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "$name ($pid) ignored TERM; KILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$pidfile"
}

stop() {
    export SLURM_CONF="$CONF"
    if running slurmctld; then
        scancel --cluster="$CLUSTER" --full --quiet --user=root 2>/dev/null || true
        local i
        for ((i = 0; i < 50; i++)); do
            [[ -z "$(squeue -h -o %i 2>/dev/null)" ]] && break
            sleep 0.2
        done
    fi
    # slurmd forks job steps (slurmstepd) in its own session: they are ended by scancel above.
    local name
    for name in slurmd slurmctld slurmdbd mariadbd munged; do
        stop_one "$name"
    done
    log "stopped"
}

status() {
    export SLURM_CONF="$CONF"
    local name
    for name in munged mariadbd slurmdbd slurmctld slurmd; do
        if running "$name"; then echo "$name: running (pid $(cat "$PIDS/$name.pid"))"
        else echo "$name: stopped"; fi
    done
    running slurmctld && sinfo -N
    return 0
}

main() {
    case "${1:-}" in
        start) start ;;
        stop) stop ;;
        status) status ;;
        env) print_env ;;
        *) echo "usage: $0 start|stop|status|env" >&2; exit 64 ;;
    esac
}

# One line, parsed whole before it runs: editing this file meanwhile cannot derail it.
main "$@"; exit $?
