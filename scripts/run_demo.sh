#!/usr/bin/env bash
# The ECAPA-TDNN demo end to end on CPU, on a fresh machine with python3 (>= 3.9, venv):
# set-up, demo data, training, evaluation (EER next to the naive baseline), MindIR export and a
# verification with the exported model. About 10 minutes on 2 cores.
#
#   bash scripts/run_demo.sh            (VENV=.venv RUN_DIR=runs/ecapa_tdnn_demo by default)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}
run=${RUN_DIR:-runs/ecapa_tdnn_demo}
config=configs/ecapa_tdnn/demo.yaml
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -r requirements.txt
fi
py="$venv/bin/python"
export GLOG_v=3
start=$(date +%s)
echo "== demo data (VoxCeleb, MUSAN, RIRS_NOISES layouts) -> data/demo"
"$py" preprocess.py demo --out data/demo
echo "== training $config -> $run"
resume=""
[ -f "$run/checkpoints/latest.json" ] && resume="--resume"
"$py" train.py --config "$config" --run_dir "$run" $resume
echo "== evaluation of the best checkpoint"
"$py" eval.py --config "$config" --run_dir "$run"
echo "== export (MindIR, dynamic length) and a verification with the exported file"
"$py" export.py --config "$config" --run_dir "$run"
read -r _ enroll test < <(head -n 1 data/demo/voxceleb1/veri_test2.txt)
"$py" infer.py verify "data/demo/voxceleb1/wav/$enroll" "data/demo/voxceleb1/wav/$test" \
    --model "$run/export/ecapa_tdnn.mindir"
echo "== done in $(( $(date +%s) - start )) s; run directory: $run"
