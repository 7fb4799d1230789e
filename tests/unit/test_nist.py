"""NIST SP 800-53 tags on the catalogue: every control has some, well formed, by family with
overrides, so a control added to a known family is tagged without a change here. (Each tag is
checked against real 800-53 rev. 5 lists in tests/report/test_nist_lists.py.)"""

from __future__ import annotations

import re

from stackprobe import catalogue, listing, nist

# a base control ("CP-9") or one enhancement ("IA-5 (7)"), as InSpec profiles and Heimdall write them
FORM = re.compile(r"^(AC|AT|AU|CA|CM|CP|IA|IR|MA|MP|PE|PL|PM|PS|PT|RA|SA|SC|SI|SR)-([1-9]\d?)( \(([1-9]\d?)\))?$")


def test_every_control_has_well_formed_tags() -> None:
    for control in catalogue.CONTROLS:
        assert control.nist, f"{control.id} has no NIST SP 800-53 tag: map its family in stackprobe/nist.py"
        assert len(set(control.nist)) == len(control.nist), control.id
        for tag in control.nist:
            assert FORM.match(tag), f"{control.id}: {tag!r}"


def test_family_defaults_and_overrides() -> None:
    assert catalogue.get("BKP-03").nist == ("CP-9", "CP-10")  # family
    assert catalogue.get("SEC-07").nist == ("IA-5 (7)", "SC-28")  # override
    # controls of a family being added elsewhere get its tags when they arrive
    added = catalogue.Control("HRD-01", "smoke", "no capabilities beyond need", "why", "fix", "high")
    assert added.nist == ("CM-6", "CM-7", "AC-6")
    assert catalogue.Control("RDS-02", "smoke", "t", "w", "f", "low").nist == nist.FAMILIES["RDS"]
    assert catalogue.Control("XYZ-01", "smoke", "t", "w", "f", "low").nist == ()
    given = catalogue.Control("HRD-09", "smoke", "t", "w", "f", "low", nist=("SC-39",))
    assert given.nist == ("SC-39",)
    for tags in [*nist.FAMILIES.values(), *nist.OVERRIDES.values()]:
        assert tags and all(FORM.match(t) for t in tags), tags
    assert set(map(nist.family, nist.OVERRIDES)) <= set(nist.FAMILIES)


def test_catalogue_listing_and_json_carry_the_tags() -> None:
    table = listing.render_table()
    assert "SEC-07" in table and "NIST IA-5 (7), SC-28" in table
    listed = {entry["id"]: entry for entry in catalogue.as_json()}
    assert list(listed) == [c.id for c in catalogue.CONTROLS]
    assert listed["CHS-01"]["nist"] == ["CP-2", "CP-10"]
    assert set(listed["DB-02"]) == {"id", "suite", "title", "why", "fix", "severity", "tags", "nist"}
