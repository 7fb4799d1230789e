"""The `stackprobe` command: what each --help lists, one-line usage errors with pytest's exit code,
the catalogue in three formats, and `run` as pytest over the packaged suites (exit codes passed on)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.stacks import REFERENCE_PROFILE, REPO

from stackprobe import catalogue
from stackprobe.cli import parser, pytest_arguments, suite_names

STACKPROBE = shutil.which("stackprobe", path=str(Path(sys.executable).parent)) or "stackprobe"
PLUGIN_OPTIONS = ("--target", "--profile", "--compose-file", "--env-file", "--project-name", "--allow-destructive",
                  "--live-host", "--ssh-identity", "--ssh-known-hosts", "--dry-run", "--nightly", "--report-dir",
                  "--waivers", "--history", "--fleet")


def stackprobe(*args: str, cwd: Path, timeout: float = 120,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`env`: variables on top of this process's (a shell exporting a stack's secrets)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("STACKPROBE_", "COMPOSE_"))}
    return subprocess.run([STACKPROBE, *args], cwd=cwd, env={**environ, **(env or {})},
                          capture_output=True, text=True, timeout=timeout)


def test_top_level_help_lists_every_subcommand(tmp_path: Path) -> None:
    done = stackprobe("--help", cwd=tmp_path)
    assert done.returncode == 0
    for command in ("run", "init", "controls", "report"):
        assert f"    {command} " in done.stdout, done.stdout


@pytest.mark.parametrize(("command", "expected"), [
    ("run", ("--suite", *PLUGIN_OPTIONS, "PYTEST_ARGS")),
    ("init", ("--project-dir", "--compose-file", "--project-name", "--output", "--force")),
    ("controls", ("--format", "text,json,markdown", "--profile")),
    ("report", ("render", "verify")),
])
def test_each_subcommand_help_lists_its_options(tmp_path: Path, command: str, expected: tuple[str, ...]) -> None:
    done = stackprobe(command, "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for option in expected:
        assert option in done.stdout, f"{command} --help lacks {option}:\n{done.stdout}"
    if command == "run":  # every suite the package ships is selectable
        assert all(name in done.stdout for name in suite_names()), done.stdout


@pytest.mark.parametrize("args", [("nosuch",), ("run", "--bogus"), ("controls", "--format", "yaml"), (),
                                  ("run", "--suite", "nosuch"), ("report", "render")])
def test_wrong_subcommand_or_option_is_one_line_and_usage_exit(tmp_path: Path, args: tuple[str, ...]) -> None:
    done = stackprobe(*args, cwd=tmp_path)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "error:" in lines[0], done.stderr


def test_controls_in_three_formats(tmp_path: Path) -> None:
    ids = [c.id for c in catalogue.CONTROLS]
    text = stackprobe("controls", cwd=tmp_path).stdout
    assert [line.split()[0] for line in text.splitlines() if line.startswith("  ")] == ids
    listed = json.loads(stackprobe("controls", "--format", "json", cwd=tmp_path).stdout)
    assert [c["id"] for c in listed] == ids
    assert listed[0].keys() >= {"id", "suite", "title", "why", "fix", "severity", "tags"}
    markdown = stackprobe("controls", "--format", "markdown", cwd=tmp_path).stdout.splitlines()
    assert markdown[0].startswith("| ID |") and [row.split("|")[1].strip() for row in markdown[2:]] == ids


def test_run_arguments_are_the_plugins_spelt_for_pytest() -> None:
    top, options = parser()
    args = top.parse_args(["run", "--suite", "smoke", "--suite", "config", "--target", "live", "--compose-file",
                           "a.yml", "--compose-file", "b.yml", "--nightly", "--", "-k", "health"])
    argv = pytest_arguments(args, options)
    assert argv[argv.index("--pyargs") + 1:] == ["stackprobe.suites.smoke", "stackprobe.suites.config"]
    joined = " ".join(argv)
    assert "--target live" in joined and "--compose-file a.yml --compose-file b.yml" in joined
    assert "--nightly" in argv and "--dry-run" not in argv and "-k health" in joined
    everything = top.parse_args(["run"])
    assert pytest_arguments(everything, options)[-2:] == ["--pyargs", "stackprobe.suites"]


def test_run_dry_run_of_one_suite_from_an_empty_directory(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text(f'[stack]\nproject_dir = "{REPO}"\n')
    done = stackprobe("run", "--suite", "smoke", "--dry-run", "--profile", str(profile), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "HLT-01" in done.stdout and "SEC-01" not in done.stdout and "BKP-01" not in done.stdout


def test_run_passes_pytests_exit_codes_and_prints_progress(tmp_path: Path) -> None:
    """Config file checks (no Docker): a clean generated env file passes (0), a weak one fails (1),
    a broken profile is a usage error (4); a progress line per suite and per control."""
    profile = tmp_path / "p.toml"
    profile.write_text(f'{REFERENCE_PROFILE.read_text()}\n'.replace("[stack]\n", f'[stack]\nproject_dir = "{REPO}"\n'))
    select = ("--", "-k", "test_config_files")
    passed = stackprobe("run", "--suite", "config", "--profile", str(profile), "--report-dir=none", *select,
                        cwd=tmp_path)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "stackprobe: suite config:" in passed.stdout and "stackprobe:   SEC-01 passed" in passed.stdout
    weak = tmp_path / "weak.env"
    weak.write_text((REPO / ".env.example").read_text())
    weak.chmod(0o600)
    failed = stackprobe("run", "--suite", "config", "--profile", str(profile), "--env-file", str(weak),
                        "--report-dir=none", *select, cwd=tmp_path)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "stackprobe:   SEC-01 failed" in failed.stdout
    (tmp_path / "bad.toml").write_text("[metrics]\nscrapes = 'many'\n")
    bad = stackprobe("run", "--suite", "config", "--profile", "bad.toml", cwd=tmp_path)
    assert bad.returncode == pytest.ExitCode.USAGE_ERROR
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").iterdir())
