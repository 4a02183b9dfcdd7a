"""Retention of the raw tables: drop monthly partitions older than TELEMETRY_RETENTION_MONTHS.

Why this shape:
- Dropping a month is a DETACH + DROP of one partition: seconds, no row-by-row delete, no bloat.
- A month goes only when everything it feeds is stored: for every hour, day and week overlapping
  the month that holds any of its rows, kpi_aggregations has that period's rows of the table's
  metrics, and slo_status has that period's rows whenever the period has KPIs an SLO reads. A
  week straddling two months therefore holds back both until it is materialised. The check reads
  the warehouse, not Dagster's event log: the rows are what the dashboard and SLOs read, and the
  CLI works without a Dagster instance. kpi_aggregations and slo_status are never touched here.
- Unset (the default) keeps everything. The DEFAULT partition is never dropped; the daily
  maintenance first gives its rows their own months (partitioning.ensure_partitions).
- The event_ids of a dropped month stay in telemetry_event_ids: a replayed old event is still a
  duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from psycopg import sql

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.kpis.catalog import METRICS, Source
from telemetry_pipeline.core.warehouse.partitioning import (
    TABLES,
    Partition,
    add_months,
    month_start,
    partitions,
)
from telemetry_pipeline.core.warehouse.resource import one

RETENTION_MONTHS_ENV = settings.RETENTION_MONTHS_ENV
#: Which KPI source each partitioned table feeds.
_SOURCES: dict[str, Source] = {"telemetry_events": Source.EVENTS, "slsa_audit_metrics": Source.AUDITS}

_MISSING_PERIODS = """
    with hours as (
      select h from generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 hour',
                                    interval '1 hour') h
      where exists (select 1 from {part} r where r.{ts} >= h and r.{ts} < h + interval '1 hour')
    ), periods as (
      select 'hour' as g, h as p from hours
      union select 'day', date_trunc('day', h, 'UTC') from hours
      union select 'week', date_trunc('week', h, 'UTC') from hours
    ), status as (
      select g, p,
        exists (select 1 from public.kpi_aggregations k where k.aggregation_period = g and k.period_start = p
                and k.metric_name = any(%(metrics)s)) as has_kpis,
        exists (select 1 from public.kpi_aggregations k where k.aggregation_period = g and k.period_start = p
                and k.metric_name = any(%(slo_metrics)s)) as feeds_slos,
        exists (select 1 from public.slo_status s where s.aggregation_period = g and s.period_start = p
                and s.metric_name = any(%(slo_metrics)s)) as has_slo_status
      from periods
    )
    select g, p, case when not has_kpis then 'kpi_aggregations' else 'slo_status' end
    from status where not has_kpis or (feeds_slos and not has_slo_status)
    order by p, g
"""


def retention_months() -> int | None:
    """Months of raw rows to keep (besides the current month); None = keep everything.

    Read through the typed settings (TELEMETRY_RETENTION_MONTHS), so a malformed value raises
    settings.SettingsError naming the variable, and the code location rejects it when it loads.
    """
    return settings.current().retention_months


def cutoff(now: datetime, months: int) -> datetime:
    """Months starting before this are past retention: the current month and `months` whole
    months before it are kept."""
    return add_months(month_start(now), -months)


@dataclass
class MonthDecision:
    """What retention does with one partition older than the cutoff."""

    partition: Partition
    rows: int
    missing: list[tuple[str, datetime, str]] = field(default_factory=list)  # (granularity, period, table)
    dropped: bool = False

    @property
    def droppable(self) -> bool:
        return not self.missing

    def as_dict(self) -> dict:
        return {
            "table": self.partition.table,
            "partition": self.partition.name,
            "month": f"{self.partition.month:%Y-%m}",
            "rows": self.rows,
            "dropped": self.dropped,
            "missing": [f"{t} {g} {p.isoformat()}" for g, p, t in self.missing[:20]],
            "missing_count": len(self.missing),
        }

    def render(self) -> str:
        head = f"{self.partition.name} ({self.partition.month:%Y-%m}, {self.rows:,} rows)"
        if self.dropped:
            return f"dropped   {head}"
        if self.droppable:
            return f"would drop {head}"
        first = ", ".join(f"{t} {g} {p:%Y-%m-%dT%H:%MZ}" for g, p, t in self.missing[:3])
        more = f" and {len(self.missing) - 3} more" if len(self.missing) > 3 else ""
        return f"keep      {head}: not materialised yet: {first}{more}"


def _slo_metrics() -> list[str]:
    from telemetry_pipeline.core.slos.config import load_slos

    return sorted({sli.metric for slo in load_slos() for sli in slo.slis})


def _decide(conn: psycopg.Connection, part: Partition, slo_metrics: list[str]) -> MonthDecision:
    if part.month is None:
        raise ValueError(f"{part.name}: the DEFAULT partition is never a retention candidate")
    metrics = [m.name for m in METRICS if m.source is _SOURCES[part.table]]
    ident = sql.Identifier("public", part.name)
    rows = one(conn.execute(sql.SQL("select count(*) from {}").format(ident)))[0]
    missing = conn.execute(
        sql.SQL(_MISSING_PERIODS).format(part=ident, ts=sql.Identifier(TABLES[part.table])),
        {
            "start": part.month,
            "end": add_months(part.month, 1),
            "metrics": metrics,
            "slo_metrics": [m for m in slo_metrics if m in metrics],
        },
    ).fetchall()
    return MonthDecision(part, rows, [(g, p, t) for g, p, t in missing])


def plan(conn: psycopg.Connection, now: datetime, months: int) -> list[MonthDecision]:
    """Every month partition past retention, with what it still feeds that is not stored."""
    limit = cutoff(now, months)
    slo_metrics = _slo_metrics()
    return [
        _decide(conn, part, slo_metrics)
        for table in TABLES
        for part in partitions(conn, table)
        if part.month is not None and part.month < limit
    ]


def apply(conn: psycopg.Connection, decisions: list[MonthDecision]) -> list[MonthDecision]:
    """Detach and drop every droppable partition, each in its own transaction; returns them.

    Each month is checked again under an exclusive lock on its partition, so a late row written
    after the plan (whose KPIs are not recomputed yet) keeps the month.
    """
    slo_metrics = _slo_metrics()
    dropped: list[MonthDecision] = []
    for index, decision in enumerate(decisions):
        if not decision.droppable:
            continue
        part = decision.partition
        ident = sql.Identifier("public", part.name)
        with conn.transaction():
            conn.execute(sql.SQL("lock table {} in access exclusive mode").format(ident))
            decision = decisions[index] = _decide(conn, part, slo_metrics)
            if not decision.droppable:
                continue
            conn.execute(
                sql.SQL("alter table {} detach partition {}").format(sql.Identifier("public", part.table), ident)
            )
            conn.execute(sql.SQL("drop table {}").format(ident))
        decision.dropped = True
        dropped.append(decision)
    return dropped


def run(url: str, *, months: int | None, execute: bool, now: datetime | None = None) -> list[MonthDecision]:
    """Plan (and with `execute`, apply) retention on the warehouse at `url`."""
    if months is None:
        return []
    with psycopg.connect(url, autocommit=True, options="-c TimeZone=UTC") as conn:
        decisions = plan(conn, now or datetime.now(UTC), months)
        if execute:
            apply(conn, decisions)
    return decisions
