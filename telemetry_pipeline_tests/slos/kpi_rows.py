"""Hand-built kpi_aggregations rows for the SLO tests, and a comparable view of slo_status."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

import psycopg

from telemetry_pipeline.core.granularity import PERIODS

#: (metric_name, period_start, value, sample_size)
KpiRow = tuple[str, datetime, float | int | str, int]


def put_kpis(conn: psycopg.Connection, granularity: str, rows: Iterable[KpiRow]) -> None:
    """Insert KPI rows as the KPI assets would write them (value as exact numeric)."""
    with conn.cursor() as cur:
        cur.executemany(
            "insert into public.kpi_aggregations"
            " (metric_name, metric_value, aggregation_period, period_start, period_end, metadata)"
            " values (%s, %s::numeric, %s, %s, %s, %s::jsonb)",
            [
                (metric, str(value), granularity, start, start + PERIODS[granularity],
                 json.dumps({"sample_size": n, "unit": "percent"}))
                for metric, start, value, n in rows
            ],
        )


STATUS_COLUMNS = (
    "slo_name", "sli", "metric_name", "aggregation_period", "period_start", "period_end", "value", "target",
    "comparator", "met", "sample_size", "error_budget_remaining", "burn_rate", "burn_rate_1h",
    "burn_rate_6h", "burn_rate_3d", "burn_alert", "burn_alert_windows", "metadata",
)


def status(conn: psycopg.Connection, granularity: str) -> dict[tuple[str, str, datetime], dict]:
    """slo_status rows of a granularity keyed by (slo, sli, period_start), without id/evaluated_at."""
    cols = ", ".join(STATUS_COLUMNS)
    rows = conn.execute(
        f"select {cols} from public.slo_status where aggregation_period = %s",  # noqa: S608 - constants
        (granularity,),
    ).fetchall()
    return {(r[0], r[1], r[4]): dict(zip(STATUS_COLUMNS, r, strict=True)) for r in rows}


def dec(value: float | int | str | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))
