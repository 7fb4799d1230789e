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

from stackprobe import absence, activation, catalogue, listing, user_catalogue
from stackprobe.dryrun import skip_reason
from stackprobe.errors import StackprobeUsageError
from stackprobe.evidence import CheckResult, Evidence
from stackprobe.faults import Injector
from stackprobe.redact import REDACTOR
from stackprobe.session import EVIDENCE, RUN, Run, active_run, control_of, faults_dir, run, stop
from stackprobe.settings import RunSettings, list_controls_requested, resolve
from stackprobe.targets.base import Target


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    # the dry-run plan, fleets (several live hosts, one xdist worker each) and parallel parts (one
    # xdist worker per part) are plugins of their own
    from stackprobe import dryrun, fleet, parallel

    for module in (dryrun, fleet, parallel):
        if not pluginmanager.is_registered(module):
            pluginmanager.register(module, f"stackprobe.{module.__name__.rsplit('.', 1)[-1]}")
    group = parser.getgroup("stackprobe", "stackprobe: operational verification of a compose stack")
    group.addoption("--target", dest="stackprobe_target", choices=["ephemeral", "live"], default=None,
                    help="ephemeral: a throwaway copy of the stack; live: a running project "
                         "[STACKPROBE_TARGET, default ephemeral]")
    group.addoption("--profile", dest="stackprobe_profile", metavar="PATH", default=None,
                    help="target profile (TOML) [STACKPROBE_PROFILE, default: ./stackprobe.toml, else the "
                         "reference stack]")
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
    group.addoption("--fail-on", dest="stackprobe_fail_on", choices=["critical", "high", "medium", "low"],
                    default=None, help="lowest severity whose failed control fails the run (exit code) "
                                       "[STACKPROBE_FAIL_ON, profile report.fail_on, default low]")
    group.addoption("--prom-textfile", dest="stackprobe_prom_textfile", metavar="PATH", default=None,
                    help="also write stackprobe.prom here, atomically, for node_exporter's textfile collector "
                         "[STACKPROBE_PROM_TEXTFILE, profile report.prom_textfile]")
    group.addoption("--attestations", dest="stackprobe_attestations", metavar="PATH", default=None,
                    help="attestation file (TOML) for controls a person checked [STACKPROBE_ATTESTATIONS, "
                         "profile report.attestations]")
    group.addoption("--sign-key", dest="stackprobe_sign_key", metavar="PATH", default=None,
                    help="OpenSSH private key signing SHA256SUMS (ssh-keygen -Y sign) [STACKPROBE_SIGN_KEY, "
                         "profile report.sign_key]")


def pytest_cmdline_main(config: pytest.Config) -> int | None:
    try:
        wanted = list_controls_requested(config.option)
    except StackprobeUsageError as error:
        raise pytest.UsageError(str(error)) from None
    if wanted:
        try:  # with the profile's own controls ([catalogue] extra)
            given = config.option.stackprobe_profile
            user_catalogue.install_for(Path(given) if given else None)
        except StackprobeUsageError as error:
            raise pytest.UsageError(str(error)) from None
        print(listing.render_table())
        return 0
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    from stackprobe import fleet, parallel

    activation.register_markers(config)
    active = activation.requested(config)
    try:
        fleet.apply_worker_host(config)
        parallel.apply_worker(config)
        settings = resolve(config.option, Path.cwd())
    except StackprobeUsageError as error:
        raise pytest.UsageError(str(error)) from None
    if active:
        parallel.refuse_live(config, settings.target)
    if not active:  # an unrelated session: no reports, no signal handler, nothing in the terminal
        settings = dataclasses.replace(settings, report_dir=None, history=None)
    try:
        user_catalogue.install(settings.profile)  # the user's own controls, before collection
    except StackprobeUsageError as error:
        raise pytest.UsageError(str(error)) from None
    current = Run(settings, started=time.time(), active=active)
    config.stash[RUN] = current
    learn_profile_credentials(settings)
    _CONTROLLER_CONFIG[:] = [config]
    if not active:
        return
    # A collection-only run checks nothing: it leaves no run directory and no history record.
    if settings.report_dir is not None and not getattr(config, "workerinput", None) \
            and not config.option.collectonly:
        run = time.strftime("%Y%m%d-%H%M%S") + f"-{settings.target}"
        run_dir = settings.report_dir / run
        run_dir.mkdir(parents=True, exist_ok=True)
        current.run_dir = run_dir
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

    from stackprobe.checks.policies import secret_policy

    # which keys hold secrets is the profile's [secrets] judgement, for the redactor too
    REDACTOR.judge_names_by(secret_policy(settings.profile.secrets).names)
    creds, database = settings.profile.credentials, settings.profile.database
    for name in (creds.bearer_token_env, creds.basic_password_env, database.readonly_password_env):
        if name and os.environ.get(name):
            REDACTOR.add(os.environ[name], name)
    password = os.environ.get(creds.basic_password_env, "") if creds.basic_password_env else ""
    if password:
        user = os.environ.get(creds.basic_user_env, "") if creds.basic_user_env else ""
        REDACTOR.add(base64.b64encode(f"{user}:{password}".encode()).decode(), creds.basic_password_env)


# signals delivered as KeyboardInterrupt this session: one raised while Python runs a finalizer
# (a connection pool's __del__) is printed as "ignored" and lost, so the check ends its turn too
_SIGNALLED: list[int] = []


def _install_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so teardowns (stack down, fault undo) still run; it is
    remembered, so one lost in a finalizer still ends the run after the check it arrived in."""

    def interrupt(signum: int, frame: Any) -> None:
        _SIGNALLED.append(signum)
        raise KeyboardInterrupt(f"signal {signum}")

    with contextlib.suppress(ValueError):  # not the main thread
        signal.signal(signal.SIGTERM, interrupt)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    result = yield
    if _SIGNALLED:  # delivered, yet the check went on: it was lost in a finalizer
        raise KeyboardInterrupt(f"signal {_SIGNALLED[-1]} (it arrived while an object was being finalized)")
    return result


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if run(config).settings.nightly:  # the production-safe set only
        kept = [item for item in items if item.get_closest_marker("nightly")]
        dropped = [item for item in items if not item.get_closest_marker("nightly")]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept
    for item in items:
        markers = list(item.iter_markers("control"))
        if not markers:
            if activation.SUITES_DIR in Path(str(item.path)).resolve().parents:
                raise pytest.UsageError(
                    f"{item.nodeid}: every check in stackprobe's suites needs @pytest.mark.control('ID')"
                )
            continue
        for marker in markers:
            if not marker.args or marker.args[0] not in catalogue.BY_ID:
                shown = marker.args[0] if marker.args else "(none)"
                raise pytest.UsageError(
                    f"{item.nodeid}: unknown control {shown!r} ({catalogue.where_to_look()})"
                )


def pytest_collection_finish(session: pytest.Session) -> None:
    # Hypothesis's plugin imports all of hypothesis in its end-of-run summary (1.3 s, the
    # largest single cost of a nightly smoke run) even when no test used it; the suites
    # use hypothesis only as a data generator, never @given, so drop it when nothing needs it.
    plugin = session.config.pluginmanager.get_plugin("hypothesispytest")
    active = run(session.config).active
    if plugin is not None and active and not any(getattr(getattr(item, "obj", None), "is_hypothesis_test", False)
                                      for item in session.items):
        session.config.pluginmanager.unregister(plugin)


def pytest_runtest_setup(item: pytest.Item) -> None:
    control_id = control_of(item)
    settings = run(item.config).settings
    if control_id:
        control = catalogue.get(control_id)
        item.user_properties.append(("control", control.id))
        item.user_properties.append(("severity", control.severity))
    reason = skip_reason(item, settings)
    if reason:
        pytest.skip(reason)
    absent = absence.verdict(settings.profile.absent, control_id) if control_id else None
    if absent is not None and absent.is_finding:
        # before any fixture: what the part's checks need is what is absent (a backup command,
        # say); reported as the check's failure, not a setup error (pytest_runtest_makereport)
        item.stash[_ABSENCE_FINDING] = absent.message
        pytest.fail(absent.message, pytrace=False)


_ABSENCE_FINDING = pytest.StashKey[str]()


def _usage_exit(error: StackprobeUsageError, config: pytest.Config | None = None) -> None:
    if config is not None:
        stop(config, str(error))
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
    return run(pytestconfig).settings


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
            assert s.project_name is not None
            live = LiveTarget(s.profile, s.project_dir, s.compose_files, s.env_file, s.project_name)
            live.attach()
            _sweep_leftovers(pytestconfig, live)
            run(pytestconfig).target = live
            run(pytestconfig).images = _images_of(live)
            yield live
            live.close()
            return
        ephemeral = EphemeralTarget(s.profile, s.project_dir, s.compose_files, s.env_file,
                                    s.project_name)
    except StackprobeUsageError as error:
        stop(pytestconfig, str(error))
    run(pytestconfig).target = ephemeral
    try:
        _sweep_leftovers(pytestconfig, ephemeral)
        removed = ephemeral.start()  # a copy left between the sweep and now
    except StackprobeUsageError as error:
        stop(pytestconfig, str(error))
    except StackStartError as error:
        pytest.exit(f"stackprobe: {error}", returncode=pytest.ExitCode.INTERNAL_ERROR)
    _announce(pytestconfig, [f"stackprobe: removed leftovers of killed run {n}" for n in removed])
    run(pytestconfig).images = _images_of(ephemeral)
    try:
        yield ephemeral
    finally:
        ephemeral.stop()
        fault_records(pytestconfig, ephemeral).forget()  # the project is gone, and its records with it


@pytest.fixture(scope="session")
def fault_injector(target: Target, stackprobe_settings: RunSettings, pytestconfig: pytest.Config) -> Injector:
    """The run's one fault injector: every fault of every suite goes through it, with its undo
    record in the run's faults directory first, so a killed run's fault is healed by the next."""
    return Injector.for_target(target, stackprobe_settings.allow_destructive, faults_dir(pytestconfig))


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
        stop(config, str(error))
    assert remote is not None
    _sweep_leftovers(config, remote)
    run(config).target = remote
    try:
        yield remote
    finally:
        remote.close()


def fault_records(config: pytest.Config, target: Target) -> Any:
    from stackprobe.faults import RecordStore

    return RecordStore(faults_dir(config), target.label, target.project)


def _sweep_leftovers(config: pytest.Config, target: Target) -> None:
    """Before anything else: heal the faults killed runs left on this target, remove every other
    kind of leftover of dead runs it reaches (stackprobe.leftovers), and say so, one line each."""
    from stackprobe.leftovers import Scope, sweep_all

    _announce(config, sweep_all(Scope.of_target(target, faults_dir(config))))


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
    if report.when == "setup" and report.failed and item.stash.get(_ABSENCE_FINDING, None):
        report.when = "call"  # a declared absence that is a finding: the check failed, no fixture erred
    # the assertion's own line, read before redaction turns a long repr holding a secret into
    # plain text (whose last line is only "file:line: AssertionError"); redacted below
    crash = getattr(report.longrepr, "reprcrash", None)
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
        if status == "skipped" and _not_applicable(report):
            status = "not_applicable"
        aborted = _aborted(call)
        if aborted:
            status = "aborted"
            report.user_properties.append((_ABORTED, True))
        message = ""
        if report.longrepr is not None and report.outcome != "passed":
            message = crash.message if crash is not None else str(report.longrepr).strip().splitlines()[-1]
            if report.outcome == "skipped" and isinstance(report.longrepr, tuple):
                message = str(report.longrepr[2])
        if aborted and call.excinfo is not None:
            message = f"aborted: {call.excinfo.value}"
        if _unreachable(call):  # a dependency the check needs is down: its ERROR, one line
            assert call.excinfo is not None
            status, message = "error", str(call.excinfo.value)
            evidence = evidence or dict(getattr(call.excinfo.value, "evidence", None) or {})
            report.longrepr = REDACTOR.redact(message)
            report.user_properties.append((_UNREACHABLE, True))
        from stackprobe.fleet import host_name

        result = CheckResult(
            nodeid=item.nodeid, control=control_id, status=status, started=call.start,
            duration_s=call.duration, message=REDACTOR.redact(message), evidence=evidence,
            target=run(item.config).settings.target, host=host_name(item.config),
        )
        run(item.config).results.append(result)
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


def _not_applicable(report: pytest.TestReport) -> bool:
    """A skip whose reason is a declared absence (stackprobe.absence)."""
    reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else str(report.longrepr or "")
    return reason.startswith(("Skipped: " + absence.NOT_APPLICABLE, absence.NOT_APPLICABLE))
_ABORTED = "stackprobe_aborted"


def _aborted(call: pytest.CallInfo[None]) -> bool:
    from stackprobe.errors import ExperimentAborted

    return call.excinfo is not None and call.excinfo.errisinstance(ExperimentAborted)


_UNREACHABLE = "stackprobe_unreachable"


def _unreachable(call: pytest.CallInfo[None]) -> bool:
    from stackprobe.errors import DependencyUnreachable

    return call.excinfo is not None and call.excinfo.errisinstance(DependencyUnreachable)


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    """An aborted experiment (the steady state did not hold before it) is its own outcome in the
    terminal: "A" / ABORTED and "N aborted" in the final line; it still fails the run."""
    if any(key == _ABORTED for key, _ in getattr(report, "user_properties", ())):  # not on a CollectReport
        return "aborted", "A", "ABORTED"
    if report.when == "call" and any(key == _UNREACHABLE for key, _ in getattr(report, "user_properties", ())):
        return "error", "E", "ERROR"
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
        run(config).results.extend(CheckResult(**data) for data in wired if isinstance(data, dict))


_CONTROLLER_CONFIG: list[pytest.Config] = []


def pytest_sessionstart(session: pytest.Session) -> None:
    from stackprobe import outputs

    if run(session.config).active:
        outputs.install(session.config)  # -s, tee-sys, live logging: redacted as they are written


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    current = run(session.config)
    if current.settings.dry_run:  # the plan (plan.json) is the only output of a dry run
        return
    from stackprobe.report import session as report_session

    if current.run_dir is None:
        if not getattr(session.config, "workerinput", None):  # no report: waivers still judge the run
            report_session.judge(session, current.settings, current.results)
        return
    from stackprobe.results import write_results

    write_results(current.run_dir, current.settings, current.target, current.results, current.started,
                  time.time(), current.images, current.parts)
    report_session.finish(session, current.run_dir, current.settings, current.results)


def pytest_unconfigure(config: pytest.Config) -> None:
    from stackprobe import outputs

    outputs.uninstall()
    current = active_run(config)
    if current is not None and current.run_dir is not None and not current.settings.dry_run:
        from stackprobe.report import session as report_session  # after every report: manifest, history

        report_session.seal(config, current.settings)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    from stackprobe.report import session as report_session

    current = active_run(config)
    if current is None or not current.active:
        return
    results = current.results
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
    if current is not None and current.run_dir is not None:
        terminalreporter.write_line(f"reports: {current.run_dir}")
