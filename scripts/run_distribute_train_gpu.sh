#!/usr/bin/env bash
# Data-parallel training on the GPUs of this machine (NCCL), started with msrun:
#
#   bash scripts/run_distribute_train_gpu.sh DEVICE_NUM CONFIG [train.py options ...]
#
# msrun starts DEVICE_NUM train.py processes and sets MS_WORKER_NUM, RANK_ID and DEVICE_ID for
# each; the script waits for all of them and exits 1 if any failed.
set -euo pipefail

usage() {
    cat >&2 <<'EOF'
usage: bash scripts/run_distribute_train_gpu.sh DEVICE_NUM CONFIG [train.py options ...]
  DEVICE_NUM  the number of GPUs (processes), an integer >= 1; CUDA_VISIBLE_DEVICES picks which
  CONFIG      the recipe, e.g. configs/ecapa_tdnn/voxceleb.yaml; everything after it goes to
              train.py as it is (--resume, --amp_level O2, section.key=value ...)
environment: MASTER_PORT (default 8118); LOG_DIR (default
  runs/launch/distribute_gpu_<config name>_<date>_<time>): msrun's scheduler.log, worker_<n>.log
EOF
    exit 1
}
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"    # bad_argument, config_argument, absolute, msrun_train

root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || bad_argument "expected DEVICE_NUM and CONFIG"
device_num=$1
shift
[[ $device_num =~ ^[1-9][0-9]*$ ]] || bad_argument "DEVICE_NUM must be an integer >= 1, got '$device_num'"
config_argument "$@"
shift
command -v msrun >/dev/null 2>&1 || { echo "error: msrun not found (it comes with MindSpore >= 2.3)" >&2; exit 1; }

log_dir=${LOG_DIR:+$(absolute "$LOG_DIR")}     # the caller's folder, before cd
cd "$root"
name=$(basename "${config%.*}")
log_dir=${log_dir:-runs/launch/distribute_gpu_${name}_$(date +%Y%m%d_%H%M%S)}
mkdir -p "$log_dir"
log_dir=$(cd "$log_dir" && pwd)
msrun_train "$device_num" "$log_dir" GPU "$config" "$@"
echo "done; logs in $log_dir"
