"""Evaluate every SLI of the catalog over a window of KPI periods, in one SQL statement.

The catalog becomes a VALUES list bound as parameters and is joined to kpi_aggregations, so a
year of hourly SLO rows is one pass in PostgreSQL whatever the number of SLOs. Rolling numbers
(30-day budgets, 6 h / 3 d burn rates) read KPI rows from before the window (budgets.LOOKBACK)
but only the window's rows are written: a one-partition run equals a backfill over many.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.kpis.sql import WindowResult, check_window
from telemetry_pipeline.core.slos import budgets
from telemetry_pipeline.core.slos.config import SloCatalog

#: ratio SLI -> which way its KPI points: 'good' rows (availability) or 'bad' rows (error rate)
RATIO_DIRECTION = {"availability": "good", "error_rate": "bad"}


def bad_fraction(direction: sql.Composable, value: sql.Composable) -> sql.Composable:
    """SQL: the bad fraction of a ratio SLI's period from its KPI value (percent) and direction."""
    return sql.SQL("case {direction} when 'good' then (100 - {value}) / 100 when 'bad' then {value} / 100 end").format(
        direction=direction, value=value)

_CATALOG_COLUMNS = ("slo_name", "sli", "metric_name", "comparator", "target", "direction", "min_sample_size",
                    "scope")
_CATALOG_TYPES = ("text", "text", "text", "text", "numeric", "text", "integer", "text")


def _catalog_values(catalog: SloCatalog) -> tuple[sql.Composable, dict[str, Any]]:
    """VALUES (...) of every (SLO, SLI) with its parameters: data, never spliced into the SQL."""
    rows: list[sql.Composable] = []
    params: dict[str, Any] = {}
    index = 0
    for slo in catalog:
        for sli in slo.slis:
            values = (slo.name, sli.name, sli.metric, sli.comparator, Decimal(repr(sli.target)),
                      RATIO_DIRECTION.get(sli.name), slo.min_sample_size, slo.scope)
            cells = []
            for column, kind, value in zip(_CATALOG_COLUMNS, _CATALOG_TYPES, values, strict=True):
                name = f"c{index}_{column}"
                params[name] = value
                cells.append(sql.SQL("{}::{}").format(sql.Placeholder(name), sql.SQL(kind)))
            rows.append(sql.SQL("({})").format(sql.SQL(", ").join(cells)))
            index += 1
    return sql.SQL("values {}").format(sql.SQL(", ").join(rows)), params


def _granularity_columns(granularity: str) -> dict[str, sql.Composable]:
    """The rolling columns one granularity carries (null elsewhere)."""
    columns: dict[str, sql.Composable] = {"burn_rate": budgets.own_burn_rate()}
    if granularity == "day":
        columns.update(budgets.budget_columns())
    if granularity == "hour":
        columns.update(budgets.burn_window_columns())
    return columns


_RATE_COLUMNS = tuple(w.rate_column for w in budgets.BURN_WINDOWS)
_SAMPLE_KEYS = tuple(w.sample_key for w in budgets.BURN_WINDOWS)
_ROLLING = ("error_budget_remaining", "budget_window_sample", "burn_rate", *_RATE_COLUMNS, *_SAMPLE_KEYS)


def slo_insert(catalog: SloCatalog, granularity: str) -> tuple[sql.Composed, dict[str, Any]]:
    """INSERT ... SELECT of all slo_status rows of a window, and its catalog parameters.

    Further parameters: %(granularity)s, %(read_from)s, %(start)s, %(end)s, and %(scoped)s: whether
    the granularity is one of the dimension granularities (scoped SLOs are evaluated only there).
    """
    values, params = _catalog_values(catalog)
    present = _granularity_columns(granularity)
    rolling = sql.SQL(",\n ").join(
        sql.SQL("{} as {}").format(present.get(name, sql.SQL("null::numeric")), sql.Identifier(name))
        for name in _ROLLING
    )
    alert, alert_windows = (
        budgets.burn_alert_expressions() if granularity == "hour" else (sql.SQL("null"), sql.SQL("null"))
    )
    statement = sql.SQL(
        """
        with catalog ({catalog_columns}) as ({values}),
        kpi as (
          select c.slo_name, c.sli, c.metric_name, c.comparator, c.target, c.min_sample_size,
                 k.dimension, k.dimension_value, k.period_start, k.period_end, k.metric_value as value,
                 coalesce(k.sample_size, 0) as sample_size,
                 k.metadata ->> 'unit' as unit,
                 {bad_fraction} as bad_fraction,
                 case c.direction when 'good' then 1 - c.target / 100
                                  when 'bad' then c.target / 100 end as allowed,
                 m.excluded,
                 -- the rows a budget or trailing burn rate counts: none in a maintenance window
                 case when m.excluded then 0 else coalesce(k.sample_size, 0) end as budget_sample
          from catalog c
          join public.kpi_aggregations k
            on k.metric_name = c.metric_name and k.aggregation_period = %(granularity)s
           and k.period_start >= %(read_from)s and k.period_start < %(end)s
           and k.dimension is not distinct from c.scope  -- global SLO: global rows; scoped: its dimension
           -- a scoped SLO only at the dimension granularities: scoped KPI rows left from an earlier
           -- TELEMETRY_DIMENSION_GRANULARITIES (say hourly) are not evaluated until re-computed away
           and (c.scope is null or %(scoped)s)
          cross join lateral (
            select exists (
              select 1 from public.slo_maintenance_windows w
              where w.slo_name = c.slo_name and (w.sli is null or w.sli = c.sli)
                and w.starts_at < k.period_end and w.ends_at > k.period_start) as excluded
          ) m
        ),
        rolled as (
          select kpi.*, {rolling} from kpi
        ),
        evaluated as (
          select rolled.*, {alert} as burn_alert, {alert_windows} as burn_alert_windows
          from rolled
          where period_start >= %(start)s
        )
        insert into public.slo_status (
          slo_name, sli, metric_name, aggregation_period, period_start, period_end, dimension,
          dimension_value, value, target, comparator, met, sample_size, error_budget_remaining, burn_rate,
          {rate_columns}, burn_alert, burn_alert_windows, metadata, evaluated_at, excluded
        )
        select slo_name, sli, metric_name, %(granularity)s, period_start, period_end, dimension,
               dimension_value, value, target, comparator,
               case comparator when '>=' then value >= target else value < target end,
               sample_size, error_budget_remaining, burn_rate, {rate_columns},
               burn_alert, burn_alert_windows,
               jsonb_strip_nulls(jsonb_build_object(
                 'unit', unit, 'min_sample_size', min_sample_size,
                 'budget_window_sample', budget_window_sample, {samples})),
               now(), excluded
        from evaluated
        """
    ).format(
        catalog_columns=sql.SQL(", ").join(map(sql.Identifier, _CATALOG_COLUMNS)),
        bad_fraction=bad_fraction(sql.SQL("c.direction"), sql.SQL("k.metric_value")),
        values=values,
        rolling=rolling,
        alert=alert,
        alert_windows=alert_windows,
        rate_columns=sql.SQL(", ").join(map(sql.Identifier, _RATE_COLUMNS)),
        samples=sql.SQL(", ").join(sql.SQL("{}, {}").format(sql.Literal(k), sql.Identifier(k)) for k in _SAMPLE_KEYS),
    )
    return statement, params


@dataclass
class SloWindowResult(WindowResult):
    """What one window evaluation did, and what the asset reports from it (counted in SQL)."""

    unmet: int = 0
    #: period_start -> {"<slo>.<sli>": value, "<slo>.<sli>.target": target,
    #: "<slo>.<sli>.budget_remaining_pct": budget (daily ratio SLIs)}, for metadata plots
    period_metadata: dict[datetime, dict[str, float]] = field(default_factory=dict)
    #: slo -> its first MAX_LISTED_VIOLATIONS violations (met = false, sample >= min_sample_size)
    violations: dict[str, list[Violation]] = field(default_factory=dict)
    #: slo -> number of violations in the window (complete, however many are listed)
    violation_counts: dict[str, int] = field(default_factory=dict)
    #: slo -> unmet rows too small to count as violations
    small_sample_unmet: dict[str, int] = field(default_factory=dict)
    burn_alerts: dict[str, int] = field(default_factory=dict)
    #: the SLOs with at least one slo_status row in the window
    slos_with_rows: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Violation:
    sli: str
    period_start: datetime
    value: float
    target: float
    comparator: str
    sample_size: int


#: Violations listed per SLO in check metadata; the count is always complete.
MAX_LISTED_VIOLATIONS = 20


def replace_window(
    conn: psycopg.Connection, catalog: SloCatalog, granularity: str, start: datetime, end: datetime,
    *, dimension_granularities: tuple[str, ...] | None = None,
) -> SloWindowResult:
    """Re-evaluate all SLOs over [start, end) at `granularity`, replacing the window's rows.

    One transaction (delete + insert) under an advisory lock per granularity, as the KPI writer:
    a crash leaves the old rows, and overlapping writers take turns. Scoped SLOs are evaluated
    only when `granularity` is one of `dimension_granularities` (default: the environment's
    TELEMETRY_DIMENSION_GRANULARITIES), as SPEC section 10 has it, whatever scoped KPI rows an
    earlier setting left in the table.
    """
    check_window(granularity, start, end)
    if dimension_granularities is None:
        dimension_granularities = settings.current().dimension_granularities
    statement, params = slo_insert(catalog, granularity)
    params.update(granularity=granularity, read_from=start - budgets.LOOKBACK[granularity], start=start, end=end,
                  scoped=granularity in dimension_granularities)
    window = (granularity, start, end)
    result = SloWindowResult(granularity, start, end)
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('slo_status:' || %s))", (granularity,))
        result.deleted = conn.execute(
            "delete from public.slo_status where aggregation_period = %s"
            " and period_start >= %s and period_start < %s",
            window,
        ).rowcount
        result.inserted = conn.execute(statement, params).rowcount
        _summarise(conn, catalog, result)
    return result


_COUNTS = """
    with slo (slo_name, min_sample_size) as (select * from unnest(%(slos)s::text[], %(min_samples)s::int[])),
    rows as (
      select s.*, s.sample_size >= coalesce(slo.min_sample_size, 1) as counts
      from public.slo_status s left join slo using (slo_name)
      where s.aggregation_period = %(granularity)s and s.period_start >= %(start)s and s.period_start < %(end)s
    )
    select slo_name, count(*) filter (where not met),
           count(*) filter (where not met and counts), count(*) filter (where not met and not counts)
    from rows group by slo_name
"""
_LISTED = """
    with slo (slo_name, min_sample_size) as (select * from unnest(%(slos)s::text[], %(min_samples)s::int[])),
    violations as (
      select s.slo_name, s.sli, s.period_start, s.value::float8, s.target::float8, s.comparator, s.sample_size,
             row_number() over (partition by s.slo_name order by s.period_start, s.sli) as n
      from public.slo_status s left join slo using (slo_name)
      where s.aggregation_period = %(granularity)s and s.period_start >= %(start)s and s.period_start < %(end)s
        and not s.met and s.sample_size >= coalesce(slo.min_sample_size, 1)
    )
    select slo_name, sli, period_start, value, target, comparator, sample_size
    from violations where n <= %(listed)s order by slo_name, n
"""
_BURN_ALERTS = """
    select burn_alert, count(*) from public.slo_status
    where aggregation_period = %(granularity)s and period_start >= %(start)s and period_start < %(end)s
      and burn_alert is not null
    group by burn_alert
"""
_PERIOD_METADATA = """
    select period_start, jsonb_object_agg(slo_name || '.' || sli, value::float8)
             || jsonb_object_agg(slo_name || '.' || sli || '.target', target::float8)
             || coalesce(jsonb_object_agg(slo_name || '.' || sli || '.budget_remaining_pct',
                                          error_budget_remaining::float8)
                           filter (where error_budget_remaining is not null), '{}')
    from public.slo_status
    where aggregation_period = %(granularity)s and period_start >= %(start)s and period_start < %(end)s
      and dimension is null  -- one plotted value per SLI: scoped values are per scope, in the table
    group by period_start order by period_start
"""


def _summarise(conn: psycopg.Connection, catalog: SloCatalog, result: SloWindowResult) -> None:
    """Counts per SLO, the listed violations, burn alerts and per-period metadata, all in SQL:
    only aggregates, the first violations and one row per period reach Python."""
    params = {
        "granularity": result.granularity, "start": result.start, "end": result.end,
        "slos": [slo.name for slo in catalog], "min_samples": [slo.min_sample_size for slo in catalog],
        "listed": MAX_LISTED_VIOLATIONS,
    }
    for slo_name, unmet, violations, small in conn.execute(_COUNTS, params):
        result.slos_with_rows.add(slo_name)
        result.unmet += unmet
        if violations:
            result.violation_counts[slo_name] = violations
        if small:
            result.small_sample_unmet[slo_name] = small
    for slo_name, sli, period_start, value, target, comparator, n in conn.execute(_LISTED, params):
        result.violations.setdefault(slo_name, []).append(Violation(sli, period_start, value, target, comparator, n))
    result.burn_alerts = dict(conn.execute(_BURN_ALERTS, params).fetchall())
    # jsonb gives whole numbers back as int; metadata plots want one type per key
    result.period_metadata = {
        period: {key: float(value) for key, value in entry.items()}
        for period, entry in conn.execute(_PERIOD_METADATA, params)
    }
