"""Docker secrets in the compose model: the value each `NAME_FILE` variable stands for.

The official database images (and many others) read NAME from the file that NAME_FILE names, and
compose mounts each of a service's secrets at its target (/run/secrets/<source> unless given) from
the file the top-level `secrets:` declares. SEC-01/02 judge that file's content under NAME, as they
would judge NAME itself. One secret is one value: the database's MARIADB_PASSWORD_FILE and the
app's MYSQL_PASSWORD_FILE naming the same secret are not a reuse, so each secret is judged under
one of its names (the one the profile lists, else the first service's).
Secrets declared another way (external, or from an environment variable) are not read here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackprobe.checks.healthchecks import services

_SUFFIX = "_FILE"
_MOUNTED_AT = "/run/secrets/"


@dataclass(frozen=True)
class SecretFile:
    names: tuple[str, ...]  # each NAME whose NAME_FILE names it, the first service's first
    source: str  # the secret's name in the compose model
    file: str  # the file compose mounts ("" when the secret is not declared with one)

    def name(self, known: Collection[str] = ()) -> str:
        """The name to judge it under: the first of `known` that names it, else its first name."""
        return next((n for n in self.names if n in known), self.names[0])


def _mounts(spec: Mapping[str, Any]) -> dict[str, str]:
    """path in the container -> secret, for a service's `secrets:`."""
    found: dict[str, str] = {}
    for entry in spec.get("secrets") or []:
        source = str(entry.get("source", "")) if isinstance(entry, Mapping) else str(entry)
        target = str(entry.get("target") or "") if isinstance(entry, Mapping) else ""
        target = target or source
        found[target if target.startswith("/") else _MOUNTED_AT + target] = source
    return found


def secret_files(model: Mapping[str, Any]) -> list[SecretFile]:
    """Every Docker secret some `NAME_FILE` of a service's environment names, once each, with
    its names in the model's order."""
    declared = model.get("secrets") or {}
    names: dict[str, list[str]] = {}
    for spec in services(model).values():
        mounts = _mounts(spec)
        for key, path in (spec.get("environment") or {}).items():
            source = mounts.get(str(path)) if str(key).endswith(_SUFFIX) and path is not None else None
            name = str(key)[:-len(_SUFFIX)]
            if source is not None and name not in names.setdefault(source, []):
                names[source].append(name)
    return [SecretFile(tuple(found), source, str((declared.get(source) or {}).get("file") or ""))
            for source, found in names.items()]


def secret_file_values(model: Mapping[str, Any], known: Collection[str] = ()) -> dict[str, str]:
    """NAME -> the content of its secret's file (trailing newlines dropped, as the images' entrypoints
    drop them), one NAME per secret (see SecretFile.name), for each file that can be read."""
    values: dict[str, str] = {}
    for secret in secret_files(model):
        try:
            values.setdefault(secret.name(known), Path(secret.file).read_text(errors="replace").rstrip("\r\n"))
        except OSError:  # not declared with a file, or not readable here: nothing to judge
            continue
    return values
