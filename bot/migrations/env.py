"""Alembic environment: runs on the connection that bot.db.upgrade_schema hands in."""

from __future__ import annotations

from alembic import context

from bot.db import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through bot.db.upgrade_schema")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
