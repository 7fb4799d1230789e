"""Mounted into a defect's backend container at /defect with PYTHONPATH=/defect.

Python imports `sitecustomize` in every process of the container (the supervisor, each
uvicorn worker, alembic), so the defect's `defect_patch.py` (mounted next to this file) can
change one function of the reference backend after its module is imported. The backend image
itself carries no defect switches.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
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


with contextlib.suppress(ModuleNotFoundError):
    import defect_patch  # noqa: F401  (the defect's own patch, if mounted)
