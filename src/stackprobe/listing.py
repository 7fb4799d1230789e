"""The control catalogue as `stackprobe controls` prints it: text (as --list-controls), JSON or Markdown."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

from stackprobe.catalogue import Control

FORMATS = ("text", "json", "markdown")


def as_text(controls: Sequence[Control]) -> str:
    lines: list[str] = []
    suite = ""
    for control in controls:
        if control.suite != suite:
            suite = control.suite
            lines.append(f"\n{suite}")
        lines.append(f"  {control.id:<7} {control.severity:<8} {control.title}")
    return "\n".join(lines).lstrip("\n")


def as_json(controls: Sequence[Control]) -> str:
    return json.dumps([{**dataclasses.asdict(c), "tags": list(c.tags)} for c in controls], indent=2,
                      ensure_ascii=False)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def as_markdown(controls: Sequence[Control]) -> str:
    lines = ["| ID | Suite | Severity | Title | Why | Fix | Tags |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {c.id} | {c.suite} | {c.severity} | {_cell(c.title)} | {_cell(c.why)} | {_cell(c.fix)} | "
              f"{_cell(', '.join(c.tags))} |" for c in controls]
    return "\n".join(lines)


def render(controls: Sequence[Control], fmt: str) -> str:
    return {"text": as_text, "json": as_json, "markdown": as_markdown}[fmt](controls)
