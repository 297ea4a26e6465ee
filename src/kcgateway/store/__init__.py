"""Persistence: SQLAlchemy tables, repositories and Alembic migrations."""

from kcgateway.store import signal_tables as signal_tables  # registers the bot tables on Base
