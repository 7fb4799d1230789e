"""Alembic environment: the database URL is built from MYSQL_* at run time."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from app.db import Base
from app.settings import settings
from sqlalchemy import create_engine

if context.config.config_file_name:
    fileConfig(context.config.config_file_name)


def run_migrations_online() -> None:
    engine = create_engine(settings.database_url, connect_args={"connect_timeout": 10})
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata)
        with context.begin_transaction():
            context.run_migrations()
        # DEFECT: a data step outside the versioned migrations: a welcome document inserted
        # on every `alembic upgrade head`, so each deploy adds one more
        connection.exec_driver_sql(
            "INSERT INTO documents (title, content, content_sha256) "
            "VALUES ('Welcome', 'Welcome to the assistant', SHA2('Welcome to the assistant', 256))"
        )
        connection.commit()


run_migrations_online()
