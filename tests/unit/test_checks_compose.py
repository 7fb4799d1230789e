"""Compose policy: rendering, SEC-04 on raw files, CMP-01, SEC-06, LOG-06, CTR-02/03, SEC-07."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.healthcheck_cases import NOOP_TESTS, REAL_TESTS

from stackprobe.checks import (
    ComposePolicy,
    ConfigInputError,
    HealthcheckBounds,
    SecretPolicy,
    ServiceRoles,
    check_compose_healthchecks,
    check_compose_structure,
    check_fallback_defaults,
    check_healthchecks,
    check_literal_secrets,
    check_log_limits,
    check_published_ports,
    check_restart_policies,
    check_secrets_in_commands,
    healthchecks,
    image_pin,
    is_noop,
    parse_duration,
    render_compose,
    substitutions,
)

REPO = Path(__file__).resolve().parents[2]
GOOD_ENV = REPO / "tests" / "defects" / "config" / "good" / "env"
POLICY = ComposePolicy()
SECRETS = SecretPolicy()


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    return render_compose([REPO / "docker-compose.yml"], GOOD_ENV, REPO)


def _model(**services: dict[str, Any]) -> dict[str, Any]:
    base: dict[str, dict[str, Any]] = {"mysql": {}, "redis": {}, "backend": {}}
    return {"services": base | services}


def _one_line(error: ConfigInputError, *names: str) -> str:
    text = str(error)
    assert "\n" not in text and "Traceback" not in text and error.__cause__ is None
    for name in names:
        assert name in text
    return text


# ---- rendering -------------------------------------------------------------------------

def test_reference_stack_passes_every_compose_check(reference: dict[str, Any]) -> None:
    assert set(reference["services"]) == {"mysql", "redis", "backend"}
    assert check_compose_structure(reference, POLICY) == []
    assert check_published_ports(reference, POLICY) == []
    assert check_log_limits(reference, POLICY) == []
    assert check_restart_policies(reference, POLICY) == []
    assert check_compose_healthchecks(reference, POLICY) == []
    assert check_secrets_in_commands(reference, {}, SECRETS) == []
    assert check_fallback_defaults([REPO / "docker-compose.yml"], SECRETS) == []


def test_render_uses_the_env_file_not_the_shell(
    reference: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MYSQL_PORT", "9999")
    model = render_compose([REPO / "docker-compose.yml"], GOOD_ENV, REPO)
    assert model["services"]["mysql"]["ports"][0]["published"] == "3306"


def test_compose_rejection_is_one_line_with_composes_reason(tmp_path: Path) -> None:
    bad = tmp_path / "compose.yml"
    bad.write_text("services:\n  a:\n    imag: x\n")
    with pytest.raises(ConfigInputError) as caught:
        render_compose([bad], None)
    text = _one_line(caught.value, "compose.yml", "docker compose rejects")
    assert "additional properties 'imag' not allowed" in text


def test_invalid_yaml_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "compose.yml"
    bad.write_text("services:\n  a:\n    ports: [1, 2\n")
    with pytest.raises(ConfigInputError) as caught:
        render_compose([bad], None)
    assert "yaml: line" in _one_line(caught.value, "compose.yml")


def test_missing_required_variable_is_one_line(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("MYSQL_ROOT_PASSWORD=x\n")
    with pytest.raises(ConfigInputError) as caught:
        render_compose([REPO / "docker-compose.yml"], env, REPO)
    assert "required variable" in _one_line(caught.value, "docker-compose.yml", str(env))


def test_missing_files_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigInputError) as caught:
        render_compose([tmp_path / "nope.yml"], None)
    assert "does not exist" in _one_line(caught.value, "nope.yml")
    with pytest.raises(ConfigInputError) as caught:
        render_compose([REPO / "docker-compose.yml"], tmp_path / "nope.env")
    _one_line(caught.value, "nope.env")
    with pytest.raises(ConfigInputError):
        render_compose([], None)


def test_secret_values_are_masked_in_composes_error(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(GOOD_ENV.read_text() + "MYSQL_PORT=Sup3rS3cretPort\n")
    with pytest.raises(ConfigInputError) as caught:
        render_compose([REPO / "docker-compose.yml"], env, REPO)
    assert "Sup3rS3cretPort" not in _one_line(caught.value)


# ---- SEC-04 ----------------------------------------------------------------------------

def test_substitution_scanner() -> None:
    text = (
        "a: ${A:-x} $$B ${C:?err} ${D-y} $E ${F:+alt} $${G:-z}\n"
        "b: ${H:-${I:-nested}}\n"
    )
    found = [(s.line, s.name, s.operator, s.is_fallback) for s in substitutions(text)]
    assert found == [
        (1, "A", ":-", True), (1, "C", ":?", False), (1, "D", "-", True), (1, "E", "", False),
        (1, "F", ":+", False), (2, "H", ":-", True), (2, "I", ":-", True),
    ]


def _compose(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "compose.yml"
    path.write_text(body)
    return path


def test_sec04_fallbacks_for_secrets_only(tmp_path: Path) -> None:
    path = _compose(tmp_path, (
        "services:\n  db:\n    environment:\n"
        "      MYSQL_ROOT_PASSWORD: ${MYSQL_ROOT_PASSWORD:-rootpassword}\n"
        "      MYSQL_PASSWORD: ${MYSQL_PASSWORD-changeme}\n"
        "      API: ${SERVICE_API_KEY:-${OTHER_TOKEN:-abc}}\n"
        "      OK1: ${REDIS_PASSWORD:?set it}\n"
        "      OK2: ${DASHSCOPE_API_KEY:-}\n"
        "      OK3: ${MYSQL_PORT:-3306}\n"
        "      OK4: $${SECRET_KEY:-literal, not interpolated}\n"
        "      # OK5: ${SECRET_KEY:-only in a comment}\n"
        "      OK6: 'a # ${SECRET_KEY:?quoted hash is not a comment}'\n"
    ))
    findings = check_fallback_defaults([path], SECRETS)
    assert [f.subject for f in findings] == [
        "compose.yml:4", "compose.yml:5", "compose.yml:6", "compose.yml:6",
    ]
    assert "${MYSQL_ROOT_PASSWORD:-…}" in findings[0].message
    assert "12-character value when MYSQL_ROOT_PASSWORD is unset or empty" in findings[0].message
    assert "when MYSQL_PASSWORD is unset;" in findings[1].message
    for finding in findings:
        assert "rootpassword" not in finding.message and "changeme" not in finding.message


def test_sec04_unreadable_compose_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigInputError) as caught:
        check_fallback_defaults([tmp_path / "gone.yml"], SECRETS)
    _one_line(caught.value, "gone.yml")


# ---- CMP-01 ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("image", "tag", "digest"),
    [("mysql", "", ""), ("mysql:8.0", "8.0", ""), ("localhost:5000/app", "", ""),
     ("localhost:5000/app:1.2", "1.2", ""), ("redis@sha256:abc", "", "sha256:abc"),
     ("redis:7.0@sha256:abc", "7.0", "sha256:abc")],
)
def test_image_pin(image: str, tag: str, digest: str) -> None:
    assert image_pin(image) == (tag, digest)


def test_cmp01_images(reference: dict[str, Any]) -> None:
    model = _model(
        mysql={"image": "mysql:latest", "volumes": []},
        redis={"image": "localhost:5000/redis"},
        backend={"build": {"context": "."}},
    )
    messages = [f.message for f in check_compose_structure(model, POLICY)]
    assert any("mysql image mysql:latest is not pinned" in m for m in messages)
    assert any("redis image localhost:5000/redis is not pinned" in m for m in messages)
    assert any("backend is built without an image name" in m for m in messages)
    strict = ComposePolicy(require_digest=True)
    subjects = {f.subject for f in check_compose_structure(reference, strict)}
    assert subjects == {"mysql", "redis", "backend"}


def test_cmp01_volumes_and_depends_on() -> None:
    model = _model(
        mysql={"image": "mysql:8.0", "volumes": [{"type": "volume", "target": "/var/lib/mysql"}]},
        redis={"image": "redis:7.0", "volumes": [{"type": "tmpfs", "target": "/data"}]},
        backend={"image": "b:1", "volumes": [
            {"type": "volume", "source": "up", "target": "/app/uploads"},
            {"type": "volume", "source": "vec", "target": "/app/vector_db"},
            {"type": "volume", "target": "/scratch"},
        ], "depends_on": {"mysql": {"condition": "service_started"}}},
    )
    messages = sorted(f.message for f in check_compose_structure(model, POLICY))
    assert messages == sorted([
        "mysql data directory /var/lib/mysql: it is an anonymous volume, orphaned whenever the "
        "container is recreated; expected a named volume",
        "redis data directory /data: it is a tmpfs mount; expected a named volume",
        "backend has an anonymous volume at /scratch; expected a named volume",
        "backend depends_on mysql: condition service_started; expected `condition: "
        "service_healthy`, so it starts only once the dependency answers",
        "backend depends_on redis: no depends_on entry; expected `condition: service_healthy`, "
        "so it starts only once the dependency answers",
    ])


def test_roles_are_parameters_and_a_missing_role_is_an_input_error() -> None:
    model = {"services": {"db": {"image": "mariadb:10.11"}, "api": {"image": "api:1"}}}
    policy = ComposePolicy(roles=ServiceRoles(database="db", cache="", backend="api"),
                           database_data_dirs=(), backend_data_dirs=())
    (finding,) = check_compose_structure(model, policy)
    assert finding.message.startswith("api depends_on db: no depends_on entry")
    with pytest.raises(ConfigInputError) as caught:
        check_published_ports(model, POLICY)
    assert "no service 'mysql' for the database role" in _one_line(caught.value)


# ---- SEC-06 ----------------------------------------------------------------------------

def test_sec06_published_ports() -> None:
    model = _model(
        mysql={"ports": [
            {"target": 3306, "published": "3306", "host_ip": "127.0.0.1"},
            {"target": 3306, "published": "3307", "host_ip": "0.0.0.0"},
            {"target": 3306, "published": "3308"},
        ]},
        redis={"ports": [{"target": 6379, "published": "6379", "host_ip": "::"},
                         {"target": 6379, "published": "6380", "host_ip": "::1"}],
               "network_mode": "host"},
        backend={"ports": [{"target": 8000, "published": "8000", "host_ip": "0.0.0.0"}]},
    )
    messages = [f.message for f in check_published_ports(model, POLICY)]
    assert messages == [
        "mysql publishes container port 3306 as 3307 on 0.0.0.0 (all IPv4 interfaces); "
        "expected host_ip 127.0.0.1 or ::1",
        "mysql publishes container port 3306 as 3308 on all interfaces (no host IP given); "
        "expected host_ip 127.0.0.1 or ::1",
        "redis uses network_mode: host, so every port it listens on is on all host interfaces; "
        "expected the project network with ports on 127.0.0.1",
        "redis publishes container port 6379 as 6379 on :: (all IPv6 interfaces); "
        "expected host_ip 127.0.0.1 or ::1",
    ]
    private = ComposePolicy(allowed_host_ips=("127.0.0.1", "::1", "0.0.0.0", "", "::"))
    assert [f.subject for f in check_published_ports(model, private)] == ["redis"]


# ---- LOG-06 ----------------------------------------------------------------------------

def test_log06_log_limits() -> None:
    bounded = {"driver": "json-file", "options": {"max-size": "10m", "max-file": "3"}}
    model = {"services": {
        "a": {"logging": bounded},
        "b": {},
        "c": {"logging": {"driver": "json-file", "options": {"max-size": "10m"}}},
        "d": {"logging": {"driver": "json-file", "options": {"max-size": "-1", "max-file": "3"}}},
        "e": {"logging": {"driver": "local"}},
        "f": {"logging": {"driver": "journald"}},
        "g": {"logging": {"driver": "none"}},
        "h": {"logging": {"options": {"max-size": "1g", "max-file": "2"}}},
    }}
    findings = {f.subject: f.message for f in check_log_limits(model, POLICY)}
    assert set(findings) == {"b", "c", "d", "g"}
    assert "no logging configuration (the daemon default) without max-size and max-file" in (
        findings["b"]
    )
    assert "json-file without max-file" in findings["c"]
    assert "without max-size" in findings["d"]
    assert "uses log driver none" in findings["g"]
    lenient = ComposePolicy(log_require_max_file=False)
    assert "c" not in {f.subject for f in check_log_limits(model, lenient)}


# ---- CTR-02 / CTR-03 -------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s", 10), ("1m30s", 90), ("500ms", 0.5), ("1h", 3600), ("2.5s", 2.5), ("30", 30), (5, 5)],
)
def test_parse_duration(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


def test_parse_duration_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_duration("10 parsecs")


@pytest.mark.parametrize(
    ("test", "noop"), [(test, True) for test in NOOP_TESTS] + [(test, False) for test in REAL_TESTS]
)
def test_is_noop(test: list[str], noop: bool) -> None:
    assert is_noop(test) is noop


def test_healthchecks_helper(reference: dict[str, Any]) -> None:
    checks = healthchecks(reference)
    assert checks["mysql"].interval_s == 10 and checks["mysql"].timeout_s == 5
    assert checks["mysql"].retries == 5 and checks["mysql"].start_period_s == 30
    assert checks["backend"].test[:2] == ("CMD", "curl") and not checks["backend"].noop
    defaults = healthchecks({"services": {"a": {"healthcheck": {"test": ["CMD", "x"]}}}})["a"]
    assert (defaults.interval_s, defaults.timeout_s, defaults.retries) == (30, 30, 3)


def test_ctr02_healthcheck_findings() -> None:
    model = {"services": {
        "none": {},
        "off": {"healthcheck": {"disable": True}},
        "noop": {"healthcheck": {"test": ["CMD-SHELL", "exit 0"]}},
        "slow": {"healthcheck": {"test": ["CMD", "probe"], "interval": "5m", "retries": 0}},
        "fine": {"healthcheck": {"test": ["CMD", "probe"], "interval": "10s", "timeout": "5s"}},
        "job": {},
    }}
    found = check_healthchecks(model, HealthcheckBounds(), ["job"])
    findings = {f.subject: f.message for f in found}
    assert set(findings) == {"none", "off", "noop", "slow"}
    assert "declares no healthcheck" in findings["none"]
    assert "is disabled" in findings["off"]
    assert "always succeeds (a no-op)" in findings["noop"]
    assert findings["slow"] == (
        "slow healthcheck: interval 300s, expected (0, 60]; retries 0, expected [1, 10]"
    )


def test_ctr03_restart_policies() -> None:
    model = {"services": {
        "a": {"restart": "always"}, "b": {"restart": "on-failure:5"}, "c": {"restart": "no"},
        "d": {}, "e": {"deploy": {"restart_policy": {"condition": "any"}}}, "migrate": {},
    }}
    policy = ComposePolicy(one_shot_services=("migrate",))
    findings = {f.subject: f.message for f in check_restart_policies(model, policy)}
    assert set(findings) == {"c", "d"}
    assert findings["d"] == (
        "d restart policy is unset (no); expected one of always, unless-stopped, on-failure"
    )


# ---- SEC-07 ----------------------------------------------------------------------------

def test_sec07_secret_values_and_password_arguments() -> None:
    env = {"MYSQL_ROOT_PASSWORD": "R00tPa$$word-Value-0123", "REDIS_PASSWORD": "redisSecret-0456",
           "MYSQL_USER": "ai_user"}
    model = {"services": {
        "mysql": {"healthcheck": {"test": ["CMD", "mysqladmin", "-pR00tPa$$$$word-Value-0123"]}},
        "redis": {"command": ["redis-server", "--requirepass", "$$REDIS_PASSWORD"]},
        "backend": {"build": {"args": {"TOKEN": "redisSecret-0456"}},
                    "entrypoint": ["sh", "-c", "curl -u admin:$${API_TOKEN} http://x"],
                    "environment": {"API_TOKEN": "inline-token-789"}},
        "worker": {"command": "run --user ai_user --url redis://:inline-token-789@redis"},
        "quiet": {"command": ["sh", "-c", "printf 'requirepass \"%s\"' \"$$REDIS_PASSWORD\""]},
    }}
    findings = check_secrets_in_commands(model, env, SECRETS)
    assert [f.subject for f in findings] == ["mysql", "redis", "backend", "backend", "worker"]
    messages = [f.message for f in findings]
    assert messages[0].startswith(
        "mysql healthcheck test: contains the value of MYSQL_ROOT_PASSWORD; passes a MySQL "
        "client -p<password> argument; anyone"
    )
    assert "--requirepass argument expanding $REDIS_PASSWORD" in messages[1]
    assert messages[2].startswith(
        "backend entrypoint: passes curl -u user:password expanding $API_TOKEN"
    )
    assert messages[3].startswith(
        "backend build arg TOKEN (kept in the image history): contains the value of REDIS_PASSWORD"
    )
    assert messages[4].startswith(
        "worker command: contains the value of API_TOKEN; passes credentials in a URL"
    )
    for message in messages:
        for value in ("R00tPa", "redisSecret", "inline-token"):
            assert value not in message


def test_sec04_reads_scalar_values_not_comments(tmp_path: Path) -> None:
    path = _compose(tmp_path, (
        "x-script: |\n"
        "  echo start\n"
        "  #${MYSQL_PASSWORD:-in a block, so content}\n"
        "x-quoted: &q \"${REDIS_PASSWORD:-once}\"\n"
        "x-again: *q\n"
        "# ${SECRET_KEY:-a real comment}\n"
        "services:\n  app:\n    image: app  # ${SECRET_KEY:-trailing comment}\n"
    ))
    findings = check_fallback_defaults([path], SECRETS)
    assert [(f.subject, f.location and f.location.file, f.location and f.location.line) for f in findings] == [
        ("compose.yml:3", str(path), 3), ("compose.yml:4", str(path), 4),
    ]


def test_sec04_literal_secrets_in_environment(tmp_path: Path) -> None:
    path = _compose(tmp_path, (
        "services:\n  db:\n    environment:\n"
        "      - MARIADB_PASSWORD=ctfd\n"
        "      - MARIADB_USER=ctfd\n"
        "  app:\n    environment:\n"
        "      PASSWORD: ctfd\n"
        "      SECRET_KEY: ${SECRET_KEY:?set it}\n"
        "      MYSQL_ROOT_PASSWORD_FILE: /run/secrets/root\n"
        "      MYSQL_ALLOW_EMPTY_PASSWORD: 'no'\n"
        "      REDIS_PASSWORD: ''\n"
        "    command: [\"--password\", \"not an environment entry\"]\n"
    ))
    findings = check_literal_secrets([path], SECRETS)
    assert [(f.control, f.subject, f.location and f.location.line) for f in findings] == [
        ("SEC-04", "compose.yml:4", 4), ("SEC-04", "compose.yml:8", 8),
    ]
    assert "MARIADB_PASSWORD is set to a literal 4-character value" in findings[0].message
    assert all("ctfd" not in f.message for f in findings)


def test_sec04_invalid_yaml_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigInputError) as caught:
        check_fallback_defaults([_compose(tmp_path, "services:\n  a: [\n")], SECRETS)
    _one_line(caught.value, "compose.yml")
    assert "line 3" in str(caught.value)
