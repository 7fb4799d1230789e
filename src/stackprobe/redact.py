"""One redactor for every output: value rules for the run's secrets, pattern rules for what is
derived from secrets or is one by its form.

Every output path (terminal, assertion messages, tracebacks, captured output, JUnit XML,
HTML, JSON, HDF, evidence, logs) passes through `Redactor.redact`, so a secret never leaves
the process. Values are learnt from the env file, the containers' environments and profile
credentials.

- Value rules: a distinctive value is replaced wherever it appears, with its URL- and
  JSON-escaped forms. A value too short or too common to be replaced everywhere without
  destroying the report (shorter than SUBSTRING_MIN_LENGTH, purely numeric, a dictionary word,
  or equal to a service, user, database or project name: "ctfd" for service, database, user
  and password alike) is replaced only where it stands as a whole value: `KEY=value` or
  `KEY: value` under a secret-named key, a URL's password, an Authorization header. SEC-01/02
  report such a value ("too weak to be kept secret in outputs").
- Pattern rules, whether or not the value is known: password hashes (MySQL native and
  caching_sha2 in grants, bcrypt, argon2, scrypt, SHA-crypt), JWTs, private key blocks,
  Authorization header values, URL passwords.

`redact_obj` keeps every container's type (a tuple stays a tuple): pytest asserts the types
of report fields.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

from stackprobe.secret_names import DEFAULT_NAMES, SecretNames

# Keys whose values name things (users, databases, hosts): learnt as names, never redacted.
NAME_KEY = re.compile(r"USER|DATABASE|(?:^|_)DB(?:_|$)|(?:^|_)NAME$|HOST|PROJECT", re.I)
# Below this a value is redacted only as a whole value (see the module docstring).
SUBSTRING_MIN_LENGTH = 8
_MIN_LENGTH = 3
_NOT_SECRET = {"true", "false", "none", "null", "yes", "no"}

# Pattern rules: (label, regex); a group named "v" is what is replaced, else the whole match.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((label, re.compile(rx, flags)) for label, rx, flags in (
    ("private-key", r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY"
                    r"( BLOCK)?-----|.*\Z)", re.S),
    ("jwt", r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*", 0),
    # SQL grants and users: IDENTIFIED BY PASSWORD '*...', IDENTIFIED WITH plugin AS '$A$005$...'
    ("password-hash", r"\bIDENTIFIED\s+(?:WITH\s+'?[\w.-]+'?\s+)?(?:BY|AS)\s+(?:PASSWORD\s+)?"
                      r"(?P<v>'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"|0x[0-9A-Fa-f]+)", re.I),
    ("password-hash", r"(?<![0-9A-Za-z])\*[0-9A-Fa-f]{40}\b", 0),
    ("password-hash", r"\$A\$\d{3}\$\S{20,}", 0),
    ("password-hash", r"\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}", 0),
    ("password-hash", r"\$argon2(?:id|i|d)\$(?:v=\d+\$)?m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+", 0),
    ("password-hash", r"\$scrypt\$[^\s$]*\$[A-Za-z0-9+/=.]+\$[A-Za-z0-9+/=.]+", 0),
    ("password-hash", r"\$(?:7|y|gy)\$[./A-Za-z0-9]+\$[./A-Za-z0-9]+(?:\$[./A-Za-z0-9]+)?", 0),
    ("password-hash", r"\$(?:1|5|6)\$(?:rounds=\d+\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{22,86}", 0),
    # (values already replaced by a value rule, «redacted:KEY», keep that label)
    ("authorization", r"\b(?:Proxy-)?Authorization[\"']?\s*[:=]\s*[\"']?(?:(?:Bearer|Basic|Token|Digest|Negotiate)"
                      r"\s+)?(?!(?:Proxy-)?Authorization\b|(?:Bearer|Basic|Token|Digest|Negotiate)\s)"
                      r"(?P<v>[^\s\"',}\]«]+)", re.I),
    ("url-password", r"\b[a-z][a-z0-9+.-]*://[^\s:/@'\"]*:(?P<v>[^\s@/'\"«]+)@", re.I),
))
# What stands before a whole value under a key: KEY=, KEY: , "KEY": " (checked at each occurrence).
_KEY_BEFORE = re.compile(r"(?P<k>[A-Za-z_][A-Za-z0-9_.-]*)[\"']?\s*[=:]\s*[\"']?\Z")


_BLOCK_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----")
_BLOCK_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----")


def open_block(text: str) -> bool:
    """Whether `text` ends inside a private key block (a BEGIN line without its END yet): a
    line-by-line writer must hold such text until the block is whole."""
    begins = list(_BLOCK_BEGIN.finditer(text))
    return bool(begins) and not _BLOCK_END.search(text, begins[-1].end())


def too_weak_to_redact(value: str, names: Iterable[str] = ()) -> str | None:
    """Why `value` cannot be replaced wherever it appears without destroying the report
    (None when it can): safe to print, it describes the value by kind and length only."""
    from stackprobe.wordlists import common_password_list  # zxcvbn: loaded on first use

    value = value.strip()
    if len(value) < SUBSTRING_MIN_LENGTH:
        return f"shorter than {SUBSTRING_MIN_LENGTH} characters"
    if value.isdigit():
        return "only digits"
    folded = value.casefold()
    if any(folded == name.strip().casefold() for name in names):
        return "the same as a service, user, database or project name"
    if kind := common_password_list(value):
        return f"a {kind}"
    return None


class Redactor:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, str] = {}  # value -> label
        self._names: set[str] = set()
        self._secrets: dict[str, str] = {}  # variant of a distinctive value -> label
        self._whole: dict[str, str] = {}  # weak value -> label (whole values only)
        self._whole_pattern: re.Pattern[str] | None = None
        self._variant_of: dict[str, str] = {}  # variant -> value
        self._pattern: re.Pattern[str] | None = None
        self._stale = False
        self.names: SecretNames = DEFAULT_NAMES

    def judge_names_by(self, names: SecretNames) -> None:
        """Judge secret keys as the profile's [secrets] does (the plugin sets it before any check)."""
        with self._lock:
            self.names = names
            self._stale = True

    def add(self, value: str, label: str = "secret") -> None:
        value = value.strip() if value else ""
        if len(value) < _MIN_LENGTH or value.lower() in _NOT_SECRET:
            return
        with self._lock:
            self._values.setdefault(value, label)
            self._stale = True

    def add_names(self, names: Iterable[str]) -> None:
        """Names the stack uses (services, users, databases, the project): a secret equal to one
        is redacted only as a whole value."""
        with self._lock:
            self._names |= {name.strip() for name in names if name and name.strip()}
            self._stale = True

    def add_environment(self, env: Mapping[str, str] | Iterable[str], source: str = "env") -> None:
        """Learn every secret value (its key judged by name and value, stackprobe.secret_names:
        `TONGYI_MAX_TOKENS=2000` is not one), from a mapping or KEY=VALUE lines, and the values of
        keys that name things (users, databases) as names."""
        items = env.items() if isinstance(env, Mapping) else (
            line.split("=", 1) for line in env if "=" in line
        )
        names = []
        for key, value in items:
            if value and self.names.is_secret(key, value):
                self.add(value, key)
            elif NAME_KEY.search(key) and value:
                names.append(value)
        self.add_names(names)

    def __len__(self) -> int:
        return len(self._values)

    def export(self) -> dict[str, Any]:
        """What this redactor knows, for another process's redactor (an xdist worker's secrets
        reach the controller before it writes the one report)."""
        with self._lock:
            return {"values": dict(self._values), "names": sorted(self._names)}

    def learn(self, known: Mapping[str, Any]) -> None:
        """Take what another redactor exported."""
        values = known.get("values") or {}
        for value, label in values.items():
            self.add(str(value), str(label))
        self.add_names(str(name) for name in known.get("names") or ())

    def _rebuild(self) -> None:
        self._secrets, self._whole, self._variant_of = {}, {}, {}
        for value, label in self._values.items():
            if too_weak_to_redact(value, self._names):
                self._whole.setdefault(value, label)
                continue
            variants = {value, quote_plus(value), quote(value, safe=""), json.dumps(value)[1:-1],
                        repr(value)[1:-1]}
            for variant in variants:
                if len(variant) >= _MIN_LENGTH:
                    self._secrets.setdefault(variant, label)
                    self._variant_of.setdefault(variant, value)
        ordered = sorted(self._secrets, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(s) for s in ordered)) if ordered else None
        weak = sorted(self._whole, key=len, reverse=True)
        self._whole_pattern = re.compile(
            r"(?<![\w.+-])(?:" + "|".join(re.escape(s) for s in weak) + r")(?![\w.+-])") if weak else None
        self._stale = False

    def _compiled(self) -> tuple[re.Pattern[str] | None, dict[str, str]]:
        with self._lock:
            if self._stale:
                self._rebuild()
            return self._pattern, self._secrets

    def _redact_whole(self, text: str) -> str:
        """Weak values, only where they stand whole under a secret-named key."""
        with self._lock:
            pattern, whole = self._whole_pattern, self._whole
        if pattern is None:
            return text

        def replace(match: re.Match[str]) -> str:
            before = _KEY_BEFORE.search(match.string, max(0, match.start() - 120), match.start())
            if before is None or not self.names.is_secret(before.group("k"), match.group(0)):
                return match.group(0)
            return f"«redacted:{whole[match.group(0)]}»"

        return pattern.sub(replace, text)

    def redact(self, text: str) -> str:
        if not text:
            return text
        pattern, secrets = self._compiled()
        if pattern is not None:
            text = pattern.sub(lambda m: f"«redacted:{secrets.get(m.group(0), 'secret')}»", text)
        for label, rule in _PATTERNS:
            text = rule.sub(functools.partial(_replace, marker=f"«redacted:{label}»"), text)
        return self._redact_whole(text)

    def labels_in(self, text: str, searched: Callable[[str], bool]) -> set[str]:
        """Labels of the known values in `text`, among those `searched` accepts (LOG-05 looks
        only for distinctive values)."""
        pattern, secrets = self._compiled()
        if pattern is None:
            return set()
        return {secrets[m.group(0)] for m in pattern.finditer(text)
                if searched(self._variant_of.get(m.group(0), m.group(0)))}

    def redact_obj(self, value: Any) -> Any:
        """Redact strings anywhere inside JSON-like data; every container keeps its type."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, bytes):
            return self.redact(value.decode("utf-8", "replace")).encode("utf-8")
        if isinstance(value, Mapping):
            return {self.redact_obj(k): self.redact_obj(v) for k, v in value.items()}
        if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple
            return type(value)(*(self.redact_obj(v) for v in value))
        if isinstance(value, list | tuple | set | frozenset):
            return type(value)(self.redact_obj(v) for v in value)
        return value


def _replace(match: re.Match[str], marker: str) -> str:
    if "v" not in match.re.groupindex or match.group("v") is None:
        return marker
    start, end = match.span("v")
    whole = match.group(0)
    offset = match.start()
    return whole[:start - offset] + marker + whole[end - offset:]


# The process-wide redactor: the plugin feeds it, every writer uses it.
REDACTOR = Redactor()
