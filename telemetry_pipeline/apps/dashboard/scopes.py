"""Scopes on the dashboard (SPEC section 10): which values exist, and the ranking of a dimension.

Three reads over the scoped rows of kpi_aggregations, each answered from an index:
- `require_known`: a scoped view names a value that has rows (or a team of the teams file, or
  `unowned`); anything else is a 400 naming the parameter, not an empty chart that looks healthy;
- `scope_values`: the values of a dimension for the page's picker, found by walking the scoped
  series index one distinct value at a time (a "loose index scan"), so listing hundreds of
  repositories reads hundreds of index entries, not the millions of rows behind them;
- `ranking`: a dimension's values ordered by one metric over the view's periods (one probe per value
  into the scope-led unique index, sql/0115).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import psycopg
from psycopg import sql

from telemetry_pipeline.apps.dashboard.params import (
    PARAMETERS,
    ParamError,
    Scope,
    View,
    _int,
    _single,
    iso,
    parse_view,
    scoped_granularity,
)
from telemetry_pipeline.core.granularity import PERIODS
from telemetry_pipeline.core.kpis.catalog import METRICS, METRICS_BY_NAME, Agg, Metric
from telemetry_pipeline.core.scopes.teams import DIMENSIONS, UNOWNED, TeamCatalog
from telemetry_pipeline.core.slos.config import SloCatalog

#: The picker's list: default and bounds of `limit`.
VALUES_LIMIT = 100
VALUES_LIMIT_BOUNDS = (1, 1000)
#: The ranking table: default and bounds of `limit`.
RANKING_LIMIT = 20
RANKING_LIMIT_BOUNDS = (1, 500)
ORDERS = ("worst", "best")
#: What /api/ranking reads besides its own parameters: the view's time window only.
_RANKING_VIEW_PARAMETERS = frozenset({"range", "from", "to", "granularity"})
RANKING_PARAMETERS = _RANKING_VIEW_PARAMETERS | {"dimension", "metric", "order", "limit"}
VALUES_PARAMETERS = frozenset({"dimension", "prefix", "limit"})

assert set(DIMENSIONS) <= PARAMETERS  # a scoped view's parameter is its dimension's name


def lower_is_better(metric: Metric) -> bool:
    """Durations, sizes, failure and error rates: the worst value is the highest. Everything
    else (availabilities, success and verification rates, counts) is worst when lowest."""
    if metric.agg in (Agg.AVG, Agg.P95):
        return True
    return metric.agg is Agg.RATE and metric.where in ("failure_or_error", "error")


# --- is the scope known? -----------------------------------------------------------------------

#: One probe per granularity into the scope-led unique index (sql/0115), stopping at the first row.
_KNOWN = sql.SQL("""
select exists (
  select 1 from public.kpi_aggregations
  where aggregation_period = any(%(periods)s) and dimension = %(dimension)s and dimension_value = %(value)s
)
""")


def require_known(conn: psycopg.Connection, scope: Scope, teams: TeamCatalog) -> None:
    """Raise ParamError naming the scope's parameter unless its value is known.

    Known: some kpi_aggregations row has that dimension value (any granularity); for `team`
    also a team of the teams file or `unowned`, which exist before their first computed period.
    """
    if scope.dimension == "team" and (scope.value == UNOWNED or teams.get(scope.value) is not None):
        return
    params = {"periods": list(PERIODS), "dimension": scope.dimension, "value": scope.value}
    found = conn.execute(_KNOWN, params).fetchone()
    if not (found and found[0]):
        hint = "; teams come from the teams file (TELEMETRY_TEAMS_FILE) or are 'unowned'" \
            if scope.dimension == "team" else ""
        raise ParamError(scope.dimension, f"unknown {scope.dimension} {scope.value!r}: no KPI rows for it{hint}")


# --- the picker's values -----------------------------------------------------------------------

#: Distinct values of a dimension at one granularity, each found by one index probe for the next
#: value after the previous one (PostgreSQL 15 has no skip scan of its own).
_WALK = sql.SQL("""{name}(value) as (
  (select min(dimension_value) from public.kpi_aggregations
   where aggregation_period = {period} and dimension = %(dimension)s)
  union all
  select (select min(k.dimension_value) from public.kpi_aggregations k
          where k.aggregation_period = {period} and k.dimension = %(dimension)s and k.dimension_value > w.value)
  from {name} w where w.value is not null
)""")

#: The union of the walks of every granularity, filtered by prefix (case-insensitive), in order.
_VALUES = sql.SQL("""
with recursive {walks}
select value from ({union}) v
where value is not null and starts_with(lower(value), lower(%(prefix)s))
group by value
order by value
""")


def _values_statement() -> sql.Composed:
    names = [sql.Identifier(f"walk_{p}") for p in PERIODS]
    return _VALUES.format(
        walks=sql.SQL(", ").join(_WALK.format(name=n, period=sql.Literal(p)) for n, p in zip(names, PERIODS, strict=True)),
        union=sql.SQL(" union all ").join(sql.SQL("select value from {}").format(n) for n in names),
    )


@dataclass(frozen=True)
class ValuesQuery:
    dimension: str
    prefix: str
    limit: int


def parse_values_query(query: Mapping[str, list[str]]) -> ValuesQuery:
    """/api/scopes parameters: `dimension` (required), `prefix` (optional), `limit`."""
    _refuse_unknown(query, VALUES_PARAMETERS)
    dimension = _dimension(query)
    limit_raw = _single(query, "limit")
    prefix = _single(query, "prefix") or ""
    if len(prefix) > 512 or not prefix.isprintable():
        raise ParamError("prefix", "at most 512 printable characters")
    return ValuesQuery(
        dimension=dimension,
        prefix=prefix,
        limit=_int("limit", limit_raw, VALUES_LIMIT_BOUNDS) if limit_raw else VALUES_LIMIT,
    )


def scope_values(conn: psycopg.Connection, q: ValuesQuery, teams: TeamCatalog) -> dict[str, Any]:
    """The values of a dimension starting with the prefix, sorted, at most `limit` of them.

    For `team` the teams of the teams file and `unowned` are listed even before they have rows.
    `truncated` says that more values match than were returned.
    """
    params = {"dimension": q.dimension, "prefix": q.prefix}
    found = [r[0] for r in conn.execute(_values_statement(), params)]
    if q.dimension == "team":
        extra = [t.name for t in teams] + [UNOWNED]
        found = sorted(set(found) | {t for t in extra if t.lower().startswith(q.prefix.lower())})
    return {
        "dimension": q.dimension,
        "prefix": q.prefix,
        "limit": q.limit,
        "values": found[:q.limit],
        "truncated": len(found) > q.limit,
    }


# --- the ranking -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RankingQuery:
    view: View
    dimension: str
    metric: Metric
    order: str  # worst | best
    limit: int


def parse_ranking_query(query: Mapping[str, list[str]], catalog: SloCatalog, now: datetime) -> RankingQuery:
    """/api/ranking parameters: `dimension` and `metric` (required), `order` (worst|best, default
    worst), `limit` (default 20), and the view's time window (range or from/to, granularity)."""
    _refuse_unknown(query, RANKING_PARAMETERS)
    dimension = _dimension(query)
    metric_raw = _single(query, "metric")
    if not metric_raw:
        raise ParamError("metric", "required: the metric to rank by, a name of the KPI catalog")
    if metric_raw not in METRICS_BY_NAME:
        raise ParamError("metric", f"unknown value {metric_raw!r}; expected one of {', '.join(m.name for m in METRICS)}")
    order = _single(query, "order") or "worst"
    if order not in ORDERS:
        raise ParamError("order", f"unknown value {order!r}; expected one of {', '.join(ORDERS)}")
    limit_raw = _single(query, "limit")
    view = parse_view({k: v for k, v in query.items() if k in _RANKING_VIEW_PARAMETERS}, catalog, now)
    if not _single(query, "granularity"):
        view = dataclasses.replace(view, granularity=scoped_granularity(view.granularity))
    return RankingQuery(
        view=view,
        dimension=dimension,
        metric=METRICS_BY_NAME[metric_raw],
        order=order,
        limit=_int("limit", limit_raw, RANKING_LIMIT_BOUNDS) if limit_raw else RANKING_LIMIT,
    )


#: Per dimension value, over the view's periods: counts add up; every other metric is the mean of
#: its periods weighted by their samples (exact for rates, availabilities and means, whose period
#: values are ratios over their samples; an approximation for a p95, which needs the raw rows).
#: The values come from the same walk as the picker's, and each value's periods of the metric
#: from one probe into the scope-led unique index (sql/0115), index-only: a few hundred probes
#: reading only the rows ranked, where an index of its own would cost every scoped KPI write.
_RANKING = sql.SQL("""
with recursive {walk}
select v.value as dimension_value, {value} as value, sum(k.sample_size)::bigint as sample_size,
       count(*) as periods, count(*) over () as total
from scope_values v
cross join lateral (
  select value_float8, sample_size from public.kpi_aggregations
  where aggregation_period = %(granularity)s and dimension = %(dimension)s and dimension_value = v.value
    and metric_name = %(metric)s and period_start >= %(origin)s and period_start < %(end)s
    and value_float8 is not null
) k
where v.value is not null
group by v.value
order by value {direction}, sample_size desc nulls last, dimension_value
limit %(limit)s
""")
_SUM = sql.SQL("sum(value_float8)")
_WEIGHTED = sql.SQL("coalesce(sum(value_float8 * sample_size) / nullif(sum(sample_size), 0), avg(value_float8))")


def ranking(conn: psycopg.Connection, q: RankingQuery) -> dict[str, Any]:
    """The `limit` worst (or best) values of the dimension by the metric over the view's periods,
    each with its sample, its number of periods and the link to its scoped view of the page."""
    worst_first_ascending = not lower_is_better(q.metric)
    ascending = worst_first_ascending if q.order == "worst" else not worst_first_ascending
    statement = _RANKING.format(
        walk=_WALK.format(name=sql.Identifier("scope_values"), period=sql.Placeholder("granularity")),
        value=_SUM if q.metric.agg is Agg.COUNT else _WEIGHTED,
        direction=sql.SQL("asc") if ascending else sql.SQL("desc"),
    )
    view = q.view
    params = {
        "granularity": view.granularity, "dimension": q.dimension, "metric": q.metric.name,
        "origin": view.first_period, "end": view.end, "limit": q.limit,
    }
    found = conn.execute(statement, params).fetchall()
    rows = []
    for rank, (value, metric_value, sample, periods, _total) in enumerate(found, start=1):
        scoped = dataclasses.replace(view, scope=Scope(q.dimension, value))
        rows.append({
            "rank": rank,
            "value": value,
            "metric_value": metric_value,
            "sample_size": sample,
            "periods": periods,
            "url": "/?" + urlencode(scoped.query(), doseq=True),
        })
    return {
        "view": {
            "granularity": view.granularity, "range": view.range, "from": iso(view.start), "to": iso(view.end),
            "first_period": iso(view.first_period),
        },
        "dimension": q.dimension,
        "metric": q.metric.name,
        "unit": q.metric.unit,
        "order": q.order,
        "lower_is_better": lower_is_better(q.metric),
        "limit": q.limit,
        "total": found[0][-1] if found else 0,
        "rows": rows,
    }


# --- shared parameter checks -------------------------------------------------------------------


def _refuse_unknown(query: Mapping[str, list[str]], allowed: frozenset[str]) -> None:
    unknown = sorted(set(query) - allowed)
    if unknown:
        raise ParamError(unknown[0], f"unknown parameter here; expected some of {', '.join(sorted(allowed))}")
    for param, values in query.items():
        if len([v for v in values if v.strip()]) > 1:
            raise ParamError(param, "given more than once")


def _dimension(query: Mapping[str, list[str]]) -> str:
    raw = (_single(query, "dimension") or "").strip()
    if not raw:
        raise ParamError("dimension", f"required: one of {', '.join(DIMENSIONS)}")
    if raw not in DIMENSIONS:
        raise ParamError("dimension", f"unknown value {raw!r}; expected one of {', '.join(DIMENSIONS)}")
    return raw
