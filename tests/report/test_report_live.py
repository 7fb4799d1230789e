"""The report of a real suite run against a running copy of the reference stack (live target):
the header names the images as tested, every control shows once with its results.json status,
no secret value of the stack is in any artifact, and the manifest holds."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from pageparse import Page
from support.stacks import REFERENCE_PROFILE, SUITES, TestStack

from stackprobe.checks.secrets import SecretPolicy
from stackprobe.report.manifest import verify_manifest


@pytest.mark.needs_docker
def test_report_of_a_live_smoke_run(shared_stack: TestStack, tmp_path: Path) -> None:
    run = shared_stack.run_suite(f"{SUITES}/smoke/test_containers.py", f"{SUITES}/smoke/test_health.py",
                                 report_dir=tmp_path)
    assert run.statuses, run.tail()
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir() and not p.is_symlink()]
    page_text = (run_dir / "controls.html").read_text()
    page = Page(page_text)
    assert dict(page.controls) == run.statuses and len(page.controls) == len(run.statuses)
    header = run.results["run"]
    images = {k: v for k, v in header["images"].items() if not k.startswith("_")}
    assert set(images) == {"mysql", "redis", "backend"}, header["images"]
    for service in images.values():
        assert service["id"].startswith("sha256:") and service["id"] in page.text
    assert header["profile"]["sha256"] == hashlib.sha256(REFERENCE_PROFILE.read_bytes()).hexdigest()
    assert header["profile"]["sha256"] in page.text and header["git_revision"] in page.text
    assert header["hosts"]["runner"] and header["hosts"]["docker_host"] in page.text
    secrets = [v for k, v in shared_stack.values.items() if SecretPolicy().is_secret_name(k, v) and len(v) >= 8]
    assert secrets
    for path in [p for p in tmp_path.rglob("*") if p.is_file()]:
        content = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in content, f"a secret value is in {path}"
    assert verify_manifest(run_dir)[1] == []
    history = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert [r["run"] for r in history] == [run_dir.name]
