"""Defect: the database probe connects and reads without any timeout, and health awaits it
without a bound: while MySQL is frozen (paused, or slowed past every budget), health hangs."""

from sitecustomize import after_import, await_unbounded


def patch(health):  # type: ignore[no-untyped-def]

    import pymysql

    s = health.settings

    def unbounded_probe() -> None:
        # no read/write timeout, and pymysql's largest connect timeout (a year): no bound at all
        connection = pymysql.connect(host=s.mysql_host, port=s.mysql_port, user=s.mysql_user,
                                     password=s.mysql_password, database=s.mysql_database, connect_timeout=31536000)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        finally:
            connection.close()

    health.PROBES["database"] = unbounded_probe
    await_unbounded(health, "database")  # no wait_for: the probe is trusted to end by itself


after_import("app.health", patch)
