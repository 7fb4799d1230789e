"""One schema for every seeded defect (tests/defects/<suite>/<name>/defect.toml), read strictly
like the profile: an unknown or misspelt key is an error naming the key, the file and the
closest valid key, and a value of the wrong type is one too.

Every defect has:

* `description`: what is wrong and how the suite sees it;
* `fails`: the controls that must fail, and no other (catalogue IDs);
* `messages`: texts that must each occur in the failing checks' messages (they name the defect);
* `not_messages` (optional): texts that must occur in none of them (what the defect leaves intact);
* `every_message` (optional, default false): also each failing message holds one of `messages`
  (no failure unrelated to the defect).

and the keys of its suite's way of seeding it (SUITE_KEYS). `messages_problems()` is the one
matcher every suite's test uses.

Converting an older defect.toml (the formats before this one):
`title` -> `description`; `expect_message = "x"` -> `messages = ["x"]`; `names` and `mentions`
-> `messages` (both lists, concatenated); `not_names` -> `not_messages`. The config defects'
`names` meant "every failing message names one of these": add `every_message = true` there.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackprobe.catalogue import CONTROLS

REPO = Path(__file__).resolve().parents[2]
DEFECTS_DIR = REPO / "tests" / "defects"
SPEC = "defect.toml"

COMMON_KEYS: dict[str, type | tuple[type, ...]] = {
    "description": str, "fails": list, "messages": list, "not_messages": list, "every_message": bool,
}
# How each suite's tests seed a defect: the keys they read beyond the common ones.
SUITE_KEYS: dict[str, dict[str, type | tuple[type, ...]]] = {
    # [[edit]] file/old/new of a copy of stack/scripts/<file>; [profile] = [backup] keys; `errors`:
    # controls every check of which must ERROR (the command breaks what every check relies on),
    # `messages` then naming the defect in those errors
    "backup": {"edit": list, "profile": dict, "errors": list, "batch": int},
    # an override recreating `services`, in batches of defects that share a stack; [profile] =
    # [chaos] keys the batch's run sets on top of the test's own
    "chaos": {"services": list, "override": str, "batch": int, "profile": dict},
    # the env file is the directory's `env` with this mode
    "config": {"mode": str},
    # a compose override (and changes.patch for Dockerfiles) breaking one setting of `service`;
    # each of `messages` is in every finding of that service
    "hardening": {"service": str},
    "config_in_effect": {"services": list, "suite_sees_override": bool, "build_image": bool,
                         "image_scan": bool},
    # changes.patch against `original`; `catches` the checks that fail; `mount` for a migration
    "deploy": {"original": str, "catches": list, "mount": str},
    "logs": {"recreate": list, "profile": dict, "compose_visible": bool},
    # applied to one shared copy in batches (`batch`) of defects whose controls are disjoint
    "smoke": {"services": list, "override": str, "wait": bool, "settle_s": (int, float),
              "commands": list, "undo": list, "may_fail": list, "profile_extra": str,
              "observe_s": (int, float), "batch": int},
}
CONTROL_IDS = frozenset(control.id for control in CONTROLS)
# The keys of the formats before this one, and what replaced them (see the module's docstring).
LEGACY_KEYS = {"title": "description", "expect_message": "messages", "names": "messages",
               "mentions": "messages", "not_names": "not_messages"}


class DefectSpecError(ValueError):
    """A defect.toml that does not follow the schema: one line naming the file and the fix."""


@dataclass(frozen=True)
class Defect:
    """One seeded defect: the common keys, and its suite's own in `extra`."""

    path: Path  # the defect's directory
    suite: str
    description: str
    fails: tuple[str, ...]
    messages: tuple[str, ...] = ()
    not_messages: tuple[str, ...] = ()
    every_message: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name

    def get(self, key: str, default: Any = None) -> Any:
        """A suite key's value (`default` when the defect leaves it out)."""
        if key not in SUITE_KEYS[self.suite]:
            valid = ", ".join(sorted(SUITE_KEYS[self.suite]))
            raise KeyError(f"{key!r} is not a key of {self.suite} defects ({valid})")
        return self.extra.get(key, default)

    def __getitem__(self, key: str) -> Any:
        if key not in self.extra:
            raise DefectSpecError(f"{self.path / SPEC}: needs key {key!r} ({self.suite} defects seed with it)")
        return self.extra[key]


def _type_name(expected: type | tuple[type, ...]) -> str:
    kinds = expected if isinstance(expected, tuple) else (expected,)
    return " or ".join(kind.__name__ for kind in kinds)


def load(case: Path, suite: str | None = None) -> Defect:
    """The defect in directory `case` (its suite is its parent directory's name)."""
    suite = suite or case.parent.name
    file = case / SPEC
    if suite not in SUITE_KEYS:
        raise DefectSpecError(f"{file}: no defect schema for suite {suite!r}; add it to SUITE_KEYS")
    try:
        data = tomllib.loads(file.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise DefectSpecError(f"{file}: cannot read it ({error})") from None
    known = {**COMMON_KEYS, **SUITE_KEYS[suite]}
    for key, value in data.items():
        if key not in known and key in LEGACY_KEYS:
            raise DefectSpecError(f"{file}: key {key!r} is the old defect format: use {LEGACY_KEYS[key]!r} "
                                  "(conversion rules: tests/support/defect_spec.py)")
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise DefectSpecError(f"{file}: unknown key {key!r}{hint}; valid keys: {', '.join(sorted(known))}")
        expected = known[key]
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise DefectSpecError(f"{file}: key {key} must be {_type_name(expected)}, got {type(value).__name__}")
    if not str(data.get("description", "")).strip():
        raise DefectSpecError(f"{file}: key 'description' is required: say what is wrong and how the suite sees it")
    if "fails" not in data:
        raise DefectSpecError(f"{file}: key 'fails' is required: the controls that must fail ([] for none)")
    for key in ("fails", "messages", "not_messages", "errors"):
        if not all(isinstance(item, str) for item in data.get(key, [])):
            raise DefectSpecError(f"{file}: key {key} must be a list of strings")
    for key in ("fails", "errors"):
        unknown = [c for c in data.get(key, []) if c not in CONTROL_IDS]
        if unknown:
            raise DefectSpecError(f"{file}: {key} names {unknown}, not controls of the catalogue "
                                  "(pytest --list-controls)")
    return Defect(
        path=case, suite=suite, description=str(data["description"]), fails=tuple(data["fails"]),
        messages=tuple(data.get("messages", ())), not_messages=tuple(data.get("not_messages", ())),
        every_message=bool(data.get("every_message", False)),
        extra={k: v for k, v in data.items() if k in SUITE_KEYS[suite]},
    )


def cases(suite: str) -> list[Path]:
    """The defect directories of one suite, by name (none while the suite has no directory)."""
    directory = DEFECTS_DIR / suite
    return sorted(p for p in directory.iterdir() if (p / SPEC).is_file()) if directory.is_dir() else []


def load_suite(suite: str) -> list[Defect]:
    return [load(case, suite) for case in cases(suite)]


def load_all() -> list[Defect]:
    return [defect for suite in SUITE_KEYS for defect in load_suite(suite)]


def batches(specs: Iterable[Defect]) -> dict[int, list[Defect]]:
    """Defects that share one suite run, by their `batch` number in order. Sharing a run needs
    each control to be one defect's (batch_owners), so a failure says whose defect it is."""
    grouped: dict[int, list[Defect]] = {}
    for spec in specs:
        grouped.setdefault(spec["batch"], []).append(spec)
    return dict(sorted(grouped.items()))


def batch_ids(grouped: Mapping[int, Sequence[Defect]]) -> list[str]:
    return ["+".join(spec.name for spec in specs) for specs in grouped.values()]


def batch_owners(specs: Sequence[Defect], *more: str) -> dict[str, str]:
    """control -> the one defect of a batch that fails it (or, with `more`, claims it under those
    keys too); AssertionError naming a control two defects claim: one run could not tell them apart."""
    owners: dict[str, str] = {}
    for spec in specs:
        for control in (*spec.fails, *(c for key in more for c in spec.get(key, []))):
            if control in owners:
                raise AssertionError(f"{control} is both {owners[control]}'s and {spec.name}'s: "
                                     "give one of them another batch")
            owners[control] = spec.name
    return owners


def messages_problems(defect: Defect, failing: Iterable[str]) -> list[str]:
    """What the failing checks' messages get wrong against the defect's `messages`,
    `not_messages` and `every_message`; empty when they name the defect as it says."""
    seen: Sequence[str] = list(failing)
    problems = [f"no failing message contains {text!r}" for text in defect.messages
                if not any(text in message for message in seen)]
    problems += [f"a failing message contains {text!r}, which the defect leaves intact"
                 for text in defect.not_messages if any(text in message for message in seen)]
    if defect.every_message:
        problems += [f"failing message names none of {list(defect.messages)}: {message!r}"
                     for message in seen if not any(text in message for text in defect.messages)]
    return problems
