"""Backend defects as code patches: a defect's `defect_patch.py` changes one function of the real
reference backend after its module is imported (loaded by tests/defects/smoke/_patch/sitecustomize.py).

`tests/defects/smoke/backend-patch.yml` mounts one defect's patch (DEFECT_DIR); `override()`
writes one override that mounts every patch of a batch side by side, each under a name of its
own, so defects that share one backend share one suite run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from support.defect_spec import Defect

OVERRIDE = "backend-patch.yml"  # the override a patching defect names in its defect.toml
LOADER = Path(__file__).resolve().parents[1] / "defects" / "smoke" / "_patch" / "sitecustomize.py"


def patches(specs: Sequence[Defect]) -> list[Defect]:
    """The defects among `specs` that patch the backend's code."""
    return [spec for spec in specs if str(spec.get("override", "")).endswith(OVERRIDE)]


def own_overrides(specs: Sequence[Defect]) -> list[tuple[Defect, Path]]:
    """The other defects' own compose overrides (each with its defect), resolved: the backend
    patches are not among them, `override()` mounts those together."""
    patched = patches(specs)
    return [(spec, (spec.path / spec["override"]).resolve()) for spec in specs
            if spec.get("override") and spec not in patched]


def override(specs: Sequence[Defect], into: Path) -> Path | None:
    """One compose override mounting every backend patch of `specs` next to the loader (None
    when none patches the backend)."""
    patched = patches(specs)
    if not patched:
        return None
    mounts = [f"{LOADER}:/defect/sitecustomize.py:ro"]
    mounts += [f"{spec.path / 'defect_patch.py'}:/defect/defect_patch_{spec.name}.py:ro" for spec in patched]
    path = into / "backend-patches.yml"
    path.write_text(json.dumps({"services": {"backend": {"environment": {"PYTHONPATH": "/defect"},
                                                         "volumes": mounts}}}, indent=1))
    return path
