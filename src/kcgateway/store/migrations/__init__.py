"""Alembic migration scripts, applied by ``kcgateway db upgrade``."""
