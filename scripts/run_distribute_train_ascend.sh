#!/usr/bin/env bash
# Data-parallel training on Ascend (HCCL), started one of two ways:
#
#   bash scripts/run_distribute_train_ascend.sh RANK_TABLE_FILE CONFIG [train.py options ...]
#       one train.py per device of this server listed in the rank table (JSON, version 1.0, as
#       hccl_tools.py writes it), each with RANK_TABLE_FILE, RANK_SIZE (devices of all servers),
#       RANK_ID and DEVICE_ID (from the table) set; run it on every server of the table
#   bash scripts/run_distribute_train_ascend.sh msrun DEVICE_NUM CONFIG [train.py options ...]
#       msrun starts DEVICE_NUM processes on this machine (no rank table needed); on several
#       machines, with NODE_NUM, NODE_RANK and MASTER_ADDR set on each (NODE_NUM x DEVICE_NUM ranks)
#
# The script waits for every process and exits 1 if any of them failed.
set -euo pipefail

usage() {
    cat >&2 <<'EOF'
usage: bash scripts/run_distribute_train_ascend.sh RANK_TABLE_FILE CONFIG [train.py options ...]
       bash scripts/run_distribute_train_ascend.sh msrun DEVICE_NUM CONFIG [train.py options ...]
  RANK_TABLE_FILE  HCCL rank table (JSON with server_list[].device[].device_id / rank_id): one
                   process per device of this server; RANK_SIZE = the devices of all servers.
                   With several servers, this one is the server_id that matches SERVER_ID (or
                   one of this host's addresses)
  msrun DEVICE_NUM msrun with DEVICE_NUM workers on this machine (an integer >= 1)
  CONFIG           the recipe, e.g. configs/ecapa_tdnn/voxceleb.yaml; everything after it goes
                   to train.py as it is (--resume, --amp_level O2, section.key=value ...)
environment: PYTHON (default python); SERVER_ID; msrun on several machines: NODE_NUM (default 1),
  NODE_RANK (this machine, 0 .. NODE_NUM-1), MASTER_ADDR (machine 0's address, needed with
  NODE_NUM > 1); MASTER_PORT (msrun, default 8118); LOG_DIR (default
  runs/launch/distribute_ascend_<config name>_<date>_<time>[_node<k>]): rank_<id>.log, or msrun's
  worker_<n>.log
EOF
    exit 1
}
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"    # bad_argument, config_argument, absolute, check_nodes, node_log_name, msrun_train

root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || bad_argument "expected RANK_TABLE_FILE CONFIG, or msrun DEVICE_NUM CONFIG"
if [ "$1" = msrun ]; then
    launcher=msrun
    [ $# -ge 2 ] || bad_argument "msrun needs DEVICE_NUM"
    device_num=$2
    [[ $device_num =~ ^[1-9][0-9]*$ ]] || bad_argument "DEVICE_NUM must be an integer >= 1, got '$device_num'"
    check_nodes
    shift 2
else
    launcher=rank_table
    rank_table=$(absolute "$1")
    [ -f "$rank_table" ] || bad_argument "RANK_TABLE_FILE not found: $rank_table"
    shift
fi
config_argument "$@"
shift
py=${PYTHON:-python}

if [ "$launcher" = rank_table ]; then
    # first line: the devices of all servers (RANK_SIZE); then "device_id rank_id" per device
    # of this server (src/distributed.py rank_table_plan)
    if ! plan=$(cd "$root" && "$py" -m src.distributed rank_table_plan "$rank_table" "${SERVER_ID:-}" \
                "$(hostname -I 2>/dev/null || true) $(hostname 2>/dev/null || true)"); then
        bad_argument "cannot use the rank table $rank_table"
    fi
fi

log_dir=${LOG_DIR:+$(absolute "$LOG_DIR")}     # the caller's folder, before cd
cd "$root"
name=$(basename "${config%.*}")
default_log_dir=runs/launch/distribute_ascend_${name}_$(date +%Y%m%d_%H%M%S)
if [ "$launcher" = msrun ]; then
    default_log_dir=$(node_log_name "$default_log_dir")
fi
log_dir=${log_dir:-$default_log_dir}
mkdir -p "$log_dir"
log_dir=$(cd "$log_dir" && pwd)

if [ "$launcher" = msrun ]; then
    command -v msrun >/dev/null 2>&1 || { echo "error: msrun not found (it comes with MindSpore >= 2.3)" >&2; exit 1; }
    msrun_train "$device_num" "$log_dir" Ascend "$config" "$@"
    exit 0
fi

rank_size=$(head -n 1 <<<"$plan")
local_devices=$(tail -n +2 <<<"$plan")
[ -n "$local_devices" ] || bad_argument "the rank table lists no device of this server"
unset MS_WORKER_NUM OMPI_COMM_WORLD_SIZE      # src/distributed.py would read these first
pids=()
ranks=()
stop_all() {
    for pid in ${pids[@]+"${pids[@]}"}; do kill "$pid" 2>/dev/null || true; done
    exit 130
}
trap stop_all INT TERM
while read -r device_id rank_id; do
    log=$log_dir/rank_$rank_id.log
    echo "rank $rank_id of $rank_size on device $device_id: $log"
    RANK_TABLE_FILE=$rank_table RANK_SIZE=$rank_size RANK_ID=$rank_id DEVICE_ID=$device_id \
        "$py" train.py --config "$config" --device_target Ascend --device_id "$device_id" "$@" >"$log" 2>&1 &
    pids+=($!)
    ranks+=("$rank_id")
done <<<"$local_devices"

failed=()
for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
        failed+=("${ranks[$i]}")
    fi
done
trap - INT TERM
if [ ${#failed[@]} -gt 0 ]; then
    echo "error: rank(s) ${failed[*]} failed; see $log_dir/rank_<id>.log" >&2
    exit 1
fi
echo "all ${#pids[@]} ranks finished; logs in $log_dir"
