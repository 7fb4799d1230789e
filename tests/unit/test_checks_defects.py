"""The config defect matrix: on each seeded defect exactly the listed controls fail.

Every directory under tests/defects/config/ holds an `env` file and/or a
`compose.override.yml` and a `defect.toml` (support.defect_spec; `mode`: the env file's).
All file checks run on it, with no Docker engine (`docker compose config` only).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support.defect_spec import Defect, cases, load, messages_problems

from stackprobe.checks import ConfigInputs, compare_parsers, policies, run_config_checks
from stackprobe.profile import Profile

REPO = Path(__file__).resolve().parents[2]
DEFECTS = REPO / "tests" / "defects" / "config"
GOOD_ENV = DEFECTS / "good" / "env"
CASES = cases("config")


def _inputs(case: Path, tmp_path: Path, spec: Defect) -> ConfigInputs:
    env = tmp_path / ".env"
    source = case / "env"
    shutil.copyfile(source if source.is_file() else GOOD_ENV, env)
    env.chmod(int(spec.get("mode", "0600"), 8))
    files = [REPO / "docker-compose.yml"]
    if (case / "compose.override.yml").is_file():
        files.append(case / "compose.override.yml")
    return ConfigInputs(env, REPO / ".env.example", files, project_dir=REPO)


def test_every_defect_is_described() -> None:
    assert len(CASES) >= 13
    for case in CASES:
        load(case)  # the schema: description, fails, messages, mode
        assert (case / "env").is_file() or (case / "compose.override.yml").is_file() or (
            case.name == "good"
        ), case.name


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_exactly_the_listed_controls_fail(case: Path, tmp_path: Path) -> None:
    spec = load(case)
    findings = run_config_checks(_inputs(case, tmp_path, spec), policies(Profile()))
    failing = {finding.control for finding in findings}
    shown = "\n".join(str(finding) for finding in findings)
    assert failing == set(spec.fails), shown
    assert not messages_problems(spec, [finding.message for finding in findings]), shown


@pytest.mark.parametrize(
    "case", [c for c in CASES if (c / "env").is_file()], ids=lambda c: c.name
)
def test_fixture_env_files_read_the_same_in_python_dotenv_and_compose(case: Path) -> None:
    assert compare_parsers(case / "env") == []
