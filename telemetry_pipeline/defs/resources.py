"""The Dagster resource every asset and sensor uses to reach the warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from dagster import ConfigurableResource, EnvVar
from pydantic import Field

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.warehouse import Warehouse


class WarehouseResource(ConfigurableResource):
    """`core.warehouse.Warehouse` as a Dagster resource (see there for what it connects to)."""

    database_url: str = Field(
        default="",
        description=(
            "postgresql:// URL of the warehouse; empty = TELEMETRY_DATABASE_URL as the process has it "
            "when connecting, else the embedded PostgreSQL."
        ),
    )

    def _warehouse(self) -> Warehouse:
        # An empty URL is resolved when connecting, not when the resource was built: a code location
        # loaded before TELEMETRY_DATABASE_URL was set (a test session, say) still reaches that server.
        return Warehouse(self.database_url or settings.database_url() or "")

    def url(self) -> str:
        """The libpq URL to connect to (starting the embedded server on first use)."""
        return self._warehouse().url()

    @contextmanager
    def connect(self, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
        """A psycopg 3 connection; commits on success, rolls back on error, always closes."""
        with self._warehouse().connect(autocommit=autocommit) as conn:
            yield conn


def warehouse_from_env() -> WarehouseResource:
    """The resource as configured by the environment.

    With TELEMETRY_DATABASE_URL set it is passed as a Dagster EnvVar, so the URL (which may hold
    a password) is resolved at run time and never shown in the UI or stored in run config.
    """
    if settings.database_url():
        return WarehouseResource(database_url=EnvVar(settings.DATABASE_URL_ENV))
    return WarehouseResource()
