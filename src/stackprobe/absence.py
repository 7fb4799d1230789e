"""Parts of the reference design a stack may not have, declared in the profile ([absent] parts).

A declared-absent part is a state, not a failure: its controls report "not applicable: declared
absent in [absent] parts (...)" on every output (HDF impact 0, like InSpec's not applicable), and
the auditor's page lists what the profile declared absent. Whether an absence is itself a finding
(no backup of uploaded files) is the profile's policy ([absent] findings): those controls fail,
naming the declaration.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NOT_APPLICABLE = "not applicable"


@dataclass(frozen=True)
class Part:
    controls: tuple[str, ...]
    what: str  # the absence, in words


PARTS: dict[str, Part] = {
    "metrics": Part(("MET-01", "MET-02", "MET-03"), "the stack has no Prometheus metrics endpoint"),
    "vector_store": Part(("VEC-01",), "the stack has no vector store"),
    "logrotate": Part(("LOG-04",), "the log is rotated in-process only; there is no logrotate file"),
    # the service logs to its standard output only: LOG-01/05 read `docker logs`, and the logging
    # driver's limits (LOG-06) are its rotation
    "log_file": Part(("LOG-02", "LOG-03"), "the service logs to its standard output only, no log file: docker's "
                                           "logging driver keeps and rotates it (LOG-06 judges its limits)"),
    # no backup procedure at all: every backup control, none of whose checks can run
    "backup": Part(tuple(f"BKP-{n:02d}" for n in range(1, 11)),
                   "the deployment has no backup procedure ([backup] command): nothing restores its data"),
    "file_archives": Part(("BKP-06",), "the backup archives no files: uploads and vector data are not backed up"),
    "signing_key": Part(("SEC-01",), "the stack signs nothing with a key of its own (no SECRET_KEY to judge)"),
    # the schema comes with the database's initialisation, not versioned migrations: DB-03 (schema
    # at the migration head), DEP-03 and DEP-02's schema-at-head part go (its update flow is still judged)
    "migrations": Part(("DB-03", "DEP-03"), "the schema has no versioned migrations ([stack] migrate_command): "
                                            "it comes with the database's initialisation"),
    # no service plays the cache role: its checks, outage and crash experiments and canary keys go
    "cache": Part(("RDS-01", "RDS-02", "CHS-03"), "the stack has no cache service (no Redis)"),
    # the API stores nothing through a route of its own: no control goes, but the chaos data path
    # is the read probe and no suite seeds a document through the API
    "api_writes": Part((), "the API has no route that stores a document ([chaos] api_write_path): the chaos "
                           "experiments judge its data path by the read probe ([chaos] api_probe_path)"),
}


@dataclass(frozen=True)
class AbsentSection:
    """The profile's [absent] section."""

    # parts of the reference design this stack does not have (PARTS): their controls report
    # "not applicable"
    parts: list[str] = field(default_factory=list)
    # absent parts whose absence is a finding all the same (their controls fail, naming it)
    findings: list[str] = field(default_factory=lambda: ["backup", "file_archives"])


@dataclass(frozen=True)
class Verdict:
    message: str
    is_finding: bool  # fail the control (the absence is a finding) rather than report it not applicable


def verdict(absent: AbsentSection, control: str) -> Verdict | None:
    """What a declared absence says of `control` (None: nothing is declared absent for it)."""
    for name in absent.parts:
        part = PARTS.get(name)
        if part is None or control not in part.controls:
            continue
        if name in absent.findings:
            return Verdict(f"{part.what} (declared absent in [absent] parts: {name}); [absent] findings makes "
                           f"that a finding: add the part, or accept its absence by removing {name!r} from "
                           "[absent] findings", True)
        return Verdict(not_applicable(absent, name), False)
    return None


def not_applicable(absent: AbsentSection, name: str) -> str:
    """The not-applicable note of a check that needs part `name` ("": the part is not declared absent)."""
    return f"{NOT_APPLICABLE}: declared absent in [absent] parts ({name}): {PARTS[name].what}" \
        if name in absent.parts else ""


def declared(absent: AbsentSection) -> dict[str, str]:
    """part -> what its absence means, for the reports."""
    return {name: PARTS[name].what for name in absent.parts if name in PARTS}
