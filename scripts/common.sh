# Helpers the launch scripts share; sourced after the script defines usage().
# shellcheck shell=bash

# One error line, then the script's usage text and exit 1.
bad_argument() {
    echo "error: $*" >&2
    usage
}

# A path made absolute against the caller's working directory (scripts cd to the repository root).
absolute() {
    case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac
}
