"""SEEDED DEFECT (tests/defects/logs/backup_count_ignored): the reference logging set-up with a
hard-coded backupCount=10: LOG_BACKUP_COUNT is ignored.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import datetime

from app.settings import settings
from concurrent_log_handler import ConcurrentRotatingFileHandler

LINE_FORMAT = "%(asctime)s %(levelname)s %(process)d %(name)s %(message)s"


class IsoFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = datetime.fromtimestamp(record.created).astimezone()
        return moment.isoformat(timespec="milliseconds")


class RedactSecrets(logging.Filter):
    """Replace every known secret value in the rendered message, whatever logged it."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = message
        for secret in self._secrets:
            redacted = redacted.replace(secret, "***")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def configure_logging() -> None:
    root = logging.getLogger()
    if getattr(root, "_stack_configured", False):
        return
    formatter = IsoFormatter(LINE_FORMAT)
    redact = RedactSecrets(settings.secret_values)
    os.makedirs(os.path.dirname(settings.log_file) or ".", exist_ok=True)
    to_file = ConcurrentRotatingFileHandler(
        settings.log_file,
        maxBytes=settings.log_max_bytes,
        backupCount=10,  # the defect: LOG_BACKUP_COUNT ignored
        encoding="utf-8",
    )
    to_stderr = logging.StreamHandler(sys.stderr)
    for handler in (to_file, to_stderr):
        handler.setFormatter(formatter)
        handler.addFilter(redact)
        root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # app.access logs every request
    for noisy in ("chromadb", "httpx", "urllib3", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    root._stack_configured = True  # type: ignore[attr-defined]
