#!/usr/bin/env bash
# Builds the offline inference app: ascend310_infer/out/main (see src/main.cc for its flags).
#
#   bash ascend310_infer/build.sh
#
# Needs cmake (>= 3.14), a C++17 compiler and MindSpore's C++ inference API: the Ascend MindSpore
# package (found with `pip show mindspore-ascend` / `pip show mindspore`) or a MindSpore Lite
# runtime folder. Environment: MINDSPORE_PATH (skip the pip look-up), PYTHON (default python),
# BUILD_DIR (default ascend310_infer/build), APP_OUTPUT_DIR (default ascend310_infer/out).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build_dir=${BUILD_DIR:-$here/build}
out_dir=${APP_OUTPUT_DIR:-$here/out}

missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v "${CXX:-g++}" >/dev/null 2>&1 || missing+=("${CXX:-g++} (C++17 compiler)")
if [ ${#missing[@]} -gt 0 ]; then
    echo "error: building the inference app needs: ${missing[*]}" >&2
    echo "       install them (e.g. apt-get install cmake g++) or set CXX to your compiler" >&2
    exit 1
fi

if [ -z "${MINDSPORE_PATH:-}" ]; then
    py=${PYTHON:-python}
    for package in mindspore-ascend mindspore; do
        location=$("$py" -m pip show "$package" 2>/dev/null | sed -n 's/^Location: //p' || true)
        if [ -n "$location" ] && [ -d "$location/mindspore" ]; then
            MINDSPORE_PATH=$location/mindspore
            break
        fi
    done
fi
if [ -z "${MINDSPORE_PATH:-}" ]; then
    echo "error: MindSpore not found: install the Ascend package, or export MINDSPORE_PATH=<folder with" >&2
    echo "       include/api/model.h and lib/libmindspore.so> (a MindSpore Lite runtime/ folder works too)" >&2
    exit 1
fi
if [ ! -f "$MINDSPORE_PATH/include/api/model.h" ]; then
    echo "error: $MINDSPORE_PATH has no include/api/model.h: MindSpore's C++ inference API ships with the" >&2
    echo "       Ascend package and MindSpore Lite, not with the CPU/GPU wheels; set MINDSPORE_PATH" >&2
    exit 1
fi
echo "MindSpore C++ API: $MINDSPORE_PATH"
export CXX=${CXX:-g++}
cmake -S "$here" -B "$build_dir" -DMINDSPORE_PATH="$MINDSPORE_PATH" -DAPP_OUTPUT_DIR="$out_dir"
cmake --build "$build_dir" -j "$(nproc 2>/dev/null || echo 2)"
echo "built $out_dir/main"
