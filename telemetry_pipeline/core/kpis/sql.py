"""Compile the metric catalog into set-based SQL and replace KPI windows with it.

One statement per source computes every metric of that source for every period of a window:
a single scan and GROUP BY inside PostgreSQL, whatever the number of partitions, so a year of
hourly KPIs costs one pass. At the scoped granularities the statement also yields the
per-repository, per-workflow and per-team rows (SPEC section 10): counts and sums from a
pre-aggregation per (period, repository, workflow) rolled up over GROUPING SETS, percentiles
in the same rollup, from the sample values that pre-aggregation gathers. Percentiles for days
and weeks come from the raw rows of the whole period, never from hourly values.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg import sql

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.granularity import PERIODS, period_start_of
from telemetry_pipeline.core.kpis.catalog import CONDITIONS, GROUP_COLUMNS, METRICS, Agg, Metric, Source
from telemetry_pipeline.core.scopes.teams import DIMENSIONS, TeamCatalog, load_teams
from telemetry_pipeline.core.warehouse import one

#: Per source: the rows of a window with the typed columns the catalog's conditions refer to.
#: Only constants of our own; the window and granularity are bound as parameters. `{scope}` is
#: empty for the global pass and adds the scope keys (sql/0070) for the scoped one.
SOURCE_ROWS: dict[Source, str] = {
    Source.EVENTS: """
        select date_trunc({granularity}, event_timestamp, 'UTC') as period_start,
               event_type, m_status as status, m_duration_ms as duration_ms,
               m_artifact_size_bytes as artifact_size_bytes{scope}
        from public.telemetry_events
        where event_timestamp >= {start} and event_timestamp < {end}
    """,
    Source.AUDITS: """
        select date_trunc({granularity}, audited_at, 'UTC') as period_start,
               status, public.telemetry_numeric_to_float8(duration_ms) as duration_ms,
               sha256_verified, predicate_type_verified, supabase_synced{scope}
        from public.slsa_audit_metrics
        where audited_at >= {start} and audited_at < {end}
    """,
}

#: The scope keys of a row (SPEC section 10). A workflow scope is `<repository>/<workflow>` and
#: needs both: it is the grouping set (period, repository, workflow), named after grouping.
#: The scoped pass sorts its rows by these keys (grouping sets, the percentile step); in the "C"
#: collation the sorts compare bytes and use abbreviated keys, where a database collation such as
#: C.UTF-8 or en_US calls strcoll per comparison (measured, a year of day rows over 1M events:
#: the events' scoped SELECT 10.0-10.5 s -> 8.5-9.2 s, the same rows). Values are unchanged,
#: and so are the groups: equality is bytewise in every deterministic collation.
SCOPE_COLUMNS = """,
               m_repository collate "C" as repository, m_workflow collate "C" as workflow"""

#: The distinct repositories of the pre-aggregated rows, each mapped to its team: the first glob
#: (in teams-file order) that matches, else 'unowned'. A few hundred rows, joined by repository;
#: the regexes come from our own glob translation (core/scopes/teams.py), bound as parameters.
_REPOSITORY_TEAMS = """
        select r.repository,
               coalesce((select t.team
                         from unnest(%(team_names)s::text[], %(team_regexes)s::text[])
                              with ordinality as t(team, regex, ord)
                         where r.repository ~ t.regex order by t.ord limit 1), 'unowned') as team
        from (select distinct repository from pre where repository is not null) as r
"""
#: The four grouping sets of the scoped pass and the (dimension, value) of each output row. A
#: repository has one team (the join above), so (period, team, repository) groups exactly the rows
#: of (period, repository): the sets form one rollup chain, which PostgreSQL computes in one
#: pass over rows sorted once by its keys instead of one sort per chain.
_SCOPE_GROUPS = """
          case when grouping(workflow) = 0 then 'workflow'
               when grouping(repository) = 0 then 'repository'
               when grouping(team) = 0 then 'team' end as dimension,
          case when grouping(workflow) = 0 then repository || '/' || workflow
               when grouping(repository) = 0 then repository
               else team end as dimension_value"""
_GROUPING_SETS = """
          group by period_start, rollup (team, repository, workflow)"""


def sample_condition(metric: Metric, value_known: bool = True) -> sql.Composable:
    """The rows a metric is computed over (SPEC section 5 'sample' column).

    `value_known=False` leaves out an avg's or p95's "value is not null": the condition over the
    GROUP_COLUMNS alone, for the one-period statement's group rows, which count the non-null
    values of each value column instead.
    """
    parts: list[sql.Composable] = []
    if metric.event_type is not None:
        parts.append(sql.SQL("event_type = {}").format(sql.Literal(metric.event_type)))
    if metric.source is Source.EVENTS and not metric.counts_cancelled:
        parts.append(sql.SQL("status is distinct from 'cancelled'"))
    if value_known and metric.agg in (Agg.AVG, Agg.P95):
        parts.append(sql.SQL("{} is not null").format(sql.Identifier(metric.value_column)))
    return sql.SQL(" and ").join(parts) if parts else sql.SQL("true")


def _hit_condition(metric: Metric) -> sql.Composable:
    """The rows a rate's numerator counts, or an availability's errors (catalog constants)."""
    return sql.SQL(metric.condition if metric.agg is Agg.RATE else CONDITIONS[metric.source]["error"])


def _value_from_counts(
    metric: Metric, n: sql.Composable, hits: sql.Composable | None = None, total: sql.Composable | None = None,
) -> sql.Composable:
    """A count's, rate's, availability's or avg's value from its sample size `n` (bigint), the
    rows `_hit_condition` counts and an avg's float8 `total`: one arithmetic for the raw rows,
    the scoped partials and the one-period group rows, so all three give the same values (an avg
    is float8 sum / count, as avg(float8) computes it)."""
    if metric.agg is Agg.COUNT:
        return n
    if metric.agg is Agg.RATE:
        return sql.SQL("100.0 * {} / nullif({}, 0)").format(hits, n)
    if metric.agg is Agg.AVAILABILITY:
        return sql.SQL("100.0 - 100.0 * {} / nullif({}, 0)").format(hits, n)
    if metric.agg is Agg.AVG:
        return sql.SQL("({} / nullif({}, 0)::float8)::numeric").format(total, n)
    raise ValueError(f"{metric.name}: {metric.agg} has no value from counts")


def _value_and_sample(metric: Metric) -> tuple[sql.Composable, sql.Composable]:
    """SQL aggregates for (value, sample size) of one metric over one period's rows."""
    sample = sample_condition(metric)
    n = sql.SQL("count(*) filter (where {})").format(sample)
    if metric.agg is Agg.COUNT:
        return n, n
    if metric.agg in (Agg.RATE, Agg.AVAILABILITY):
        hits = sql.SQL("count(*) filter (where ({}) and ({}))").format(sample, _hit_condition(metric))
        return _value_from_counts(metric, n, hits), n
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


def _partials(metric: Metric, i: int) -> list[sql.Composable]:
    """Per (period, repository, workflow) pre-aggregates of one metric that roll up exactly.

    n{i}: sample rows; h{i}: rows counted by a rate's numerator or an availability's errors;
    s{i}: an avg's sum; x{i}: a p95's sample values, as an array (the percentile needs them all).
    """
    sample = sample_condition(metric)
    idx = sql.SQL(str(i))
    out: list[sql.Composable] = [sql.SQL("count(*) filter (where {}) as n{}").format(sample, idx)]
    if metric.agg in (Agg.RATE, Agg.AVAILABILITY):
        out.append(sql.SQL("count(*) filter (where ({}) and ({})) as h{}").format(
            sample, _hit_condition(metric), idx))
    elif metric.agg is Agg.AVG:
        out.append(sql.SQL("sum({}) filter (where {}) as s{}").format(
            sql.Identifier(metric.value_column), sample, idx))
    elif metric.agg is Agg.P95:
        out.append(sql.SQL("array_agg({}) filter (where {}) as x{}").format(
            sql.Identifier(metric.value_column), sample, idx))
    return out


def _rolled_up(metric: Metric, i: int) -> sql.Composable:
    """v{i}, n{i} of one metric over a grouping set: counts and sums from the partials of each
    pre-aggregated row's `first` unnested row, with the arithmetic of `_value_from_counts` (counts
    are bigint sums), and a p95 over the unnested sample values y{i}."""
    idx = sql.SQL(str(i))

    def once(partial: str) -> sql.Composable:
        return sql.SQL("sum({}{}) filter (where first)").format(sql.SQL(partial), idx)

    n = sql.SQL("{}::bigint").format(once("n"))
    if metric.agg is Agg.P95:
        value: sql.Composable = sql.SQL("(percentile_cont(0.95) within group (order by y{}))::numeric").format(idx)
    else:
        value = _value_from_counts(metric, n, sql.SQL("{}::bigint").format(once("h")), once("s"))
    return sql.SQL("{} as v{}, {} as n{}").format(value, idx, n, idx)


def _scoped_grouped(chosen: list[Metric], source_rows: sql.Composable) -> sql.Composed:
    """period_start, dimension, dimension_value, v{i}, n{i} over the four grouping sets.

    One read of the raw rows instead of feeding each of them into four grouping sets: (1) a
    GROUP BY (period, repository, workflow) computes every metric's counts and sums and gathers
    each p95's sample values into an array, a few hundred thousand rows however many events;
    (2) those rows, joined to their team (a join on the window's distinct repositories, a few
    hundred rows, not a per-row lookup) and sorted by the rollup's keys, are unnested into one
    row per sample value, and one rollup computes every grouping set in that order: counts and
    sums add up exactly, taken from each pre-aggregated row's first unnested row only, and a
    percentile sees the same raw values the direct definition does. The unnested rows keep the
    sort's order, so the rollup sorts a few hundred thousand rows instead of every sample row.
    Measured, a year of day rows over 10M events and 200 repositories, the events' SELECT alone:
    31.8-33.3 s with a second read of the sample rows for the percentiles, 22.2-23.8 s this way.
    """
    pre_columns: list[sql.Composable] = []
    rolled: list[sql.Composable] = []
    p95: list[sql.Composable] = []
    for i, metric in enumerate(chosen):
        pre_columns.extend(_partials(metric, i))
        rolled.append(_rolled_up(metric, i))
        if metric.agg is Agg.P95:
            p95.append(sql.SQL(str(i)))
    keyed = sql.SQL("select pre.*, teams.team from pre left join teams using (repository)"
                    " order by period_start, team, repository, workflow")
    if p95:
        # A row without sample values (null arrays) is kept by the left join, its ord null.
        values = sql.SQL(
            "select t.*, coalesce(u.ord, 1) = 1 as first, {ys} from ({keyed}) as t"
            " left join lateral unnest({xs}) with ordinality as u({names}, ord) on true"
        ).format(
            ys=sql.SQL(", ").join(sql.SQL("u.y{}").format(i) for i in p95), keyed=keyed,
            xs=sql.SQL(", ").join(sql.SQL("t.x{}").format(i) for i in p95),
            names=sql.SQL(", ").join(sql.SQL("y{}").format(i) for i in p95))
    else:
        values = sql.SQL("select t.*, true as first from ({}) as t").format(keyed)
    ctes = [
        sql.SQL("pre as (select period_start, repository, workflow, {} from ({}) as src"
                " group by period_start, repository, workflow)").format(
            sql.SQL(", ").join(pre_columns), source_rows),
        sql.SQL("teams as ({})").format(sql.SQL(_REPOSITORY_TEAMS)),
        sql.SQL("rolled as (select period_start, {}, {} from ({}) as v {})").format(
            sql.SQL(_SCOPE_GROUPS), sql.SQL(", ").join(rolled), values, sql.SQL(_GROUPING_SETS)),
    ]
    columns = sql.SQL(", ").join(sql.SQL("a.v{0}, a.n{0}").format(sql.SQL(str(i))) for i in range(len(chosen)))
    return sql.SQL(
        """
          with {ctes}
          select a.period_start, a.dimension, a.dimension_value, {columns}
          from rolled as a
          where a.dimension is null or a.dimension_value is not null
          -- The insert order of the unique index (sql/0115), led by the scope: each scope value's
          -- rows land next to each other instead of at random leaf pages (a few hundred thousand
          -- grouped rows sorted here, not the millions of KPI rows they expand to).
          order by a.dimension, a.dimension_value, a.period_start
        """
    ).format(ctes=sql.SQL(",\n ").join(ctes), columns=columns)


def _one_period_grouped(chosen: list[Metric], source_rows: sql.Composable, source: Source) -> sql.Composed:
    """period_start, dimension, dimension_value, v{i}, n{i} of one aligned period (every tick's).

    The period's rows are grouped by the source's GROUP_COLUMNS first (a few dozen groups: event
    type x status), counting rows and each value column's non-null values and summing an avg's
    column; the catalog's filtered aggregates then run over those group rows instead of
    evaluating two dozen filters on every row. The counts add up exactly (a sum over no group is
    null where count(*) is 0, hence the coalesce) and an avg is the float8 sum over its count,
    the arithmetic of avg(float8). A p95 needs the raw values: one more read
    of the period's rows, of its samples only. Measured, the events statement alone, median of
    the tick hours, old and new alternating: an hour of 129,446 events (the rate of 1B a year)
    68.5 -> 52.9 ms; of 14,199 (100M a year) 8.2-8.3 -> 7.0-7.5 ms; of ~110 (1M a year) 0.5 ->
    0.7 ms, its plan being the larger part there.
    """
    keys = [sql.Identifier(k) for k in GROUP_COLUMNS[source]]
    valued = sorted({m.value_column for m in chosen if m.agg in (Agg.AVG, Agg.P95)})
    summed = sorted({m.value_column for m in chosen if m.agg is Agg.AVG})
    counts: list[sql.Composable] = [sql.SQL("count(*) as c")]
    counts += [sql.SQL("count({}) as {}").format(sql.Identifier(c), sql.Identifier(f"c_{c}")) for c in valued]
    counts += [sql.SQL("sum({}) as {}").format(sql.Identifier(c), sql.Identifier(f"s_{c}")) for c in summed]
    aggregates: list[sql.Composable] = []
    p95: list[sql.Composable] = []
    p95_samples: list[sql.Composable] = []
    for i, metric in enumerate(chosen):
        idx = sql.SQL(str(i))
        sample = sample_condition(metric, value_known=False)
        rows = sql.Identifier(f"c_{metric.value_column}" if metric.agg in (Agg.AVG, Agg.P95) else "c")
        n = sql.SQL("coalesce(sum({}) filter (where {}), 0)::bigint").format(rows, sample)
        if metric.agg is Agg.P95:  # from the raw values, below
            aggregates.append(sql.SQL("{} as n{}").format(n, idx))
            p95.append(sql.SQL("{} as v{}").format(_value_and_sample(metric)[0], idx))
            p95_samples.append(sql.SQL("({})").format(sample_condition(metric)))
            continue
        hits = (sql.SQL("coalesce(sum(c) filter (where ({}) and ({})), 0)::bigint").format(
            sample, _hit_condition(metric)) if metric.agg in (Agg.RATE, Agg.AVAILABILITY) else None)
        total = (sql.SQL("(sum({}) filter (where {}))").format(sql.Identifier(f"s_{metric.value_column}"), sample)
                 if metric.agg is Agg.AVG else None)
        aggregates.append(sql.SQL("{} as v{}, {} as n{}").format(_value_from_counts(metric, n, hits, total), idx, n, idx))
    grouped = sql.SQL("select {keys}, {counts} from ({rows}) as src group by {keys}").format(
        keys=sql.SQL(", ").join(keys), counts=sql.SQL(", ").join(counts), rows=source_rows)
    out = sql.SQL(
        "select %(start)s::timestamptz as period_start, null::text as dimension, null::text as dimension_value, *"
        " from (select {aggregates} from ({grouped}) as g) as a"
    ).format(aggregates=sql.SQL(", ").join(aggregates), grouped=grouped)
    if p95:
        out = sql.SQL("{} cross join (select {} from ({}) as src where {}) as p").format(
            out, sql.SQL(", ").join(p95), source_rows, sql.SQL(" or ").join(p95_samples))
    return out


def kpi_select(
    source: Source, metrics: tuple[Metric, ...] = METRICS, scoped: bool = False, one_period: bool = False,
) -> sql.Composed:
    """SELECT period_start, dimension, dimension_value, metric_name, metric_value, sample_size, unit.

    Parameters: %(granularity)s ('hour'|'day'|'week'), %(start)s, %(end)s (timestamptz), and when
    `scoped` %(team_names)s / %(team_regexes)s (TeamCatalog.sql_params). Metrics whose sample is
    empty in a period produce no row (SPEC section 5). Unscoped, it is the global GROUP BY alone
    (dimension null). Scoped, the statement yields the global rows plus one row per repository,
    workflow and team value over GROUPING SETS (`_scoped_grouped`), each the catalog's own
    definition over that value's rows; a row lacking a dimension's key falls into that set's
    null group, which is dropped (it counts in the global rows only).

    `one_period` (unscoped only): the window is exactly one aligned period, as every scheduled
    tick's is, so every row belongs to %(start)s and the statement has no GROUP BY period: no
    per-row period computation and no sort of the window's rows by it before the aggregates (an
    empty window yields one row of empty samples, dropped like any empty sample). A source in
    GROUP_COLUMNS groups the period's rows by those columns first (`_one_period_grouped`).
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
    source_rows = sql.SQL(SOURCE_ROWS[source]).format(
        granularity=sql.Placeholder("granularity"), start=sql.Placeholder("start"), end=sql.Placeholder("end"),
        scope=sql.SQL(SCOPE_COLUMNS if scoped else ""),
    )
    if scoped:
        grouped = _scoped_grouped(chosen, source_rows)
    elif one_period and source in GROUP_COLUMNS:
        grouped = _one_period_grouped(chosen, source_rows, source)
    else:
        # One aligned period: every row's period is %(start)s, so no per-row period and no GROUP BY.
        period, group_by = (
            (sql.SQL("%(start)s::timestamptz"), sql.SQL("")) if one_period
            else (sql.SQL("period_start"), sql.SQL("group by period_start"))
        )
        grouped = sql.SQL(
            """
          select {period} as period_start, null::text as dimension, null::text as dimension_value, {aggregates}
          from ({source_rows}) as src
          {group_by}
            """
        ).format(period=period, aggregates=sql.SQL(",\n ").join(aggregates), source_rows=source_rows,
                 group_by=group_by)
    return sql.SQL(
        """
        select a.period_start, a.dimension, a.dimension_value,
               m.metric_name, m.metric_value, m.sample_size, m.unit
        from ({grouped}) as a
        cross join lateral (values {rows}) as m(metric_name, metric_value, sample_size, unit)
        where m.sample_size > 0 and m.metric_value is not null
          and (a.dimension is null or a.dimension_value is not null)
        """
    ).format(grouped=grouped, rows=sql.SQL(", ").join(rows))


#: The kpi_aggregations columns the KPI writer fills, in the order `kpi_rows` yields them.
WRITTEN_COLUMNS = ("metric_name", "metric_value", "aggregation_period", "period_start", "period_end",
                   "dimension", "dimension_value", "metadata", "sample_size", "value_float8")


def kpi_rows(scoped: Collection[Source] = (), one_period: bool = False) -> sql.Composed:
    """SELECT of every metric of every source as kpi_aggregations rows (WRITTEN_COLUMNS), with the
    scoped rows of the sources in `scoped`; `one_period` as in `kpi_select`, for the unscoped
    sources. It yields the typed copies `sample_size` and `value_float8` itself, from the values
    it computes (sql/0120): deriving them back out of each row cost a sixth of the write of a
    year of scoped day rows."""
    return sql.SQL(
        """
        select metric_name, metric_value, %(granularity)s, period_start, period_start + %(length)s,
               dimension, dimension_value, jsonb_build_object('sample_size', sample_size, 'unit', unit),
               sample_size, public.telemetry_numeric_to_float8(metric_value)
        from ({events} union all {audits}) as k
        """
    ).format(
        events=kpi_select(Source.EVENTS, scoped=Source.EVENTS in scoped, one_period=one_period),
        audits=kpi_select(Source.AUDITS, scoped=Source.AUDITS in scoped, one_period=one_period),
    )


def kpi_insert(
    target: str = "kpi_aggregations", scoped: Collection[Source] = (), one_period: bool = False,
) -> sql.Composed:
    """INSERT of `kpi_rows(scoped, one_period)` into `target` (a table name of ours)."""
    return sql.SQL("insert into {target} ({columns}) {rows}").format(
        target=sql.Identifier(*target.split(".")),
        columns=sql.SQL(", ").join(map(sql.Identifier, WRITTEN_COLUMNS)),
        rows=kpi_rows(scoped, one_period),
    )


def sources_with_scopes(conn: psycopg.Connection, params: dict[str, object]) -> frozenset[Source]:
    """The sources with at least one row carrying a repository in the window of `params`.

    A source without one has no scoped rows to write, and its scoped statement would only sort
    every sample row into empty groups (measured on a year of 1M events without repositories:
    the day backfill took twice the global-only time for zero scoped rows). The probe stops at
    the first such row, so it costs nothing where scopes are used, and one scan of the window's
    rows where they are not.
    """
    found = set()
    for source in Source:
        rows = sql.SQL(SOURCE_ROWS[source]).format(
            granularity=sql.Placeholder("granularity"), start=sql.Placeholder("start"),
            end=sql.Placeholder("end"), scope=sql.SQL(SCOPE_COLUMNS))
        probe = sql.SQL("select exists (select 1 from ({}) as r where repository is not null)").format(rows)
        if one(conn.execute(probe, params))[0]:
            found.add(source)
    return frozenset(found)


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
    #: Scoped rows written per dimension (all zero when the granularity is not scoped).
    scoped_rows: dict[str, int] = field(default_factory=dict)
    #: Per period: scoped rows written per dimension ({'repository': n, ...}).
    scoped_by_period: dict[datetime, dict[str, int]] = field(default_factory=dict)


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
    *,
    teams: TeamCatalog | None = None,
    dimension_granularities: tuple[str, ...] | None = None,
) -> WindowResult:
    """Recompute all KPIs of [start, end) at `granularity`, replacing what was there.

    Runs in one transaction (delete + insert) under an advisory lock per granularity, so a crash
    leaves the old window intact and concurrent writers of overlapping windows take turns. The
    delete covers the window's global and scoped rows alike, so the scoped rows always reflect the
    teams file and TELEMETRY_DIMENSION_GRANULARITIES of the latest computation. `teams` and
    `dimension_granularities` default to the environment's (TELEMETRY_TEAMS_FILE,
    TELEMETRY_DIMENSION_GRANULARITIES).
    """
    check_window(granularity, start, end)
    if dimension_granularities is None:
        dimension_granularities = settings.current().dimension_granularities
    scoped = granularity in dimension_granularities
    result = WindowResult(granularity, start, end)
    params: dict[str, object] = {
        "granularity": granularity, "start": start, "end": end, "length": PERIODS[granularity],
    }
    if scoped:
        params.update((teams if teams is not None else load_teams()).sql_params())
    window = (granularity, start, end)
    with conn.transaction():
        conn.execute("set local work_mem = '256MB'")
        conn.execute("select pg_advisory_xact_lock(hashtext('kpi_aggregations:' || %s))", (granularity,))
        cur = conn.execute(
            "delete from public.kpi_aggregations where aggregation_period = %s"
            " and period_start >= %s and period_start < %s",
            window,
        )
        result.deleted = cur.rowcount
        sources = sources_with_scopes(conn, params) if scoped else frozenset()
        one_period = period_start_of(start, granularity) == start and start + PERIODS[granularity] == end
        # What was written, counted from the INSERT's own rows rather than read back afterwards.
        written = sql.SQL(
            "with written as ({} returning period_start, dimension)"
            " select period_start, dimension, count(*) from written group by 1, 2"
        ).format(kpi_insert("public.kpi_aggregations", scoped=sources, one_period=one_period))
        result.scoped_rows = dict.fromkeys(DIMENSIONS, 0)
        periods = set()
        for period_start, dimension, n in conn.execute(written, params):
            result.inserted += n
            if dimension is None:
                periods.add(period_start)
            else:
                result.scoped_by_period.setdefault(period_start, dict.fromkeys(DIMENSIONS, 0))[dimension] = n
                result.scoped_rows[dimension] += n
        result.periods_with_rows = len(periods)
        if headline:
            for period_start, name, value in conn.execute(
                "select period_start, metric_name, metric_value::float8 from public.kpi_aggregations"
                " where aggregation_period = %s and period_start >= %s and period_start < %s"
                " and metric_name = any(%s) and dimension is null",
                (*window, list(headline)),
            ):
                result.values.setdefault(period_start, {})[name] = value
    return result
