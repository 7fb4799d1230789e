"""A pytest plugin for a `--collect-only` run of the suites: writes every collected check's
control marks as JSON ({nodeid: [control, ...]}) to the file STACKPROBE_CONTROLS_OUT names.
Collected by pytest itself, so parametrised marks (`pytest.param(..., marks=control(...))`)
count like decorators."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest


def pytest_collection_finish(session: pytest.Session) -> None:
    found = {item.nodeid: [str(mark.args[0]) for mark in item.iter_markers("control")] for item in session.items}
    Path(os.environ["STACKPROBE_CONTROLS_OUT"]).write_text(json.dumps(found))
