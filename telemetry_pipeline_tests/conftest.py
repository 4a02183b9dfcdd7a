"""Test fixtures: one real PostgreSQL for the whole run, a fresh database on it per run.

The server is the one at TELEMETRY_DATABASE_URL when set (CI points it at the system
PostgreSQL 15), else the project's embedded PostgreSQL. Either way the tests create their own
database, migrate it, point TELEMETRY_DATABASE_URL at it for everything they start (Dagster runs,
CLI subprocesses), and drop it at the end.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from hypothesis import settings as hypothesis_settings
from psycopg import sql

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.warehouse import scratch
from telemetry_pipeline.defs.dagster_tuning import apply_defaults
from telemetry_pipeline.defs.resources import WarehouseResource
from telemetry_pipeline_tests.testdata import TEST_SLOS_FILE

#: Tables holding data (truncated between tests); the rest of the schema stays.
# Tests run Dagster with the same switches as the product, whichever test imports definitions first.
apply_defaults()

#: The tests' own SLO catalog (SPEC section 6), as Sloth tests against its testdata specs: every
#: test, sensor and subprocess reads it instead of the shipped slos.yaml, so tuning that file
#: cannot break a test. Only test_packaged_catalog_is_spec_section_6 reads the shipped file.
os.environ[settings.SLOS_FILE_ENV] = str(TEST_SLOS_FILE)

# Property tests explore new examples on developer machines; in CI (CI=true) they replay a fixed
# sequence so a landing never depends on the luck of the draw.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

DATA_TABLES = ("telemetry_events", "slsa_audit_metrics", "kpi_aggregations", "slo_status")


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """A URL on the test server (any database; used to create and drop the test database)."""
    return scratch.server_url()


@pytest.fixture(scope="session")
def warehouse_url(pg_server_url: str) -> Iterator[str]:
    name = f"tp_test_{os.getpid()}_{secrets.token_hex(3)}"
    url = scratch.create_database(pg_server_url, name)
    previous = os.environ.get(settings.DATABASE_URL_ENV)
    os.environ[settings.DATABASE_URL_ENV] = url
    try:
        yield url
    finally:
        if previous is None:
            os.environ.pop(settings.DATABASE_URL_ENV, None)
        else:
            os.environ[settings.DATABASE_URL_ENV] = previous
        scratch.drop_database(pg_server_url, name)


@pytest.fixture
def warehouse(warehouse_url: str) -> Iterator[WarehouseResource]:
    """The warehouse resource on the test database, emptied before each test."""
    resource = WarehouseResource(database_url=warehouse_url)
    with resource.connect() as conn:
        existing = {
            r[0]
            for r in conn.execute(
                "select tablename from pg_tables where schemaname = 'public' and tablename = any(%s)",
                (list(DATA_TABLES) + list(EXTRA_DATA_TABLES),),
            )
        }
        if existing:
            conn.execute(
                sql.SQL("truncate {} restart identity cascade").format(
                    sql.SQL(", ").join(sql.Identifier("public", t) for t in sorted(existing))
                )
            )
    yield resource


#: Other domains' data tables; truncated too when their migrations created them.
EXTRA_DATA_TABLES: tuple[str, ...] = (
    "slo_alerts", "slo_alert_channel_pauses", "telemetry_events_rejected", "slo_episodes",
    "slo_maintenance_windows", "slo_no_data", "slo_fast_burn_latest",
)
