"""The Dagster resource every asset, sensor and command uses to reach the warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from dagster import ConfigurableResource, EnvVar
from pydantic import Field

from telemetry_pipeline.core import settings


class WarehouseResource(ConfigurableResource):
    """Connections to the telemetry warehouse (PostgreSQL 15+).

    `database_url` empty means the embedded server in the project's data folder. Sessions run in
    UTC so every `date_trunc` and period boundary is UTC whatever the server's setting.
    """

    database_url: str = Field(
        default="",
        description="postgresql:// URL of the warehouse; empty = embedded PostgreSQL.",
    )

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


def warehouse_from_env() -> WarehouseResource:
    """The resource as configured by the environment.

    With TELEMETRY_DATABASE_URL set it is passed as a Dagster EnvVar, so the URL (which may hold
    a password) is resolved at run time and never shown in the UI or stored in run config.
    """
    if settings.database_url():
        return WarehouseResource(database_url=EnvVar(settings.DATABASE_URL_ENV))
    return WarehouseResource()
