#!/usr/bin/env bash
# Training on one GPU device: python train.py --device_target GPU --device_id DEVICE_ID.
#
#   bash scripts/run_standalone_train_gpu.sh DEVICE_ID CONFIG [train.py options, key=value ...]
#   e.g. bash scripts/run_standalone_train_gpu.sh 0 configs/ecapa_tdnn/voxceleb.yaml --amp_level O2 train.epochs=10
exec bash "$(dirname "$0")/standalone_train.sh" GPU run_standalone_train_gpu.sh "$@"
