"""The health contract reads any stack's health endpoint as the profile describes it: the
reference shape, nested component objects, per-dependency paths and plain text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stackprobe.errors import StackprobeUsageError
from stackprobe.health import MISSING, HealthContract
from stackprobe.jsonpath import at_path
from stackprobe.profile import HealthSection, load_profile

REFERENCE = {"status": "healthy", "timestamp": "2026-12-06T10:00:00+00:00",
             "services": {"database": "healthy", "redis": "healthy", "vector_store": "healthy"}}
# the runbook's real project: components with objects, another status value, a naive timestamp
NESTED = {"status": "ok", "timestamp": "2026-12-06T10:00:00",
          "components": {"database": {"status": "healthy"}, "cache": {"status": "down"}}}
NESTED_SECTION = HealthSection(required_fields=["status", "components.database.status"], healthy_value="healthy",
                               status_field="", dependencies=["database", "cache"],
                               dependencies_field="components", dependency_status_field="status")


def test_the_reference_contract_reads_the_reference_answer() -> None:
    contract = HealthContract(HealthSection())
    reading = contract.read(200, json.dumps(REFERENCE), "application/json")
    assert contract.healthy(reading) and contract.missing_fields(reading) == []
    assert contract.unhealthy_dependencies(reading) == {}
    assert reading.timestamp == REFERENCE["timestamp"]


def test_nested_components_are_read_where_the_profile_says() -> None:
    contract = HealthContract(NESTED_SECTION)
    reading = contract.read(200, json.dumps(NESTED), "application/json")
    assert contract.healthy(reading)  # no overall status field: the HTTP status decides
    assert contract.missing_fields(reading) == []
    assert contract.unhealthy_dependencies(reading) == {"cache": "down"}
    assert contract.dependency_path("cache") == "components.cache.status"
    down = contract.read(503, json.dumps(NESTED), "application/json")
    assert contract.reports_down(down, "cache") and not contract.reports_down(down, "database")
    # the reference reader would have found nothing of it
    reference = HealthContract(HealthSection()).read(200, json.dumps(NESTED), "application/json")
    assert set(HealthContract(HealthSection()).unhealthy_dependencies(reference).values()) == {MISSING}


@pytest.mark.parametrize(("fine", "down", "says"), [("up", "down", "up"), (True, False, "true"), (1, 0, "1")])
def test_dependencies_with_their_own_healthy_value(fine: object, down: object, says: str) -> None:
    section = HealthSection(status_field="status", healthy_value="ok", dependency_healthy_value=says,
                            dependencies=["db", "cache"], dependencies_field="checks")
    contract = HealthContract(section)
    reading = contract.read(200, json.dumps({"status": "OK", "checks": {"db": fine, "cache": down}}))
    assert contract.healthy(reading)  # the overall status is judged by healthy_value, case aside
    assert contract.unhealthy_dependencies(reading) == {"cache": down}
    outage = contract.read(503, json.dumps({"status": "degraded", "checks": {"db": fine, "cache": down}}))
    assert contract.reports_down(outage, "cache") and not contract.reports_down(outage, "db")
    assert f"(each = {says!r})" in contract.describe()
    # without it, a dependency is judged by the overall value: "ok" is neither "up" nor true
    same = HealthContract(HealthSection(status_field="status", healthy_value="ok", dependencies=["db"],
                                        dependencies_field="checks"))
    assert same.unhealthy_dependencies(same.read(200, json.dumps({"status": "ok", "checks": {"db": fine}})))
    assert "each =" not in same.describe()


def test_a_dependency_at_its_own_path_and_missing_fields_are_named() -> None:
    section = HealthSection(dependencies=["db"], dependency_paths={"db": "checks.0.state"}, required_fields=["uptime"])
    contract = HealthContract(section)
    reading = contract.read(200, json.dumps({"status": "healthy", "checks": [{"state": "healthy"}]}))
    assert reading.dependencies == {"db": "healthy"}
    assert contract.missing_fields(reading) == ["uptime"]


def test_plain_text_health() -> None:
    contract = HealthContract(HealthSection(format="text", text_healthy="OK"))
    assert contract.healthy(contract.read(200, "OK\n", "text/plain"))
    assert not contract.healthy(contract.read(200, "DEGRADED", "text/plain"))
    assert contract.reports_down(contract.read(500, "ERR", "text/plain"), "database")
    assert not contract.reports_down(contract.read(0, ""), "database")  # nothing answered: nothing said
    assert contract.describe() == "plain text 'OK' ([health] format = \"text\")"


def test_text_where_json_was_promised_is_one_line_with_the_fix() -> None:
    reading = HealthContract(HealthSection()).read(200, "OK", "text/plain; charset=utf-8")
    assert reading.problem.startswith("health answered text/plain that is not JSON ('OK')")
    assert 'set [health] format = "text"' in reading.problem and "\n" not in reading.problem
    assert not HealthContract(HealthSection()).healthy(reading)


def test_at_path() -> None:
    assert at_path({"a": {"b": [1, {"c": 2}]}}, "a.b.1.c") == (True, 2)
    assert at_path({"a": {}}, "a.b") == (False, None)


def test_profile_rejects_an_unknown_format_and_paths_of_undeclared_dependencies(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('[health]\nformat = "xml"\n')
    with pytest.raises(StackprobeUsageError, match=r'health.format = \'xml\' must be "json" or "text"'):
        load_profile(path)
    path.write_text('[health]\ndependency_paths = {nosuch = "a.b"}\n')
    with pytest.raises(StackprobeUsageError, match=r"health.dependency_paths names \['nosuch'\]"):
        load_profile(path)
