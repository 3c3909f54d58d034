"""Alembic env: migrate the connection handed over in ``config.attributes["connection"]``.

No ``alembic.ini`` and no URL here: :mod:`modelkin.registry.migrate` builds the Config in
code, so the schema upgrades whenever a registry is opened.
"""

from __future__ import annotations

from alembic import context

from modelkin.registry.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
