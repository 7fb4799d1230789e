"""The scripts parse, pass shellcheck, use compose v2 only; the logrotate config is valid."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from stack_support import SCRIPTS

SHELL_SCRIPTS = ["deploy.sh", "backup.sh", "restore.sh", "monitor.sh"]
LIBRARY = "lib.sh"  # sourced by every script above
LOGROTATE = SCRIPTS / "logrotate" / "ai-assistant"


@pytest.mark.parametrize("name", SHELL_SCRIPTS)
def test_script_parses_and_is_strict(name: str) -> None:
    path = SCRIPTS / name
    assert path.stat().st_mode & 0o111, f"{name} is not executable"
    checked = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    text = path.read_text()
    assert "set -euo pipefail" in text
    # compose v2 only: the v1 `docker-compose` binary here always exits 0.
    assert not re.search(r"\bdocker-compose\b", text.replace("docker-compose.yml", ""))


@pytest.mark.parametrize("name", [*SHELL_SCRIPTS, LIBRARY])
def test_script_passes_shellcheck(name: str, tmp_path: Path) -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck not installed (tools/setup.sh installs it)")
    # -x follows `source`; run from elsewhere so the directive, not the cwd, finds lib.sh.
    checked = subprocess.run(
        [shellcheck, "-x", str(SCRIPTS / name)], capture_output=True, text=True, cwd=tmp_path
    )
    assert checked.returncode == 0, checked.stdout


@pytest.mark.parametrize("name", SHELL_SCRIPTS)
def test_script_sources_the_shared_setup(name: str) -> None:
    text = (SCRIPTS / name).read_text()
    assert f"# shellcheck source=SCRIPTDIR/{LIBRARY}" in text
    assert f'source "$SCRIPT_DIR/{LIBRARY}"' in text
    # The set-up lives in lib.sh once: no script defines it again.
    for definition in ("die() {", "abspath() {", "compose() {", "CALLER_PWD="):
        assert definition not in text, f"{name} defines {definition!r} again"


def test_no_password_flag_on_any_command_line() -> None:
    for name in [*SHELL_SCRIPTS, LIBRARY]:
        text = (SCRIPTS / name).read_text()
        assert not re.search(r"(?<![\w-])-p\$|--password[= ]", text), f"{name} passes a password"


def logrotate_directives() -> list[str]:
    lines = [line.split("#", 1)[0].strip() for line in LOGROTATE.read_text().splitlines()]
    return [line for line in lines if line]


def test_logrotate_config_is_the_runbooks() -> None:
    directives = logrotate_directives()
    for expected in [
        "daily",
        "rotate 30",
        "compress",
        "delaycompress",
        "notifempty",
        "create 0644 root root",
        "sharedscripts",
        "postrotate",
        "endscript",
    ]:
        assert expected in directives, f"missing directive: {expected}"
    script = directives[directives.index("postrotate") + 1 : directives.index("endscript")]
    assert len(script) == 1 and re.match(r"docker compose .*restart backend\b", script[0])
    assert "docker-compose" not in script[0]


def test_logrotate_accepts_the_config(tmp_path: Path) -> None:
    logrotate = shutil.which("logrotate") or "/usr/sbin/logrotate"
    if not Path(logrotate).exists():
        pytest.skip("logrotate not installed")
    # Same config, pointed at a scratch log directory; -d only reads and reports.
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_text("a line\n")
    text = re.sub(r"^/\S+/\*\.log", f"{logs}/*.log", LOGROTATE.read_text(), flags=re.M)
    config = tmp_path / "ai-assistant"
    config.write_text(text)
    checked = subprocess.run(
        [logrotate, "-d", "-s", str(tmp_path / "status"), str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    output = checked.stdout + checked.stderr
    assert checked.returncode == 0, output
    assert "error" not in output.lower(), output
    assert f"rotating pattern: {logs}/*.log  after 1 days (30 rotations)" in output


def test_logrotate_rotates_and_runs_postrotate(tmp_path: Path) -> None:
    logrotate = shutil.which("logrotate") or "/usr/sbin/logrotate"
    if not Path(logrotate).exists():
        pytest.skip("logrotate not installed")
    if os.geteuid() != 0:
        pytest.skip("`create 0644 root root` needs root")
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_text("first line\n")
    (logs / "app.log.1").write_text("the application's own backup\n")
    marker = tmp_path / "postrotate-ran"
    text = LOGROTATE.read_text()
    text = re.sub(r"^/\S+/\*\.log", f"{logs}/*.log", text, flags=re.M)
    # Same script position, a harmless command: never restart a real backend from a test.
    text = re.sub(r"docker compose .*restart backend.*$", f"touch {marker}", text, flags=re.M)
    config = tmp_path / "ai-assistant"
    config.write_text(text)
    rotated = subprocess.run(
        [logrotate, "-f", "-s", str(tmp_path / "status"), str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    assert marker.exists(), "postrotate did not run"
    assert (logs / "app.log").read_text() == ""
    assert stat.S_IMODE((logs / "app.log").stat().st_mode) == 0o644
    dated = list(logs.glob("app.log-*"))
    assert len(dated) == 1 and dated[0].read_text() == "first line\n"  # delaycompress
    assert (logs / "app.log.1").read_text() == "the application's own backup\n"
