#!/usr/bin/env bash
# Training on one device: python train.py --device_target TARGET --device_id DEVICE_ID.
# Shared by run_standalone_train_ascend.sh and run_standalone_train_gpu.sh, which call it as
#   bash scripts/standalone_train.sh TARGET SCRIPT_NAME DEVICE_ID CONFIG [train.py options ...]
set -euo pipefail
target=$1          # Ascend | GPU
script=$2          # the user-facing script, for the usage text
shift 2
target_lc=$(printf '%s' "$target" | tr '[:upper:]' '[:lower:]')

usage() {
    cat >&2 <<USAGE
usage: bash scripts/$script DEVICE_ID CONFIG [train.py options, key=value ...]
  DEVICE_ID  the $target device, an integer >= 0 (train.py --device_id, and \$DEVICE_ID)
  CONFIG     the recipe, e.g. configs/ecapa_tdnn/voxceleb.yaml; everything after it goes to
             train.py as it is: --resume, --amp_level O2, --run_dir DIR, section.key=value ...
             (relative paths there are relative to the repository root, where train.py runs)
environment: PYTHON (default python); LOG_DIR (default
  runs/launch/standalone_${target_lc}_<config name>_<date>_<time>): train.log
USAGE
    exit 1
}
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"    # bad_argument, config_argument, absolute

root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || bad_argument "expected DEVICE_ID and CONFIG"
device_id=$1
shift
[[ $device_id =~ ^[0-9]+$ ]] || bad_argument "DEVICE_ID must be an integer >= 0, got '$device_id'"
config_argument "$@"
shift

log_dir=${LOG_DIR:+$(absolute "$LOG_DIR")}     # the caller's folder, before cd
cd "$root"
# one process: no launcher variables left over from a distributed run (src/distributed.py)
unset MS_WORKER_NUM RANK_TABLE_FILE OMPI_COMM_WORLD_SIZE
export DEVICE_ID=$device_id RANK_ID=0 RANK_SIZE=1
name=$(basename "${config%.*}")
log_dir=${log_dir:-runs/launch/standalone_${target_lc}_${name}_$(date +%Y%m%d_%H%M%S)}
mkdir -p "$log_dir"
command=("${PYTHON:-python}" train.py --config "$config" --device_target "$target" --device_id "$device_id" "$@")
echo "${command[*]}"
echo "log: $log_dir/train.log"
if ! "${command[@]}" 2>&1 | tee "$log_dir/train.log"; then
    echo "error: training failed; see $log_dir/train.log" >&2
    exit 1
fi
