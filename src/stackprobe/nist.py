"""NIST SP 800-53 rev. 5 control tags for the catalogue, by control family with per-ID overrides.

Every catalogue control gets its tags from here (catalogue.Control fills them in), so a control
added to a known family is tagged without touching this file. Tags are written the way InSpec
profiles carry them and Heimdall's NIST view places them: "IA-5", "IA-5 (7)". The tests check
each tag against the rev. 5 references of DISA's CCI list and Heimdall's own NIST tree.
"""

from __future__ import annotations

# the family's default: what every control of that prefix proves
FAMILIES: dict[str, tuple[str, ...]] = {
    "HLT": ("SI-4", "SI-17"),            # health as monitoring; fail-safe answers when a dependency fails
    "MET": ("SI-4", "CA-7"),             # metrics: system and continuous monitoring
    "CTR": ("CM-6", "CM-7"),             # container configuration
    "HRD": ("CM-6", "CM-7", "AC-6"),     # container hardening: settings, least functionality, least privilege
    "DB": ("CM-6",),
    "RDS": ("CM-6", "CP-10"),            # cache settings; persistence is what recovery gets back
    "VEC": ("SI-4",),
    "ENV": ("CM-6",),
    "SEC": ("IA-5", "SC-28"),            # authenticator management; protection of information at rest
    "CMP": ("CM-2", "CM-6"),
    "BKP": ("CP-9", "CP-10"),
    "LOG": ("AU-9", "AU-11"),
    "CHS": ("CP-2", "SC-5"),
    "DEP": ("CM-3", "CM-4"),
}

# controls that prove something more specific than their family
OVERRIDES: dict[str, tuple[str, ...]] = {
    "CTR-01": ("CM-6", "SI-4"),
    "CTR-02": ("CM-6", "SI-4"),
    "CTR-03": ("CM-6", "CP-10"),
    "DB-02": ("AC-6", "AC-6 (9)", "IA-2"),
    "DB-03": ("CM-3", "CM-6"),
    "ENV-03": ("CM-6", "CM-7", "SI-11"),
    "SEC-03": ("IA-5", "IA-5 (1)", "SC-13"),
    "SEC-04": ("IA-5", "CM-6"),
    "SEC-05": ("SC-28", "AC-3", "AC-6"),
    "SEC-06": ("SC-7", "CM-7"),
    "SEC-07": ("IA-5 (7)", "SC-28"),
    "CMP-01": ("CM-2", "CM-6", "CM-8"),
    "BKP-09": ("CP-9", "SI-4"),
    "LOG-01": ("AU-3", "AU-12"),
    "LOG-02": ("AU-4", "AU-9", "AU-11"),
    "LOG-03": ("AU-4", "AU-9", "AU-11"),
    "LOG-04": ("AU-4", "AU-11"),
    "LOG-05": ("AU-9", "SC-28", "SI-11"),
    "LOG-06": ("AU-4", "AU-5"),
    "CHS-01": ("CP-2", "CP-10"),
    "CHS-04": ("CP-10", "SC-24"),
    "CHS-08": ("CP-2", "CP-10"),
}


def family(control_id: str) -> str:
    return control_id.split("-", 1)[0]


def tags_for(control_id: str) -> tuple[str, ...]:
    """The control's 800-53 tags: its override, else its family's; () for an unknown family."""
    return OVERRIDES.get(control_id) or FAMILIES.get(family(control_id), ())
