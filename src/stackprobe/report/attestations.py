"""Attestations: a person's signed-off statement for a control no automated check proves here
(an off-site copy of the backups, a restore drill), as InSpec/SAF attestations are.

The file is TOML, one table per attestation::

    [[attestation]]
    control = "BKP-10"
    statement = "Nightly dumps are copied to the off-site bucket; restore drill done 2026-11-20"
    attested_by = "J. Doe, head of operations"
    evidence = "https://tickets.example/OPS-1300"   # where the proof is kept
    expires = 2027-02-28                            # valid through that day

An attested control shows as "attested" (it passes) until the attestation expires. It applies
only to a control with no automated result in the run (not run, or every check skipped): an
attestation never turns a failed, errored or passing automated check into anything else.
Malformed and expired entries behave as waivers do (stackprobe.report.entries).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from stackprobe.report.entries import EntrySet, Spec, load_entries

FIELDS = ("control", "statement", "attested_by", "evidence", "expires")
# automated outcomes an attestation may stand in for: none ran, or all were skipped
ATTESTABLE = frozenset({"skipped", "not run"})


@dataclass(frozen=True)
class Attestation:
    control: str
    statement: str
    attested_by: str
    evidence: str
    expires: dt.date

    def credit(self) -> str:
        return f"attested by {self.attested_by}"

    def to_json(self) -> dict[str, str]:
        return {"control": self.control, "statement": self.statement, "attested_by": self.attested_by,
                "evidence": self.evidence, "expires": self.expires.isoformat()}


class AttestationSet(EntrySet[Attestation]):
    pass


SPEC = Spec[Attestation]("attestation", "attestations", FIELDS,
                         "--attestations/STACKPROBE_ATTESTATIONS/[report] attestations",
                         "attest again after the next manual check, or remove it", Attestation)


def load_attestations(path: Path | None, today: dt.date) -> AttestationSet:
    loaded = load_entries(path, today, SPEC)
    return AttestationSet(loaded.source, loaded.valid, loaded.expired, loaded.problems)
