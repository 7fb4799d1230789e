"""Defect: the database pool opens its one connection at start-up and never opens another (no
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
    made = []  # per process: each uvicorn worker connects once

    def connect_once():  # type: ignore[no-untyped-def]
        if made:
            raise dialect.loaded_dbapi.OperationalError(
                2003, "the database pool connects once, at start-up, and never reconnects")
        connection = dialect.loaded_dbapi.connect(*cargs, **cparams)
        made.append(True)
        return connection

    db.engine = create_engine(reference.url, creator=connect_once, pool_size=1, max_overflow=0, pool_timeout=5)
    db.Session.configure(bind=db.engine)
    try:  # the one connection, made at start-up
        with db.engine.connect():
            pass
    except Exception:  # MySQL not up yet: the first request makes it
        pass


after_import("app.db", patch)
