"""One redactor that knows every secret value of the run.

Every output path (terminal, assertion messages, tracebacks, captured output, JUnit XML,
HTML, JSON, evidence) passes through `Redactor.redact`, so a secret never leaves the process.
Values are learnt from the env file, the containers' environments and profile credentials.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|APIKEY|PRIVATE|CREDENTIAL|AUTH", re.I)
# values that are too short or too common to redact without mangling ordinary text
_MIN_LENGTH = 4
_NOT_SECRET = {"true", "false", "none", "null", "yes", "no"}


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


class Redactor:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: dict[str, str] = {}  # variant -> label
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str, label: str = "secret") -> None:
        value = value.strip() if value else ""
        if len(value) < _MIN_LENGTH or value.lower() in _NOT_SECRET:
            return
        variants = {value, quote_plus(value), quote(value, safe=""), json.dumps(value)[1:-1]}
        variants |= {repr(value)[1:-1]}
        with self._lock:
            for variant in variants:
                if len(variant) >= _MIN_LENGTH:
                    self._secrets.setdefault(variant, label)
            self._pattern = None

    def add_environment(self, env: Mapping[str, str] | Iterable[str], source: str = "env") -> None:
        """Learn every value whose name looks secret, from a mapping or KEY=VALUE lines."""
        items = env.items() if isinstance(env, Mapping) else (
            line.split("=", 1) for line in env if "=" in line
        )
        for key, value in items:
            if is_secret_name(key) and value:
                self.add(value, key)

    def __len__(self) -> int:
        return len(self._secrets)

    def _compiled(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._pattern is None and self._secrets:
                ordered = sorted(self._secrets, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(s) for s in ordered))
            return self._pattern

    def redact(self, text: str) -> str:
        pattern = self._compiled()
        if pattern is None or not text:
            return text
        return pattern.sub(lambda m: f"«redacted:{self._secrets.get(m.group(0), 'secret')}»", text)

    def redact_obj(self, value: Any) -> Any:
        """Redact strings anywhere inside JSON-like data."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, bytes):
            return self.redact(value.decode("utf-8", "replace"))
        if isinstance(value, Mapping):
            return {self.redact(str(k)): self.redact_obj(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set):
            return [self.redact_obj(v) for v in value]
        return value


# The process-wide redactor: the plugin feeds it, every writer uses it.
REDACTOR = Redactor()
