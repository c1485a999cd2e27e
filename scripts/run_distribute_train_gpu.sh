#!/usr/bin/env bash
# Data-parallel training on GPUs (NCCL), started with msrun, on one machine or several:
#
#   bash scripts/run_distribute_train_gpu.sh DEVICE_NUM CONFIG [train.py options ...]
#   NODE_NUM=2 NODE_RANK=k MASTER_ADDR=<machine 0> bash scripts/run_distribute_train_gpu.sh ...
#       (on each machine k = 0, 1: NODE_NUM x DEVICE_NUM ranks in all)
#
# msrun starts DEVICE_NUM train.py processes on this machine and sets MS_WORKER_NUM, RANK_ID and
# DEVICE_ID for each; the script waits for all of them and exits 1 if any failed.
set -euo pipefail

usage() {
    cat >&2 <<'EOF'
usage: bash scripts/run_distribute_train_gpu.sh DEVICE_NUM CONFIG [train.py options ...]
  DEVICE_NUM  the number of GPUs (processes), an integer >= 1; CUDA_VISIBLE_DEVICES picks which
  CONFIG      the recipe, e.g. configs/ecapa_tdnn/voxceleb.yaml; everything after it goes to
              train.py as it is (--resume, --amp_level O2, section.key=value ...)
environment: several machines: NODE_NUM (default 1), NODE_RANK (this machine, 0 .. NODE_NUM-1),
  MASTER_ADDR (machine 0's address, needed with NODE_NUM > 1); MASTER_PORT (default 8118); LOG_DIR
  (default runs/launch/distribute_gpu_<config name>_<date>_<time>[_node<k>]): msrun's
  scheduler.log, worker_<n>.log
EOF
    exit 1
}
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"    # bad_argument, config_argument, absolute, check_nodes, node_log_name, msrun_train

root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || bad_argument "expected DEVICE_NUM and CONFIG"
device_num=$1
shift
[[ $device_num =~ ^[1-9][0-9]*$ ]] || bad_argument "DEVICE_NUM must be an integer >= 1, got '$device_num'"
check_nodes
config_argument "$@"
shift
command -v msrun >/dev/null 2>&1 || { echo "error: msrun not found (it comes with MindSpore >= 2.3)" >&2; exit 1; }

log_dir=${LOG_DIR:+$(absolute "$LOG_DIR")}     # the caller's folder, before cd
cd "$root"
name=$(basename "${config%.*}")
log_dir=${log_dir:-$(node_log_name "runs/launch/distribute_gpu_${name}_$(date +%Y%m%d_%H%M%S)")}
mkdir -p "$log_dir"
log_dir=$(cd "$log_dir" && pwd)
msrun_train "$device_num" "$log_dir" GPU "$config" "$@"
echo "done; logs in $log_dir"
