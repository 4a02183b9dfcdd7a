"""Compile the metric catalog into set-based SQL and replace KPI windows with it.

One statement per source computes every metric of that source for every period of a window:
a single scan and GROUP BY inside PostgreSQL, whatever the number of partitions, so a year of
hourly KPIs costs one pass. Percentiles for days and weeks come from the raw rows of the whole
period, never from hourly values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg import sql

from telemetry_pipeline.core.granularity import PERIODS
from telemetry_pipeline.core.kpis.catalog import CONDITIONS, METRICS, Agg, Metric, Source
from telemetry_pipeline.core.warehouse import one

#: Per source: the rows of a window with the typed columns the catalog's conditions refer to.
#: Only constants of our own; the window and granularity are bound as parameters.
_SOURCE_ROWS: dict[Source, str] = {
    Source.EVENTS: """
        select date_trunc({granularity}, event_timestamp, 'UTC') as period_start,
               event_type, m_status as status, m_duration_ms as duration_ms,
               m_artifact_size_bytes as artifact_size_bytes
        from public.telemetry_events
        where event_timestamp >= {start} and event_timestamp < {end}
    """,
    Source.AUDITS: """
        select date_trunc({granularity}, audited_at, 'UTC') as period_start,
               status, public.telemetry_numeric_to_float8(duration_ms) as duration_ms,
               sha256_verified, predicate_type_verified, supabase_synced
        from public.slsa_audit_metrics
        where audited_at >= {start} and audited_at < {end}
    """,
}


def _sample_condition(metric: Metric) -> sql.Composable:
    """The rows a metric is computed over (SPEC section 5 'sample' column)."""
    parts: list[sql.Composable] = []
    if metric.event_type is not None:
        parts.append(sql.SQL("event_type = {}").format(sql.Literal(metric.event_type)))
    if metric.source is Source.EVENTS and not metric.counts_cancelled:
        parts.append(sql.SQL("status is distinct from 'cancelled'"))
    if metric.agg in (Agg.AVG, Agg.P95):
        parts.append(sql.SQL("{} is not null").format(sql.Identifier(metric.value_column)))
    return sql.SQL(" and ").join(parts) if parts else sql.SQL("true")


def _value_and_sample(metric: Metric) -> tuple[sql.Composable, sql.Composable]:
    """SQL aggregates for (value, sample size) of one metric over one period's rows."""
    sample = _sample_condition(metric)
    n = sql.SQL("count(*) filter (where {})").format(sample)
    if metric.agg is Agg.COUNT:
        return n, n
    if metric.agg is Agg.RATE:
        cond = sql.SQL(metric.condition)  # catalog constant
        hits = sql.SQL("count(*) filter (where ({}) and ({}))").format(sample, cond)
        return sql.SQL("100.0 * {} / nullif({}, 0)").format(hits, n), n
    if metric.agg is Agg.AVAILABILITY:
        errors = sql.SQL("count(*) filter (where ({}) and ({}))").format(
            sample, sql.SQL(CONDITIONS[metric.source]["error"])
        )
        return sql.SQL("100.0 - 100.0 * {} / nullif({}, 0)").format(errors, n), n
    col = sql.Identifier(metric.value_column)
    if metric.agg is Agg.AVG:
        return sql.SQL("(avg({}) filter (where {}))::numeric").format(col, sample), n
    if metric.agg is Agg.P95:
        return (
            sql.SQL("(percentile_cont(0.95) within group (order by {}) filter (where {}))::numeric").format(
                col, sample
            ),
            n,
        )
    raise ValueError(f"{metric.name}: unsupported aggregation {metric.agg}")


def kpi_select(source: Source, metrics: tuple[Metric, ...] = METRICS) -> sql.Composed:
    """SELECT period_start, metric_name, metric_value, sample_size, unit for one source.

    Parameters: %(granularity)s ('hour'|'day'|'week'), %(start)s, %(end)s (timestamptz).
    Metrics whose sample is empty in a period produce no row (SPEC section 5).
    """
    chosen = [m for m in metrics if m.source is source]
    aggregates: list[sql.Composable] = []
    rows: list[sql.Composable] = []
    for i, metric in enumerate(chosen):
        value, n = _value_and_sample(metric)
        aggregates.append(sql.SQL("{} as v{}, {} as n{}").format(value, sql.SQL(str(i)), n, sql.SQL(str(i))))
        rows.append(
            sql.SQL("({}, v{}, n{}, {})").format(
                sql.Literal(metric.name), sql.SQL(str(i)), sql.SQL(str(i)), sql.Literal(metric.unit)
            )
        )
    source_rows = sql.SQL(_SOURCE_ROWS[source]).format(
        granularity=sql.Placeholder("granularity"), start=sql.Placeholder("start"), end=sql.Placeholder("end")
    )
    return sql.SQL(
        """
        select a.period_start, m.metric_name, m.metric_value, m.sample_size, m.unit
        from (
          select period_start, {aggregates}
          from ({source_rows}) as src
          group by period_start
        ) as a
        cross join lateral (values {rows}) as m(metric_name, metric_value, sample_size, unit)
        where m.sample_size > 0 and m.metric_value is not null
        """
    ).format(
        aggregates=sql.SQL(",\n ").join(aggregates),
        source_rows=source_rows,
        rows=sql.SQL(", ").join(rows),
    )


def kpi_insert(target: str = "kpi_aggregations") -> sql.Composed:
    """INSERT ... SELECT of every metric of every source into `target` (a table name of ours)."""
    return sql.SQL(
        """
        insert into {target} (metric_name, metric_value, aggregation_period, period_start, period_end, metadata)
        select metric_name, metric_value, %(granularity)s, period_start, period_start + %(length)s,
               jsonb_build_object('sample_size', sample_size, 'unit', unit)
        from ({events} union all {audits}) as k
        """
    ).format(
        target=sql.Identifier(*target.split(".")),
        events=kpi_select(Source.EVENTS),
        audits=kpi_select(Source.AUDITS),
    )


@dataclass
class WindowResult:
    """What one window replace did: rows deleted and written, and per-period headline values."""

    granularity: str
    start: datetime
    end: datetime
    deleted: int = 0
    inserted: int = 0
    periods_with_rows: int = 0
    values: dict[datetime, dict[str, float]] = field(default_factory=dict)


def check_window(granularity: str, start: datetime, end: datetime) -> None:
    if granularity not in PERIODS:
        raise ValueError(f"unknown granularity {granularity!r}; expected one of {sorted(PERIODS)}")
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("window bounds must be timezone-aware (UTC)")
    if end <= start:
        raise ValueError(f"empty window [{start}, {end})")


def replace_window(
    conn: psycopg.Connection,
    granularity: str,
    start: datetime,
    end: datetime,
    headline: tuple[str, ...] = (),
) -> WindowResult:
    """Recompute all KPIs of [start, end) at `granularity`, replacing what was there.

    Runs in one transaction (delete + insert) under an advisory lock per granularity, so a crash
    leaves the old window intact and concurrent writers of overlapping windows take turns.
    """
    check_window(granularity, start, end)
    result = WindowResult(granularity, start, end)
    params = {"granularity": granularity, "start": start, "end": end, "length": PERIODS[granularity]}
    with conn.transaction():
        conn.execute("set local work_mem = '256MB'")
        conn.execute("select pg_advisory_xact_lock(hashtext('kpi_aggregations:' || %s))", (granularity,))
        cur = conn.execute(
            "delete from public.kpi_aggregations where aggregation_period = %s"
            " and period_start >= %s and period_start < %s",
            (granularity, start, end),
        )
        result.deleted = cur.rowcount
        cur = conn.execute(kpi_insert("public.kpi_aggregations"), params)
        result.inserted = cur.rowcount
        row = one(conn.execute(
            "select count(distinct period_start) from public.kpi_aggregations"
            " where aggregation_period = %s and period_start >= %s and period_start < %s",
            (granularity, start, end),
        ))
        result.periods_with_rows = int(row[0])
        if headline:
            for period_start, name, value in conn.execute(
                "select period_start, metric_name, metric_value::float8 from public.kpi_aggregations"
                " where aggregation_period = %s and period_start >= %s and period_start < %s"
                " and metric_name = any(%s)",
                (granularity, start, end, list(headline)),
            ):
                result.values.setdefault(period_start, {})[name] = value
    return result
