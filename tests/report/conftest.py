from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
SRC = HERE.parents[1] / "src"
sys.path.insert(0, str(HERE))


@pytest.fixture(autouse=True)
def _this_checkout_in_subprocesses(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytester and CLI subprocesses import this checkout's stackprobe, whatever the cwd."""
    paths = [str(SRC), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))


@pytest.fixture
def artifacts_dir(tmp_path: Path) -> Path:
    """Where screenshots and PDFs are kept for a human to look at: $STACKPROBE_TEST_ARTIFACTS
    (a stable place; pytest prunes old temporary directories) or the test's tmp_path."""
    chosen = os.environ.get("STACKPROBE_TEST_ARTIFACTS")
    if not chosen:
        return tmp_path
    path = Path(chosen).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path
