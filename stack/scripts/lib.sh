# shellcheck shell=bash
# Set-up shared by deploy.sh, backup.sh, restore.sh and monitor.sh; sourced, never run.
#
# After sourcing: die, abspath, require_env_file and compose are defined; ROOT is the repo
# root, CALLER_PWD where the caller ran us, ENV_FILE the env file's absolute path (ENV_LABEL
# its name as given, for messages) and COMPOSE_FILE, when set, absolute; the working
# directory is ROOT. Nothing here fails on a missing env file: each script calls
# require_env_file where its own input checks are done.

die() {  # die CODE MESSAGE
    printf 'error: %s\n' "$2" >&2
    exit "$1"
}

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
CALLER_PWD=$PWD

# Relative paths given by the caller are relative to where they ran us, not to the repo root.
abspath() {
    case "$1" in
        /*) printf '%s' "$1" ;;
        *) printf '%s' "$CALLER_PWD/$1" ;;
    esac
}

ENV_LABEL=${STACK_ENV_FILE:-.env}
if [[ -n "${STACK_ENV_FILE:-}" ]]; then
    ENV_FILE=$(abspath "$STACK_ENV_FILE")
else
    ENV_FILE=$ROOT/.env
fi

require_env_file() {
    [[ -f "$ENV_FILE" ]] ||
        die 2 "$ENV_LABEL not found: copy .env.example to $ENV_LABEL and set its values"
}

if [[ -n "${COMPOSE_FILE:-}" ]]; then
    _sep=${COMPOSE_PATH_SEPARATOR:-:}
    IFS="$_sep" read -r -a _files <<<"$COMPOSE_FILE"
    _abs=()
    for _f in "${_files[@]}"; do _abs+=("$(abspath "$_f")"); done
    COMPOSE_FILE=$(IFS="$_sep"; printf '%s' "${_abs[*]}")
    export COMPOSE_FILE
    unset _sep _files _abs _f
fi

cd -- "$ROOT" || die 1 "cannot enter $ROOT"

compose() {
    docker compose --env-file "$ENV_FILE" "$@"
}
