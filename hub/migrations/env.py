"""Alembic environment: the URL comes from hub.config (or the caller's connection)."""

from __future__ import annotations

from alembic import context

import hub.models  # noqa: F401  (registers every table)
from hub.config import Config
from hub.db import Base, make_engine

target_metadata = Base.metadata


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    url = (
        context.config.get_main_option("sqlalchemy.url") or Config.from_env().effective_database_url
    )
    engine = make_engine(url)
    with engine.begin() as conn:
        _migrate(conn)
    engine.dispose()


def _migrate(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
