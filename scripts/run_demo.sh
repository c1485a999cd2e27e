#!/usr/bin/env bash
# A model's demo end to end on CPU, on a fresh machine with python3 (>= 3.9, venv): set-up,
# demo data, training, evaluation, MindIR export and inference with the exported file.
#
#   usage: bash scripts/run_demo.sh [MODEL] [key=value ...]
#
#   MODEL      a demo the recipes declare (default ecapa_tdnn; panns is another);
#              `python -m src.recipes demos` lists them with what they show
#   key=value  config overrides for every step, e.g. train.epochs=2
# VENV (default .venv) and RUN_DIR (default runs/<model>_demo) can be set.
set -euo pipefail
cd "$(dirname "$0")/.."
usage() {
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 1
}
source scripts/common.sh
model=ecapa_tdnn
if [ $# -ge 1 ] && [[ $1 != *=* ]]; then
    model=$1
    shift
fi
if [[ $model == -* ]]; then
    usage
fi
overrides=("$@")
for item in ${overrides[@]+"${overrides[@]}"}; do
    [[ $item == *=* ]] || bad_argument "expected key=value overrides after MODEL, got '$item'"
done
venv=${VENV:-.venv}
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -r requirements.txt
fi
py="$venv/bin/python"
export GLOG_v=3
# what the demo is, from the registry: config, model name, demo corpora, description (an unknown
# MODEL: one error line naming the known demos)
demo=$("$py" -m src.recipes demo "$model") || usage
{ read -r config; read -r name; read -r -a corpora; read -r about; } <<<"$demo"
run=${RUN_DIR:-runs/${model}_demo}
start=$(date +%s)
echo "== $model: $about"
echo "== demo data (${corpora[*]}) -> data/demo"
"$py" preprocess.py demo "${corpora[@]}" --out data/demo
# its training runs, in order (one, or several: pretraining, fine-tuning from it, a baseline)
stages=$("$py" -m src.recipes demo_stages "$model" "$run")
exported_config=$config
exported_run=$run
while IFS=$'\t' read -r stage stage_config stage_run init_run exported; do
    stage_start=$(date +%s)
    echo "== $stage: training $stage_config -> $stage_run"
    extra=()
    [ -f "$stage_run/checkpoints/latest.json" ] && extra+=(--resume)
    [ "$init_run" != - ] && extra+=("model.pretrained=$init_run")
    "$py" train.py --config "$stage_config" --run_dir "$stage_run" ${extra[@]+"${extra[@]}"} \
        ${overrides[@]+"${overrides[@]}"} </dev/null
    echo "== $stage: evaluation (the checkpoint the recipe reports by default)"
    "$py" eval.py --config "$stage_config" --run_dir "$stage_run" ${overrides[@]+"${overrides[@]}"} </dev/null
    echo "== $stage: done in $(( $(date +%s) - stage_start )) s"
    if [ "$exported" = 1 ]; then
        exported_config=$stage_config
        exported_run=$stage_run
    fi
done <<<"$stages"
if [ "$(wc -l <<<"$stages")" -gt 1 ]; then
    echo "== results of the runs"
    "$py" -m src.recipes demo_summary "$model" "$run"
fi
echo "== export (MindIR, dynamic length) and inference with the exported file"
"$py" export.py --config "$exported_config" --run_dir "$exported_run" ${overrides[@]+"${overrides[@]}"}
inference=$("$py" -m src.recipes demo_infer "$model" "$exported_run/export/$name.mindir" ${overrides[@]+"${overrides[@]}"})
if [ -n "$inference" ]; then
    mapfile -t infer_args <<<"$inference"
    "$py" infer.py "${infer_args[@]}"
fi
echo "== done in $(( $(date +%s) - start )) s; run directory: $run"
