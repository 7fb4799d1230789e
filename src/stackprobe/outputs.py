"""Outputs that bypass the reports: uncaptured stdout/stderr (`-s`, `--capture=tee-sys`) and
pytest's live logging (`log_cli`, `--log-file`). The reports are redacted when they are written;
these streams go to the terminal or a file as they happen, so they are redacted on the way.
"""

from __future__ import annotations

import io
import logging
import sys
from typing import Any, TextIO

import pytest

from stackprobe.redact import REDACTOR, open_block


class RedactingStream(io.TextIOBase):
    """A text stream that redacts whole lines before passing them on. A line is held until its
    newline (or a flush), so a secret written in pieces (`print(a, b)` writes each piece) is
    still seen whole."""

    def __init__(self, inner: TextIO) -> None:
        super().__init__()
        self.inner = inner
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        # A private key block is held until its END line: its lines alone look like nothing (past
        # 64 KiB it is written anyway, redacted from its BEGIN line to the end).
        if "\n" in self._pending and (len(self._pending) > 65536 or not open_block(self._pending)):
            complete, _, self._pending = self._pending.rpartition("\n")
            self.inner.write(REDACTOR.redact(complete + "\n"))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self.inner.write(REDACTOR.redact(self._pending))
            self._pending = ""
        self.inner.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.inner.isatty()

    def fileno(self) -> int:
        return self.inner.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.inner, "encoding", "utf-8")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class RedactingFilter(logging.Filter):
    """Renders a record's message and traceback once, redacted, so every handler after it
    (live log, log file) formats text that holds no secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not REDACTOR:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a record whose args do not fit its format: leave it to the handler
            return True
        record.msg, record.args = REDACTOR.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = REDACTOR.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = REDACTOR.redact(record.stack_info)
        return True


def install(config: pytest.Config) -> None:
    """Wrap the streams and handlers that would carry a check's output past the reports."""
    capture = config.getoption("capture", "fd")
    if capture == "no":
        sys.stdout = RedactingStream(sys.stdout)
        sys.stderr = RedactingStream(sys.stderr)
    elif capture == "tee-sys":
        manager = config.pluginmanager.getplugin("capturemanager")
        capturing = getattr(manager, "_global_capturing", None)
        for name in ("out", "err"):
            tee = getattr(getattr(getattr(capturing, name, None), "tmpfile", None), "_other", None)
            if tee is not None and not isinstance(tee, RedactingStream):
                getattr(capturing, name).tmpfile._other = RedactingStream(tee)
    logging_plugin = config.pluginmanager.get_plugin("logging-plugin")
    for attribute in ("log_cli_handler", "log_file_handler"):
        handler = getattr(logging_plugin, attribute, None)
        if isinstance(handler, logging.Handler) and not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


def uninstall() -> None:
    """Flush what a wrapped stream still holds and give the process its streams back."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if isinstance(stream, RedactingStream):
            stream.flush()
            setattr(sys, name, stream.inner)
