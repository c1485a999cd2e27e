#!/usr/bin/env bash
# Training on one Ascend device: python train.py --device_target Ascend --device_id DEVICE_ID.
#
#   bash scripts/run_standalone_train_ascend.sh DEVICE_ID CONFIG [train.py options, key=value ...]
#   e.g. bash scripts/run_standalone_train_ascend.sh 0 configs/ecapa_tdnn/voxceleb.yaml --amp_level O2 train.epochs=10
exec bash "$(dirname "$0")/standalone_train.sh" Ascend run_standalone_train_ascend.sh "$@"
