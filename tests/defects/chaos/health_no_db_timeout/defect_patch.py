"""Defect: the database probe connects and reads without any timeout, and health awaits it
without a bound: while MySQL is frozen (paused, or slowed past every budget), health hangs."""

from sitecustomize import after_import


def patch(health):  # type: ignore[no-untyped-def]
    import asyncio

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
    bounded = health._run

    async def run(name, probe):  # type: ignore[no-untyped-def]
        if name != "database":
            return await bounded(name, probe)
        try:
            await asyncio.to_thread(probe)  # no wait_for: as long as it takes
            return name, None
        except Exception as error:
            return name, f"{type(error).__name__}: {error}"

    health._run = run


after_import("app.health", patch)
