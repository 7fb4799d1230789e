"""Every catalogue control has a check and a seeded defect that fails it; every defect.toml
follows the one schema (support.defect_spec), read strictly like the profile."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.defect_spec import DEFECTS_DIR, SPEC, SUITE_KEYS, DefectSpecError, load, load_all, messages_problems
from support.stacks import REPO, SUITES_DIR

from stackprobe.catalogue import CONTROLS

# Controls no defect.toml fails yet, and how they are proven instead. A control leaves this
# list when a defect for it is added (the test below fails until it does).
WITHOUT_DEFECT: dict[str, str] = {}


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """nodeid -> controls of every check pytest collects under SUITES_DIR."""
    out = tmp_path_factory.mktemp("controls") / "controls.json"
    env = {**os.environ, "STACKPROBE_CONTROLS_OUT": str(out),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "tests"), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "pytest", str(SUITES_DIR), "--collect-only", "-q",
                           "--report-dir=none", "-p", "support.control_collector"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    found: dict[str, list[str]] = json.loads(out.read_text())
    assert found, "no check collected under the suites directory"
    return found


def test_every_control_has_a_check(collected: dict[str, list[str]]) -> None:
    checked = {control for controls in collected.values() for control in controls}
    assert [c.id for c in CONTROLS if c.id not in checked] == []
    unmarked = [nodeid for nodeid, controls in collected.items() if len(controls) != 1]
    assert unmarked == [], "every check proves exactly one control"


def test_every_control_has_a_seeded_defect_that_fails_it() -> None:
    failed = {control for defect in load_all() for control in defect.fails}
    missing = sorted(c.id for c in CONTROLS if c.id not in failed)
    assert missing == sorted(WITHOUT_DEFECT), (
        f"controls without a seeded defect: {missing}; add a defect under tests/defects/<suite>/ "
        f"(or, for now, to WITHOUT_DEFECT with how the control is proven)")


def test_every_defect_directory_is_a_suite_with_a_schema() -> None:
    suites = sorted(p.name for p in DEFECTS_DIR.iterdir() if p.is_dir())
    assert [s for s in suites if s not in SUITE_KEYS] == [], "add the suite's keys to defect_spec.SUITE_KEYS"
    assert len(load_all()) >= 70  # 70 when this test was written


def _write(tmp_path: Path, text: str, suite: str = "smoke") -> Path:
    case = tmp_path / suite / "a_defect"
    case.mkdir(parents=True)
    (case / SPEC).write_text(text)
    return case


def test_a_misspelt_key_names_itself_the_file_and_the_closest_key(tmp_path: Path) -> None:
    case = _write(tmp_path, 'description = "x"\nfails = ["CTR-02"]\nmesages = ["y"]\n')
    with pytest.raises(DefectSpecError) as caught:
        load(case)
    message = str(caught.value)
    assert "unknown key 'mesages'" in message and "did you mean 'messages'?" in message
    assert str(case / SPEC) in message and "\n" not in message


def test_a_key_of_the_old_formats_names_its_replacement(tmp_path: Path) -> None:
    with pytest.raises(DefectSpecError, match="key 'mentions' is the old defect format: use 'messages'"):
        load(_write(tmp_path, 'description = "x"\nfails = ["SEC-01"]\nmentions = ["y"]\n', suite="config"))


def test_a_key_of_another_suite_is_unknown_here(tmp_path: Path) -> None:
    with pytest.raises(DefectSpecError, match="unknown key 'batch'"):
        load(_write(tmp_path, 'description = "x"\nfails = ["LOG-01"]\nbatch = 1\n', suite="logs"))


@pytest.mark.parametrize(("text", "words"), [
    ('fails = ["CTR-02"]\n', "'description' is required"),
    ('description = "x"\n', "'fails' is required"),
    ('description = "x"\nfails = ["CTR-99"]\n', "not controls of the catalogue"),
    ('description = "x"\nfails = ["CTR-02"]\nmessages = "y"\n', "messages must be list, got str"),
    ('description = "x"\nfails = ["CTR-02"]\nwait = 1\n', "wait must be bool, got int"),
    ('description = "x"\nfails = ["CTR-02"]\nsettle_s = true\n', "settle_s must be int or float, got bool"),
    ('description = "x"\nfails = ["CTR-02"\n', "cannot read it"),
])
def test_wrong_values_are_one_line_errors(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(DefectSpecError) as caught:
        load(_write(tmp_path, text))
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_messages_are_matched_one_way_for_every_suite(tmp_path: Path) -> None:
    defect = load(_write(tmp_path, 'description = "x"\nfails = ["CTR-02"]\nmessages = ["redis", "no-op"]\n'
                                   'not_messages = ["mysql"]\n'))
    assert messages_problems(defect, ["redis healthcheck is a no-op"]) == []
    assert messages_problems(defect, ["redis is down"]) == ["no failing message contains 'no-op'"]
    assert messages_problems(defect, ["redis no-op", "mysql too"]) == [
        "a failing message contains 'mysql', which the defect leaves intact"]
    strict = load(_write(tmp_path / "b", 'description = "x"\nfails = ["CTR-02"]\nmessages = ["redis"]\n'
                                         "every_message = true\n"))
    assert messages_problems(strict, ["redis down", "backend down"]) == [
        "failing message names none of ['redis']: 'backend down'"]
