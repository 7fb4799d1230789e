#!/usr/bin/env bash
# Build the backend's wheelhouse (stack/backend/wheels/) from stack/backend/requirements.txt,
# resolved for the backend image's interpreter (Debian 12's CPython 3.11.2 on glibc 2.36),
# because pip inside `docker build` cannot reach an index. The image then installs with
#   pip install --no-index --find-links /wheels -r requirements.txt && pip check
#
# Binary wheels only, for the image's Python version, ABI and platform. Packages published
# only as sdists (e.g. pypika) are built to wheels on the host first (`pip wheel --no-deps`).
# Environment markers are evaluated by the interpreter that runs pip, so pip runs under a
# Python of exactly the target version when there is one (Debian's /usr/bin/python3 here).
#
# Skipped when the stamp (hash of requirements.txt, target and this script) matches.
#
# Usage: stack/images/wheelhouse.sh [REQUIREMENTS [OUTDIR]]
# Environment: STACKPROBE_TARGET_PYTHON (default 3.11.2), STACKPROBE_TARGET_GLIBC (2.36)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
root=$(cd "$here/../.." && pwd -P)
req=$(realpath "${1:-$root/stack/backend/requirements.txt}")
out=${2:-$root/stack/backend/wheels}
target=${STACKPROBE_TARGET_PYTHON:-3.11.2}
glibc_minor=${STACKPROBE_TARGET_GLIBC:-2.36}
glibc_minor=${glibc_minor#2.}
arch=$(uname -m)
state="$root/.stackprobe"
log="$state/wheelhouse.log"
mkdir -p "$state"

say() { printf '[wheelhouse] %s\n' "$*"; }
die() { printf '[wheelhouse] ERROR: %s\n' "$*" >&2; exit 1; }

[[ -f "$req" ]] || die "no requirements file at $req"

py_major_minor=${target%.*}
abi="cp${py_major_minor//./}"
stamp_want=$( { cat "$req"; echo "$target $glibc_minor $arch"; cat "${BASH_SOURCE[0]}"; } \
    | sha256sum | cut -c1-16)
if [[ -f "$out/.stamp" && "$(cat "$out/.stamp")" == "$stamp_want" ]] \
    && compgen -G "$out/*.whl" >/dev/null; then
    say "up to date ($(find "$out" -name '*.whl' | wc -l) wheels in ${out#"$root"/})"
    exit 0
fi

# An interpreter of exactly the target version evaluates markers as the image will.
pick_python() {
    local cand v
    for cand in /usr/bin/python3 "/usr/bin/python$py_major_minor" python3 "$root/.venv/bin/python"; do
        command -v "$cand" >/dev/null 2>&1 || continue
        v=$("$cand" -c 'import platform; print(platform.python_version())' 2>/dev/null) || continue
        [[ "$v" == "$target" ]] || continue
        "$cand" -m pip --version >/dev/null 2>&1 || continue
        echo "$cand"
        return 0
    done
    for cand in "$root/.venv/bin/python" python3; do
        command -v "$cand" >/dev/null 2>&1 || continue
        "$cand" -m pip --version >/dev/null 2>&1 || continue
        echo "$cand"
        return 0
    done
    return 1
}
py=$(pick_python) || die "no Python with pip found"
py_version=$("$py" -c 'import platform; print(platform.python_version())')
if [[ "$py_version" != "$target" ]]; then
    say "WARNING: no Python $target here; markers are evaluated for $py_version (pip check in the image will tell)"
fi

platforms=()
for ((m = glibc_minor; m >= 5; m--)); do
    platforms+=(--platform "manylinux_2_${m}_${arch}")
done
platforms+=(--platform "manylinux2014_${arch}" --platform "manylinux2010_${arch}"
    --platform "manylinux1_${arch}" --platform "linux_${arch}")

work=$(mktemp -d "$state/wheels.tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/dl" "$work/built"

say "resolving ${req#"$root"/} for CPython $target ($abi, manylinux glibc <= 2.$glibc_minor, $arch) with $py (pip $("$py" -m pip --version | cut -d' ' -f2))"
: >"$log"
t0=$SECONDS
for attempt in $(seq 1 25); do
    if "$py" -m pip download --disable-pip-version-check --no-input --quiet \
        --dest "$work/dl" --find-links "$work/built" \
        --only-binary=:all: --python-version "$target" --implementation cp --abi "$abi" \
        "${platforms[@]}" -r "$req" >>"$log" 2>&1; then
        break
    fi
    # A package without a usable wheel: build one from its sdist, then resolve again.
    spec=$(sed -n 's/^ERROR: No matching distribution found for //p' "$log" | tail -n1)
    [[ -n "$spec" ]] || { tail -n 25 "$log" >&2; die "pip download failed (log: $log)"; }
    if grep -qxF -- "$spec" "$work/tried" 2>/dev/null; then
        tail -n 25 "$log" >&2
        die "no wheel for '$spec' even after building one (log: $log)"
    fi
    echo "$spec" >>"$work/tried"
    say "no wheel for '$spec': building one from its sdist"
    before=$(find "$work/built" -name '*.whl' | wc -l)
    "$py" -m pip wheel --disable-pip-version-check --no-input --quiet --no-deps \
        --no-binary=:all: -w "$work/built" "$spec" >>"$log" 2>&1 \
        || { tail -n 25 "$log" >&2; die "could not build a wheel for '$spec' (log: $log)"; }
    [[ $(find "$work/built" -name '*.whl' | wc -l) -gt $before ]] \
        || die "pip wheel '$spec' produced no wheel (log: $log)"
    [[ $attempt -lt 25 ]] || die "too many packages without wheels (log: $log)"
done

# Built wheels must fit the image: pure Python, or this exact CPython/ABI on Linux.
for w in "$work"/built/*.whl; do
    [[ -e "$w" ]] || continue
    case "$(basename "$w")" in
    *-none-any.whl | *-"$abi"-"$abi"-linux_"$arch".whl | *-"$abi"-abi3-linux_"$arch".whl) ;;
    *) die "built wheel $(basename "$w") does not fit the image's interpreter" ;;
    esac
    [[ -e "$work/dl/$(basename "$w")" ]] || cp "$w" "$work/dl/"
done
find "$work/dl" -type f ! -name '*.whl' -print -delete | grep -q . \
    && die "non-wheel files were downloaded (log: $log)"

echo "$stamp_want" >"$work/dl/.stamp"
rm -rf "$out.old"
[[ -e "$out" ]] && mv "$out" "$out.old"
mv "$work/dl" "$out"
rm -rf "$out.old"
size=$(du -sm "$out" | cut -f1)
say "built ${out#"$root"/}: $(find "$out" -name '*.whl' | wc -l) wheels, ${size} MB ($((SECONDS - t0)) s)"
