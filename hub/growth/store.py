"""Insert-once helpers: a row guarded by a unique key is written at most once, race-free."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_once(
    session: Session, model: type, values: dict[str, Any], unique: list[str]
) -> tuple[Any, bool]:
    """Insert ``values`` unless a row with the same ``unique`` columns exists.

    Returns (row, created). Uses INSERT ... ON CONFLICT DO NOTHING, so two workers racing on
    the same key end with one row and neither fails.
    """
    dialect = session.get_bind().dialect.name
    table = model.__table__
    if dialect == "postgresql":
        stmt = (
            postgresql.insert(table).values(**values).on_conflict_do_nothing(index_elements=unique)
        )
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).values(**values).on_conflict_do_nothing(index_elements=unique)
    else:  # pragma: no cover - the hub supports SQLite and PostgreSQL
        raise RuntimeError(f"unsupported database dialect {dialect}")
    # RETURNING, not rowcount: psycopg reports -1 for a conflict-skipped insert
    created = session.execute(stmt.returning(table.c.id)).first() is not None
    where = [getattr(model, name) == values[name] for name in unique]
    row = session.scalars(select(model).where(*where)).one()
    if created:
        session.refresh(row)
    return row, created
