"""Defect: the database probe swallows its errors, so health stays 200 while MySQL is down."""

from sitecustomize import after_import


def patch(health):  # type: ignore[no-untyped-def]
    probe = health.PROBES["database"]

    def forgiving_probe() -> None:
        try:  # noqa: SIM105  (the defect, written the way it is found in the wild)
            probe()
        except Exception:
            pass

    health.PROBES["database"] = forgiving_probe


after_import("app.health", patch)
