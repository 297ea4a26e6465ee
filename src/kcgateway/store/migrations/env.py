"""Alembic environment: runs on the connection handed over by :mod:`kcgateway.store.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from kcgateway.store.tables import Base


def run() -> None:
    """Run the migrations on the connection in ``config.attributes``."""
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("use `kcgateway db upgrade`: migrations run on a given connection")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
