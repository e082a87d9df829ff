"""Alembic environment. The node runs migrations itself (``Database.migrate``) and passes its connection in
``config.attributes["connection"]``; ``alembic`` on the command line works too, with ``-x url=...``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from node.storage.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            on_version_apply=config.attributes.get("on_version_apply"),  # Database.migrate's report
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///alembic-dev.sqlite3")
    engine = create_engine(url)
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
