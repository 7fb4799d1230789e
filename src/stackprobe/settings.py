"""Run settings resolved from the command line, STACKPROBE_* variables and the profile.

Precedence: command-line option > STACKPROBE_* environment variable > profile > default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackprobe.activation import default_profile
from stackprobe.errors import StackprobeUsageError
from stackprobe.profile import Profile, load_profile

TARGETS = ("ephemeral", "live")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class RunSettings:
    target: str
    profile: Profile
    project_dir: Path
    compose_files: list[Path]
    env_file: Path | None  # None on ephemeral: generate one from the template
    project_name: str | None
    allow_destructive: bool
    report_dir: Path | None
    waivers: Path | None = None  # waiver file, if any
    history: Path | None = None  # history file (None when no reports are written)
    # a live target on another host (ssh://user@host:port; "" = this host) and its key files
    host: str = ""
    ssh_identity_file: str = ""
    ssh_known_hosts: str = ""
    dry_run: bool = False  # print the plan, touch nothing
    nightly: bool = False  # only checks marked nightly
    fail_on: str = "low"  # lowest severity whose failure fails the run
    prom_textfile: Path | None = None  # also write stackprobe.prom here
    attestations: Path | None = None  # attestation file, if any
    sign_key: Path | None = None  # signs SHA256SUMS, if given


def _env(name: str) -> str | None:
    value = os.environ.get(f"STACKPROBE_{name}")
    return value if value is not None and value != "" else None


def _bool(value: str, name: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise StackprobeUsageError(f"STACKPROBE_{name}={value!r} is not a boolean: use 1/0, true/false, yes/no or on/off")


def flag(given: bool, name: str, default: bool = False) -> bool:
    """A boolean option: on if given on the command line, else STACKPROBE_<name> (1/0, true/false,
    yes/no, on/off; a bad value is a usage error), else `default` (the profile's, where it has one)."""
    if given:
        return True
    value = _env(name)
    return _bool(value, name) if value is not None else default


def dry_run_requested(option: Any) -> bool:
    """--dry-run or STACKPROBE_DRY_RUN (read before the settings too: a fleet run starts no
    workers for a dry run)."""
    return flag(bool(getattr(option, "stackprobe_dry_run", False)), "DRY_RUN")


def list_controls_requested(option: Any) -> bool:
    """--list-controls or STACKPROBE_LIST_CONTROLS."""
    return flag(bool(getattr(option, "stackprobe_list_controls", False)), "LIST_CONTROLS")


SEVERITIES = ("critical", "high", "medium", "low")


def _path(option: Any, attribute: str, name: str, profile_value: str, base: Path) -> Path | None:
    """A file option: --option, else STACKPROBE_<name>, else the profile's (relative to project_dir)."""
    given = getattr(option, attribute, None) or _env(name)
    if given:
        return Path(given).resolve()
    return base / profile_value if profile_value else None


def _report_options(option: Any, profile: Profile, project_dir: Path) -> dict[str, Any]:
    """--fail-on, --prom-textfile, --attestations and --sign-key with their variables and [report] keys."""
    fail_on = getattr(option, "stackprobe_fail_on", None) or _env("FAIL_ON") or profile.report.fail_on or "low"
    if fail_on not in SEVERITIES:
        raise StackprobeUsageError(f"fail-on {fail_on!r} (--fail-on, STACKPROBE_FAIL_ON or [report] fail_on) is "
                                   f"not one of: {', '.join(SEVERITIES)}")
    r = profile.report
    sign_key = _path(option, "stackprobe_sign_key", "SIGN_KEY", r.sign_key, project_dir)
    if sign_key is not None and not sign_key.is_file():  # said before the run, not after it
        raise StackprobeUsageError(f"sign key {sign_key} does not exist: fix --sign-key, STACKPROBE_SIGN_KEY or "
                                   "[report] sign_key (an OpenSSH private key, e.g. from ssh-keygen -t ed25519)")
    return {"fail_on": fail_on,
            "prom_textfile": _path(option, "stackprobe_prom_textfile", "PROM_TEXTFILE", r.prom_textfile, project_dir),
            "attestations": _path(option, "stackprobe_attestations", "ATTESTATIONS", r.attestations, project_dir),
            "sign_key": sign_key}


def resolve(option: Any, rootdir: Path) -> RunSettings:
    """`option` is pytest's config.option namespace."""
    target = option.stackprobe_target or _env("TARGET") or "ephemeral"
    if target not in TARGETS:
        raise StackprobeUsageError(f"--target {target!r} is not one of: {', '.join(TARGETS)}")

    profile_arg = option.stackprobe_profile or _env("PROFILE") or default_profile(Path.cwd())
    profile = load_profile(Path(profile_arg) if profile_arg else None)
    host = getattr(option, "stackprobe_live_host", None) or _env("LIVE_HOST") or profile.ssh.host
    if host:
        if target == "ephemeral" and (option.stackprobe_target or _env("TARGET")):
            raise StackprobeUsageError(f"--target ephemeral with live host {host}: a remote host is "
                                       "only ever attached to (drop --target or use --target live)")
        target = "live"  # a remote host is always attached to, never started
    # relative paths in a profile are relative to its project_dir (itself relative to cwd;
    # on a remote host, paths are the host's own and taken as given)
    project_dir = Path(profile.stack.project_dir)
    if not project_dir.is_absolute():
        if host:
            raise StackprobeUsageError(
                f"live host {host}: [stack] project_dir in {profile.source} must be the absolute path of "
                f"the deployment on that host (got {str(project_dir)!r})")
        project_dir = (Path.cwd() / project_dir).resolve()

    compose_args: list[str] | None = option.stackprobe_compose_files or (
        _env("COMPOSE_FILE").split(os.pathsep) if _env("COMPOSE_FILE") else None  # type: ignore[union-attr]
    )
    if compose_args:
        compose_files = [Path(p) if host else Path(p).resolve() for p in compose_args]
    else:
        compose_files = [project_dir / p for p in profile.stack.compose_files]

    env_arg = option.stackprobe_env_file or _env("ENV_FILE")
    if env_arg:
        env_file: Path | None = Path(env_arg) if host else Path(env_arg).resolve()
    elif target == "live" and profile.stack.env_file:
        env_file = project_dir / profile.stack.env_file
    else:  # ephemeral: generated from the template; live with env_file = "": none (values inline)
        env_file = None

    project_name = option.stackprobe_project_name or _env("PROJECT_NAME")
    if target == "live" and not project_name:
        project_name = profile.stack.project_name

    allow = flag(option.stackprobe_allow_destructive, "ALLOW_DESTRUCTIVE", profile.safety.allow_destructive)

    report_arg = option.stackprobe_report_dir or _env("REPORT_DIR") or "reports"
    report_dir = None if report_arg == "none" else (rootdir / report_arg).resolve()
    waivers_arg = getattr(option, "stackprobe_waivers", None) or _env("WAIVERS")
    waivers = (Path(waivers_arg).resolve() if waivers_arg
               else project_dir / profile.report.waivers if profile.report.waivers else None)
    history_arg = getattr(option, "stackprobe_history", None) or _env("HISTORY")
    if history_arg:
        history: Path | None = Path(history_arg).resolve()
    elif profile.report.history:
        history = project_dir / profile.report.history
    else:
        history = report_dir / "history.jsonl" if report_dir is not None else None
    nightly = flag(bool(getattr(option, "stackprobe_nightly", False)), "NIGHTLY", profile.safety.nightly_only)
    return RunSettings(
        target, profile, project_dir, compose_files, env_file, project_name, allow, report_dir,
        waivers=waivers, history=history,
        host=host or "",
        ssh_identity_file=getattr(option, "stackprobe_ssh_identity", None) or _env("SSH_IDENTITY")
        or profile.ssh.identity_file,
        ssh_known_hosts=getattr(option, "stackprobe_ssh_known_hosts", None) or _env("SSH_KNOWN_HOSTS")
        or profile.ssh.known_hosts_file,
        dry_run=dry_run_requested(option),
        nightly=nightly,
        **_report_options(option, profile, project_dir),
    )
