#!/usr/bin/env bash
# A model's demo end to end on CPU, on a fresh machine with python3 (>= 3.9, venv): set-up,
# demo data, training, evaluation, MindIR export and inference with the exported file.
#
#   bash scripts/run_demo.sh [MODEL]      MODEL: ecapa_tdnn (default) or panns
#
#   ecapa_tdnn  VoxCeleb-layout demo; EER next to the naive baseline; a verification. ~10 min.
#   panns       ESC-50-layout demo; CNN6 accuracy on fold 5 and a confusion matrix; top-3 tags
#               of a few clips. ~4 min.
# VENV (default .venv) and RUN_DIR (default runs/<model>_demo) can be set.
set -euo pipefail
cd "$(dirname "$0")/.."
usage() {
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 1
}
source scripts/common.sh
[ $# -le 1 ] || bad_argument "one MODEL argument at most, got $#"
model=${1:-ecapa_tdnn}
case $model in
    ecapa_tdnn) config=configs/ecapa_tdnn/demo.yaml ;;
    panns) config=configs/panns/demo.yaml ;;
    -h|--help) usage ;;
    *) bad_argument "unknown MODEL '$model': ecapa_tdnn or panns" ;;
esac
venv=${VENV:-.venv}
run=${RUN_DIR:-runs/${model}_demo}
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -r requirements.txt
fi
py="$venv/bin/python"
export GLOG_v=3
start=$(date +%s)
if [ "$model" = ecapa_tdnn ]; then
    echo "== demo data (VoxCeleb, MUSAN, RIRS_NOISES layouts) -> data/demo"
    "$py" preprocess.py demo voxceleb musan rirs_noises --out data/demo
else
    echo "== demo data (ESC-50 layout, 10 synthetic classes) -> data/demo"
    "$py" preprocess.py demo esc50 --out data/demo
fi
echo "== training $config -> $run"
resume=""
[ -f "$run/checkpoints/latest.json" ] && resume="--resume"
"$py" train.py --config "$config" --run_dir "$run" $resume
echo "== evaluation (best checkpoint; PANNs: the final one, its validation is the test fold)"
"$py" eval.py --config "$config" --run_dir "$run"
echo "== export (MindIR, dynamic length) and inference with the exported file"
"$py" export.py --config "$config" --run_dir "$run"
if [ "$model" = ecapa_tdnn ]; then
    read -r _ enroll test < <(head -n 1 data/demo/voxceleb1/veri_test2.txt)
    "$py" infer.py verify "data/demo/voxceleb1/wav/$enroll" "data/demo/voxceleb1/wav/$test" \
        --model "$run/export/ecapa_tdnn.mindir"
else
    "$py" infer.py tag $(ls data/demo/ESC-50/audio/5-*.wav | head -n 4) --model "$run/export/panns_cnn6.mindir"
fi
echo "== done in $(( $(date +%s) - start )) s; run directory: $run"
