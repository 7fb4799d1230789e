"""What a directory tree on the stack's host holds, by relative path and SHA-256, and what a
command changed in it: the evidence that a deployment's command wrote only where it was told.

One bash script does the reading on the host (this one or over SSH, through the `Host` seam), so
a remote tree is never copied here. It is bounded: at most `max_files` entries, shallowest
first (a command that writes where it should not mostly writes near the top: `./backups`,
`./dump.sql`), and at most `hash_bytes` of file content hashed (files of at most
`file_bytes` each, in the same order); an entry not hashed is compared by size and mtime. A
directory tree whose entries were cut at the bound is compared only down to the deepest level
both snapshots hold completely. Paths in `prune` (the stack's own writable bind mounts, the
run's own places) are not walked at all, nor (when asked) hidden directories: `.git`, `.venv` and
tool caches, which tools write into at any time.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from stackprobe.commands import parse_sha256sum
from stackprobe.targets.host import Host

MAX_FILES = 20000
HASH_BYTES = 16 * 1024 * 1024
FILE_BYTES = 1024 * 1024
_KINDS = {"f": "file", "d": "dir", "l": "link"}
_HASHES = "#hashes"
_TOTAL = "#total"

# $1 root, $2 max entries, $3 hash budget, $4 per-file bound, $5 1: hidden directories are not
# walked either, then paths (relative, `./x`) to prune
SNAPSHOT_SCRIPT = r"""set -o pipefail
root=$1 max=$2 budget=$3 per=$4 hidden=$5
shift 5
cd -- "$root" 2>/dev/null || exit 3
prune=()
for p in "$@"; do prune+=(-path "$p" -o); done
[[ $hidden == 1 ]] && prune+=(\( -type d -name '.*' \) -o)
if ((${#prune[@]})); then
    unset 'prune[${#prune[@]}-1]'
    set -- \( "${prune[@]}" \) -prune -o
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/stackprobe-snapshot.XXXXXX") || exit 4
trap 'rm -rf -- "$tmp"' EXIT
find . -mindepth 1 "$@" -printf '%d\t%y\t%s\t%T@\t%P\0' 2>/dev/null >"$tmp/all"
printf '%s\t%s\0' '#total' "$(tr -cd '\000' <"$tmp/all" | wc -c)"
sort -z -s -n -k1,1 "$tmp/all" | head -z -n "$max" >"$tmp/list"
cat -- "$tmp/list"
printf '%s\0' '#hashes'
used=0
while IFS=$'\t' read -r -d '' depth kind size mtime path; do
    if [[ $kind == f ]] && ((size <= per && used + size <= budget)); then
        used=$((used + size))
        printf '%s\0' "$path"
    fi
done <"$tmp/list" | xargs -0 -r sha256sum -- 2>/dev/null
exit 0
"""


@dataclass(frozen=True)
class Entry:
    path: str  # relative to the snapshot's root
    depth: int  # 1: directly in the root
    kind: str  # file | dir | link | other
    size: int
    mtime: str  # as find printed it (seconds.fraction), compared exactly
    sha256: str | None = None  # None: not hashed (over the bound)


@dataclass(frozen=True)
class Snapshot:
    root: str
    exists: bool
    entries: dict[str, Entry] = field(default_factory=dict)
    total: int = 0  # entries under the root (the snapshot may hold fewer)
    pruned: tuple[str, ...] = ()

    @property
    def truncated(self) -> bool:
        return len(self.entries) < self.total

    @property
    def complete_depth(self) -> int | None:
        """The deepest level held completely (None: every level is)."""
        if not self.truncated:
            return None
        return max((e.depth for e in self.entries.values()), default=1) - 1

    def summary(self) -> dict[str, Any]:
        return {"root": self.root, "exists": self.exists, "entries": len(self.entries), "total": self.total,
                "hashed": sum(1 for e in self.entries.values() if e.sha256), "complete_depth": self.complete_depth,
                "pruned": list(self.pruned)}


def _glob_escape(path: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", path)


def inside(path: str, root: str) -> bool:
    path, root = posixpath.normpath(path), posixpath.normpath(root)
    return path == root or path.startswith(root.rstrip("/") + "/")


def parse_snapshot(root: str, output: str, pruned: Sequence[str] = ()) -> Snapshot:
    records = output.split("\0")
    at = records.index(_HASHES) if _HASHES in records else len(records)
    total, entries = 0, {}
    for record in records[:at]:
        if record.startswith(_TOTAL + "\t"):
            total = int(record.split("\t", 1)[1].strip() or 0)
            continue
        parts = record.split("\t", 4)
        if len(parts) != 5:
            continue
        depth, kind, size, mtime, path = parts
        try:
            entries[path] = Entry(path, int(depth), _KINDS.get(kind, "other"), int(size), mtime)
        except ValueError:
            continue
    digests = parse_sha256sum("\0".join(records[at + 1:]))
    for path, digest in digests.items():
        if path in entries:
            old = entries[path]
            entries[path] = Entry(old.path, old.depth, old.kind, old.size, old.mtime, digest)
    return Snapshot(root, True, entries, max(total, len(entries)), tuple(pruned))


def take(host: Host, root: str, *, prune: Iterable[str] = (), max_files: int = MAX_FILES,
         hash_bytes: int = HASH_BYTES, file_bytes: int = FILE_BYTES, hidden_dirs: bool = True) -> Snapshot:
    """The tree under `root` on `host` (absolute paths in `prune` inside it are not walked, nor
    directories named .* without `hidden_dirs`)."""
    relative = sorted({posixpath.relpath(p, root) for p in prune if inside(p, root) and not inside(root, p)})
    patterns = [f"./{_glob_escape(p)}" for p in relative]
    done = host.run(["bash", "-c", SNAPSHOT_SCRIPT, "snapshot", root, str(max_files), str(hash_bytes),
                     str(file_bytes), "0" if hidden_dirs else "1", *patterns], timeout=300)
    if done.exit_code == 3:
        return Snapshot(root, False, pruned=tuple(relative))
    if done.exit_code != 0:
        raise OSError(f"cannot read {root} on {host.label}: {done.describe()}")
    return parse_snapshot(root, done.stdout, relative)


@dataclass(frozen=True)
class Changes:
    """What changed under one root between two snapshots (relative paths)."""

    root: str
    new: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    new_dirs: tuple[str, ...] = ()  # every new directory (those holding new files are not in `new`)

    def __bool__(self) -> bool:
        return bool(self.new or self.changed or self.removed)

    @property
    def count(self) -> int:
        return len(self.new) + len(self.changed) + len(self.removed)

    def topmost_new(self) -> list[str]:
        """New entries not inside another new entry (what removing the new ones takes)."""
        found: list[str] = []
        for path in sorted({*self.new, *self.new_dirs}):
            if not any(inside(path, top) for top in found):
                found.append(path)
        return found

    def describe(self, limit: int = 8) -> str:
        """`a, b (changed), c (removed) and N more`, relative to the root."""
        items = [*self.new, *(f"{p} (changed)" for p in self.changed), *(f"{p} (removed)" for p in self.removed)]
        shown = ", ".join(items[:limit])
        return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")

    def summary(self) -> dict[str, Any]:
        return {"root": self.root, "new": list(self.new), "changed": list(self.changed), "removed": list(self.removed)}


def _same(old: Entry, new: Entry) -> bool:
    if old.kind != new.kind:
        return False
    if old.kind == "dir":
        return True  # a directory changes with what is in it, which is compared itself
    if old.sha256 and new.sha256:
        return old.sha256 == new.sha256
    return (old.size, old.mtime) == (new.size, new.mtime)


def compare(before: Snapshot, after: Snapshot, ignore: Sequence[str] = ()) -> Changes:
    """What `after` holds that `before` did not, what differs, what went. Entries matching a glob
    of `ignore` (relative paths) are left out; so are levels either snapshot holds incompletely.
    A new (removed) directory is named only when nothing new (removed) is inside it: its files
    name it."""
    depths = [d for d in (before.complete_depth, after.complete_depth) if d is not None]
    deepest = min(depths) if depths else None

    def kept(path: str, entry: Entry) -> bool:
        if deepest is not None and entry.depth > deepest:
            return False
        return not any(fnmatch.fnmatchcase(path, pattern) or inside(path, pattern) for pattern in ignore)

    old = {p: e for p, e in before.entries.items() if kept(p, e)} if before.exists else {}
    now = {p: e for p, e in after.entries.items() if kept(p, e)} if after.exists else {}
    added = sorted(set(now) - set(old))
    new = [p for p in added if now[p].kind != "dir" or not any(q != p and inside(q, p) for q in added)]
    changed = sorted(p for p in set(old) & set(now) if not _same(old[p], now[p]))
    gone = sorted(set(old) - set(now))
    removed = [p for p in gone if old[p].kind != "dir" or not any(q != p and inside(q, p) for q in gone)]
    return Changes(after.root if after.exists else before.root, tuple(new), tuple(changed), tuple(removed),
                   tuple(p for p in added if now[p].kind == "dir"))
