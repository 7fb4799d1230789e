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


run_migrations_online()
