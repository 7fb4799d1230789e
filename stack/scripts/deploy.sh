#!/usr/bin/env bash
# Deployment commands of the runbook (scripts/deploy.sh), on docker compose v2.
#
# Environment:
#   STACK_ENV_FILE   env file passed to compose with --env-file (default: .env at the repo root)
#   COMPOSE_FILE     compose file(s), as docker compose reads it (default: docker-compose.yml)
#   CONFIRM=yes      confirms `clean` without a prompt
#   DEPLOY_WAIT_TIMEOUT  seconds to wait for services to become healthy (default 300)
# Image variables (MYSQL_IMAGE, ...) come from .stackprobe/images.env when present, unless
# the environment or the env file already sets them.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: deploy.sh COMMAND [ARGS]

commands:
  help                     show this help
  init                     first deployment: build, start mysql+redis, migrate, start backend (safe to rerun)
  update                   update flow: build backend, stop it, migrate, start it, show its logs (data kept)
  start [SERVICE...]       start services and wait until they are healthy (data kept)
  stop [SERVICE...]        stop services (containers and data kept)
  restart [SERVICE...]     restart services and wait until they are healthy (data kept)
  logs [-f] [SERVICE...]   show the last 100 log lines (-f: keep following)
  build [SERVICE...]       build images
  backup                   back up the database and files (runs backup.sh)
  clean [--yes]            remove containers AND volumes (asks; --yes or CONFIRM=yes to confirm)

environment: STACK_ENV_FILE (default .env), COMPOSE_FILE, CONFIRM, DEPLOY_WAIT_TIMEOUT
EOF
}

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/lib.sh
source "$SCRIPT_DIR/lib.sh"

export STACK_ENV_FILE=$ENV_FILE

# Stand-in image names written by tools/setup.sh; explicit settings win.
load_images_env() {
    local file=$ROOT/.stackprobe/images.env line key value
    [[ -f "$file" ]] || return 0
    while IFS= read -r line || [[ -n "$line" ]]; do
        [[ "$line" =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
        key=${BASH_REMATCH[2]}
        value=${BASH_REMATCH[3]}
        value=${value%\"}; value=${value#\"}; value=${value%\'}; value=${value#\'}
        [[ -n "${!key+set}" ]] && continue
        if [[ -f "$ENV_FILE" ]] && grep -Eq "^[[:space:]]*(export[[:space:]]+)?${key}=" "$ENV_FILE"; then
            continue
        fi
        export "$key=$value"
    done <"$file"
}

WAIT_TIMEOUT=${DEPLOY_WAIT_TIMEOUT:-300}

project_name() {
    # `config` prints secrets too: keep only the name line.
    compose config 2>/dev/null | sed -n 's/^name: //p' | head -n 1
}

cmd_init() {
    [[ $# -eq 0 ]] || die 2 "init takes no arguments (usage: deploy.sh init)"
    require_env_file
    echo "==> build images"
    compose build
    echo "==> start mysql and redis, wait until healthy"
    compose up -d --wait --wait-timeout "$WAIT_TIMEOUT" mysql redis
    echo "==> migrate the schema (alembic upgrade head)"
    compose run --rm backend alembic upgrade head
    echo "==> start backend, wait until healthy"
    compose up -d --wait --wait-timeout "$WAIT_TIMEOUT" backend
    compose ps
}

# The runbook's update flow (更新部署), minus `git pull`, which is the operator's call.
# The image is built before the backend stops, so the outage lasts only migrate + start.
cmd_update() {
    [[ $# -eq 0 ]] || die 2 "update takes no arguments (usage: deploy.sh update)"
    require_env_file
    echo "==> build the backend image"
    compose build backend
    echo "==> stop backend"
    compose stop backend
    echo "==> migrate the schema (alembic upgrade head)"
    compose run --rm backend alembic upgrade head
    echo "==> start backend, wait until healthy"
    compose up -d --wait --wait-timeout "$WAIT_TIMEOUT" backend
    compose ps
    compose logs --tail=100 backend
}

cmd_start() {
    require_env_file
    compose up -d --wait --wait-timeout "$WAIT_TIMEOUT" "$@"
    compose ps
}

cmd_stop() {
    require_env_file
    compose stop "$@"
}

cmd_restart() {
    require_env_file
    compose restart "$@"
    # restart has no --wait; up on unchanged services only waits for health.
    compose up -d --wait --wait-timeout "$WAIT_TIMEOUT" "$@"
    compose ps
}

cmd_logs() {
    require_env_file
    local follow=() services=()
    for arg in "$@"; do
        case "$arg" in
            -f | --follow) follow=(--follow) ;;
            -*) die 2 "unknown option for logs: $arg (usage: deploy.sh logs [-f] [SERVICE...])" ;;
            *) services+=("$arg") ;;
        esac
    done
    compose logs --tail=100 "${follow[@]}" "${services[@]}"
}

cmd_build() {
    require_env_file
    compose build "$@"
}

cmd_backup() {
    require_env_file
    exec "$SCRIPT_DIR/backup.sh" "$@"
}

cmd_clean() {
    require_env_file
    local confirmed=${CONFIRM:-} name answer
    for arg in "$@"; do
        case "$arg" in
            -y | --yes) confirmed=yes ;;
            *) die 2 "unknown option for clean: $arg (usage: deploy.sh clean [--yes])" ;;
        esac
    done
    name=$(project_name)
    [[ -n "$name" ]] || die 1 "cannot read the compose project (check $ENV_LABEL and the compose file)"
    if [[ "$confirmed" != yes ]]; then
        if [[ -t 0 ]]; then
            printf "This removes the containers AND volumes (all data) of project '%s'. Type yes to continue: " "$name"
            read -r answer || answer=
            [[ "$answer" == yes ]] || die 1 "clean aborted: nothing removed"
        else
            die 1 "clean removes all containers and volumes of project '$name': refused without confirmation (pass --yes or CONFIRM=yes)"
        fi
    fi
    compose down -v --remove-orphans
}

main() {
    local cmd=${1:-help}
    [[ $# -gt 0 ]] && shift
    case "$cmd" in
        help | -h | --help) usage; return 0 ;;
        init | update | start | stop | restart | logs | build | backup | clean) ;;
        *) die 2 "unknown command '$cmd' (try: deploy.sh help)" ;;
    esac
    load_images_env
    "cmd_$cmd" "$@"
}

main "$@"
