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

# Several machines under msrun: NODE_NUM machines (default 1) run DEVICE_NUM workers each; this is
# machine NODE_RANK (0 .. NODE_NUM-1); MASTER_ADDR is machine 0's address, where msrun runs its
# scheduler (needed with NODE_NUM > 1; default 127.0.0.1), on MASTER_PORT (default 8118).
check_nodes() {
    local node_num=${NODE_NUM:-1} node_rank=${NODE_RANK:-0} port=${MASTER_PORT:-8118}
    [[ $node_num =~ ^[1-9][0-9]*$ ]] || bad_argument "NODE_NUM must be an integer >= 1, got '$node_num'"
    if ! [[ $node_rank =~ ^[0-9]+$ ]] || [ "$node_rank" -ge "$node_num" ]; then
        bad_argument "NODE_RANK must be an integer in 0 .. $((node_num - 1)) (NODE_NUM=$node_num), got '$node_rank'"
    fi
    if [ "$node_num" -gt 1 ] && [ -z "${MASTER_ADDR:-}" ]; then
        bad_argument "NODE_NUM=$node_num machines need MASTER_ADDR, the address of machine 0 (NODE_RANK=0)"
    fi
    [[ $port =~ ^[1-9][0-9]*$ ]] || bad_argument "MASTER_PORT must be a port number, got '$port'"
}

# The default log folder's name for this machine: <prefix>, or <prefix>_node<k> with several.
node_log_name() {
    if [ "${NODE_NUM:-1}" -gt 1 ]; then printf '%s_node%s\n' "$1" "${NODE_RANK:-0}"; else printf '%s\n' "$1"; fi
}

# Data-parallel training under msrun: msrun_train DEVICE_NUM LOG_DIR TARGET CONFIG [args], with
# DEVICE_NUM workers on this machine and NODE_NUM x DEVICE_NUM in all (see check_nodes).
# msrun's variables decide the ranks (src/distributed.py); those of another launcher (a rank
# table, mpirun) are removed first, else MindSpore would use them instead.
msrun_train() {
    local device_num=$1 log_dir=$2 target=$3 config=$4 node_num=${NODE_NUM:-1}
    shift 4
    unset RANK_TABLE_FILE RANK_SIZE RANK_ID OMPI_COMM_WORLD_SIZE
    local command=(msrun --worker_num="$((device_num * node_num))" --local_worker_num="$device_num"
                   --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${MASTER_PORT:-8118}")
    if [ "$node_num" -gt 1 ]; then
        command+=(--node_rank="${NODE_RANK:-0}")
    fi
    command+=(--log_dir="$log_dir" --join=True train.py --config "$config" --device_target "$target" "$@")
    echo "${command[*]}"
    if ! "${command[@]}"; then
        echo "error: distributed training failed; see $log_dir/worker_*.log" >&2
        exit 1
    fi
}
