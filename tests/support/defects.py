"""Seeded defects that change a file of the reference stack are kept as a patch, not a copy.

A defect directory holds `changes.patch`: a unified diff (`git diff` format, paths relative to
the repository, e.g. `a/stack/scripts/deploy.sh`). `materialize()` copies the originals the
patch names into a scratch tree with the same layout and applies the patch there with
`git apply`, so a defect is always the current reference file plus its few changed lines.
When the reference changes where a defect patches it, `git apply` refuses and the test says
which defect to update; a copy would have gone stale without a word.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PATCH = "changes.patch"
SCRIPTS = Path("stack") / "scripts"
SCRIPT_LIBRARY = SCRIPTS / "lib.sh"  # sourced by every stack script: a copied script needs it next to it
_TARGET = re.compile(r"^\+\+\+ b/(\S+)$", re.MULTILINE)


def patched_paths(case: Path) -> list[str]:
    """The repository-relative files the defect's patch changes."""
    return _TARGET.findall((case / PATCH).read_text())


def materialize(case: Path, into: Path) -> Path:
    """The reference files the defect changes, patched, under `into` (same relative paths)."""
    paths = patched_paths(case)
    if not paths:
        raise AssertionError(f"{case / PATCH}: no `+++ b/<path>` line; write it with `git diff`")
    for relative in paths:
        original = REPO / relative
        copy = into / relative
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(original, copy)
        library = into / SCRIPT_LIBRARY
        if Path(relative).parent == SCRIPTS and not library.exists():
            shutil.copy2(REPO / SCRIPT_LIBRARY, library)
    done = subprocess.run(["git", "apply", "--whitespace=nowarn", str((case / PATCH).resolve())],
                          cwd=into, capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(
            f"defect {case.name}: its patch no longer applies to {', '.join(paths)} "
            f"({done.stderr.strip()}); redo the change on the current file and regenerate "
            f"{case.name}/{PATCH} with `git diff --no-index`")
    return into


def changed_lines(case: Path) -> list[str]:
    """The patch's added and removed lines (not its headers)."""
    return [line for line in (case / PATCH).read_text().splitlines()
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


_FILES_VARIABLE = re.compile(r"\$\{DEFECT_FILES(:?\?[^}]*)?\}")


def rendered_override(case: Path, files: Path, name: str = "compose.override.yml") -> Path:
    """The defect's compose override with `${DEFECT_FILES}` replaced by `files` (where
    `materialize()` put the changed files), written next to them. The suite reads overrides
    with compose and the env file alone, as a deployment would, so no variable may be left."""
    text = _FILES_VARIABLE.sub(lambda _: str(files), (case / name).read_text())
    rendered = files / f"{case.name}.{name}"
    rendered.parent.mkdir(parents=True, exist_ok=True)
    rendered.write_text(text)
    return rendered
