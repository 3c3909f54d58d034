"""Alembic environment for the registry schema, run programmatically by ``Registry.open``."""
