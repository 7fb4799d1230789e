"""The logs library and the traffic generator, without Docker: each rule of LOG-01..04 on
hand-made files, the id accounting of LOG-03 on hand-made timelines, the real logrotate."""

from __future__ import annotations

import gzip
import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest

from stackprobe.logs import (
    LogFile,
    account_ids,
    check_format,
    check_logrotate_policy,
    check_rotation,
    covers,
    log_set,
    logrotate_debug,
    parse_logrotate,
)
from stackprobe.profile import Profile
from stackprobe.traffic import Sent, sequenced_traffic

REPO = Path(__file__).resolve().parents[2]
LOGROTATE = REPO / "stack" / "scripts" / "logrotate" / "ai-assistant"
CFG = Profile().logs
HOST_LOG = "/var/lib/docker/volumes/ai_assistant_backend_logs/_data/app.log"


def line(n: int, rid: str = "", level: str = "INFO") -> str:
    return (f"2026-01-23T13:42:{n % 60:02d}.123+08:00 {level} 17 app.access request id={rid or f'r{n}'} "
            "method=GET path=/api/v1/system/ping status=200 duration_ms=1.0")


def log(name: str, *lines: str) -> LogFile:
    text = "".join(f"{item}\n" for item in lines)
    return LogFile(name, len(text.encode()), text)


# --- files ---------------------------------------------------------------------------------
def test_log_set_keeps_the_logs_files_and_opens_gzip() -> None:
    files = {"app.log": b"a\n", "app.log.1": b"b\n", "app.log-20260101.gz": gzip.compress(b"c\n"),
             ".__app.lock": b"", "other.log": b"x\n"}
    found = {f.name: f.text for f in log_set(files, "app.log")}
    assert found == {"app.log": "a\n", "app.log.1": "b\n", "app.log-20260101.gz": "c\n"}


# --- LOG-01 --------------------------------------------------------------------------------
def test_documented_format_passes_with_a_traceback() -> None:
    report = check_format([log("app.log", line(1), line(2, level="ERROR"), "Traceback (most recent call last):",
                               '  File "/app/app/main.py", line 3, in f', "", "pymysql.err.OperationalError: (2003, x)",
                               line(3))], CFG.line_pattern, CFG.continuation_pattern)
    assert report.violations == []
    assert (report.records, report.continuation_lines, dict(report.levels)) == (3, 4, {"INFO": 2, "ERROR": 1})


@pytest.mark.parametrize("bad", [
    "2026-01-23 13:42:10,123 - app.access - INFO - request id=x",  # the logging cookbook's format
    "INFO:app.access:request id=x",  # logging's BASIC_FORMAT
    "2026-01-23T13:42:10.123 INFO 17 app.access request id=x",  # no UTC offset
    "2026-01-23T13:42:10.123+08:00 NOTICE 17 app request id=x",  # not a Python level
])
def test_other_formats_are_violations(bad: str) -> None:
    report = check_format([log("app.log", line(1), bad)], CFG.line_pattern, CFG.continuation_pattern)
    assert len(report.violations) == 1 and report.violations[0].startswith("app.log:2:"), report.violations


def test_continuation_only_after_a_record() -> None:
    report = check_format([log("app.log.1", "  indented", line(1))], CFG.line_pattern, CFG.continuation_pattern)
    assert [v.split(":")[1] for v in report.violations] == ["1"]


def test_a_time_group_must_carry_an_offset() -> None:
    pattern = r"^(?P<time>\S+) (?P<message>.*)$"
    report = check_format([log("a", "2026-01-23T13:42:10 x", "2026-01-23T13:42:10+00:00 y", "yesterday z")],
                          pattern, CFG.continuation_pattern)
    assert len(report.violations) == 2 and "no UTC offset" in report.violations[0]
    assert "not ISO-8601" in report.violations[1]


# --- LOG-02 --------------------------------------------------------------------------------
def test_rotation_limits() -> None:
    record = line(1)
    size = len(record) + 1
    ok = [log("app.log", record), log("app.log.1", *[record] * 3), log("app.log.2", *[record] * 2),
          log("app.log-20260101.gz", *[record] * 50)]
    assert check_rotation(ok, "app.log", 2 * size, 2).violations == []  # one record over: allowed
    report = check_rotation(ok, "app.log", size, 2)  # app.log.1 is two records over
    assert len(report.violations) == 1 and "app.log.1" in report.violations[0]
    report = check_rotation(ok, "app.log", 3 * size, 1)
    assert report.backups == [1, 2] and "2 backups" in report.violations[0]


# --- LOG-03 --------------------------------------------------------------------------------
def sent(seq: int, started: float, finished: float, status: int = 200) -> Sent:
    return Sent(seq, f"p-{seq:07d}", status, started, finished)


def timeline() -> list[Sent]:
    """Ten requests one after another (0..9), acknowledged at t+0.5."""
    return [sent(i, float(i), i + 0.5) for i in range(10)]


def test_suffix_lost_with_the_oldest_file_is_fine() -> None:
    files = [log("app.log.1", *(line(i, f"p-{i:07d}") for i in (4, 5, 6))),
             log("app.log", *(line(i, f"p-{i:07d}") for i in (7, 8, 9)))]
    account = account_ids(files, CFG.request_id_pattern, timeline(), oldest_rotated_away=True)
    assert (account.lost_with_rotation, account.lost_from_middle, account.duplicated) == ([0, 1, 2, 3], [], {})
    assert account.lowest_retained_seq == 4 and account.files == {"app.log.1": 3, "app.log": 3}


def test_two_files_written_at_once_are_found() -> None:
    # a second process still appends 6 and 8 to the renamed app.log.1 while app.log holds 5 and 7
    files = [log("app.log.1", *(line(i, f"p-{i:07d}") for i in (2, 3, 4, 6, 8))),
             log("app.log", *(line(i, f"p-{i:07d}") for i in (5, 7, 9)))]
    account = account_ids(files, CFG.request_id_pattern, timeline(), oldest_rotated_away=True)
    assert account.lost_from_middle == [] and account.duplicated == {}
    assert account.out_of_order == [("app.log.1", 6, "app.log", 5), ("app.log.1", 8, "app.log", 5)]
    assert account.summary()["written_to_an_older_file"] == 2


def test_one_writer_rotating_in_order_has_nothing_out_of_order() -> None:
    # request 5 was in flight while 6 was logged: overlap inside the concurrency window is fine
    requests = [*timeline()[:5], sent(5, 5.0, 6.8), *timeline()[6:]]
    files = [log("app.log.2", *(line(i, f"p-{i:07d}") for i in (0, 1, 2))),
             log("app.log.1", *(line(i, f"p-{i:07d}") for i in (3, 4, 6))),
             log("app.log", *(line(i, f"p-{i:07d}") for i in (5, 7, 8, 9)))]
    account = account_ids(files, CFG.request_id_pattern, requests, oldest_rotated_away=False)
    assert account.out_of_order == [] and account.lost == 0


def test_a_gap_in_the_middle_and_a_duplicate_are_found() -> None:
    ids = [4, 5, 7, 8, 8, 9]
    files = [log("app.log", *(line(i, f"p-{i:07d}") for i in ids))]
    account = account_ids(files, CFG.request_id_pattern, timeline(), oldest_rotated_away=True)
    assert account.lost_from_middle == [6] and account.duplicated == {"p-0000008": 2}


def test_slow_request_sent_before_the_first_retained_ack_may_be_gone() -> None:
    # request 3 was slow: acknowledged at t=20, after 4..9; its line may be in the deleted file
    requests = [*timeline()[:3], sent(3, 3.0, 20.0), *timeline()[4:]]
    files = [log("app.log", *(line(i, f"p-{i:07d}") for i in range(4, 10)))]
    account = account_ids(files, CFG.request_id_pattern, requests, oldest_rotated_away=True)
    assert account.lost_from_middle == [] and account.lost_with_rotation == [0, 1, 2, 3]


def test_a_backend_that_logs_after_responding_gets_its_lag() -> None:
    files = [log("app.log", *(line(i, f"p-{i:07d}") for i in (4, 6, 7, 8, 9)))]
    strict = account_ids(files, CFG.request_id_pattern, timeline(), oldest_rotated_away=True)
    lagging = account_ids(files, CFG.request_id_pattern, timeline(), oldest_rotated_away=True, lag_s=1.0)
    assert (strict.lost_from_middle, lagging.lost_from_middle) == ([5], [])


def test_losses_without_a_rotated_away_file_are_all_from_the_middle() -> None:
    files = [log("app.log", *(line(i, f"p-{i:07d}") for i in range(4, 10)))]
    account = account_ids(files, CFG.request_id_pattern, timeline(), oldest_rotated_away=False)
    assert account.lost_from_middle == [0, 1, 2, 3]


def test_unacknowledged_requests_are_not_counted_lost() -> None:
    requests = [*timeline()[:9], sent(9, 9.0, 9.5, status=0)]
    files = [log("app.log", *(line(i, f"p-{i:07d}") for i in range(9)))]
    account = account_ids(files, CFG.request_id_pattern, requests, oldest_rotated_away=False)
    assert (account.lost, account.unacknowledged, account.acknowledged) == (0, 1, 9)


# --- LOG-04 --------------------------------------------------------------------------------
def test_reference_logrotate_file_is_as_documented() -> None:
    assert check_logrotate_policy(LOGROTATE.read_text(), CFG.logrotate_policy, HOST_LOG) == []


@pytest.mark.parametrize(("change", "expected"), [
    (("    daily\n", "    dialy\n"), "`daily` is not set"),
    (("    daily\n", "    daily\n    weekly\n"), "line 11 sets `weekly`"),
    (("rotate 30", "rotate 7"), "`rotate 30` expected"),
    (("    delaycompress\n", ""), "`delaycompress` is not set"),
    (("    compress\n", "    compress\n    nocompress\n"), "sets `nocompress`"),
    (("    notifempty\n", "    ifempty\n"), "sets `ifempty`"),
    (("create 0644", "create 0600"), "`create 0644` expected"),
    (("_data/*.log", "_data/*.txt"), "covers the log file"),
])
def test_logrotate_policy_violations(change: tuple[str, str], expected: str) -> None:
    text = LOGROTATE.read_text()
    assert change[0] in text
    problems = check_logrotate_policy(text.replace(*change), CFG.logrotate_policy, HOST_LOG)
    assert len(problems) == 1 and expected in problems[0], problems


def test_global_directives_apply_and_scripts_are_skipped() -> None:
    text = "weekly\nrotate 30\n/var/log/a/*.log {\n  postrotate\n    daily\n  endscript\n}\n"
    globals_, blocks = parse_logrotate(text)
    assert [d.words for d in globals_] == [["weekly"], ["rotate", "30"]]
    assert blocks[0].directives == []
    assert check_logrotate_policy(text, ["weekly", "rotate 30"]) == []
    assert check_logrotate_policy("rotate 3\n", ["rotate 3"]) == ["no log block (`<path pattern> { ... }`) in the file"]


def test_covers_is_a_shell_glob_per_path_segment() -> None:
    assert covers("/v/_data/*.log", "/v/_data/app.log")
    assert not covers("/v/_data/*.log", "/v/_data/sub/app.log")
    assert not covers("*.log", "/v/_data/app.log")


@pytest.mark.skipif(shutil.which("logrotate") is None, reason="logrotate is not installed")
def test_real_logrotate_accepts_the_reference_and_names_a_typo(tmp_path: Path) -> None:
    good = logrotate_debug(LOGROTATE, tmp_path / "good", "app.log")
    assert (good.returncode, good.errors) == (0, []), good.output
    assert "renaming" in good.output and str(LOGROTATE) in good.output  # the rotation plan, walked
    typo = tmp_path / "ai-assistant"
    typo.write_text(LOGROTATE.read_text().replace("    daily\n", "    dialy\n"))
    bad = logrotate_debug(typo, tmp_path / "bad", "app.log")
    assert bad.errors == [f"error: {typo}:10 unknown option 'dialy' -- ignoring line"], bad.output


# --- traffic -------------------------------------------------------------------------------
def test_traffic_is_bounded_in_requests_with_unique_ids_and_concurrency() -> None:
    seen: list[str] = []
    in_flight, peak, lock = [0], [0], threading.Lock()

    def answer(request: httpx.Request) -> httpx.Response:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
            seen.append(request.headers["X-Request-ID"])
        time.sleep(0.002)
        with lock:
            in_flight[0] -= 1
        return httpx.Response(503 if request.headers["X-Request-ID"].endswith("7") else 200)

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        report = sequenced_traffic(client, "http://127.0.0.1/ping", header="X-Request-ID", prefix="p",
                                   requests=100, concurrency=4, max_seconds=30, first_seq=5)
    assert [s.seq for s in report.sent] == list(range(5, 105))
    assert sorted(seen) == sorted(s.request_id for s in report.sent) and len(set(seen)) == 100
    assert peak[0] <= 4 and report.stopped_by == "count"
    summary = report.summary()
    assert summary["requests_sent"] == 100 and summary["acknowledged"] == 100
    assert summary["statuses"] == {"200": 90, "503": 10}
    assert all(s.started <= s.finished for s in report.sent)


def test_traffic_stops_at_its_time_bound_and_reports_errors() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        time.sleep(0.05)
        if request.headers["X-Request-ID"].endswith("3"):
            raise httpx.ConnectError("refused")
        return httpx.Response(200)

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        started = time.monotonic()
        report = sequenced_traffic(client, "http://127.0.0.1/ping", header="X-Request-ID", prefix="p",
                                   requests=10_000, concurrency=2, max_seconds=0.3)
    assert time.monotonic() - started < 5 and report.stopped_by == "time"
    assert 0 < len(report.sent) < 100
    assert report.summary()["no_response"] == sum(1 for s in report.sent if s.request_id.endswith("3"))
    with pytest.raises(ValueError):
        sequenced_traffic(client, "http://x", header="h", prefix="p", requests=1, concurrency=0, max_seconds=1)


# --- [stack] ephemeral_env ------------------------------------------------------------------
def test_ephemeral_env_goes_into_the_generated_env_file_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from stackprobe.targets.envfiles import read_env
    from stackprobe.targets.ephemeral import EphemeralTarget

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # the copies' state: not the user's
    shutil.copyfile(REPO / ".env.example", tmp_path / ".env.example")
    base = Profile()
    profile = dataclasses.replace(base, stack=dataclasses.replace(
        base.stack, ephemeral_env={"LOG_MAX_BYTES": "16384", "LOG_BACKUP_COUNT": "3"}))
    generated = EphemeralTarget(profile, tmp_path, [], None, project="spx1x000000")
    written = read_env(generated.env_files[0])
    assert (written["LOG_MAX_BYTES"], written["LOG_BACKUP_COUNT"]) == ("16384", "3")
    assert generated.env["LOG_MAX_BYTES"] == "16384"
    given = tmp_path / "given.env"
    shutil.copyfile(REPO / ".env.example", given)
    kept = EphemeralTarget(profile, tmp_path, [], given, project="spx1x000001")
    assert kept.env["LOG_MAX_BYTES"] == "10485760"


# --- the log policy in effect and the rotation experiment (library, no Docker) ---------------
class _Service:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def inspect(self) -> dict[str, object]:
        return {"Config": {"Env": [f"{k}={v}" for k, v in self.env.items()]}}


class _Target:
    def __init__(self, profile: Profile, service_env: dict[str, str], file_env: dict[str, str]) -> None:
        self.profile, self.env, self._service = profile, file_env, _Service(service_env)
        self.asked: list[str] = []

    def service(self, name: str) -> _Service:
        self.asked.append(name)
        return self._service

    def service_environment(self, name: str) -> dict[str, str]:
        assert name == self.asked[-1]
        return self._service.env


def test_log_policy_profile_then_service_environment_then_env_file() -> None:
    from stackprobe.logs_policy import resolve_log_policy
    from stackprobe.profile import LogsSection, ServicesSection

    profile = Profile(services=ServicesSection(backend="api"), logs=LogsSection(max_bytes=4096))
    target = _Target(profile, {"LOG_FILE": "/srv/log/app.log", "LOG_MAX_BYTES": "1"}, {"LOG_BACKUP_COUNT": "7"})
    policy = resolve_log_policy(target)  # type: ignore[arg-type]
    assert target.asked == ["api"]  # the backend role's service, not a fixed name
    assert (policy.file, policy.max_bytes, policy.backup_count) == ("/srv/log/app.log", 4096, 7)
    assert policy.sources == {"file": "api environment LOG_FILE", "max_bytes": "profile [logs]",
                              "backup_count": "env file LOG_BACKUP_COUNT"}
    assert (policy.directory, policy.base) == ("/srv/log", "app.log")


def test_a_log_on_standard_output_is_the_services_docker_logs() -> None:
    from stackprobe.absence import AbsentSection
    from stackprobe.logs_policy import read_logs, resolve_log_policy
    from stackprobe.profile import ServicesSection

    class _Logged(_Service):
        def logs(self) -> str:
            return "2026-12-06T10:00:00.000+00:00 GET / request id=a\n"

    profile = Profile(services=ServicesSection(backend="web"), absent=AbsentSection(parts=["log_file"]))
    target = _Target(profile, {}, {})  # no LOG_* anywhere: nothing to resolve for a log on stdout
    target._service = _Logged({})
    policy = resolve_log_policy(target)  # type: ignore[arg-type]
    assert policy.stdout and policy.where == "the standard output of web (docker logs)"
    (log,) = read_logs(target, policy)  # type: ignore[arg-type]
    assert (log.name, log.lines) == ("docker logs web", ["2026-12-06T10:00:00.000+00:00 GET / request id=a"])


def test_log_policy_missing_or_not_a_number_is_one_line_naming_the_key() -> None:
    """A limit nobody states stops only what needs it (the rotation experiment of LOG-02/03), with
    one line naming the key; the checks of the file itself (LOG-01/05) go on."""
    from stackprobe.errors import StackprobeUsageError
    from stackprobe.logs_policy import resolve_log_policy
    from stackprobe.logs_rotation import run_rotation_experiment

    target = _Target(Profile(), {"LOG_FILE": "/a.log", "LOG_MAX_BYTES": "10"}, {})
    policy = resolve_log_policy(target)  # type: ignore[arg-type]
    assert policy.file == "/a.log" and policy.describe()["limits"] == "unknown"
    with pytest.raises(StackprobeUsageError, match=r"\[logs\] backup_count is not set and LOG_BACKUP_COUNT is in "
                                                   r"neither the backend container's environment nor the env file"):
        run_rotation_experiment(target, policy)  # type: ignore[arg-type]
    with pytest.raises(StackprobeUsageError, match=r"\[logs\] file is not set"):
        resolve_log_policy(_Target(Profile(), {"LOG_MAX_BYTES": "10"}, {}))  # type: ignore[arg-type]
    with pytest.raises(StackprobeUsageError, match=r"log limits must be integers: max_bytes='10k'"):
        resolve_log_policy(_Target(Profile(), {"LOG_FILE": "/a.log", "LOG_MAX_BYTES": "10k",  # type: ignore[arg-type]
                                               "LOG_BACKUP_COUNT": "3"}, {}))


def test_a_log_without_a_limit_is_never_rotated_and_sends_nothing() -> None:
    from stackprobe.logs_policy import LogPolicy
    from stackprobe.logs_rotation import LogNeverRotates, run_rotation_experiment

    target = _Target(Profile(), {}, {})
    with pytest.raises(LogNeverRotates, match=r"LOG_MAX_BYTES is 0 .*the log never rotates"):
        run_rotation_experiment(target, LogPolicy("backend", "/app/logs/app.log", 0, 3,  # type: ignore[arg-type]
                                                  {"max_bytes": "env file LOG_MAX_BYTES"}))
    assert target.asked == []  # nothing was sent, nothing read


def test_rotation_experiment_counts_rotations_and_backups() -> None:
    from stackprobe.logs import LogFile
    from stackprobe.logs_policy import LogPolicy
    from stackprobe.logs_rotation import RotationExperiment
    from stackprobe.traffic import TrafficReport

    sent = [Sent(i, f"r{i}", 200, 0.0, 0.01) for i in range(100)]
    report = TrafficReport("http://127.0.0.1/x", "X-Request-ID", "r", 4, 100, 10.0, sent, 1.0, "count")
    files = [LogFile(name, 0, "") for name in ("app.log", "app.log.1", "app.log.2", "app.log.3", "other.log")]
    experiment = RotationExperiment(LogPolicy("backend", "/app/logs/app.log", 1000, 3), [report], 100.0, 5,
                                    30000, files)
    assert experiment.rotations == pytest.approx(10.0)
    assert experiment.backups == [1, 2, 3]
    assert experiment.oldest_rotated_away
    assert experiment.summary()["rotations_estimate"] == 10.0


def test_the_one_traffic_engine_is_bounded_in_count_time_and_by_stop() -> None:
    from stackprobe.traffic import BoundedTraffic

    counted = BoundedTraffic(lambda seq: seq, concurrency=3, max_requests=50, max_s=10.0, first_seq=5).run()
    assert sorted(counted) == list(range(5, 55))
    timed = BoundedTraffic(lambda seq: time.sleep(0.01) or seq, concurrency=2, max_requests=10**6, max_s=0.2)
    results = timed.run()
    assert timed.stopped_by == "time" and 0 < len(results) < 100
    paced = BoundedTraffic(lambda seq: seq, concurrency=1, max_requests=10**6, max_s=30.0,
                           pace=lambda _result, _latency: 0.05).start()
    time.sleep(0.3)
    stopped = paced.stop()
    assert paced.stopped_by == "caller" and 3 <= len(stopped) <= 10  # about one per 50 ms
    with pytest.raises(ValueError):
        BoundedTraffic(lambda seq: seq, concurrency=0, max_requests=1, max_s=1.0)
