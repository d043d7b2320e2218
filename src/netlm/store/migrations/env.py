"""Alembic environment: always run online, on the connection that `netlm.store.db` passes in."""

from alembic import context
from sqlalchemy.engine import Connection

from netlm.store.models import Base

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations through netlm.store.db.upgrade (`netlm db upgrade`)")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
