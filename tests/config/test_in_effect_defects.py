"""The config suite "in effect": it passes on the reference stack, and on each seeded defect
of tests/defects/config_in_effect/ exactly the listed controls fail.

Each defect is a compose override applied to a copy of the reference stack (`shared_stack`,
only the changed service recreated and put back afterwards); the suite then runs against the
copy as a live target, usually *without* the override among its compose files, so the file
checks pass and only what the containers actually have can fail it. `defect.toml`
(support.defect_spec): description, fails, messages, and services (recreated),
suite_sees_override, build_image (the test builds a `.env`-carrying backend image), image_scan
(run the layer scan; off elsewhere, see below).

The layer scan (`docker image save` of every service image, about 5-15 s) runs on the
reference stack and on the baked-in `.env` defect; the other defects change no image, so
they run with `[config] image_scan = false` to keep the matrix inside its time budget.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import docker
import pytest
from support.defect_spec import cases, load, messages_problems
from support.stacks import REFERENCE_PROFILE, SUITES, SuiteRun, TestStack

from stackprobe.catalogue import CONTROLS
from stackprobe.checks.secrets import SecretPolicy

CASES = cases("config_in_effect")
CONFIG_CONTROLS = {c.id for c in CONTROLS if c.suite == "config"}
BACKEND_IMAGE = "stackprobe/ai-assistant-backend:local"


def test_every_in_effect_defect_is_described() -> None:
    assert len(CASES) >= 6
    for case in CASES:
        spec = load(case)
        assert spec["services"], case.name
        assert set(spec.fails) <= CONFIG_CONTROLS and spec.fails, case.name
        assert isinstance(spec["suite_sees_override"], bool), case.name  # required here
        assert (case / "compose.override.yml").is_file(), case.name


@pytest.fixture(scope="module")
def no_layer_scan_profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference profile with the layer scan off (for defects that change no image)."""
    profile = tmp_path_factory.mktemp("profile") / "reference-no-layer-scan.toml"
    profile.write_text(REFERENCE_PROFILE.read_text() + "\n[config]\nimage_scan = false\n")
    return profile


@contextmanager
def dotenv_image(stack: TestStack, tmp_path: Path) -> Iterator[str]:
    """The reference backend image plus `COPY .env /app/.env` (the copy's real env file),
    under a unique tag; removed afterwards."""
    context = tmp_path / "image"
    context.mkdir()
    shutil.copyfile(stack.env_file, context / ".env")
    (context / "Dockerfile").write_text(f"FROM {BACKEND_IMAGE}\nCOPY .env /app/.env\n")
    tag = f"stackprobe-test/backend-dotenv:{secrets.token_hex(6)}"
    client = docker.from_env(timeout=120)
    try:
        client.images.build(path=str(context), tag=tag, rm=True, forcerm=True)
        yield tag
    finally:
        with suppress(docker.errors.ImageNotFound):
            client.images.remove(tag, force=True)
        client.close()


def _findings(run: SuiteRun, control: str) -> list[str]:
    checks = run.results.get("controls", {}).get(control, {}).get("checks", [])
    found = [str(f) for check in checks for f in check.get("evidence", {}).get("findings", [])]
    return found or [check.get("message", "") for check in checks]


def _assert_no_secret_in_reports(stack: TestStack, report_dir: Path) -> None:
    secret = {k: v for k, v in stack.values.items() if SecretPolicy().is_secret_name(k, v) and len(v) >= 6}
    assert secret
    for path in report_dir.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            leaked = [k for k, v in secret.items() if v in text]
            assert not leaked, f"{path} contains the value of {leaked}"


@pytest.mark.needs_docker
def test_config_suite_passes_on_the_reference_stack(shared_stack: TestStack, tmp_path: Path) -> None:
    run = shared_stack.run_suite(f"{SUITES}/config", report_dir=tmp_path)
    assert run.returncode == 0, run.tail()
    assert set(run.statuses) == CONFIG_CONTROLS and set(run.statuses.values()) == {"passed"}, run.statuses
    nodeids = [c["nodeid"] for control in run.results["controls"].values() for c in control["checks"]]
    assert sum("test_config_in_effect.py" in n for n in nodeids) == 8, nodeids
    images = next(c["evidence"]["images"] for c in run.results["controls"]["SEC-07"]["checks"]
              if "images" in c["evidence"])
    assert {tuple(i["services"]) for i in images} == {("backend",), ("mysql",), ("redis",)}
    assert all(i["layer_scan"]["complete"] and i["layer_scan"]["layers"] + i["layer_scan"]["layers_shared"] > 0
               for i in images), images
    _assert_no_secret_in_reports(shared_stack, tmp_path)


@pytest.mark.needs_docker
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_in_effect_defect_fails_exactly_its_controls(
    case: Path, shared_stack: TestStack, tmp_path: Path, no_layer_scan_profile: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = load(case)
    override = case / "compose.override.yml"
    with ExitStack() as undo:
        if spec.get("build_image"):
            monkeypatch.setenv("DEFECT_IMAGE", undo.enter_context(dotenv_image(shared_stack, tmp_path)))
        # No wait for health: the config suite reads configuration, which a started container
        # already has; the reset afterwards waits, so the next test gets a healthy stack.
        undo.enter_context(shared_stack.defect(override, *spec["services"], wait=False))
        run = shared_stack.run_suite(
            f"{SUITES}/config", report_dir=tmp_path / "reports",
            overrides=[override] if spec["suite_sees_override"] else [],
            profile=REFERENCE_PROFILE if spec.get("image_scan") else no_layer_scan_profile,
        )
    assert set(run.statuses) == CONFIG_CONTROLS, (run.statuses, run.tail())
    assert run.failed() == set(spec.fails), (run.statuses, run.tail())
    assert run.returncode == 1
    for control in spec.fails:
        assert _findings(run, control), (control, run.tail())
    findings = [finding for control in spec.fails for finding in _findings(run, control)]
    assert not messages_problems(spec, findings), (messages_problems(spec, findings), findings)
    _assert_no_secret_in_reports(shared_stack, tmp_path / "reports")
