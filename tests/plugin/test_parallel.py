"""--parallel: parts side by side, one worker each, one report (pytester; no Docker).

The suite below stands in for the real ones: its `target` and `fault_injector` fixtures replace
the plugin's (no stack starts), and each check logs which worker ran it. The part comes from the
`isolated` marker and the fixtures a check uses, never from its file's or suite's name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

CONFTEST = """
import json, os, secrets, time
from pathlib import Path

import pytest

from stackprobe.redact import REDACTOR

LOG = Path(os.environ["PARALLEL_LOG"])


@pytest.fixture(scope="session")
def target():
    value = "wk-" + secrets.token_hex(16)  # a secret only this worker knows
    REDACTOR.add(value, "GENERATED_PASSWORD")
    return {"copy": os.environ.get("PYTEST_XDIST_WORKER"), "secret": value}


@pytest.fixture(scope="session")
def fault_injector(target):
    return target


@pytest.fixture(autouse=True)
def _log(request):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "controller")
    with LOG.open("a") as out:
        out.write(json.dumps({"worker": worker, "test": request.node.name}) + "\\n")
    yield


def wait_for(path, seconds=60.0):
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared: the parts did not overlap"
        time.sleep(0.05)
"""

# Named so that a rule by file or suite name would put them in the wrong part.
TEST_CHAOS_LIKE = """
import os
import pytest
from pathlib import Path

from conftest import wait_for

SIGNAL = Path(os.environ["PARALLEL_LOG"]).with_name("shared-started")
pytestmark = pytest.mark.isolated


@pytest.mark.control("CHS-01")
def test_f1_waits_for_the_shared_part(fault_injector):
    wait_for(SIGNAL)  # in a serial run this would wait for a check that runs later


@pytest.mark.control("CHS-01")
def test_f2_second_in_its_part(fault_injector):
    pass


@pytest.mark.control("CHS-01")
def test_f3_fails_printing_its_secret(fault_injector):
    assert False, "the copy's password is " + fault_injector["secret"]
"""

TEST_READS = """
import os
import pytest
from pathlib import Path

SIGNAL = Path(os.environ["PARALLEL_LOG"]).with_name("shared-started")


@pytest.mark.control("HLT-01")
def test_s1_reads(target):
    SIGNAL.write_text("started")


@pytest.mark.control("HLT-01")
def test_s2_puts_back_what_it_breaks(fault_injector):  # an outage it undoes: the shared copy
    assert fault_injector["copy"]


@pytest.mark.control("HLT-01")
def test_s3_fails_printing_its_secret(target):
    assert False, "password=" + target["secret"]
"""

TEST_OWN = """
import pytest


@pytest.mark.control("ENV-01")
def test_o1_needs_no_copy():
    pass


@pytest.mark.control("ENV-01")
def test_o2_needs_no_copy_either(tmp_path):
    assert tmp_path.is_dir()
"""


def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("STACKPROBE_"):
            monkeypatch.delenv(name)


def _suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    _clean_environment(monkeypatch)
    log = pytester.path / "log" / "checks.jsonl"
    log.parent.mkdir()
    monkeypatch.setenv("PARALLEL_LOG", str(log))
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_chaos_reads=TEST_CHAOS_LIKE, test_deploy_like=TEST_READS, test_smoke_like=TEST_OWN)
    return log


def test_each_part_runs_on_one_worker_in_order_beside_the_others(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    log = _suite(pytester, monkeypatch)
    result = pytester.runpytest_subprocess("--parallel", "--report-dir=out", "-p", "no:cacheprovider", "-p",
                                           "no:randomly")
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == 1, output  # the two checks that fail on purpose
    ran = [json.loads(line) for line in log.read_text().splitlines()]
    workers: dict[str, list[str]] = {}
    for entry in ran:
        workers.setdefault(entry["worker"], []).append(entry["test"])
    parts = sorted(workers.values())
    assert parts == [
        ["test_f1_waits_for_the_shared_part", "test_f2_second_in_its_part", "test_f3_fails_printing_its_secret"],
        ["test_o1_needs_no_copy", "test_o2_needs_no_copy_either"],
        ["test_s1_reads", "test_s2_puts_back_what_it_breaks", "test_s3_fails_printing_its_secret"],
    ], workers
    assert "controller" not in workers

    (results,) = {p.resolve() for p in (pytester.path / "out").glob("*/results.json")}
    summary = json.loads(results.read_text())
    recorded = {tuple(p["parts"]): p for p in summary["run"]["parts"]}
    assert set(recorded) == {("isolated",), ("shared",), ("own",)}, summary["run"]["parts"]
    for part in recorded.values():
        assert part["duration_s"] > 0 and part["started_after_s"] >= 0, part
    statuses = {c["nodeid"].rsplit("::", 1)[-1]: c["status"]
                for control in summary["controls"].values() for c in control["checks"]}
    assert sorted(statuses.values()) == ["failed"] * 2 + ["passed"] * 6, statuses


def test_secrets_a_worker_generated_reach_no_output(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    _suite(pytester, monkeypatch)
    result = pytester.runpytest_subprocess("--parallel", "--report-dir=out", "-p", "no:cacheprovider", "-rfE")
    output = result.stdout.str() + result.stderr.str()
    assert "«redacted:GENERATED_PASSWORD»" in output, output
    assert "wk-" not in output.replace("«redacted", ""), output
    written = [p for p in (pytester.path / "out").rglob("*") if p.is_file()]
    assert any(p.name == "junit.xml" for p in written)
    for path in written:
        text = path.read_text(errors="replace")
        assert "wk-" not in text.replace("«redacted", ""), path


@pytest.mark.parametrize("extra, refusal", [
    (["--target", "live"], "--parallel needs --target ephemeral"),
    (["--fleet", "fleet.toml"], "--parallel and --fleet cannot be combined"),
])
def test_parallel_refuses_what_cannot_be_split(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                               extra: list[str], refusal: str) -> None:
    _suite(pytester, monkeypatch)
    pytester.makefile(".toml", fleet='[[hosts]]\nname = "a"\n')
    result = pytester.runpytest_subprocess("--parallel", *extra, "-p", "no:cacheprovider")
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output
    assert refusal in output, output
    assert len([line for line in output.splitlines() if refusal in line]) == 1, output


TEST_TWO_GROUPS = """
import os
import pytest
from pathlib import Path

from conftest import wait_for

HERE = Path(os.environ["PARALLEL_LOG"]).parent


@pytest.mark.isolated("crashes")
@pytest.mark.control("CHS-01")
def test_c1_waits_for_the_other_group(fault_injector):
    (HERE / "crashes-started").write_text(fault_injector["copy"])
    wait_for(HERE / "faults-started")  # one after the other on one copy, this would time out


@pytest.mark.isolated("faults")
@pytest.mark.control("CHS-02")
def test_g1_waits_for_the_first_group(fault_injector):
    (HERE / "faults-started").write_text(fault_injector["copy"])
    wait_for(HERE / "crashes-started")
"""


def test_two_groups_of_experiments_run_side_by_side_on_copies_of_their_own(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    log = _suite(pytester, monkeypatch)
    pytester.makepyfile(test_two_groups=TEST_TWO_GROUPS)
    result = pytester.runpytest_subprocess("test_two_groups.py", "test_smoke_like.py", "--parallel",
                                           "--report-dir=out", "-p", "no:cacheprovider", "-p", "no:randomly")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    copies = {name: (log.parent / f"{name}-started").read_text() for name in ("crashes", "faults")}
    assert len(set(copies.values())) == 2, copies  # two workers, so two copies
    (results,) = {p.resolve() for p in (pytester.path / "out").glob("*/results.json")}
    recorded = sorted(tuple(p["parts"]) for p in json.loads(results.read_text())["run"]["parts"])
    assert recorded == [("isolated:crashes",), ("isolated:faults",), ("own",)], recorded


def test_more_groups_than_copies_share_them_the_fewest_checks_together() -> None:
    from stackprobe.parallel import copies_of

    parts = {"a1": "isolated:big", "a2": "isolated:big", "a3": "isolated:big", "b1": "isolated:mid",
             "b2": "isolated:mid", "c1": "isolated", "s1": "shared", "o1": "own"}
    assert copies_of(parts, copies=2) == {"isolated:big": "isolated-copy-1", "isolated:mid": "isolated-copy-2",
                                          "isolated": "isolated-copy-2", "shared": "shared", "own": "own"}
    # never an isolated group on the shared copy, whatever the count
    assert copies_of({"x": "isolated:g", "s": "shared"}, copies=1) == {"isolated:g": "isolated-copy-1",
                                                                     "shared": "shared"}
