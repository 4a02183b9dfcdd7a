"""Scratch databases on the warehouse's server, for tests and benchmarks.

Tests and benchmarks never touch the warehouse database itself: they create their own database
on the same server (TELEMETRY_DATABASE_URL's, or the embedded one) and drop it afterwards.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.warehouse import embedded
from telemetry_pipeline.core.warehouse.migrate import migrate
from telemetry_pipeline.core.warehouse.resource import libpq_url


def server_url() -> str:
    """A URL on the server scratch databases go to (any database of it)."""
    configured = settings.database_url()
    return libpq_url(configured) if configured else embedded.server_url()


def drop_database(server: str, name: str) -> None:
    """Drop `name` on the server, disconnecting whoever still uses it."""
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def create_database(server: str, name: str, *, fresh: bool = True, migrated: bool = True) -> str:
    """Create `name` (dropping it first when `fresh`), apply sql/ when `migrated`; return its URL."""
    if fresh:
        drop_database(server, name)
    url = embedded.ensure_database(server, name)
    if migrated:
        migrate(url)
    return url


def dagster_storage_url(url: str) -> str:
    """The same database as dagster-postgres wants it (psycopg2 driver, SPEC section 9)."""
    return libpq_url(url).replace("postgresql://", "postgresql+psycopg2://", 1)
