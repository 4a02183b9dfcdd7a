"""The three reads behind the dashboard: KPI series, SLO status, violations.

Each is one set-based statement over kpi_aggregations / slo_status, shaped in PostgreSQL so
Python only moves a few thousand numbers into JSON whatever the size of the tables:
- series are downsampled with date_bin when a view has more periods than `max_points` (a point
  is then the mean of its bucket, with the bucket's min and max kept so spikes stay visible);
- the SLO panel walks the unique (slo_name, sli, aggregation_period, period_start) index
  backwards once per SLI (LIMIT 1 laterals), never sorting a whole range.
A *violation* is what alerting calls one (SPEC section 7): met = false with sample_size at least
the SLO's min_sample_size; a failing period below that is reported as `low_sample`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from telemetry_pipeline.apps.dashboard.links import partition_links
from telemetry_pipeline.apps.dashboard.params import View, iso
from telemetry_pipeline.core.granularity import PERIODS
from telemetry_pipeline.core.kpis.catalog import METRICS_BY_NAME
from telemetry_pipeline.core.slos.budgets import BURN_WINDOWS
from telemetry_pipeline.core.slos.config import SloCatalog


@dataclass(frozen=True)
class SliRef:
    """One (SLO, SLI) pair the view shows, with what the SQL needs to judge its rows."""

    slo_name: str
    sli: str
    metric_name: str
    comparator: str
    target: float
    min_sample_size: int


def view_slis(view: View, catalog: SloCatalog) -> list[SliRef]:
    """The SLIs of the view's SLOs whose metric the view shows, in catalog order: the global SLOs
    on a global view, the SLOs scoped by the view's dimension on a scoped one (their rows of the
    view's dimension value)."""
    dimension = view.scope.dimension if view.scope else None
    return [
        SliRef(slo.name, sli.name, sli.metric, sli.comparator, sli.target, slo.min_sample_size)
        for slo in catalog
        if slo.name in view.slos and slo.scope == dimension
        for sli in slo.slis
        if sli.metric in view.metrics
    ]


def scope_condition(view: View, alias: str | None = None) -> sql.Composable:
    """Which rows of kpi_aggregations / slo_status the view reads: the global ones (dimension is
    null) or those of its scope, with the %(dimension)s / %(dimension_value)s of `_window_params`."""
    def column(name: str) -> sql.Composable:
        return sql.Identifier(alias, name) if alias else sql.Identifier(name)

    if view.scope is None:
        return sql.SQL("{} is null").format(column("dimension"))
    return sql.SQL("{} = %(dimension)s and {} = %(dimension_value)s").format(
        column("dimension"), column("dimension_value"))


def _sli_params(slis: list[SliRef]) -> dict[str, list[Any]]:
    """The SLIs as parallel arrays, for `unnest(...) with ordinality` in the statements below."""
    return {
        "c_slo": [s.slo_name for s in slis],
        "c_sli": [s.sli for s in slis],
        "c_metric": [s.metric_name for s in slis],
        "c_min": [s.min_sample_size for s in slis],
    }


_SLIS = sql.SQL("""unnest(%(c_slo)s::text[], %(c_sli)s::text[], %(c_metric)s::text[], %(c_min)s::int[])
           with ordinality as c(slo_name, sli, metric_name, min_sample, ord)""")

#: Bucketed points of every metric, aggregated in float8 over the covering index of sql/0041.
#: PostgreSQL builds each metric's value arrays as JSON text and
#: returns the buckets as indexes on the view's grid (origin + i * stride), which Python turns
#: into timestamps once per grid position for all metrics: a year of hourly rows is ~210k
#: index-only-scanned rows in and ~24k buckets out, and formatting those numbers and timestamps
#: row by row in Python cost more than the SQL. One lateral per metric: each reads its own
#: index range and sorts only its own ~1000 buckets by time; grouping all metrics' buckets by
#: metric name first cost a sort of every bucket on a text key (measured on PostgreSQL 15: a
#: quarter more CPU for a year of hourly rows). A metric without rows in the view has no row.
_SERIES = sql.SQL("""
select m.name, s.indexes, s.arrays
from unnest(%(metrics)s::text[]) as m(name)
cross join lateral (
  select json_agg(extract(epoch from bucket - %(origin)s)::bigint / %(stride_seconds)s order by bucket)::text as indexes,
         json_build_object(
           'value', json_agg(value order by bucket),
           'sample_size', json_agg(sample_size order by bucket){downsampled}
         )::text as arrays
  from ({buckets}) b
  having count(*) > 0
) s
""")
#: The rows of one metric the series read: the view's granularity, window and scope.
_SERIES_ROWS = sql.SQL("""
    from public.kpi_aggregations
    where aggregation_period = %(granularity)s and metric_name = m.name
      and period_start >= %(origin)s and period_start < %(end)s
      and {scope}  -- global rows, or the view's scope (SPEC section 10, sql/0070)
      and value_float8 is not null  -- NaN / out of float8 range (sql/0041): no JSON number for them
""")
#: Downsampled: a bucket of bucket_periods periods is their mean, extremes, summed sample and count.
_BUCKETS_DOWNSAMPLED = sql.SQL("""
    select date_bin(%(stride)s, period_start, %(origin)s) as bucket,
           avg(value_float8) as value, min(value_float8) as low, max(value_float8) as high,
           sum(sample_size)::bigint as sample_size, count(*) as periods
    {rows}
    group by 1""")
#: Not downsampled: a bucket is a period, and the unique index (sql/0070) makes it one row, so
#: the rows are the points as they are (grouping them cost a third of this read's CPU).
_BUCKETS_PERIODS = sql.SQL("""
    select period_start as bucket, value_float8 as value, sample_size
    {rows}""")
_SERIES_DOWNSAMPLED = sql.SQL(""",
           'min', json_agg(low order by bucket),
           'max', json_agg(high order by bucket),
           'periods', json_agg(periods order by bucket)""")

_SERIES_VIOLATIONS = sql.SQL("""
select s.metric_name,
       date_bin(%(stride)s, s.period_start, %(origin)s) as bucket,
       case when bool_or(s.comparator = '>=') then min(s.value) else max(s.value) end::float8,
       count(*)
from {slis}
join public.slo_status s on s.slo_name = c.slo_name and s.sli = c.sli and {scope}
where s.aggregation_period = %(granularity)s and not s.met and s.sample_size >= c.min_sample
  and s.period_start >= %(origin)s and s.period_start < %(end)s
group by 1, 2
order by 1, 2
""")


def _window_params(view: View) -> dict[str, Any]:
    stride = PERIODS[view.granularity] * view.bucket_periods
    return {
        "granularity": view.granularity,
        "origin": view.first_period,
        "end": view.end,
        "stride": stride,
        "stride_seconds": int(stride.total_seconds()),
        "dimension": view.scope.dimension if view.scope else None,
        "dimension_value": view.scope.value if view.scope else None,
    }


def view_header(view: View) -> dict[str, Any]:
    """What every response says about the view it answers (resolved from the parameters);
    a scoped view adds its `scope` (absent on a global view)."""
    header: dict[str, Any] = {
        "granularity": view.granularity,
        "range": view.range,
        "from": iso(view.start),
        "to": iso(view.end),
        "first_period": iso(view.first_period),
        "metrics": list(view.metrics),
        "slos": list(view.slos),
    }
    if view.scope:
        header["scope"] = {"dimension": view.scope.dimension, "value": view.scope.value}
    return header


def _json_with(obj: dict[str, Any], raw: dict[str, str]) -> str:
    """`obj` as JSON with members whose values are JSON texts already (from PostgreSQL)."""
    members = "".join(f",{json.dumps(key)}:{value}" for key, value in raw.items())
    return json.dumps(obj, separators=(",", ":"))[:-1] + members + "}"


ConnectionSource = Callable[[], AbstractContextManager[psycopg.Connection]]


def _series_points(conn: psycopg.Connection, view: View, metrics: list[str]) -> dict[str, str]:
    """metric -> its points object as JSON text, for the metrics that have rows in the view."""
    params = _window_params(view) | {"metrics": metrics}
    rows = _SERIES_ROWS.format(scope=scope_condition(view))
    downsampled = view.bucket_periods > 1
    statement = _SERIES.format(
        buckets=(_BUCKETS_DOWNSAMPLED if downsampled else _BUCKETS_PERIODS).format(rows=rows),
        downsampled=_SERIES_DOWNSAMPLED if downsampled else sql.SQL(""),
    )
    labels: dict[int, str] = {}  # grid index -> '"2025-01-01T09:00:00Z"', shared by all metrics
    points: dict[str, str] = {}
    for name, indexes, arrays in conn.execute(statement, params):
        starts = []
        for index in json.loads(indexes):
            if index not in labels:
                labels[index] = f'"{iso(params["origin"] + index * params["stride"])}"'
            starts.append(labels[index])
        points[name] = '{"period_start":[' + ",".join(starts) + "]," + arrays.lstrip()[1:]
    return points


def _series_marks(conn: psycopg.Connection, view: View, slis: list[SliRef]) -> dict[str, dict[str, list[Any]]]:
    """metric -> violating buckets (period_start, worst value) of its SLIs."""
    marks: dict[str, dict[str, list[Any]]] = {n: {"period_start": [], "value": []} for n in view.metrics}
    if slis:
        params = _window_params(view) | _sli_params(slis)
        statement = _SERIES_VIOLATIONS.format(slis=_SLIS, scope=scope_condition(view, "s"))
        for name, bucket, value, _count in conn.execute(statement, params):
            marks[name]["period_start"].append(iso(bucket))
            marks[name]["value"].append(value)
    return marks


def kpi_series(connect: ConnectionSource, view: View, catalog: SloCatalog, *, split: int = 1) -> str:
    """Per metric of the view: its points (downsampled past max_points), SLO targets, violations.

    `split` > 1 reads the metrics in that many interleaved slices on as many connections at
    once: PostgreSQL runs one statement on one core, and this read is CPU-bound. Returned as
    JSON text, the points arrays spliced in as PostgreSQL built them.
    """
    slices = [list(view.metrics[i::split]) for i in range(max(1, split))]
    slices = [s for s in slices if s] or [[]]
    slis = view_slis(view, catalog)

    def points_of(metrics: list[str]) -> dict[str, str]:
        if not metrics:
            return {}
        with connect() as conn:
            return _series_points(conn, view, metrics)

    def marks_of() -> dict[str, dict[str, list[Any]]]:
        with connect() as conn:
            return _series_marks(conn, view, slis)

    if len(slices) == 1:
        points, marks = points_of(slices[0]), marks_of()
    else:
        with ThreadPoolExecutor(max_workers=len(slices), thread_name_prefix="kpi-series") as pool:
            parts = [pool.submit(points_of, metrics) for metrics in slices]
            marks = marks_of()
            points = {name: text for part in parts for name, text in part.result().items()}

    downsampled = view.bucket_periods > 1
    empty_keys = ("period_start", "value", "sample_size") + (("min", "max", "periods") if downsampled else ())
    empty = json.dumps({key: [] for key in empty_keys})
    metrics = []
    for name in view.metrics:
        metric = METRICS_BY_NAME[name]
        described = {
            "name": name,
            "group": metric.group,
            "unit": metric.unit,
            "description": metric.description,
            "targets": [
                {"slo": s.slo_name, "sli": s.sli, "comparator": s.comparator, "target": s.target}
                for s in slis if s.metric_name == name
            ],
            "violations": marks[name],
        }
        metrics.append(_json_with(described, {"points": points.get(name, empty)}))
    header = {
        "view": view_header(view),
        "max_points": view.max_points,
        "downsampled": downsampled,
        "bucket_periods": view.bucket_periods,
        "bucket_seconds": int((PERIODS[view.granularity] * view.bucket_periods).total_seconds()),
    }
    return _json_with(header, {"metrics": "[" + ",".join(metrics) + "]"})


_SLO_STATUS = sql.SQL("""
select c.slo_name, c.sli, c.metric_name, c.min_sample,
       l.period_start, l.period_end, l.value::float8, l.target::float8, l.comparator, l.met, l.sample_size,
       b.period_start, b.error_budget_remaining::float8, b.burn_rate::float8,
       h.period_start, {burn_rates},
       h.burn_alert, h.burn_alert_windows,
       n.periods, n.violations
from {slis}
left join lateral (
  select period_start, period_end, value, target, comparator, met, sample_size
  from public.slo_status s
  where s.slo_name = c.slo_name and s.sli = c.sli and {scope} and s.aggregation_period = %(granularity)s
    and s.period_start >= %(origin)s and s.period_start < %(end)s
  order by s.period_start desc limit 1
) l on true
left join lateral (
  select period_start, error_budget_remaining, burn_rate
  from public.slo_status s
  where s.slo_name = c.slo_name and s.sli = c.sli and {scope} and s.aggregation_period = 'day'
    and s.period_start < %(end)s and s.error_budget_remaining is not null
  order by s.period_start desc limit 1
) b on true
left join lateral (
  select period_start, {burn_columns}, burn_alert, burn_alert_windows
  from public.slo_status s
  where s.slo_name = c.slo_name and s.sli = c.sli and {scope} and s.aggregation_period = 'hour'
    and s.period_start < %(end)s and {shortest_burn} is not null
  order by s.period_start desc limit 1
) h on true
cross join lateral (
  select count(*) as periods,
         count(*) filter (where not s.met and s.sample_size >= c.min_sample) as violations
  from public.slo_status s
  where s.slo_name = c.slo_name and s.sli = c.sli and {scope} and s.aggregation_period = %(granularity)s
    and s.period_start >= %(origin)s and s.period_start < %(end)s
) n
order by c.ord
""")


def _slo_status_statement(view: View) -> sql.Composed:
    """_SLO_STATUS with the burn windows of burn_windows.yaml (one slo_status column each)."""
    return _SLO_STATUS.format(
        slis=_SLIS,
        scope=scope_condition(view, "s"),
        burn_rates=sql.SQL(", ").join(
            sql.SQL("{}::float8").format(sql.Identifier("h", w.rate_column)) for w in BURN_WINDOWS),
        burn_columns=sql.SQL(", ").join(sql.Identifier(w.rate_column) for w in BURN_WINDOWS),
        shortest_burn=sql.Identifier("s", BURN_WINDOWS[0].rate_column),
    )


def _status(met: bool | None, sample: int | None, min_sample: int) -> str:
    if met is None:
        return "no_data"
    if met:
        return "met"
    return "violated" if sample is not None and sample >= min_sample else "low_sample"


def _ts(value: datetime | None) -> str | None:
    return iso(value) if value is not None else None


def slo_status(conn: psycopg.Connection, view: View, catalog: SloCatalog) -> dict[str, Any]:
    """The SLO panel: per SLO and SLI the latest period of the view, budget and burn rates."""
    slis = view_slis(view, catalog)
    by_key = {(s.slo_name, s.sli): s for s in slis}
    rows: list[dict[str, Any]] = []
    if slis:
        windows = len(BURN_WINDOWS)
        for r in conn.execute(_slo_status_statement(view), _window_params(view) | _sli_params(slis)):
            (slo_name, sli, metric_name, min_sample, start, end, value, target, comparator, met, sample,
             budget_day, budget, burn_day, burn_hour) = r[:15]
            burn_rates = dict(zip((w.rate_column for w in BURN_WINDOWS), r[15:15 + windows], strict=True))
            alert, alert_windows, periods, violations = r[15 + windows:]
            ref = by_key[(slo_name, sli)]
            latest = None
            if start is not None:
                latest = {
                    "period_start": iso(start),
                    "period_end": iso(end),
                    "value": value,
                    "target": target,
                    "comparator": comparator,
                    "met": met,
                    "sample_size": sample,
                    **partition_links(start, view.granularity),
                }
            rows.append({
                "slo_name": slo_name,
                "sli": sli,
                "metric_name": metric_name,
                "target": ref.target,
                "comparator": ref.comparator,
                "min_sample_size": min_sample,
                "status": _status(met, sample, min_sample),
                "latest": latest,
                "error_budget_remaining": budget,
                "burn_rate_day": burn_day,
                "budget_period_start": _ts(budget_day),
                **burn_rates,
                "burn_alert": alert,
                "burn_alert_windows": alert_windows,
                "burn_period_start": _ts(burn_hour),
                "periods_in_view": periods,
                "violations_in_view": violations,
            })
    return {"view": view_header(view), "slis": rows}


_VIOLATIONS = sql.SQL("""
select s.slo_name, s.sli, s.metric_name, s.period_start, s.period_end, s.value::float8, s.target::float8,
       s.comparator, s.sample_size, s.burn_alert, count(*) over () as total
from {slis}
join public.slo_status s on s.slo_name = c.slo_name and s.sli = c.sli and {scope}
where s.aggregation_period = %(granularity)s and not s.met and s.sample_size >= c.min_sample
  and s.period_start >= %(origin)s and s.period_start < %(end)s
order by s.period_start desc, c.ord
limit %(limit)s
""")


def violations(conn: psycopg.Connection, view: View, catalog: SloCatalog) -> dict[str, Any]:
    """Violating periods of the view, newest first, each linked to its Dagster partitions."""
    slis = view_slis(view, catalog)
    rows: list[dict[str, Any]] = []
    found: list[tuple] = []
    if slis:
        params = _window_params(view) | _sli_params(slis) | {"limit": view.limit}
        statement = _VIOLATIONS.format(slis=_SLIS, scope=scope_condition(view, "s"))
        found = conn.execute(statement, params).fetchall()
    total = found[0][-1] if found else 0  # count(*) over (): all violations, before the limit
    for slo_name, sli, metric_name, start, end, value, target, comparator, sample, alert, _ in found:
        rows.append({
            "slo_name": slo_name,
            "sli": sli,
            "metric_name": metric_name,
            "granularity": view.granularity,
            "period_start": iso(start),
            "period_end": iso(end),
            "value": value,
            "target": target,
            "comparator": comparator,
            "sample_size": sample,
            "burn_alert": alert,
            **partition_links(start, view.granularity),
        })
    return {"view": view_header(view), "total": total, "limit": view.limit, "violations": rows}
