#!/usr/bin/env bash
# Offline inference on Ascend 310 and scoring: the inference inputs (preprocess.py infer_inputs),
# the app ascend310_infer/out/main on every input, and the metrics (postprocess.py).
#
#   bash scripts/run_infer_310.sh MINDIR DATA DEVICE_ID CONFIG [key=value ...]
#   e.g. bash scripts/run_infer_310.sh runs/voxceleb/export/ecapa_tdnn.mindir runs/voxceleb/infer 0 \
#            configs/ecapa_tdnn/voxceleb.yaml data.eval_audio_root=/data/VoxCeleb1/wav
#
# `python infer.py bins` does what the app does on any machine (CPU), for comparison. The layout
# of DATA/feats (one folder per input for a model with several) is src/inference/bins.py's.
set -euo pipefail

usage() {
    cat >&2 <<'EOF'
usage: bash scripts/run_infer_310.sh MINDIR DATA DEVICE_ID CONFIG [key=value ...]
  MINDIR     the model exported by export.py; its JSON sidecar (MINDIR without the extension,
             plus .json) must be beside it: the app's input shapes, names and types are read from it
  DATA       the folder of inference inputs, DATA/feats/<n>.bin (a model with several inputs:
             DATA/feats/<input name>/<n>.bin) plus their index, as written by
             `python preprocess.py infer_inputs --config CONFIG --out DATA`. If DATA does not exist
             or is an empty folder, this script writes it first from CONFIG's evaluation data;
             an existing DATA is used as it is (delete it to write it again).
  DEVICE_ID  the Ascend device, an integer >= 0
  CONFIG     the model's config, e.g. configs/ecapa_tdnn/voxceleb.yaml; the key=value overrides
             after it (e.g. data.eval_audio_root=/data/VoxCeleb1/wav) go to preprocess.py and
             postprocess.py alike
environment: PYTHON (default python); INFER_APP (default ascend310_infer/out/main, built with
  ascend310_infer/build.sh when missing); PRECISION_MODE (the app's --precision_mode);
  OUT_DIR (default runs/infer_310/<MINDIR name>_<date>_<time>): result/ (<n>_<k>.bin, every output k),
  preprocess_result.log, infer.log, acc.log
EOF
    exit 1
}
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"    # bad_argument, config_argument, absolute

root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 4 ] || bad_argument "expected at least 4 arguments (MINDIR DATA DEVICE_ID CONFIG), got $#"
mindir=$(absolute "$1")
data=$(absolute "$2")
device_id=$3
shift 3
config_argument "$@"
shift
overrides=("$@")
for item in ${overrides[@]+"${overrides[@]}"}; do
    [[ $item == *=* ]] || bad_argument "expected key=value after CONFIG, got '$item'"
done
[ -f "$mindir" ] || bad_argument "MINDIR not found: $mindir"
sidecar=${mindir%.*}.json
[ -f "$sidecar" ] || bad_argument "sidecar not found: $sidecar (export.py writes it beside the MindIR)"
[[ $device_id =~ ^[0-9]+$ ]] || bad_argument "DEVICE_ID must be an integer >= 0, got '$device_id'"
if [ -e "$data" ] && [ ! -d "$data" ]; then
    bad_argument "DATA is not a folder: $data"
fi
if compgen -G "$data/feats/*.bin" >/dev/null || compgen -G "$data/feats/*/*.bin" >/dev/null; then
    need_inputs=0
elif [ ! -d "$data" ] || [ -z "$(ls -A "$data")" ]; then
    need_inputs=1
else
    bad_argument "DATA $data holds files but no feats/*.bin: give the folder preprocess.py infer_inputs" \
        "wrote, or a new (or empty) folder for this script to write"
fi

# paths from the environment are the caller's, like the arguments: resolved before cd
out_dir=${OUT_DIR:+$(absolute "$OUT_DIR")}
app=${INFER_APP:+$(absolute "$INFER_APP")}
cd "$root"
py=${PYTHON:-python}
out=${out_dir:-runs/infer_310/$(basename "${mindir%.*}")_$(date +%Y%m%d_%H%M%S)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
echo "MindIR $mindir, inputs $data, device $device_id, config $config; results and logs: $out"

# the sidecar's inputs -> the app's flags: shapes [null, null, 80] -> 1,-1,80 (one file is one
# example, batch 1; the other unknown dim, frames or samples, follows from each file's size), ';'
# between inputs; the input folders' names when there are several; their types unless all float32
sidecar_flags=$("$py" -c '
import json, sys
inputs = json.load(open(sys.argv[1]))["inputs"]
print(";".join(",".join("1" if d is None and i == 0 else "-1" if d is None else str(int(d))
                        for i, d in enumerate(x["shape"])) for x in inputs))
print(",".join(x["name"] for x in inputs) if len(inputs) > 1 else "")
types = [x["dtype"] for x in inputs]
print(",".join(types) if set(types) != {"float32"} else "")
' "$sidecar") || { echo "error: cannot read the inputs from $sidecar: re-export the model with export.py" >&2; exit 1; }
mapfile -t flags <<<"$sidecar_flags"          # $(...) dropped the empty trailing lines
dims=${flags[0]:-} input_names=${flags[1]:-} input_types=${flags[2]:-}

app=${app:-$root/ascend310_infer/out/main}
if [ ! -x "$app" ]; then
    if [ -n "${INFER_APP:-}" ]; then
        echo "error: INFER_APP=$app is not an executable file" >&2
        exit 1
    fi
    echo "== building the inference app (log: $out/build.log)"
    if ! bash ascend310_infer/build.sh >"$out/build.log" 2>&1; then
        tail -n 5 "$out/build.log" >&2
        echo "error: building the app failed; see $out/build.log" >&2
        exit 1
    fi
fi
ascend_env=${ASCEND_SET_ENV:-/usr/local/Ascend/ascend-toolkit/set_env.sh}
if [ -z "${ASCEND_HOME_PATH:-}" ] && [ -f "$ascend_env" ]; then
    set +eu                     # the toolkit's script reads unset variables
    # shellcheck disable=SC1090
    source "$ascend_env"
    set -eu
fi

echo "== inference inputs -> $data"
if [ "$need_inputs" = 1 ]; then
    if ! "$py" preprocess.py infer_inputs --config "$config" --out "$data" ${overrides[@]+"${overrides[@]}"} \
            2>&1 | tee "$out/preprocess_result.log"; then
        echo "error: writing the inference inputs failed; see $out/preprocess_result.log" >&2
        exit 1
    fi
else
    echo "using the inputs already in $data ($(find "$data/feats" -maxdepth 2 -name '*.bin' | wc -l) files)" \
        | tee "$out/preprocess_result.log"
fi

echo "== inference: $app (input dims ${dims:-from the model})"
args=(--mindir_path="$mindir" --input_path="$data/feats" --output_path="$out/result" --device_id="$device_id")
if [ -n "$dims" ]; then
    args+=(--input_dims="$dims")
fi
if [ -n "$input_names" ]; then
    args+=(--input_names="$input_names")
fi
if [ -n "$input_types" ]; then
    args+=(--input_types="$input_types")
fi
if [ -n "${PRECISION_MODE:-}" ]; then
    args+=(--precision_mode="$PRECISION_MODE")
fi
rm -rf "$out/result"
if ! "$app" "${args[@]}" 2>&1 | tee "$out/infer.log"; then
    echo "error: inference failed; see $out/infer.log" >&2
    exit 1
fi

echo "== scoring"
if ! "$py" postprocess.py --config "$config" --input_dir "$data" --result_dir "$out/result" \
        ${overrides[@]+"${overrides[@]}"} 2>&1 | tee "$out/acc.log"; then
    echo "error: scoring failed; see $out/acc.log" >&2
    exit 1
fi
echo "== done: metrics in $out/acc.log"
