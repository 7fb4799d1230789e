"""Every NIST tag of the catalogue (and of every family default and override, so controls still
being added are covered) is a real NIST SP 800-53 rev. 5 identifier: it is referenced by DISA's
CCI list as "NIST SP 800-53 Revision 5" (the machine-readable list hdf-converters ships), and
Heimdall's own NIST tree (inspecjs) holds it, so its NIST view can place the control."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from saftools import node_json

from stackprobe import catalogue, nist

LISTS = """
const cci = require('@mitre/hdf-converters/lib/src/utils/CCI_List').CCI_List;
const tree = require('inspecjs/lib/raw_nist').ALL_NIST_CONTROL_NUMBERS;
console.log(JSON.stringify({cci, tree}));
"""


@pytest.fixture(scope="module")
def lists() -> dict[str, set[str]]:
    raw = node_json(LISTS)
    root = ET.fromstring(raw["cci"])
    rev5: set[str] = set()
    for reference in root.iter("{http://iase.disa.mil/cci}reference"):
        if reference.get("title") == "NIST SP 800-53 Revision 5":
            # "AC-2 (4)", "IA-5 (1) (a)", "CM-7 a": the control and its enhancement
            found = re.match(r"([A-Z]{2}-\d+)(?: \((\d+)\))?", reference.get("index", ""))
            if found:
                rev5.add(found.group(1))
                if found.group(2):
                    rev5.add(f"{found.group(1)} ({found.group(2)})")
    assert len(rev5) > 900 and {"SR-3", "PT-2"} <= rev5  # rev. 5's own families are in it
    return {"rev5": rev5, "heimdall": set(raw["tree"])}


def _all_tags() -> dict[str, tuple[str, ...]]:
    tags = {c.id: c.nist for c in catalogue.CONTROLS}
    tags.update({f"{family} (family)": t for family, t in nist.FAMILIES.items()})
    tags.update({f"{cid} (override)": t for cid, t in nist.OVERRIDES.items()})
    return tags


def test_every_tag_is_a_rev5_control_heimdall_places(lists: dict[str, set[str]]) -> None:
    for where, tags in _all_tags().items():
        assert tags, where
        for tag in tags:
            assert tag in lists["rev5"], f"{where}: {tag} is not an 800-53 rev. 5 control or enhancement"
            assert tag in lists["heimdall"], f"{where}: {tag} is not in Heimdall's NIST tree (shown unmapped)"


def test_the_lists_tell_a_bad_tag(lists: dict[str, set[str]]) -> None:
    """The check can fail: a withdrawn rev. 4 control, a made-up one and a misspelling are refused."""
    for bad in ("SA-12", "CM-99", "IA5", "SC-28(1)", "UM-1"):
        assert bad not in lists["rev5"], bad
