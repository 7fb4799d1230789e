#!/usr/bin/env bash
# Undo what tools/setup.sh started on this machine: only a dockerd that it started itself
# (pid in .stackprobe/dockerd.pid). An engine that was already running is left alone, and
# so are images, the venv and installed packages (set-up reuses them).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
pid_file="$root/.stackprobe/dockerd.pid"

if [[ ! -f "$pid_file" ]]; then
    echo "[teardown] no dockerd started by tools/setup.sh: nothing to stop"
    exit 0
fi
pid=$(cat "$pid_file")
if ! [[ "$pid" =~ ^[0-9]+$ ]] || ! kill -0 "$pid" 2>/dev/null \
    || [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" != dockerd ]]; then
    echo "[teardown] dockerd (pid $pid) is no longer running"
    rm -f "$pid_file"
    exit 0
fi
echo "[teardown] stopping dockerd (pid $pid) started by tools/setup.sh"
kill -TERM "$pid"
for _ in $(seq 1 60); do # 30 s, then SIGKILL
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
done
if kill -0 "$pid" 2>/dev/null; then
    echo "[teardown] dockerd did not stop within 30 s: killing it"
    kill -KILL "$pid" 2>/dev/null || true
fi
rm -f "$pid_file"
echo "[teardown] dockerd stopped"
