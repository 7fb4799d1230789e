"""Mounted into a defect's backend container at /defect with PYTHONPATH=/defect.

Python imports `sitecustomize` in every process of the container (the supervisor, each
uvicorn worker, alembic), so the defect's `defect_patch.py` (mounted next to this file) can
change one function of the reference backend after its module is imported. Defects that share
one backend in a batch are mounted as `defect_patch_<name>.py` each, and all are loaded. The
backend image itself carries no defect switches.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import pkgutil
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs `patch(module)` right after `name` is first executed."""

    def __init__(self, name: str, patch: Callable[[ModuleType], None]) -> None:
        self.name, self.patch = name, patch

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            execute(module)
            self.patch(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def after_import(name: str, patch: Callable[[ModuleType], None]) -> None:
    sys.meta_path.insert(0, _AfterImport(name, patch))


def await_unbounded(health: ModuleType, name: str) -> None:
    """Make the reference health endpoint (app.health) await probe `name` for as long as it
    takes (no wait_for); the other probes keep their bound."""
    import asyncio

    bounded = health._run

    async def run(probe_name: str, probe: Callable[[], None]) -> tuple[str, str | None]:
        if probe_name != name:
            return await bounded(probe_name, probe)  # type: ignore[no-any-return]
        try:
            await asyncio.to_thread(probe)
            return probe_name, None
        except Exception as error:
            return probe_name, f"{type(error).__name__}: {error}"

    health._run = run  # type: ignore[attr-defined]


def _patches() -> list[str]:
    """The patches mounted next to this file: `defect_patch`, or one `defect_patch_<name>` per
    defect of a batch. Two patches of one module both apply (each `after_import` wraps the last)."""
    here = os.path.dirname(os.path.abspath(__file__))
    return sorted(found.name for found in pkgutil.iter_modules([here]) if found.name.startswith("defect_patch"))


for _patch in _patches():
    importlib.import_module(_patch)
