"""Where findings point: the line binding an env-file key, and the line of a compose key in the
last file that sets it (compose merges files in order)."""

from __future__ import annotations

from pathlib import Path

from stackprobe.checks.compose_positions import key_location
from stackprobe.checks.findings import Finding, Location, at_env_keys


def test_compose_key_in_the_last_file_that_sets_it(tmp_path: Path) -> None:
    base = tmp_path / "compose.yml"
    base.write_text("services:\n  db:\n    # pinned\n    image: mysql:8.0\n  app:\n    build: .\n")
    override = tmp_path / "override.yml"
    override.write_text("services:\n  db:\n    environment:\n      A: b\n    image: mysql\n")
    assert key_location([base], ("services", "db", "image")) == Location(str(base), 4)
    assert key_location([base, override], ("services", "db", "image")) == Location(str(override), 5)
    assert key_location([base, override], ("services", "app", "build")) == Location(str(base), 6)
    assert key_location([base, override], ("services", "app", "image")) is None
    broken = tmp_path / "broken.yml"
    broken.write_text("services: [\n")
    assert key_location([base, broken], ("services", "db", "image")) == Location(str(base), 4)


def test_env_key_findings_get_the_binding_line() -> None:
    found = [Finding("ENV-02", "MYSQL_PASWORD", "unknown key"), Finding("SEC-02", "A+B", "reused"),
             Finding("SEC-04", "x.yml:3", "fallback", Location("x.yml", 3))]
    located = at_env_keys(found, "/srv/.env", {"MYSQL_PASWORD": 9, "A": 1})
    assert [f.location for f in located] == [Location("/srv/.env", 9), None, Location("x.yml", 3)]
    assert located[0].located() == {"control": "ENV-02", "file": "/srv/.env", "line": 9,
                                    "message": "ENV-02 unknown key"}
    assert located[1].located() is None
