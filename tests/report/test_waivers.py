"""Waiver files: what applies, what is expired, what is malformed, and the one-line messages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from stackprobe.report.waivers import load_waivers

TODAY = dt.date(2026, 11, 25)


def waiver(control: str = "CHS-06", expires: str = "2026-11-26", **extra: str) -> str:
    fields = {"control": f'"{control}"', "justification": '"iptables missing on the runner"',
              "approver": '"J. Doe, head of ops"', "ticket": '"OPS-1234"', "expires": expires}
    fields.update({k: v for k, v in extra.items()})
    return "[[waiver]]\n" + "".join(f"{k} = {v}\n" for k, v in fields.items() if v != "DROP") + "\n"


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "waivers.toml"
    path.write_text(text)
    return load_waivers(path, TODAY)


def test_no_file_no_waivers() -> None:
    assert load_waivers(None, TODAY).valid == () and not load_waivers(None, TODAY).problems


def test_expires_tomorrow_applies_today_still_applies(tmp_path: Path) -> None:
    found = load(tmp_path, waiver() + waiver("SEC-06", '"2026-11-25"'))
    assert [w.control for w in found.valid] == ["CHS-06", "SEC-06"]
    assert found.valid[0].expires == dt.date(2026, 11, 26) and not found.problems


def test_expired_yesterday_is_a_problem_naming_it(tmp_path: Path) -> None:
    found = load(tmp_path, waiver("CHS-06", "2026-11-24"))
    assert found.valid == () and [w.control for w in found.expired] == ["CHS-06"]
    (problem,) = found.problems
    assert problem.kind == "expired" and not found.malformed
    assert "waiver #1 for CHS-06" in problem.line and "expired on 2026-11-24" in problem.line
    assert "OPS-1234" in problem.line and "\n" not in problem.line


@pytest.mark.parametrize(("text", "expected"), [
    ("[[waiver]\ncontrol = 1", "not valid TOML"),
    (waiver(ticket="DROP"), "waiver #1 for CHS-06 lacks ticket"),
    (waiver(owner='"me"'), "unknown key(s) owner"),
    (waiver("XYZ-99"), "unknown control 'XYZ-99'"),
    (waiver(expires='"next week"'), "expires must be a date"),
    (waiver(justification='"  "'), "justification must be a non-empty string"),
    (waiver() + waiver(), "waiver #2 for CHS-06 is a second waiver for CHS-06"),
    ('[waivers]\ncontrol = "CHS-06"\n', "unknown top-level key(s) waivers"),
])
def test_malformed_says_which(tmp_path: Path, text: str, expected: str) -> None:
    found = load(tmp_path, text)
    assert found.malformed
    lines = [p.line for p in found.problems if p.kind == "malformed"]
    assert any(expected in line for line in lines), lines
    assert all("\n" not in line and str(tmp_path / "waivers.toml") in line for line in lines)


def test_malformed_entry_does_not_stop_the_valid_one(tmp_path: Path) -> None:
    found = load(tmp_path, waiver("SEC-06", ticket="DROP") + waiver("CHS-06"))
    assert [w.control for w in found.valid] == ["CHS-06"] and found.malformed


def test_missing_file_is_malformed(tmp_path: Path) -> None:
    found = load_waivers(tmp_path / "nope.toml", TODAY)
    assert found.malformed and "does not exist" in found.problems[0].line
