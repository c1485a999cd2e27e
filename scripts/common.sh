# Helpers the launch scripts share; sourced after the script defines usage().
# shellcheck shell=bash

# One error line, then the script's usage text and exit 1.
bad_argument() {
    echo "error: $*" >&2
    usage
}

# config_argument "$@": the CONFIG argument (the first one) as an absolute path in $config; a
# missing one, an option or key=value in its place, or one that is not a file is a usage error.
# Every launch script takes the config explicitly: none defaults to a model's.
config_argument() {
    if [ $# -eq 0 ] || [[ $1 == *=* || $1 == -* ]]; then
        bad_argument "expected CONFIG (a config file, e.g. configs/ecapa_tdnn/voxceleb.yaml)${1:+, got '$1'}"
    fi
    config=$(absolute "$1")
    [ -f "$config" ] || bad_argument "CONFIG not found: $config"
}

# A path made absolute against the caller's working directory (scripts cd to the repository root).
absolute() {
    case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac
}

# Data-parallel training under msrun on this machine: msrun_train DEVICE_NUM LOG_DIR TARGET CONFIG [args].
# msrun's variables decide the ranks (src/distributed.py); those of another launcher (a rank
# table, mpirun) are removed first, else MindSpore would use them instead.
msrun_train() {
    local device_num=$1 log_dir=$2 target=$3 config=$4
    shift 4
    unset RANK_TABLE_FILE RANK_SIZE RANK_ID OMPI_COMM_WORLD_SIZE
    local command=(msrun --worker_num="$device_num" --local_worker_num="$device_num" --master_addr=127.0.0.1
                   --master_port="${MASTER_PORT:-8118}" --log_dir="$log_dir" --join=True
                   train.py --config "$config" --device_target "$target" "$@")
    echo "${command[*]}"
    if ! "${command[@]}"; then
        echo "error: distributed training failed; see $log_dir/worker_*.log" >&2
        exit 1
    fi
}
