"""Checks on a freshly written KPI window; each can really fail, and says where.

They run in the asset right after its window replace committed, over exactly the window the run
wrote, so a single-run backfill of a year is checked as one window.
"""

from __future__ import annotations

from datetime import datetime

import psycopg
from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey

from telemetry_pipeline.core.kpis.catalog import METRICS

RATE_METRICS = [m.name for m in METRICS if m.unit == "percent"]


def check_specs(asset_key: AssetKey) -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec("rates_within_0_100", asset=asset_key,
                       description="Every percentage KPI (global and scoped) lies in [0, 100]."),
        AssetCheckSpec("one_row_per_metric_and_period", asset=asset_key,
                       description="One row per metric, period and scope; period_start aligned to the "
                       "granularity and period_end = period_start + one period."),
        AssetCheckSpec("every_period_with_data_has_kpis", asset=asset_key,
                       description="Every period holding telemetry events (audits) has event_count "
                       "(audit_count) equal to the number of rows there now; fails on data that "
                       "arrived after aggregation."),
    ]


def _examples(rows: list[tuple], limit: int = 5) -> str:
    return "; ".join(", ".join(str(v) for v in row) for row in rows[:limit])


def run_checks(
    conn: psycopg.Connection, asset_key: AssetKey, granularity: str, start: datetime, end: datetime
) -> list[AssetCheckResult]:
    """Evaluate the three checks over [start, end) of `granularity`."""
    window = (granularity, start, end)
    out_of_range = conn.execute(
        """
        select metric_name, period_start, metric_value from public.kpi_aggregations
        where aggregation_period = %s and period_start >= %s and period_start < %s
          and metric_name = any(%s) and (metric_value < 0 or metric_value > 100)
        order by period_start limit 20
        """,
        (*window, RATE_METRICS),
    ).fetchall()
    malformed = conn.execute(
        """
        select metric_name, period_start, count(*) from public.kpi_aggregations
        where aggregation_period = %s and period_start >= %s and period_start < %s
        group by metric_name, period_start, period_end, dimension, dimension_value
        having count(*) > 1
            or period_start <> date_trunc(%s, period_start, 'UTC')
            or period_end <> period_start + case %s when 'hour' then interval '1 hour'
                                                   when 'day' then interval '1 day'
                                                   else interval '7 days' end
        limit 20
        """,
        (*window, granularity, granularity),
    ).fetchall()
    missing = conn.execute(
        """
        with actual as (
          select 'event_count' as metric_name, date_trunc(%(g)s, event_timestamp, 'UTC') as period_start,
                 count(*) as n
          from public.telemetry_events where event_timestamp >= %(s)s and event_timestamp < %(e)s group by 2
          union all
          select 'audit_count', date_trunc(%(g)s, audited_at, 'UTC'), count(*)
          from public.slsa_audit_metrics where audited_at >= %(s)s and audited_at < %(e)s group by 2
        )
        select a.metric_name, a.period_start, a.n, k.metric_value
        from actual a
        left join public.kpi_aggregations k
          on k.metric_name = a.metric_name and k.aggregation_period = %(g)s and k.period_start = a.period_start
         and k.dimension is null
        where k.metric_value is distinct from a.n
        order by a.period_start limit 20
        """,
        {"g": granularity, "s": start, "e": end},
    ).fetchall()
    return [
        AssetCheckResult(
            asset_key=asset_key, check_name="rates_within_0_100", passed=not out_of_range,
            severity=AssetCheckSeverity.ERROR,
            metadata={"violations": len(out_of_range), "examples": _examples(out_of_range)},
        ),
        AssetCheckResult(
            asset_key=asset_key, check_name="one_row_per_metric_and_period", passed=not malformed,
            severity=AssetCheckSeverity.ERROR,
            metadata={"malformed": len(malformed), "examples": _examples(malformed)},
        ),
        AssetCheckResult(
            asset_key=asset_key, check_name="every_period_with_data_has_kpis", passed=not missing,
            severity=AssetCheckSeverity.WARN,
            metadata={"stale_or_missing_periods": len(missing), "examples": _examples(missing)},
        ),
    ]
