"""SEEDED DEFECT (tests/defects/logs/database_url_logged): the reference entry point with a
start-up line that prints (stdout) and logs (file) the database URL, password included.
"""

from __future__ import annotations

import logging
import os
import shutil

import uvicorn


def main() -> None:
    metrics_dir = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", "/tmp/prometheus_multiproc")
    shutil.rmtree(metrics_dir, ignore_errors=True)
    os.makedirs(metrics_dir, exist_ok=True)

    from app.logging_setup import configure_logging
    from app.metrics import serve_metrics
    from app.settings import settings
    from app.vector_store import serve_vector_store

    configure_logging()
    log = logging.getLogger("app.serve")
    serve_vector_store(settings.vector_db_dir, settings.vector_socket)
    serve_metrics(settings.metrics_port)
    print(f"connecting to {settings.database_url}", flush=True)  # the defect: a debug print
    log.info("database url %s", settings.database_url)  # the defect: and a log line
    log.info(
        "starting environment=%s workers=%d metrics_port=%d log_file=%s",
        settings.environment, settings.workers, settings.metrics_port, settings.log_file,
    )
    uvicorn.run(
        "app.main:app",
        host="0.0.0.0",
        port=8000,
        workers=settings.workers,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
