"""The config suite's "in effect" checks on fake `docker inspect` data, process dumps, image
histories and saved-image tars: no Docker engine."""

from __future__ import annotations

import io
import json
import tarfile
import time

import pytest

from stackprobe.checks import EnvPolicy, SecretPolicy, ServiceRoles, generate_secret
from stackprobe.checks.image_layers import (
    HistoryEntry,
    check_image,
    copied_dotenv,
    history_entries,
    is_dotenv_name,
    scan_saved_image,
)
from stackprobe.checks.in_effect import (
    PROC_DUMP_SCRIPT,
    ContainerFacts,
    PortBinding,
    Process,
    check_commands_in_effect,
    check_env_in_effect,
    check_flags_in_effect,
    check_ports_in_effect,
    check_secrets_in_effect,
    env_from_inspect,
    healthcheck_from_inspect,
    mask,
    parse_proc_dump,
    parse_top,
    passthrough,
    passthrough_variables,
    port_bindings,
)
from stackprobe.checks.secret_exposure import collect_secret_values

POLICY = SecretPolicy()
ROOT_PW, APP_PW, REDIS_PW, KEY = (generate_secret(24), generate_secret(24), generate_secret(24), generate_secret())
ENV = {"MYSQL_ROOT_PASSWORD": ROOT_PW, "MYSQL_PASSWORD": APP_PW, "REDIS_PASSWORD": REDIS_PW, "SECRET_KEY": KEY,
       "BCRYPT_ROUNDS": "12", "DEBUG": "False", "ENVIRONMENT": "production", "LOG_LEVEL": "INFO",
       "LOG_BACKUP_COUNT": "10"}
SECRETS = collect_secret_values([ENV], POLICY.is_secret_name)
ALLOWED = ("127.0.0.1", "::1")


def _assert_no_secret(findings: object) -> None:
    text = str(findings)
    for value in (ROOT_PW, APP_PW, REDIS_PW, KEY):
        assert value not in text


def _stack(**changes: dict[str, str]) -> list[ContainerFacts]:
    env = {
        "mysql": {"MYSQL_ROOT_PASSWORD": ROOT_PW, "MYSQL_PASSWORD": APP_PW, "PATH": "/usr/bin"},
        "redis": {"REDIS_PASSWORD": REDIS_PW, "REDISCLI_AUTH": REDIS_PW},
        "backend": {k: ENV[k] for k in ("MYSQL_PASSWORD", "REDIS_PASSWORD", "SECRET_KEY", "BCRYPT_ROUNDS", "DEBUG",
                                        "ENVIRONMENT", "LOG_LEVEL", "LOG_BACKUP_COUNT")},
    }
    for service, update in changes.items():
        env[service] = {**env[service], **update}
    return [ContainerFacts(service, env=values) for service, values in env.items()]


# ---- inspect parsing ---------------------------------------------------------------------

def test_env_from_inspect_last_binding_wins_and_odd_lines_are_skipped() -> None:
    attrs = {"Config": {"Env": ["A=1", "B=x=y", "NOEQUALS", "A=2", "EMPTY="]}}
    assert env_from_inspect(attrs) == {"A": "2", "B": "x=y", "EMPTY": ""}
    assert env_from_inspect({}) == {}
    assert healthcheck_from_inspect({"Config": {"Healthcheck": {"Test": ["CMD", "true"]}}}) == ("CMD", "true")
    assert healthcheck_from_inspect({"Config": {}}) == ()


def test_port_bindings_merge_what_is_bound_with_what_was_asked_for() -> None:
    running = {
        "NetworkSettings": {"Ports": {"3306/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32768"},
                                                  {"HostIp": "::", "HostPort": "32768"}],
                                      "33060/tcp": None}},
        "HostConfig": {"PortBindings": {"3306/tcp": [{"HostIp": "", "HostPort": "0"}]}},
    }
    assert port_bindings(running) == (PortBinding("3306/tcp", "0.0.0.0", "32768"),
                                      PortBinding("3306/tcp", "::", "32768"))
    stopped = {"NetworkSettings": {"Ports": {}},
               "HostConfig": {"PortBindings": {"6379/tcp": [{"HostIp": "", "HostPort": "6379"}]}}}
    assert port_bindings(stopped) == (PortBinding("6379/tcp", "", "6379"),)
    loopback = {"NetworkSettings": {"Ports": {"3306/tcp": [{"HostIp": "127.0.0.1", "HostPort": "4000"}]}},
                "HostConfig": {"PortBindings": {"3306/tcp": [{"HostIp": "127.0.0.1", "HostPort": "0"}]}}}
    assert port_bindings(loopback) == (PortBinding("3306/tcp", "127.0.0.1", "4000"),)


@pytest.mark.parametrize(("ip", "fails"), [("0.0.0.0", True), ("::", True), ("", True), ("10.0.0.5", True),
                                           ("127.0.0.1", False), ("::1", False)])
def test_database_and_cache_ports_only_on_loopback(ip: str, fails: bool) -> None:
    facts = [ContainerFacts("mysql", ports=(PortBinding("3306/tcp", ip, "3306"),)),
             ContainerFacts("redis", ports=(PortBinding("6379/tcp", ip, "6379"),)),
             ContainerFacts("backend", ports=(PortBinding("8000/tcp", "0.0.0.0", "8000"),))]
    found = check_ports_in_effect(facts, ServiceRoles(), ALLOWED)
    assert {f.control for f in found} <= {"SEC-06"}
    assert sorted(f.subject for f in found) == (["mysql", "redis"] if fails else [])
    if fails:
        assert "container port 3306" in found[0].message and "(in effect)" in found[0].message


def test_proc_dump_parses_argv_exactly() -> None:
    dump = ("\x1e1\x1fpython\0-m\0app.serve\0--opt=a b\0"
            "\x1e7\x1f"  # a kernel thread or a process that just exited: empty cmdline
            "\x1e12\x1fredis-server *:6379\0"
            "\x1enotapid\x1fx\0")
    assert parse_proc_dump(dump) == (Process(1, ("python", "-m", "app.serve", "--opt=a b")),
                                     Process(12, ("redis-server *:6379",)))
    assert parse_proc_dump("") == ()
    assert "/proc/[0-9]*" in PROC_DUMP_SCRIPT and "ps" not in PROC_DUMP_SCRIPT.split()


def test_docker_top_output_is_read_as_one_argument_string() -> None:
    top = {"Titles": ["PID", "COMMAND"], "Processes": [["3388", "python -m app.serve --password=x"], ["x", "y"]]}
    assert parse_top(top) == (Process(3388, ("python -m app.serve --password=x",)),)
    assert parse_top({"Titles": ["UID", "PID", "PPID", "CMD"], "Processes": [["root", "5", "1", "sleep 1"]]}) == (
        Process(5, ("sleep 1",)),)


# ---- ENV-01 / ENV-03 ---------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ("${A}", ("A", "", "")), ("$A", ("A", "", "")), ("${A:-x y}", ("A", ":-", "x y")),
    ("${A-x}", ("A", "-", "x")), ("${A:?set A in .env}", ("A", ":?", "set A in .env")),
    ("${A:+x}", None), ("${A}-suffix", None), ("literal", None), ("${A:-${B}}", None), (3306, None),
])
def test_passthrough_is_exactly_one_substitution(value: object, expected: tuple[str, str, str] | None) -> None:
    found = passthrough(value)
    assert (None if found is None else (found.key, found.operator, found.word)) == expected


def test_passthrough_expected_value_follows_compose() -> None:
    assert passthrough("${A:-d}").expected({"A": ""}) == "d"  # type: ignore[union-attr]
    assert passthrough("${A-d}").expected({"A": ""}) == ""  # type: ignore[union-attr]
    assert passthrough("${A-d}").expected({}) == "d"  # type: ignore[union-attr]
    assert passthrough("${A:?e}").expected({"A": "v"}) == "v"  # type: ignore[union-attr]
    assert passthrough("${A}").expected({}) is None  # type: ignore[union-attr]


def test_passthrough_variables_from_the_uninterpolated_model() -> None:
    model = {"services": {"backend": {"environment": {"DEBUG": "${DEBUG:-False}", "MYSQL_PORT": "3306",
                                                      "AUTH": "${REDIS_PASSWORD:?x}"}},
                          "old": {"environment": ["LOG_LEVEL=${LOG_LEVEL}", "X=1"]}, "bare": None}}
    found = passthrough_variables(model)
    assert {s: {v: p.key for v, p in m.items()} for s, m in found.items()} == {
        "backend": {"DEBUG": "DEBUG", "AUTH": "REDIS_PASSWORD"}, "old": {"LOG_LEVEL": "LOG_LEVEL"}, "bare": {}}


def test_env_in_effect_reports_missing_and_different_values_without_secrets() -> None:
    model = {"services": {"backend": {"environment": {
        "LOG_BACKUP_COUNT": "${LOG_BACKUP_COUNT:-10}", "MYSQL_PASSWORD": "${MYSQL_PASSWORD:?x}",
        "SECRET_KEY": "${SECRET_KEY:?x}", "NOT_IN_FILE": "${NOT_IN_FILE:-1}", "MYSQL_PORT": "3306"}}}}
    passthroughs = passthrough_variables(model)
    assert check_env_in_effect(_stack(), passthroughs, ENV, POLICY) == []
    facts = _stack(backend={"LOG_BACKUP_COUNT": "3", "MYSQL_PASSWORD": generate_secret(24), "MYSQL_PORT": "1"})
    facts = [ContainerFacts(f.service, env={k: v for k, v in f.env.items() if k != "SECRET_KEY"}) for f in facts]
    found = check_env_in_effect(facts, passthroughs, ENV, POLICY)
    assert {f.control for f in found} == {"ENV-01"}
    messages = sorted(f.message for f in found)
    assert len(messages) == 3, messages
    assert "LOG_BACKUP_COUNT differs from the env file's LOG_BACKUP_COUNT: the container has '3', the file says '10'" \
        in messages[0]
    assert "MYSQL_PASSWORD differs from the env file's MYSQL_PASSWORD;" in messages[1]
    assert "SECRET_KEY is not set" in messages[2]
    _assert_no_secret(found)


def test_production_flags_in_effect() -> None:
    assert check_flags_in_effect(_stack(), EnvPolicy()) == []
    found = check_flags_in_effect(_stack(backend={"DEBUG": "True", "LOG_LEVEL": "DEBUG"}), EnvPolicy())
    assert [f.control for f in found] == ["ENV-03", "ENV-03"]
    assert all(f.message.startswith("backend container (in effect): ") for f in found)
    # a container without any flag (mysql, redis) is not judged, even when a value is expected
    strict = EnvPolicy(expected_environment="production")
    assert check_flags_in_effect(_stack(), strict) == []


# ---- SEC-01 / SEC-02 / SEC-03 ------------------------------------------------------------

def test_strong_secrets_in_effect_pass() -> None:
    assert check_secrets_in_effect(_stack(), POLICY) == []


def test_weak_secrets_in_effect_fail_under_their_controls() -> None:
    found = check_secrets_in_effect(
        _stack(backend={"SECRET_KEY": "your-secret-key-change-in-production-min-32-chars", "BCRYPT_ROUNDS": "10",
                        "MYSQL_PASSWORD": "short"},
               mysql={"MYSQL_PASSWORD": "short"}),
        POLICY)
    by_control = {f.control: f for f in found}
    assert sorted(f.control for f in found) == ["SEC-01", "SEC-02", "SEC-03"]
    assert by_control["SEC-02"].message.startswith("backend, mysql containers (in effect): MYSQL_PASSWORD")
    assert "BCRYPT_ROUNDS is 10" in by_control["SEC-03"].message


def test_reuse_across_containers_is_found_once() -> None:
    found = check_secrets_in_effect(_stack(redis={"REDIS_PASSWORD": ROOT_PW}), POLICY)
    assert [f.control for f in found] == ["SEC-02"]
    assert "MYSQL_ROOT_PASSWORD and REDIS_PASSWORD have the same value" in found[0].message
    _assert_no_secret(found)


# ---- SEC-07 on command lines -------------------------------------------------------------

def test_no_secret_on_healthchecks_or_process_arguments_passes() -> None:
    facts = [ContainerFacts("mysql", healthcheck=("CMD", "mysqladmin", "ping", "-h", "localhost"),
                            processes=(Process(1, ("mariadbd", "--user=mysql")),)),
             ContainerFacts("redis", healthcheck=("CMD-SHELL", "redis-cli ping | grep -q PONG"))]
    assert check_commands_in_effect(facts, SECRETS, POLICY) == []


def test_secret_in_healthcheck_and_process_arguments_fails_sec07_naming_the_key() -> None:
    facts = [
        ContainerFacts("mysql", healthcheck=("CMD", "mysqladmin", "ping", f"-p{ROOT_PW}")),
        ContainerFacts("backend", processes=(Process(1, ("python", "-m", "app.serve", f"--db-password={APP_PW}")),
                                             Process(9, ("mysqladmin", "ping", "-uroot", "-pxxxxxxxx")))),
        ContainerFacts("redis", processes_read=False, process_source="no shell; docker top failed"),
    ]
    found = check_commands_in_effect(facts, SECRETS, POLICY)
    assert {f.control for f in found} == {"SEC-07"}
    text = "\n".join(f.message for f in found)
    assert "healthcheck test contains the value of MYSQL_ROOT_PASSWORD" in text
    assert "process 1 (python -m app.serve --db-password=«MYSQL_PASSWORD») contains the value of MYSQL_PASSWORD" in text
    assert "process 9" in text and "-p<password>" in text  # the client masked it; the argument is still there
    assert "redis container (in effect): the process arguments could not be read" in text
    _assert_no_secret(found)


def test_secret_values_and_mask() -> None:
    values = collect_secret_values([{"A_PASSWORD": "short", "B_TOKEN": "long-enough", "PLAIN": "long-enough-x"},
                            {"B_TOKEN": "other-value"}], POLICY.is_secret_name)
    assert values == {"long-enough": "B_TOKEN", "other-value": "B_TOKEN"}
    assert mask("x long-enough y", values) == "x «B_TOKEN» y"


# ---- SEC-07 in images --------------------------------------------------------------------

@pytest.mark.parametrize(("path", "expected"), [
    (".env", True), ("/app/.env", True), ("/app/.env.production", True), ("/srv/prod.env", True),
    ("/app/.env.example", False), (".env.sample", False), ("/x/.envrc", False), ("/x/env", False),
    ("/app/.wh..env", False), ("/usr/lib/python3/dist-packages/foo/environment.py", False),
])
def test_dotenv_names(path: str, expected: bool) -> None:
    assert is_dotenv_name(path) is expected


@pytest.mark.parametrize(("created_by", "expected"), [
    ("COPY .env /app/.env # buildkit", ".env"),
    ("/bin/sh -c #(nop) COPY file:3f2a9c in /app/.env ", "/app/.env"),
    ('COPY [".env", "/app/"] # buildkit', ".env"),
    ("ADD --chown=app:app prod.env /srv/ # buildkit", "prod.env"),
    ("COPY .env.example /app/ # buildkit", None),
    ("COPY app/ ./app/ # buildkit", None),
    ("/bin/sh -c #(nop) COPY dir:9c1e in /app ", None),
    ("RUN /bin/sh -c cp /tmp/.env /app/.env # buildkit", None),
    ("", None),
])
def test_history_entries_that_copy_an_env_file(created_by: str, expected: str | None) -> None:
    assert copied_dotenv(created_by) == expected


def _tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _saved_image(*layers: dict[str, bytes], oci_config: bool = True) -> list[bytes]:
    members = {f"layer{i:02d}/layer.tar": _tar(files) for i, files in enumerate(layers)}
    if oci_config:
        members["blobs/sha256/cafe"] = json.dumps({"config": {}}).encode()
    members["manifest.json"] = b"[]"
    data = _tar(members)
    return [data[i:i + 1000] for i in range(0, len(data), 1000)]  # as the API streams it


def test_layer_scan_finds_env_files_and_secret_values_by_key() -> None:
    stream = _saved_image(
        {"usr/bin/tool": b"\x7fELF" + b"x" * 100, "app/settings.py": b"DEBUG = False\n"},
        {"app/.env": b"MYSQL_PASSWORD=" + APP_PW.encode(), "etc/app.conf": b"key = " + KEY.encode(),
         "opt/big.bin": b"y" * 5000, "app/.env.example": b"A=1"},
        {"app/.wh..env": b""},
    )
    scan = scan_saved_image(stream, "img", {APP_PW: "MYSQL_PASSWORD", KEY: "SECRET_KEY"}, max_file_bytes=4096,
                            deadline=time.monotonic() + 30)
    assert scan.complete and scan.layers == 3 and scan.files == 7 and scan.large_files == 1
    assert scan.dotenv_files == [("layer01", "/app/.env")]
    assert scan.secret_files == [("layer01", "/app/.env", ("MYSQL_PASSWORD",)),
                                 ("layer01", "/etc/app.conf", ("SECRET_KEY",))]
    _assert_no_secret(scan.summary())


def test_layer_scan_skips_shared_layers_and_stops_at_its_deadline() -> None:
    seen: set[str] = set()
    first = scan_saved_image(_saved_image({"a": b"1"}), "one", {}, max_file_bytes=10, deadline=time.monotonic() + 30,
                             seen_layers=seen)
    again = scan_saved_image(_saved_image({"a": b"1"}), "two", {}, max_file_bytes=10, deadline=time.monotonic() + 30,
                             seen_layers=seen)
    assert (first.layers, again.layers, again.layers_skipped) == (1, 0, 1)
    late = scan_saved_image(_saved_image({"a": b"1"}), "late", {}, max_file_bytes=10, deadline=time.monotonic() - 1)
    assert not late.complete and late.layers == 0


def test_image_check_reports_history_config_and_layers() -> None:
    history = history_entries([{"CreatedBy": "COPY .env /app/.env # buildkit", "Id": "sha256:1", "Size": 9},
                               {"CreatedBy": f"ARG TOKEN={KEY}", "Id": "<missing>"},
                               {"CreatedBy": "CMD [\"python\"]"}])
    assert history[2] == HistoryEntry('CMD ["python"]', "", 0)
    scan = scan_saved_image(_saved_image({"app/.env": APP_PW.encode()}), "img", {APP_PW: "MYSQL_PASSWORD"},
                            max_file_bytes=4096, deadline=time.monotonic() + 30)
    found = check_image("img:1", ["backend"], history, {"API_TOKEN": "baked-token-value", "PATH": "/bin"},
                        {KEY: "SECRET_KEY", APP_PW: "MYSQL_PASSWORD"}, POLICY.is_secret_name, scan, 6)
    text = "\n".join(f.message for f in found)
    assert {f.control for f in found} == {"SEC-07"} and {f.subject for f in found} == {"backend"}
    assert "copies the env file .env" in text
    assert "build history contains the value of SECRET_KEY" in text
    assert "image configuration sets API_TOKEN" in text
    assert "holds the env file /app/.env" in text and "/app/.env contains the value of MYSQL_PASSWORD" in text
    _assert_no_secret(found)
    clean = check_image("img:1", ["backend"], history[2:], {"PATH": "/bin"}, {}, POLICY.is_secret_name,
                        scan_saved_image(_saved_image({"a": b"1"}), "img", {}, max_file_bytes=10,
                                         deadline=time.monotonic() + 30), 6)
    assert clean == []
    unproven = scan_saved_image(_saved_image({"a": b"1"}), "img", {}, max_file_bytes=10, deadline=0.0)
    (finding,) = check_image("i", ["b"], (), {}, {}, POLICY.is_secret_name, unproven, 6)
    assert "stopped at its time bound" in finding.message


# ---- reading processes: /proc through sh and cat, else docker top -------------------------

class _FakeContainer:
    def __init__(self, status: str, exec_result: tuple[int, bytes] | Exception, top: dict[str, object] | Exception):
        self.status, self._exec, self._top = status, exec_result, top
        self.labels: dict[str, str] = {"com.docker.compose.service": "svc"}

    def exec_run(self, cmd: list[str], **_: object) -> tuple[int, bytes]:
        if isinstance(self._exec, Exception):
            raise self._exec
        assert cmd[:2] == ["sh", "-c"]
        return self._exec

    def top(self, ps_args: str) -> dict[str, object]:
        if isinstance(self._top, Exception):
            raise self._top
        return self._top


def test_processes_are_read_from_proc_or_docker_top_or_reported_unreadable() -> None:
    import docker.errors

    from stackprobe.inspect import read_processes
    from stackprobe.targets import Service

    top = {"Titles": ["PID", "COMMAND"], "Processes": [["42", "app --flag"]]}
    own = f"\x1e99\x1fsh\0-c\0{PROC_DUMP_SCRIPT}\0"  # the reading shell itself is left out
    proc = Service(_FakeContainer("running", (0, b"\x1e1\x1fapp\0--flag\0" + own.encode()), top))  # type: ignore[arg-type]
    assert read_processes(proc) == ((Process(1, ("app", "--flag")),),
                                    "/proc/*/cmdline via sh and cat in the container", True)
    no_shell = Service(_FakeContainer("running", (127, b"exec: sh: not found"), top))  # type: ignore[arg-type]
    processes, source, read = read_processes(no_shell)
    assert processes == (Process(42, ("app --flag",)),) and read and source.startswith("docker top (sh in the")
    broken = docker.errors.APIError("no exec")
    nothing = Service(_FakeContainer("running", broken, docker.errors.APIError("no ps")))  # type: ignore[arg-type]
    processes, source, read = read_processes(nothing)
    assert processes == () and not read and "docker top failed" in source
    stopped = Service(_FakeContainer("exited", broken, broken))  # type: ignore[arg-type]
    assert read_processes(stopped) == ((), "container exited: no processes", True)
