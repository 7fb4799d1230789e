"""Defect: the database pool opens its connections at start-up and never opens another (no
pre-ping, no reconnect). After MySQL restarts, the pooled connection is dead and every API call
that touches the database answers 500; health (which opens a fresh connection of its own for
each probe) still says 200."""

from sitecustomize import after_import


def patch(db):  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    reference = db.engine
    dialect = reference.dialect
    cargs, cparams = dialect.create_connect_args(reference.url)
    cparams.update(connect_timeout=5, read_timeout=30, write_timeout=30)
    # A pool as large as a real one, so the load never queues on it: the defect is the missing
    # reconnect, not a pool too small for the traffic.
    size = 8
    made = []  # per process: each uvicorn worker connects `size` times, then never again

    def connect_once():  # type: ignore[no-untyped-def]
        if len(made) >= size:
            raise dialect.loaded_dbapi.OperationalError(
                2003, "the database pool connects at start-up only and never reconnects")
        connection = dialect.loaded_dbapi.connect(*cargs, **cparams)
        made.append(True)
        return connection

    db.engine = create_engine(reference.url, creator=connect_once, pool_size=size, max_overflow=0, pool_timeout=5)
    db.Session.configure(bind=db.engine)
    opened = []
    try:  # the pool's connections, made at start-up
        for _ in range(size):
            opened.append(db.engine.connect())
    except Exception:  # MySQL not up yet: the first requests make them
        pass
    for connection in opened:
        connection.close()


after_import("app.db", patch)
