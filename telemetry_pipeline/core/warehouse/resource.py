"""Where the warehouse is and how to connect to it, for every program (no Dagster here).

Dagster's `WarehouseResource` (defs/resources.py) wraps this for assets and sensors; emit, the
collector, the dashboard and the CLI use it directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from telemetry_pipeline.core import settings


@dataclass(frozen=True)
class Warehouse:
    """Connections to the telemetry warehouse (PostgreSQL 15+).

    `database_url` empty means the embedded server in the project's data folder. Sessions run in
    UTC so every `date_trunc` and period boundary is UTC whatever the server's setting.
    """

    database_url: str = ""

    def url(self) -> str:
        """The libpq URL to connect to (starting the embedded server on first use)."""
        if self.database_url:
            return libpq_url(self.database_url)
        from telemetry_pipeline.core.warehouse import embedded

        return embedded.warehouse_url()

    @contextmanager
    def connect(self, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
        """A psycopg 3 connection; commits on success, rolls back on error, always closes."""
        conn = psycopg.connect(self.url(), autocommit=autocommit, options="-c TimeZone=UTC")
        try:
            yield conn
            if not autocommit:
                conn.commit()
        except BaseException:
            if not autocommit and not conn.closed:
                conn.rollback()
            raise
        finally:
            conn.close()


def libpq_url(url: str) -> str:
    """Accept SQLAlchemy-style URLs too (postgresql+psycopg://) and hand libpq a plain one."""
    for prefix in ("postgresql+psycopg2://", "postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def one(cursor: psycopg.Cursor[Any]) -> tuple[Any, ...]:
    """The single row an aggregate or `select <expression>` query always returns."""
    row = cursor.fetchone()
    if row is None:  # cannot happen for such queries; a clear error if the query is changed
        raise RuntimeError("expected one row, the query returned none")
    return row


def configured() -> Warehouse:
    """The warehouse the environment names (TELEMETRY_DATABASE_URL, else the embedded one)."""
    return Warehouse(settings.database_url() or "")
