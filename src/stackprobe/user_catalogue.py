"""A user's own controls: a TOML file beside their profile (`[catalogue] extra = "controls.toml"`).

    [[control]]
    id = "ACME-01"
    title = "Invoices are archived nightly"
    why = "An auditor asks for any invoice of the last ten years."
    fix = "Enable the archive job (see ops/archive.md)."
    severity = "high"            # critical, high, medium or low
    suite = "acme"               # optional (default "custom"): how reports group it
    tags = ["ISO27001:A.5.33"]   # optional

Loaded by path, added to the catalogue of the process before collection, so a check marked
`@pytest.mark.control("ACME-01")` is reported like a built-in one (terminal, JUnit, results.json,
controls.html, the HDF export, `stackprobe controls`). A malformed file, an unknown key or an ID that
is already taken is one line naming the file.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, get_args

from stackprobe import catalogue
from stackprobe.catalogue import Control, Severity
from stackprobe.errors import StackprobeUsageError
from stackprobe.profile import Profile, load_profile

_REQUIRED = ("id", "title", "why", "fix", "severity")
_OPTIONAL = ("suite", "tags")
SEVERITIES: tuple[str, ...] = get_args(Severity)


def catalogue_path(profile: Profile) -> Path | None:
    """The profile's catalogue file (relative to the profile's directory), or None."""
    if not profile.catalogue.extra:
        return None
    given = Path(profile.catalogue.extra)
    return given if given.is_absolute() else Path(profile.source).parent / given


def _control(entry: Any, number: int, path: Path) -> Control:
    where = f"catalogue {path}: control #{number}"
    if not isinstance(entry, dict):
        raise StackprobeUsageError(f"{where} is not a table: write [[control]] tables")
    unknown = sorted(set(entry) - {*_REQUIRED, *_OPTIONAL})
    if unknown:
        raise StackprobeUsageError(f"{where}: unknown key {unknown[0]!r} (keys: {', '.join(_REQUIRED + _OPTIONAL)})")
    for key in _REQUIRED:
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise StackprobeUsageError(f"{where}: {key} missing or not a non-empty string")
    control_id = entry["id"].strip()
    if entry["severity"] not in SEVERITIES:
        raise StackprobeUsageError(f"{where} ({control_id}): severity {entry['severity']!r} is not one of "
                                   f"{', '.join(SEVERITIES)}")
    tags = entry.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise StackprobeUsageError(f"{where} ({control_id}): tags must be a list of strings")
    suite = entry.get("suite", "custom")
    if not isinstance(suite, str) or not suite:
        raise StackprobeUsageError(f"{where} ({control_id}): suite must be a non-empty string")
    return Control(control_id, suite, entry["title"], entry["why"], entry["fix"], entry["severity"], tuple(tags))


def load(path: Path) -> list[Control]:
    """The controls of a catalogue file; an ID taken twice in it, or by a built-in control, is an error."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StackprobeUsageError(f"catalogue {path} does not exist: fix [catalogue] extra in the profile") from None
    except (OSError, UnicodeDecodeError) as error:
        raise StackprobeUsageError(f"catalogue {path} cannot be read: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise StackprobeUsageError(f"catalogue {path} is not valid TOML: {error}") from None
    if set(data) - {"control"}:
        raise StackprobeUsageError(f"catalogue {path}: unknown table {sorted(set(data) - {'control'})[0]!r}; "
                                   "write [[control]] tables")
    entries = data.get("control", [])
    controls = [_control(entry, n, path) for n, entry in enumerate(entries if isinstance(entries, list) else [entries],
                                                                    start=1)]
    seen: set[str] = set()
    for control in controls:
        if control.id in catalogue.BUILT_IN_IDS:
            raise StackprobeUsageError(f"catalogue {path}: {control.id} is a built-in control; give yours another ID")
        if control.id in seen:
            raise StackprobeUsageError(f"catalogue {path}: {control.id} is defined twice")
        seen.add(control.id)
    return controls


def install(profile: Profile) -> Path | None:
    """Add the profile's catalogue to this process's catalogue; the file, if there is one."""
    path = catalogue_path(profile)
    if path is not None:
        try:
            catalogue.extend(load(path), str(path))
        except ValueError as error:  # an ID another catalogue file of this process took
            raise StackprobeUsageError(str(error)) from None
    return path


def install_for(profile_arg: Path | None) -> Path | None:
    """For commands outside a pytest session: --profile, else STACKPROBE_PROFILE, else ./stackprobe.toml."""
    import os

    from stackprobe.activation import default_profile

    given = profile_arg or (Path(os.environ["STACKPROBE_PROFILE"]) if os.environ.get("STACKPROBE_PROFILE") else None)
    path = given or default_profile(Path.cwd())
    return install(load_profile(path)) if path is not None else None
