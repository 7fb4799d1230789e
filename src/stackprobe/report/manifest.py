"""Integrity: a manifest of every artifact of a run with its SHA-256, and its verification.

`manifest.json` lists every file under the run directory (but itself, SHA256SUMS and its signature);
`SHA256SUMS` says the same in the format `sha256sum -c` reads, so an auditor can check a
report without stackprobe. The manifest's own SHA-256 goes into the history record, kept
outside the run directory, so editing a file *and* the manifest is detectable too.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
_SELF = {MANIFEST, SUMS, SUMS + ".sig"}  # the signature (report.signing) covers SUMS, written after it


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def _artifacts(run_dir: Path) -> list[Path]:
    return sorted(p for p in run_dir.rglob("*")
                  if p.is_file() and not p.is_symlink() and p.relative_to(run_dir).as_posix() not in _SELF)


def write_manifest(run_dir: Path) -> str:
    """Write manifest.json and SHA256SUMS; returns the manifest's own SHA-256."""
    files: dict[str, Any] = {}
    for path in _artifacts(run_dir):
        files[path.relative_to(run_dir).as_posix()] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    manifest = {"algorithm": "sha256", "run": run_dir.name,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "files": files}
    (run_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    (run_dir / SUMS).write_text("".join(f"{f['sha256']}  {name}\n" for name, f in files.items()), encoding="utf-8")
    return sha256_file(run_dir / MANIFEST)


def verify_manifest(run_dir: Path) -> tuple[int, list[str]]:
    """(files checked, problems): one line per modified, missing or unlisted file."""
    path = run_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = manifest["files"]
        assert isinstance(files, dict)
    except FileNotFoundError:
        return 0, [f"{path}: no manifest (the run wrote none, or it was removed)"]
    except (OSError, ValueError, KeyError, AssertionError) as error:
        return 0, [f"{path}: not a readable manifest ({error})"]
    problems: list[str] = []
    for name, entry in sorted(files.items()):
        target = run_dir / name
        expected = entry.get("sha256") if isinstance(entry, dict) else None
        if not target.is_file():
            problems.append(f"MISSING   {name}")
        elif (actual := sha256_file(target)) != expected:
            problems.append(f"MODIFIED  {name}: sha256 {actual} but the manifest says {expected}")
    for extra in _artifacts(run_dir):
        name = extra.relative_to(run_dir).as_posix()
        if name not in files:
            problems.append(f"UNLISTED  {name}: not in the manifest (added after the run)")
    return len(files), problems


def verify_against_history(run_dir: Path, history: Path) -> list[str]:
    """The manifest itself against the hash the run wrote into the history when it sealed its
    artifacts: a manifest regenerated after the run (so that edited files match it again) no
    longer matches. Nothing to compare (no history, no record of this run, a record without
    the hash) gives no problem; the caller says what was compared."""
    from stackprobe.report.history import read_history

    recorded = [r.get("manifest_sha256") for r in read_history(history).records if r.get("run") == run_dir.name]
    recorded = [digest for digest in recorded if digest]
    path = run_dir / MANIFEST
    if not recorded or not path.is_file():
        return []
    actual = sha256_file(path)
    if actual in recorded:
        return []
    return [f"REWRITTEN {MANIFEST}: sha256 {actual} but the run recorded {recorded[-1]} in {history}: the "
            "manifest was written again after the run (artifacts re-rendered or edited since)"]
