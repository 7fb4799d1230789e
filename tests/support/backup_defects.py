"""Seeded backup defects (tests/defects/backup/<name>/defect.toml): building the defective copy of
the stack's backup or restore script, and the profile that points the suite at it.

A defect is an edit of a copy of the real script (`old` must occur exactly once, so a change of
the real script cannot silently void a defect); the profile's `[backup] command` or
`restore_command` names the copy. The real scripts carry no switch.

Defects that fail disjoint controls and edit different lines share one suite run (`batch`): one
copy of each script carries all their edits, and the run must fail exactly the union of their
controls, each naming its own defect.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stackprobe.profile import BackupSection
from support import defect_spec
from support.defect_spec import Defect
from support.stacks import REFERENCE_PROFILE, REPO

SCRIPTS = REPO / "stack" / "scripts"
COMMAND_KEYS = {"backup.sh": "command", "restore.sh": "restore_command"}


def cases() -> list[Path]:
    return defect_spec.cases("backup")


def spec_of(case: Path) -> Defect:
    return defect_spec.load(case, "backup")


def batches() -> dict[int, list[Defect]]:
    """The defects that fail controls, by the batch whose one suite run judges them (the contract
    defects, which error every control, each run alone)."""
    return defect_spec.batches(spec for spec in map(spec_of, cases()) if not spec.get("errors"))


def edited_scripts(specs: Sequence[Defect]) -> dict[str, str]:
    """file name -> text of the real script with every edit of `specs` applied in turn. Each `old`
    must occur exactly once in the text as the earlier edits left it: so a change of the real
    script cannot silently void a defect, nor one defect of a batch another's edit."""
    texts: dict[str, str] = {}
    for spec in specs:
        for edit in spec.get("edit", []):
            file = edit["file"]
            text = texts.get(file) or (SCRIPTS / file).read_text()
            found = text.count(edit["old"])
            if found != 1:
                raise AssertionError(f"{spec.name}: {edit['old']!r} occurs {found} times in stack/scripts/{file} "
                                     "(after its batch's earlier edits), not once: the real script changed (update "
                                     "the defect), or two defects of one batch edit one text (give one another batch)")
            texts[file] = text.replace(edit["old"], edit["new"])
    return texts


def build(specs: Sequence[Defect], into: Path) -> dict[str, Any]:
    """Write the defective scripts under `into` (same layout as the repository) and return the
    [backup] keys that point the suite at them, plus the defects' own [backup] keys (two defects
    of one batch may not both set one)."""
    keys: dict[str, Any] = {}
    for spec in specs:
        for key, value in spec.get("profile", {}).items():
            if key in keys:
                raise AssertionError(f"{spec.name}: [backup] {key} is set by another defect of its batch too")
            keys[key] = value
    defaults = BackupSection()
    for file, text in edited_scripts(specs).items():
        path = into / "stack" / "scripts" / file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o755)
        library = path.parent / "lib.sh"  # the scripts source it from their own directory
        if not library.exists():
            library.write_text((SCRIPTS / "lib.sh").read_text())
        key = COMMAND_KEYS[file]
        keys[key] = [str(path), *getattr(defaults, key)[1:]]
    return keys


# for the project's own tests: lighter than the production defaults, same proof. The padding table
# starts at 16 MB and the dump must read for 1 s, judged against a stall bound of half that (the
# writer's waits are timed by the server: a single-transaction dump keeps them well under 0.2 s
# even on a loaded host, a locking one makes them as long as the dump)
LIGHT = {"padding_mb": 16, "min_dump_s": 1.0, "max_write_stall_s": 0.5, "dataset_rows": 30}


def backup_section(backup: dict[str, Any]) -> str:
    """A [backup] table with `backup` (strings, numbers, lists of strings)."""
    lines = [f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in backup.items()]
    return "[backup]\n" + "\n".join(lines) + "\n"


def profile(path: Path, backup: dict[str, Any], extra: str = "") -> Path:
    """The reference profile plus a [backup] section with `backup`."""
    path.write_text(f"{REFERENCE_PROFILE.read_text()}\n{backup_section(backup)}{extra}")
    return path
