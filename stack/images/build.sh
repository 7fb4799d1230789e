#!/usr/bin/env bash
# Choose the images docker-compose.yml runs: the upstream ones (mysql:8.0, redis:7.0,
# python:3.11-slim) when they are here or can be pulled, else local stand-ins built from
# Debian 12 packages on a debootstrap'd base (no registry needed, only an apt mirror).
#
# Writes .stackprobe/images.env (MYSQL_IMAGE, MARIADB_IMAGE, REDIS_IMAGE, PYTHON_IMAGE, one
# comment per image saying what it is). MARIADB_IMAGE (mariadb:10.11, or the same stand-in
# under a MariaDB name) is for the tests' foreign stacks, which use MARIADB_* variables. Idempotent: an image whose label matches the hash of its build
# context is not rebuilt, so a warm run takes a second or two.
#
# Environment:
#   STACKPROBE_STANDIN=1          use stand-ins even where an upstream image could be had
#   STACKPROBE_PULL_TIMEOUT=20    seconds allowed for each `docker pull`
#   STACKPROBE_PULL_RETRY=1       try again a pull that timed out earlier (else skipped 12 h)
#   STACKPROBE_DEBIAN_MIRROR      apt mirror for the base (default: the host's http mirror)
#   STACKPROBE_IMAGE_NAMESPACE    image names' namespace (default stackprobe)
#   STACKPROBE_IMAGES_ENV         file written (default .stackprobe/images.env)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
root=$(cd "$here/../.." && pwd -P)
state="$root/.stackprobe"
cache="$state/images"
mkdir -p "$cache"

say() { printf '[images] %s\n' "$*"; }
die() { printf '[images] ERROR: %s\n' "$*" >&2; exit 1; }

command -v docker >/dev/null || die "docker CLI not found"
docker info >/dev/null 2>&1 || die "no Docker engine answers (run tools/setup.sh)"

# STACKPROBE_IMAGE_NAMESPACE: a namespace other than "stackprobe" builds a separate set
# (e.g. to time a cold build without touching the images in use).
ns=${STACKPROBE_IMAGE_NAMESPACE:-stackprobe}
BASE_TAG=$ns/debian:12
SUITE=bookworm
HASH_LABEL=stackprobe.context-hash

sha() { sha256sum | cut -c1-16; }
image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }
image_label() {
    docker image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

# --- the apt mirror (http: TLS to the outside only works for the host's own trust store) ---
host_mirror() {
    local uri=""
    if [[ -r /etc/apt/sources.list.d/debian.sources ]]; then
        uri=$(awk '/^URIs:/ {print $2}' /etc/apt/sources.list.d/debian.sources \
            | grep -v -- '-security' | grep '^http://' | head -n1 || true)
    fi
    if [[ -z "$uri" && -r /etc/apt/sources.list ]]; then
        uri=$(awk '$1 == "deb" && $2 ~ /^http:\/\// && $2 !~ /-security/ {print $2; exit}' \
            /etc/apt/sources.list || true)
    fi
    printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}
MIRROR=${STACKPROBE_DEBIAN_MIRROR:-$(host_mirror)}
MIRROR=${MIRROR%/}
SECURITY_MIRROR=${STACKPROBE_DEBIAN_SECURITY_MIRROR:-${MIRROR%/debian}/debian-security}

# Run inside the debootstrap'd tree ($1): make it a small, docker-friendly base that
# images built FROM it can apt-get install on.
configure_rootfs() {
    local dir=$1
    cat >"$dir/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
EOF
    # Services must not start while images install packages.
    printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
    chmod 755 "$dir/usr/sbin/policy-rc.d"
    cat >"$dir/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    cat >"$dir/etc/apt/apt.conf.d/docker-no-recommends" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
EOF
    cat >"$dir/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
    find "$dir/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete 2>/dev/null || true
    rm -rf "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/usr/share/locale/*
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin \
        "$dir"/var/cache/apt/archives/*.deb "$dir"/var/log/*.log "$dir"/var/log/apt/* \
        "$dir"/tmp/* "$dir"/debootstrap
    mkdir -p "$dir/var/lib/apt/lists/partial"
    : >"$dir/etc/resolv.conf"
    : >"$dir/etc/hostname"
    : >"$dir/etc/machine-id"
}

base_hash() {
    { echo "debootstrap minbase $SUITE $MIRROR $SECURITY_MIRROR rev1"; declare -f configure_rootfs; } | sha
}

build_base() {
    local want have
    want=$(base_hash)
    have=$(image_label "$BASE_TAG" "$HASH_LABEL")
    if [[ "$have" == "$want" ]]; then
        say "base $BASE_TAG: up to date"
        return
    fi
    if ! command -v debootstrap >/dev/null; then
        if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
            die "debootstrap is missing (apt-get install debootstrap, as root)"
        fi
        say "installing debootstrap (apt-get)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap </dev/null >/dev/null 2>&1 \
            || { apt-get update -q </dev/null >/dev/null 2>&1 \
                && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap </dev/null >/dev/null; } \
            || die "apt-get install debootstrap failed"
    fi
    [[ $(id -u) == 0 ]] || die "building the base needs root (debootstrap)"
    local dir t0=$SECONDS old
    old=$(image_id "$BASE_TAG")
    dir=$(mktemp -d /var/tmp/stackprobe-rootfs.XXXXXX)
    # shellcheck disable=SC2064
    trap "rm -rf '$dir'" EXIT
    say "base $BASE_TAG: debootstrap --variant=minbase $SUITE from $MIRROR (about 30 s)"
    if ! debootstrap --variant=minbase "$SUITE" "$dir" "$MIRROR" >"$cache/debootstrap.log" 2>&1; then
        tail -n 20 "$cache/debootstrap.log" >&2
        [[ -f "$dir/debootstrap/debootstrap.log" ]] && tail -n 20 "$dir/debootstrap/debootstrap.log" >&2
        die "debootstrap failed (log: $cache/debootstrap.log)"
    fi
    configure_rootfs "$dir"
    local version
    version=$(cat "$dir/etc/debian_version")
    tar -C "$dir" --numeric-owner -c . | docker import \
        --change "LABEL $HASH_LABEL=$want" \
        --change "LABEL org.opencontainers.image.title=\"stackprobe Debian base\"" \
        --change "LABEL org.opencontainers.image.description=\"Debian $version minbase from debootstrap, base of the stackprobe stand-in images\"" \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' \
        - "$BASE_TAG" >/dev/null
    rm -rf "$dir"
    trap - EXIT
    drop_replaced "$old" "$BASE_TAG"
    say "base $BASE_TAG: Debian $version imported ($((SECONDS - t0)) s)"
}

# drop_replaced OLD_ID TAG: remove the image TAG pointed to before a rebuild, unless a
# container or another tag still uses it.
drop_replaced() {
    [[ -n "$1" && "$1" != "$(image_id "$2")" ]] || return 0
    docker rmi "$1" >/dev/null 2>&1 || true
}

# --- stand-ins ---------------------------------------------------------------------------
context_hash() { # dir: contents of every file in the build context, plus the base's id
    (cd "$1" && find . -type f ! -name '*.pyc' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    image_id "$BASE_TAG"
}

# build_standin NAME TAG: echoes nothing, leaves the image tagged TAG
build_standin() {
    local name=$1 tag=$2 ctx="$here/$1" want have t0=$SECONDS
    want=$(context_hash "$ctx" | sha)
    have=$(image_label "$tag" "$HASH_LABEL")
    if [[ "$have" == "$want" ]]; then
        say "$name stand-in $tag: up to date"
        return
    fi
    say "$name stand-in $tag: building (log: .stackprobe/images/$name.build.log)"
    local old
    old=$(image_id "$tag")
    if ! docker build --build-arg "BASE_IMAGE=$BASE_TAG" --label "$HASH_LABEL=$want" \
        -t "$tag" "$ctx" >"$cache/$name.build.log" 2>&1; then
        tail -n 30 "$cache/$name.build.log" >&2
        die "building $tag failed (log: $cache/$name.build.log)"
    fi
    drop_replaced "$old" "$tag"
    say "$name stand-in $tag: built ($((SECONDS - t0)) s)"
}

# What a stand-in holds, read once from /etc/stackprobe-standin and cached by image id.
standin_description() {
    local tag=$1 id desc file
    id=$(image_id "$tag")
    file="$cache/$(printf '%s' "$tag" | tr '/:' '__').desc"
    if [[ -f "$file" && "$(head -n1 "$file")" == "$id" ]]; then
        sed -n 2p "$file"
        return
    fi
    desc=$(docker run --rm --network none --entrypoint cat "$tag" /etc/stackprobe-standin)
    printf '%s\n%s\n' "$id" "$desc" >"$file"
    printf '%s\n' "$desc"
}

# upstream_available IMAGE: present here, or pulled within the time allowed.
upstream_available() {
    local image=$1 marker rc=0
    [[ "${STACKPROBE_STANDIN:-0}" == 1 ]] && return 1
    if [[ -n "$(image_id "$image")" ]]; then
        say "$image: present locally"
        return 0
    fi
    marker="$cache/pull-timeout.$(printf '%s' "$image" | tr '/:' '__')"
    if [[ -f "$marker" && "${STACKPROBE_PULL_RETRY:-0}" != 1 ]] \
        && [[ -n "$(find "$marker" -mmin -720 2>/dev/null)" ]]; then
        say "$image: pull timed out recently, not retried (STACKPROBE_PULL_RETRY=1 retries)"
        return 1
    fi
    timeout "${STACKPROBE_PULL_TIMEOUT:-20}" docker pull -q "$image" >/dev/null 2>&1 || rc=$?
    if [[ $rc == 0 ]]; then
        rm -f "$marker"
        say "$image: pulled"
        return 0
    fi
    if [[ $rc == 124 ]]; then
        touch "$marker"
        say "$image: pull timed out"
    else
        say "$image: cannot be pulled"
    fi
    return 1
}

base_ready=0
ensure_base() {
    [[ $base_ready == 1 ]] || build_base
    base_ready=1
}

declare -A chosen desc
choose() { # VAR UPSTREAM STANDIN_NAME STANDIN_TAG
    local var=$1 upstream=$2 name=$3 tag=$4
    if upstream_available "$upstream"; then
        chosen[$var]=$upstream
        desc[$var]="upstream: $upstream"
    else
        ensure_base
        build_standin "$name" "$tag"
        chosen[$var]=$tag
        desc[$var]="stand-in for $upstream: $(standin_description "$tag")"
    fi
}

choose MYSQL_IMAGE mysql:8.0 mysql "$ns/mysql-standin:8.0-mariadb10.11"
# the same build context: its entrypoint reads MARIADB_* as the official mariadb image does
choose MARIADB_IMAGE mariadb:10.11 mysql "$ns/mariadb-standin:10.11"
choose REDIS_IMAGE redis:7.0 redis "$ns/redis-standin:7.0"
choose PYTHON_IMAGE python:3.11-slim python "$ns/python-standin:3.11"

out=${STACKPROBE_IMAGES_ENV:-$state/images.env}
tmp="$out.tmp.$$"
{
    echo "# Images for docker-compose.yml, chosen by stack/images/build.sh."
    echo "# Upstream where it is here or can be pulled; else a local stand-in (stack/images/)."
    for var in MYSQL_IMAGE MARIADB_IMAGE REDIS_IMAGE PYTHON_IMAGE; do
        echo "# ${desc[$var]}"
        echo "$var=${chosen[$var]}"
    done
} >"$tmp"
mv -f "$tmp" "$out"
say "wrote ${out#"$root"/}: MYSQL_IMAGE=${chosen[MYSQL_IMAGE]} MARIADB_IMAGE=${chosen[MARIADB_IMAGE]} REDIS_IMAGE=${chosen[REDIS_IMAGE]} PYTHON_IMAGE=${chosen[PYTHON_IMAGE]}"
