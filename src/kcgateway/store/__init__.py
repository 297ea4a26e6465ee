"""Persistence: SQLAlchemy tables, repositories and Alembic migrations."""

from kcgateway.store import cluster_tables as cluster_tables  # registers the cluster tables
from kcgateway.store import signal_tables as signal_tables  # registers the bot tables on Base
