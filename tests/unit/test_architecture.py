"""The architecture holds: import-linter's layers contract (pyproject.toml) passes on the
package, and an import that goes up a layer breaks it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(package_root: Path, config: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(package_root)}
    return subprocess.run([str(LINT_IMPORTS), "--config", str(config), "--no-cache"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_layers_contract_is_kept() -> None:
    done = _lint(REPO / "src", REPO / "pyproject.toml", REPO)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 kept, 0 broken" in done.stdout


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    """targets sit below the plugin: a target importing the plugin is refused, and named."""
    copy = tmp_path / "src"
    shutil.copytree(REPO / "src" / "stackprobe", copy / "stackprobe",
                    ignore=shutil.ignore_patterns("__pycache__"))
    base = copy / "stackprobe" / "targets" / "base.py"
    base.write_text(base.read_text() + "\nimport stackprobe.plugin  # noqa: E402\n")
    config = tmp_path / ".importlinter.toml"
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = ",\n".join(f'    "{layer}"' for layer in contracts["contracts"][0]["layers"])
    config.write_text('[tool.importlinter]\nroot_package = "stackprobe"\n\n[[tool.importlinter.contracts]]\n'
                      f'name = "layers"\ntype = "layers"\nlayers = [\n{layers}\n]\n')
    done = _lint(copy, config, tmp_path)
    assert done.returncode != 0, done.stdout[-3000:]
    assert "BROKEN" in done.stdout
    assert "stackprobe.targets.base -> stackprobe.plugin" in done.stdout
