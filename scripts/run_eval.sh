#!/usr/bin/env bash
# Evaluation of a checkpoint on one device: python eval.py --config CONFIG --device_id DEVICE_ID.
#
#   bash scripts/run_eval.sh DEVICE_ID CONFIG [CHECKPOINT] [eval.py options, key=value ...]
#   e.g. DEVICE_TARGET=GPU bash scripts/run_eval.sh 0 configs/ecapa_tdnn/voxceleb.yaml \
#            runs/voxceleb/checkpoints/best.ckpt eval.as_norm=true
set -euo pipefail

usage() {
    cat >&2 <<'EOF'
usage: bash scripts/run_eval.sh DEVICE_ID CONFIG [CHECKPOINT] [eval.py options, key=value ...]
  DEVICE_ID   the device, an integer >= 0 (eval.py --device_id, and $DEVICE_ID)
  CONFIG      the recipe the checkpoint was trained with
  CHECKPOINT  a .ckpt file (default: the best checkpoint of the config's run directory); the
              arguments after it go to eval.py as they are (--run_dir DIR, section.key=value ...)
environment: DEVICE_TARGET (Ascend, GPU or CPU; default: the config's runtime.device_target);
  PYTHON (default python); LOG_DIR (default runs/launch/eval_<config name>_<date>_<time>): eval.log
EOF
    exit 1
}
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"    # bad_argument, absolute

root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 2 ] || bad_argument "expected DEVICE_ID and CONFIG"
device_id=$1
config=$(absolute "$2")
shift 2
[[ $device_id =~ ^[0-9]+$ ]] || bad_argument "DEVICE_ID must be an integer >= 0, got '$device_id'"
[ -f "$config" ] || bad_argument "CONFIG not found: $config"
checkpoint=()
if [ $# -ge 1 ] && [[ $1 != *=* && $1 != -* ]]; then
    [ -f "$1" ] || bad_argument "CHECKPOINT not found: $1"
    checkpoint=(--checkpoint "$(absolute "$1")")
    shift
fi
target=()
if [ -n "${DEVICE_TARGET:-}" ]; then
    case $DEVICE_TARGET in
        Ascend | GPU | CPU) target=(--device_target "$DEVICE_TARGET") ;;
        *) bad_argument "DEVICE_TARGET must be Ascend, GPU or CPU, got '$DEVICE_TARGET'" ;;
    esac
fi

log_dir=${LOG_DIR:+$(absolute "$LOG_DIR")}     # the caller's folder, before cd
cd "$root"
unset MS_WORKER_NUM RANK_TABLE_FILE OMPI_COMM_WORLD_SIZE     # one process
export DEVICE_ID=$device_id
name=$(basename "${config%.*}")
log_dir=${log_dir:-runs/launch/eval_${name}_$(date +%Y%m%d_%H%M%S)}
mkdir -p "$log_dir"
command=("${PYTHON:-python}" eval.py --config "$config" --device_id "$device_id"
         ${target[@]+"${target[@]}"} ${checkpoint[@]+"${checkpoint[@]}"} "$@")
echo "${command[*]}"
echo "log: $log_dir/eval.log"
if ! "${command[@]}" 2>&1 | tee "$log_dir/eval.log"; then
    echo "error: evaluation failed; see $log_dir/eval.log" >&2
    exit 1
fi
