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
