"""Secrets the run does not know, found by their form: detect-secrets' detectors over text.

Private keys, AWS access keys, JWTs, URLs with a password (detect-secrets' own regexes), and
high-entropy strings where they stand as the value of a secret-named key (`API_TOKEN=...`,
`"client_secret": "..."`: detect-secrets' Shannon entropy and limits, read only in that
context, since request ids and hashes are high-entropy too). Only the detectors' matching is
used: never their `verify`, which would send the secret to its issuer.

A hit names the detector, the place and the line, never the value. Scans are bounded in bytes
and time by the caller, as the layer scan is.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.base import BasePlugin
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.high_entropy_strings import (
    Base64HighEntropyString,
    HexHighEntropyString,
    HighEntropyStringsPlugin,
)
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector

# detect-secrets' default limits (its CLI's --base64-limit and --hex-limit).
_ENTROPY = (Base64HighEntropyString(limit=4.5), HexHighEntropyString(limit=3.0))
_FORMS: tuple[BasePlugin, ...] = (PrivateKeyDetector(), AWSKeyDetector(), JwtTokenDetector(), BasicAuthDetector())
_SECRET_KEY = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE|CREDENTIAL|ACCESS_?KEY|AUTH", re.I)
_KEY_VALUE = re.compile(r"(?P<k>[A-Za-z_][\w.-]*)[\"']?\s*[=:]\s*[\"']?(?P<v>[^\s\"',;&}\]]{16,})")


@dataclass(frozen=True)
class PatternHit:
    detector: str  # detect-secrets' name for what it found ("AWS Access Key")
    where: str
    line: int

    def __str__(self) -> str:
        return f"{self.where} line {self.line}: {self.detector}"


def _high_entropy(value: str, plugin: HighEntropyStringsPlugin) -> bool:
    return set(value) <= set(plugin.charset) and plugin.calculate_shannon_entropy(value) > plugin.entropy_limit


def line_detectors(line: str) -> list[str]:
    """The detectors that fire on one line (names only)."""
    found = [plugin.secret_type for plugin in _FORMS if any(True for _ in plugin.analyze_string(line))]
    for match in _KEY_VALUE.finditer(line):
        if not _SECRET_KEY.search(match.group("k")):
            continue
        value = match.group("v")
        found += [plugin.secret_type for plugin in _ENTROPY if _high_entropy(value, plugin)]
    return sorted(set(found))


class ScanCut(Exception):
    """The scan reached its time bound."""


def scan_lines(lines: Iterable[str], where: str, *, deadline: float | None = None,
               max_bytes: int | None = None) -> list[PatternHit]:
    """Every detector hit in `lines` (numbered from 1); reads at most `max_bytes`; raises ScanCut
    at `deadline` (time.monotonic())."""
    hits: list[PatternHit] = []
    read = 0
    for number, line in enumerate(lines, 1):
        read += len(line) + 1
        if max_bytes is not None and read > max_bytes:
            break
        if deadline is not None and number % 256 == 0 and time.monotonic() > deadline:
            raise ScanCut(where)
        hits += [PatternHit(name, where, number) for name in line_detectors(line)]
    return hits


def looks_like_text(data: bytes) -> bool:
    """A file worth scanning line by line: no NUL byte in its first 8 KiB, and UTF-8 there."""
    head = data[:8192]
    if b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start > len(head) - 4  # a character cut at the 8 KiB boundary
    return True
