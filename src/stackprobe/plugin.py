"""The pytest plugin: options, control markers, the target and evidence fixtures, redaction
of every report, and the JSON/JUnit/HTML reports under reports/<run>/."""

from __future__ import annotations

import contextlib
import dataclasses
import html
import json
import signal
import time
from collections.abc import Generator, Iterator
from contextlib import nullcontext as _nullcontext
from pathlib import Path
from typing import Any

import pytest

from stackprobe import catalogue
from stackprobe.errors import StackprobeUsageError
from stackprobe.evidence import CheckResult, Evidence
from stackprobe.redact import REDACTOR
from stackprobe.settings import RunSettings, list_controls_requested, resolve
from stackprobe.targets.base import Target

SETTINGS = pytest.StashKey[RunSettings]()
TARGET = pytest.StashKey[Target]()
RESULTS = pytest.StashKey[list[CheckResult]]()
STARTED = pytest.StashKey[float]()
RUN_DIR = pytest.StashKey[Path]()
EVIDENCE = pytest.StashKey[Evidence]()
IMAGES = pytest.StashKey[dict[str, Any]]()


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    # the dry-run plan and fleets (several live hosts, one xdist worker each) are plugins of their own
    from stackprobe import dryrun, fleet

    for module in (dryrun, fleet):
        if not pluginmanager.is_registered(module):
            pluginmanager.register(module, f"stackprobe.{module.__name__.rsplit('.', 1)[-1]}")
    group = parser.getgroup("stackprobe", "stackprobe: operational verification of a compose stack")
    group.addoption("--target", dest="stackprobe_target", choices=["ephemeral", "live"], default=None,
                    help="ephemeral: a throwaway copy of the stack; live: a running project "
                         "[STACKPROBE_TARGET, default ephemeral]")
    group.addoption("--profile", dest="stackprobe_profile", metavar="PATH", default=None,
                    help="target profile (TOML) [STACKPROBE_PROFILE, default: the reference stack]")
    group.addoption("--compose-file", dest="stackprobe_compose_files", metavar="PATH",
                    action="append", default=None,
                    help="compose file, repeatable like compose's -f [STACKPROBE_COMPOSE_FILE]")
    group.addoption("--env-file", dest="stackprobe_env_file", metavar="PATH", default=None,
                    help="env file (ephemeral default: generated from the template with random "
                         "secrets) [STACKPROBE_ENV_FILE]")
    group.addoption("--project-name", dest="stackprobe_project_name", metavar="NAME", default=None,
                    help="compose project (live: the running one to attach to) [STACKPROBE_PROJECT_NAME]")
    group.addoption("--allow-destructive", dest="stackprobe_allow_destructive", action="store_true",
                    default=False, help="allow destructive tests on a live target "
                                        "[STACKPROBE_ALLOW_DESTRUCTIVE]")
    group.addoption("--live-host", dest="stackprobe_live_host", metavar="ssh://USER@HOST[:PORT]",
                    default=None, help="a live target on another host, reached over SSH (implies "
                                       "--target live) [STACKPROBE_LIVE_HOST, profile [ssh] host]")
    group.addoption("--ssh-identity", dest="stackprobe_ssh_identity", metavar="PATH", default=None,
                    help="private key for --live-host [STACKPROBE_SSH_IDENTITY, profile [ssh] identity_file]")
    group.addoption("--ssh-known-hosts", dest="stackprobe_ssh_known_hosts", metavar="PATH", default=None,
                    help="known_hosts file with the host's key [STACKPROBE_SSH_KNOWN_HOSTS, "
                         "profile [ssh] known_hosts_file; default ~/.ssh/known_hosts]")
    group.addoption("--dry-run", dest="stackprobe_dry_run", action="store_true", default=False,
                    help="print the plan (target, checks, what they write, which faults where) and touch "
                         "nothing [STACKPROBE_DRY_RUN]")
    group.addoption("--nightly", dest="stackprobe_nightly", action="store_true", default=False,
                    help="only the checks marked nightly: the production-safe set [STACKPROBE_NIGHTLY, "
                         "profile [safety] nightly_only]")
    group.addoption("--list-controls", dest="stackprobe_list_controls", action="store_true",
                    default=False, help="print the control catalogue and exit [STACKPROBE_LIST_CONTROLS]")
    group.addoption("--report-dir", dest="stackprobe_report_dir", metavar="DIR", default=None,
                    help="where reports/<run>/ go; 'none' writes none [STACKPROBE_REPORT_DIR, "
                         "default reports]")
    group.addoption("--waivers", dest="stackprobe_waivers", metavar="PATH", default=None,
                    help="waiver file (TOML) turning a control's failure into 'waived' "
                         "[STACKPROBE_WAIVERS, profile report.waivers]")
    group.addoption("--history", dest="stackprobe_history", metavar="PATH", default=None,
                    help="history file, one line per run, for trends [STACKPROBE_HISTORY, profile "
                         "report.history, default <report dir>/history.jsonl]")


def pytest_cmdline_main(config: pytest.Config) -> int | None:
    try:
        listing = list_controls_requested(config.option)
    except StackprobeUsageError as error:
        raise pytest.UsageError(str(error)) from None
    if listing:
        print(catalogue.render_table())
        return 0
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    from stackprobe import fleet

    try:
        fleet.apply_worker_host(config)
        settings = resolve(config.option, Path.cwd())
    except StackprobeUsageError as error:
        raise pytest.UsageError(str(error)) from None
    config.stash[SETTINGS] = settings
    learn_profile_credentials(settings)
    config.stash[RESULTS] = []
    _CONTROLLER_CONFIG[:] = [config]
    config.stash[STARTED] = time.time()
    # A collection-only run checks nothing: it leaves no run directory and no history record.
    if settings.report_dir is not None and not getattr(config, "workerinput", None) \
            and not config.option.collectonly:
        run = time.strftime("%Y%m%d-%H%M%S") + f"-{settings.target}"
        run_dir = settings.report_dir / run
        run_dir.mkdir(parents=True, exist_ok=True)
        config.stash[RUN_DIR] = run_dir
        if hasattr(config.option, "htmlpath") and not config.option.htmlpath:
            config.option.htmlpath = str(run_dir / "report.html")
            config.option.self_contained_html = True
        if not config.option.xmlpath:
            config.option.xmlpath = str(run_dir / "junit.xml")
    _install_sigterm()


def learn_profile_credentials(settings: RunSettings) -> None:
    """Teach the redactor, before any check runs, the values of the credentials the profile names:
    the bearer token and basic-auth password for protected endpoints (and the Authorization header
    that carries them, base64 and all) and a live target's read-only database password, all read
    from the environment (the target also learns them on use)."""
    import base64
    import os

    creds, database = settings.profile.credentials, settings.profile.database
    for name in (creds.bearer_token_env, creds.basic_password_env, database.readonly_password_env):
        if name and os.environ.get(name):
            REDACTOR.add(os.environ[name], name)
    password = os.environ.get(creds.basic_password_env, "") if creds.basic_password_env else ""
    if password:
        user = os.environ.get(creds.basic_user_env, "") if creds.basic_user_env else ""
        REDACTOR.add(base64.b64encode(f"{user}:{password}".encode()).decode(), creds.basic_password_env)


def _install_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so teardowns (stack down, fault undo) still run."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    with contextlib.suppress(ValueError):  # not the main thread
        signal.signal(signal.SIGTERM, interrupt)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.stash[SETTINGS].nightly:  # the production-safe set only
        kept = [item for item in items if item.get_closest_marker("nightly")]
        dropped = [item for item in items if not item.get_closest_marker("nightly")]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept
    for item in items:
        markers = list(item.iter_markers("control"))
        if not markers:
            if "suites" in Path(str(item.path)).parts:
                raise pytest.UsageError(
                    f"{item.nodeid}: every check in suites/ needs @pytest.mark.control('ID')"
                )
            continue
        for marker in markers:
            if not marker.args or marker.args[0] not in catalogue.BY_ID:
                shown = marker.args[0] if marker.args else "(none)"
                raise pytest.UsageError(
                    f"{item.nodeid}: unknown control {shown!r} (see pytest --list-controls)"
                )


def pytest_collection_finish(session: pytest.Session) -> None:
    # Hypothesis's plugin imports all of hypothesis in its end-of-run summary (1.3 s, the
    # largest single cost of a nightly smoke run) even when no test used it; the suites
    # use hypothesis only as a data generator, never @given, so drop it when nothing needs it.
    plugin = session.config.pluginmanager.get_plugin("hypothesispytest")
    if plugin is not None and not any(getattr(getattr(item, "obj", None), "is_hypothesis_test", False)
                                      for item in session.items):
        session.config.pluginmanager.unregister(plugin)


def control_of(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("control")
    return str(marker.args[0]) if marker and marker.args else None


def pytest_runtest_setup(item: pytest.Item) -> None:
    control_id = control_of(item)
    if control_id:
        control = catalogue.get(control_id)
        item.user_properties.append(("control", control.id))
        item.user_properties.append(("severity", control.severity))
    from stackprobe.dryrun import skip_reason

    reason = skip_reason(item, item.config.stash[SETTINGS])
    if reason:
        pytest.skip(reason)


def _stop(config: pytest.Config, message: str, returncode: int = pytest.ExitCode.USAGE_ERROR) -> None:
    """End the run with one line; in a fleet, fail this host's checks instead so the other hosts go on."""
    from stackprobe import fleet

    message = REDACTOR.redact(message)
    if fleet.is_fleet_worker(config):
        pytest.fail(message, pytrace=False)
    pytest.exit(message, returncode=returncode)


def _usage_exit(error: StackprobeUsageError, config: pytest.Config | None = None) -> None:
    if config is not None:
        _stop(config, str(error))
    pytest.exit(REDACTOR.redact(str(error)), returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Bad input met inside a check (wrong credentials, unknown service) ends the run with
    one line and the usage-error exit code instead of failing every check with a trace."""
    try:
        return (yield)
    except StackprobeUsageError as error:
        _usage_exit(error, item.config)


# --- fixtures ----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def stackprobe_settings(pytestconfig: pytest.Config) -> RunSettings:
    return pytestconfig.stash[SETTINGS]


@pytest.fixture(scope="session")
def profile(stackprobe_settings: RunSettings) -> Any:
    return stackprobe_settings.profile


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config, stackprobe_settings: RunSettings) -> Iterator[Target]:
    """The stack under test: started (ephemeral) or attached (live) once per session."""
    from stackprobe.targets.ephemeral import EphemeralTarget, StackStartError
    from stackprobe.targets.live import LiveTarget

    s = stackprobe_settings
    if s.host:
        yield from _ssh_target(pytestconfig, s)
        return
    try:
        if s.target == "live":
            assert s.env_file is not None and s.project_name is not None
            live = LiveTarget(s.profile, s.project_dir, s.compose_files, s.env_file, s.project_name)
            live.attach()
            _heal_faults(pytestconfig, live)
            pytestconfig.stash[TARGET] = live
            pytestconfig.stash[IMAGES] = _images_of(live)
            yield live
            live.close()
            return
        ephemeral = EphemeralTarget(s.profile, s.project_dir, s.compose_files, s.env_file,
                                    s.project_name)
    except StackprobeUsageError as error:
        _stop(pytestconfig, str(error))
    pytestconfig.stash[TARGET] = ephemeral
    try:
        removed = ephemeral.start()
    except StackprobeUsageError as error:
        _stop(pytestconfig, str(error))
    except StackStartError as error:
        pytest.exit(f"stackprobe: {error}", returncode=pytest.ExitCode.INTERNAL_ERROR)
    _announce(pytestconfig, [f"stackprobe: removed leftovers of killed run {n}" for n in removed])
    pytestconfig.stash[IMAGES] = _images_of(ephemeral)
    try:
        yield ephemeral
    finally:
        ephemeral.stop()
        fault_records(pytestconfig, ephemeral).forget()  # the project is gone, and its records with it


def _images_of(target: Target) -> dict[str, Any]:
    """Images of the stack as tested, for the reports (an ephemeral stack is gone at the end)."""
    from stackprobe.results import images_of

    return images_of(target)


def _ssh_target(config: pytest.Config, s: RunSettings) -> Iterator[Target]:
    from stackprobe.targets.ssh import SshChannel, SshLiveTarget, SshSpec

    remote: SshLiveTarget | None = None
    try:
        spec = SshSpec.parse(s.host, s.ssh_identity_file, s.ssh_known_hosts, s.profile.ssh.connect_timeout_s)
        channel = SshChannel(spec).open()
        try:
            assert s.env_file is not None and s.project_name is not None
            remote = SshLiveTarget(s.profile, s.project_dir, s.compose_files, s.env_file, s.project_name, channel)
            remote.attach()
        except BaseException:
            if remote is not None:
                remote.close()  # closes the channel too
            else:
                channel.close()
            raise
    except StackprobeUsageError as error:
        _stop(config, str(error))
    assert remote is not None
    _heal_faults(config, remote)
    config.stash[TARGET] = remote
    try:
        yield remote
    finally:
        remote.close()


def faults_dir(config: pytest.Config) -> Path:
    """Where undo records of faults live: STACKPROBE_FAULTS_DIR, else .stackprobe/faults in the rootdir."""
    import os

    given = os.environ.get("STACKPROBE_FAULTS_DIR")
    return Path(given) if given else config.rootpath / ".stackprobe" / "faults"


def fault_records(config: pytest.Config, target: Target) -> Any:
    from stackprobe.faults import RecordStore

    return RecordStore(faults_dir(config), target.label, target.project)


def _heal_faults(config: pytest.Config, target: Target) -> None:
    """Before anything else: undo the faults a killed run left on this target, and say so."""
    from stackprobe.faults import heal_orphans

    store = fault_records(config, target)
    if store.directory.is_dir():
        _announce(config, heal_orphans(target, store, target.profile.chaos.host_command_prefix))


def _announce(config: pytest.Config, lines: list[str]) -> None:
    """Write to the terminal now, past output capturing (fixtures run captured)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or not lines:
        return
    with capture.global_and_fixture_disabled() if capture else _nullcontext():
        for line in lines:
            reporter.write_line(line)


@pytest.fixture
def evidence(request: pytest.FixtureRequest) -> Evidence:
    """Record what the check saw; it lands in every report, redacted."""
    recorded = Evidence()
    request.node.stash[EVIDENCE] = recorded
    return recorded


# --- reports -----------------------------------------------------------------------------
def _redact_report(report: pytest.TestReport) -> None:
    if not REDACTOR:
        return
    if isinstance(report.longrepr, tuple):
        # A skip's (path, line, reason): pytest's terminal asserts it stays a tuple.
        report.longrepr = REDACTOR.redact_obj(report.longrepr)
    elif report.longrepr is not None:
        text = str(report.longrepr)
        cleaned = REDACTOR.redact(text)
        if cleaned != text:
            report.longrepr = cleaned
    report.sections = [(title, REDACTOR.redact(body)) for title, body in report.sections]
    report.user_properties = [(k, REDACTOR.redact_obj(v)) for k, v in report.user_properties]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    _redact_report(report)
    control_id = control_of(item)
    if control_id is None:
        return
    recorded = item.stash.get(EVIDENCE, None)
    evidence = recorded.as_dict() if recorded else {}
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        status = {"passed": "passed", "failed": "failed", "skipped": "skipped"}[report.outcome]
        if report.when == "setup" and report.outcome == "failed":
            status = "error"
        aborted = _aborted(call)
        if aborted:
            status = "aborted"
            report.user_properties.append((_ABORTED, True))
        message = ""
        if report.longrepr is not None and report.outcome != "passed":
            crash = getattr(report.longrepr, "reprcrash", None)
            message = crash.message if crash is not None else str(report.longrepr).strip().splitlines()[-1]
            if report.outcome == "skipped" and isinstance(report.longrepr, tuple):
                message = str(report.longrepr[2])
        if aborted and call.excinfo is not None:
            message = f"aborted: {call.excinfo.value}"
        from stackprobe.fleet import host_name

        result = CheckResult(
            nodeid=item.nodeid, control=control_id, status=status, started=call.start,
            duration_s=call.duration, message=REDACTOR.redact(message), evidence=evidence,
            target=item.config.stash[SETTINGS].target, host=host_name(item.config),
        )
        item.config.stash[RESULTS].append(result)
        if getattr(item.config, "workerinput", None) is not None:  # xdist: the controller reports
            report.user_properties.append((_WIRE, dataclasses.asdict(result)))
        if evidence:
            try:
                from pytest_html import extras

                body = html.escape(json.dumps(evidence, indent=2, ensure_ascii=False))
                report.extras = [*getattr(report, "extras", []),  # type: ignore[attr-defined]
                                 extras.html(f"<div><b>evidence</b><pre>{body}</pre></div>")]
            except ImportError:
                pass
            report.user_properties.append(("evidence", json.dumps(evidence, ensure_ascii=False)[:5000]))


_WIRE = "stackprobe_result"
_ABORTED = "stackprobe_aborted"


def _aborted(call: pytest.CallInfo[None]) -> bool:
    from stackprobe.errors import ExperimentAborted

    return call.excinfo is not None and call.excinfo.errisinstance(ExperimentAborted)


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    """An aborted experiment (the steady state did not hold before it) is its own outcome in the
    terminal: "A" / ABORTED and "N aborted" in the final line; it still fails the run."""
    if any(key == _ABORTED for key, _ in report.user_properties):
        return "aborted", "A", "ABORTED"
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """On the xdist controller: collect the results the workers sent with their reports."""
    config = _CONTROLLER_CONFIG[0] if _CONTROLLER_CONFIG else None
    if config is None or getattr(config, "workerinput", None) is not None:
        return  # a worker: the report still has to travel
    wired = [value for key, value in report.user_properties if key == _WIRE]
    if wired:
        report.user_properties = [(k, v) for k, v in report.user_properties if k != _WIRE]
        config.stash[RESULTS].extend(CheckResult(**data) for data in wired if isinstance(data, dict))


_CONTROLLER_CONFIG: list[pytest.Config] = []


def pytest_sessionstart(session: pytest.Session) -> None:
    from stackprobe import outputs

    outputs.install(session.config)  # -s, tee-sys, live logging: redacted as they are written


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if config.stash[SETTINGS].dry_run:  # the plan (plan.json) is the only output of a dry run
        return
    if RUN_DIR not in config.stash:
        if not getattr(config, "workerinput", None):  # no report: waivers still judge the run
            from stackprobe.report import session as report_session

            report_session.judge(session, config.stash[SETTINGS], config.stash[RESULTS])
        return
    from stackprobe.results import write_results

    write_results(config.stash[RUN_DIR], config.stash[SETTINGS], config.stash.get(TARGET, None),
                  config.stash[RESULTS], config.stash[STARTED], time.time(), config.stash.get(IMAGES, None))
    from stackprobe.report import session as report_session

    report_session.finish(session, config.stash[RUN_DIR], config.stash[SETTINGS], config.stash[RESULTS])


def pytest_unconfigure(config: pytest.Config) -> None:
    from stackprobe import outputs

    outputs.uninstall()
    if RUN_DIR in config.stash and not config.stash[SETTINGS].dry_run:  # after every report: manifest, history
        from stackprobe.report import session as report_session

        report_session.seal(config, config.stash[SETTINGS])


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    from stackprobe.report import session as report_session

    results = config.stash.get(RESULTS, [])
    if not results:
        for line in report_session.lines(config):
            terminalreporter.write_line(line)
        return
    from stackprobe.results import control_statuses

    statuses = report_session.statuses(config) or control_statuses(results)
    counts: dict[str, int] = {}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1
    terminalreporter.write_sep("-", "stackprobe controls")
    terminalreporter.write_line(", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    for control_id, status in statuses.items():
        if status in {"failed", "error", "aborted"}:
            control = catalogue.get(control_id)
            terminalreporter.write_line(f"  {status.upper():<7} {control_id} ({control.severity}) "
                                        f"{control.title}")
            if status == "aborted":  # why: the experiment never ran
                for result in results:
                    if result.control == control_id and result.status == "aborted":
                        terminalreporter.write_line(f"          {result.nodeid}: {result.message}")
    for line in report_session.lines(config):
        terminalreporter.write_line(line)
    if RUN_DIR in config.stash:
        terminalreporter.write_line(f"reports: {config.stash[RUN_DIR]}")
