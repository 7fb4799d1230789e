"""The control catalogue as `stackprobe controls` prints it: text (as --list-controls), JSON or Markdown."""

from __future__ import annotations

import json
from collections.abc import Sequence

from stackprobe import catalogue
from stackprobe.catalogue import Control

FORMATS = ("text", "json", "markdown")


def as_text(controls: Sequence[Control]) -> str:
    lines: list[str] = []
    suite = ""
    for control in controls:
        if control.suite != suite:
            suite = control.suite
            lines.append(f"\n{suite}")
        lines.append(f"  {control.id:<7} {control.severity:<8} {control.title}  [NIST {', '.join(control.nist)}]")
    return "\n".join(lines).lstrip("\n")


def as_json(controls: Sequence[Control]) -> str:
    return json.dumps([c.to_json() for c in controls], indent=2, ensure_ascii=False)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def as_markdown(controls: Sequence[Control]) -> str:
    lines = ["| ID | Suite | Severity | Title | Why | Fix | Tags | NIST SP 800-53 |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {c.id} | {c.suite} | {c.severity} | {_cell(c.title)} | {_cell(c.why)} | {_cell(c.fix)} | "
              f"{_cell(', '.join(c.tags))} | {_cell(', '.join(c.nist))} |" for c in controls]
    return "\n".join(lines)


def render(controls: Sequence[Control], fmt: str) -> str:
    return {"text": as_text, "json": as_json, "markdown": as_markdown}[fmt](controls)


def render_table() -> str:
    """The catalogue as the terminal shows it for --list-controls (users' controls included)."""
    return as_text(catalogue.CONTROLS)
