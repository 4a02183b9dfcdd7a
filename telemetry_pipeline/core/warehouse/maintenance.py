"""Daily upkeep of the partitioned raw tables, shared by the CLI and the Dagster job."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from telemetry_pipeline.core.warehouse.partitioning import TABLES, ensure_partitions


def ensure_all_partitions(url: str, now: datetime | None = None) -> list[str]:
    """Create the months ahead and split the DEFAULT partitions of every partitioned table."""
    created: list[str] = []
    with psycopg.connect(url, autocommit=True, options="-c TimeZone=UTC") as conn:
        for table in TABLES:
            created += ensure_partitions(conn, table, now or datetime.now(UTC))
    return created
