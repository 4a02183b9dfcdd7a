"""A seeded warehouse for the interop tests: the dashboard's hand-made KPI and SLO rows (rows.py),
plus a few events and alerts, and the expectations read back from the tables with plain SQL."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from telemetry_pipeline_tests.dashboard import rows

#: newest event per type (older ones too, to show that the newest wins)
EVENTS = (
    ("provenance.generation", datetime(2025, 3, 10, 11, 59, 30, tzinfo=UTC)),
    ("provenance.generation", datetime(2025, 3, 10, 9, 0, tzinfo=UTC)),
    ("provenance.validation", datetime(2025, 3, 10, 11, 45, 1, 500000, tzinfo=UTC)),
    ("workflow.run", datetime(2025, 3, 9, 23, 0, tzinfo=UTC)),
)
LAST_EVENT = {
    "provenance.generation": datetime(2025, 3, 10, 11, 59, 30, tzinfo=UTC).timestamp(),
    "provenance.validation": datetime(2025, 3, 10, 11, 45, 1, 500000, tzinfo=UTC).timestamp(),
    "workflow.run": datetime(2025, 3, 9, 23, 0, tzinfo=UTC).timestamp(),
}
#: alert states seeded: 3 pending, 1 sent, 1 suppressed
ALERT_STATES = ("pending", "pending", "pending", "sent", "suppressed")
PENDING_ALERTS = 3


def seed(conn: psycopg.Connection) -> None:
    """Replace KPI/SLO rows with rows.py's, and the events and alerts with the ones above."""
    rows.seed(conn)
    conn.execute("truncate public.telemetry_events, public.slo_alerts restart identity")
    with conn.cursor() as cur:
        cur.executemany(
            "insert into public.telemetry_events (event_type, event_timestamp, metadata)"
            " values (%s, %s, '{\"status\": \"success\"}')",
            EVENTS,
        )
        cur.executemany(
            "insert into public.slo_alerts (key, kind, state, slo_name, sli, aggregation_period,"
            " period_start, period_end) values (%s, 'violation', %s, 'provenance_generation',"
            " 'availability', 'hour', %s, %s)",
            [(f"k{i}", state, rows.H0, rows.H0) for i, state in enumerate(ALERT_STATES)],
        )


def latest_slo_rows(conn: psycopg.Connection, now: datetime = rows.NOW) -> dict[tuple[str, str, str], dict]:
    """slo_status's latest closed row per (slo, sli, granularity) at `now`, read independently."""
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        found = cur.execute(
            "select distinct on (slo_name, sli, aggregation_period) slo_name, sli, aggregation_period,"
            " value::float8, target::float8, met, error_budget_remaining::float8 as budget,"
            " burn_rate_1h::float8 as b1h, burn_rate_6h::float8 as b6h, burn_rate_3d::float8 as b3d"
            " from public.slo_status where period_end <= %s"
            " order by slo_name, sli, aggregation_period, period_start desc",
            (now,),
        ).fetchall()
    return {(r["slo_name"], r["sli"], r["aggregation_period"]): r for r in found}


def latest_kpi_values(conn: psycopg.Connection, now: datetime = rows.NOW) -> dict[tuple[str, str], float]:
    found = conn.execute(
        "select distinct on (metric_name, aggregation_period) metric_name, aggregation_period, metric_value::float8"
        " from public.kpi_aggregations where period_end <= %s and dimension is null"
        " order by metric_name, aggregation_period, period_start desc",
        (now,),
    ).fetchall()
    return {(m, g): v for m, g, v in found}
