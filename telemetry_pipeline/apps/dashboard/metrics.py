"""`GET /metrics`: the latest closed period of slo_status and kpi_aggregations for Prometheus.

SPEC section 12. The numbers are the warehouse's own (never recomputed here), so a Prometheus
scraping this endpoint reads exactly what slo_status holds and Grafana panels agree with the
dashboard. The text is produced by `prometheus_client` (escaping of label values, number
formatting, HELP/TYPE lines) from a custom collector that reads the warehouse per scrape.

Why it stays cheap (a few ms for the demo catalog with scopes):
- one index probe per series key of the catalog finds its latest closed period
  (uq_slo_status_key_scope, sql/0071, read backwards), then the rows of that period are read; the
  same per key on kpi_aggregations; the pending-alert count uses the partial idx_slo_alerts_due;
  the last event per type walks idx_telemetry_events_event_timestamp; the rolling burn rates are
  the primary-key table the fast-burn sensor writes (slo_fast_burn_latest, sql/0105), never the
  raw rows.

Cardinality is bounded by our catalogs and the teams file, never by the data alone (the bound
is written out in docs/integrations.md):
- SLO series exist only for the SLOs and SLIs of slos.yaml: a global SLO's global rows at every
  granularity; a scoped SLO's rows of its own dimension, only at the dimension granularities
  (TELEMETRY_DIMENSION_GRANULARITIES). Rows of names the catalog no longer holds are not exported.
- KPI series exist only for the metrics of the KPI catalog: global rows at every granularity,
  and per scope only at the dimension granularities, each its latest period.
- `team` values are the teams of TELEMETRY_TEAMS_FILE and `unowned` (a team removed from the
  file disappears); `repository` and `workflow` values are capped at MAX_SCOPES_PER_SERIES per
  series key and dimension (violations first for SLOs), and a cut is reported.
- the rolling burn rates exist per global ratio SLI and window of burn_windows.yaml.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from psycopg import sql
from psycopg.rows import dict_row
from starlette.requests import Request
from starlette.responses import Response

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.kpis.catalog import METRICS
from telemetry_pipeline.core.scopes.teams import DIMENSIONS, UNOWNED, load_teams
from telemetry_pipeline.core.slos import fast_burn_latest
from telemetry_pipeline.core.slos.budgets import FAST_BURN, TABLE_WINDOWS
from telemetry_pipeline.core.slos.config import RATIO_SLIS, SloCatalog, load_slos

#: The granularities of kpi_aggregations.aggregation_period (SPEC section 4).
GRANULARITIES = ("hour", "day", "week")
#: The `granularity` label of the rolling windows ending at the fast-burn sensor's last tick.
ROLLING = "rolling"
#: A stored fast-burn evaluation older than this is not exported (the sensor ticks every 30 s):
#: a stopped daemon must not leave a frozen burn rate firing; the timestamp gauge still tells.
FAST_BURN_STALE_AFTER = timedelta(minutes=5)
#: Repository / workflow scopes exported per series key and dimension; more are cut (and counted).
MAX_SCOPES_PER_SERIES = 500
#: Event types whose last event is exported: the ones KPIs read (SPEC section 3).
EVENT_TYPES = tuple(sorted({m.event_type for m in METRICS if m.event_type}))

SLO_LABELS = ("slo", "sli", "granularity")
#: The classic text format (what generate_latest writes for our names): every Prometheus reads it,
#: whereas newer prometheus_client releases label it version=1.0.0, which older servers do not know.
MEDIA_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: `dim` of a global series key (the unnest arrays are text; '' stands for null).
GLOBAL = ""


@dataclass(frozen=True)
class Scoping:
    """What bounds the scoped series: the dimension granularities and the team names."""

    granularities: tuple[str, ...]
    teams: tuple[str, ...]

    @classmethod
    def current(cls) -> Scoping:
        """TELEMETRY_DIMENSION_GRANULARITIES and TELEMETRY_TEAMS_FILE (read per scrape, both cached)."""
        teams = tuple(t.name for t in load_teams()) + (UNOWNED,)
        return cls(settings.current().dimension_granularities, teams)


def _latest_rows(table: str, key_columns: tuple[str, ...], value_columns: list[str],
                 order: sql.Composable) -> sql.Composed:
    """Rows of the latest closed period per series key, capped per key.

    A key is the catalog columns (arrays %(a0)s, %(a1)s, ...) plus its dimension (%(dim)s, '' for
    the global rows); `team` rows are only the teams in %(teams)s. Every identifier is one of
    ours (table and column names above), never input.
    """
    match = sql.SQL(" and ").join(
        [sql.SQL("t.{c} = k.{c}").format(c=sql.Identifier(c)) for c in key_columns]
        + [sql.SQL("t.dimension is not distinct from nullif(k.dim, '')"),
           sql.SQL("(k.dim <> 'team' or t.dimension_value = any(%(teams)s::text[]))")]
    )
    selected = sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(c)) for c in value_columns)
    arrays = sql.SQL(", ").join(
        [sql.SQL("{}::text[]").format(sql.Placeholder(f"a{i}")) for i in range(len(key_columns))]
        + [sql.SQL("%(dim)s::text[]")]
    )
    return sql.SQL(
        """
        select {key_out}, k.dim, {selected}, r.dimension, r.dimension_value
        from unnest({arrays}) as k ({keys}, dim)
        cross join lateral (
          select t.period_start from public.{table} t
          where {match} and t.period_end <= %(now)s
          order by t.period_start desc limit 1
        ) latest
        cross join lateral (
          select * from public.{table} t
          where {match} and t.period_start = latest.period_start
          order by {order} limit %(cap)s
        ) r
        """
    ).format(
        key_out=sql.SQL(", ").join(sql.SQL("k.{}").format(sql.Identifier(c)) for c in key_columns),
        selected=selected,
        arrays=arrays,
        keys=sql.SQL(", ").join(sql.Identifier(c) for c in key_columns),
        table=sql.Identifier(table),
        match=match,
        order=order,
    )


class _Gauges:
    """Gauge families whose samples may carry different label sets (global vs scoped rows)."""

    def __init__(self) -> None:
        self.families: dict[str, Metric] = {}

    def declare(self, name: str, documentation: str) -> None:
        self.families[name] = Metric(name, documentation, "gauge")

    def add(self, name: str, labels: dict[str, str], value: Any) -> None:
        if value is not None:
            self.families[name].add_sample(name, labels, float(value))


def _scope_labels(row: dict[str, Any]) -> dict[str, str]:
    if row.get("dimension") is None:
        return {}
    return {"dimension": row["dimension"], "dimension_value": row["dimension_value"] or ""}


def _params(keys: Sequence[tuple[str, ...]], now: datetime, scoping: Scoping) -> dict[str, Any]:
    """Catalog keys (last column: the dimension) as one text[] parameter per column, and the bounds."""
    columns = list(zip(*keys, strict=True)) if keys else []
    params: dict[str, Any] = {f"a{i}": list(c) for i, c in enumerate(columns[:-1])}
    return params | {"dim": list(columns[-1]) if columns else [], "now": now,
                     "teams": list(scoping.teams), "cap": MAX_SCOPES_PER_SERIES + 1}


class WarehouseCollector:
    """Reads the warehouse on each scrape (prometheus_client calls collect() per generate_latest)."""

    def __init__(self, connection: Callable[[], Any], clock: Callable[[], datetime],
                 catalog: Callable[[], SloCatalog] = load_slos,
                 scoping: Callable[[], Scoping] = Scoping.current) -> None:
        self._connection = connection
        self._clock = clock
        self._catalog = catalog
        self._scoping = scoping

    def describe(self) -> list[Metric]:
        """No warehouse read at registration time (the registry would otherwise call collect())."""
        return []

    def collect(self) -> Iterator[Metric]:
        catalog = self._catalog()
        scoping = self._scoping()
        now = self._clock()
        gauges = _Gauges()
        for name, doc in (
            ("telemetry_slo_sli_value", "SLI value of the latest closed period (slo_status.value)."),
            ("telemetry_slo_target", "SLI target of the latest closed period (slo_status.target)."),
            ("telemetry_slo_met", "1 when the latest closed period met its target, else 0."),
            ("telemetry_slo_error_budget_remaining_percent",
             "30-day rolling error budget left, percent (daily rows of ratio SLIs; may be negative)."),
            ("telemetry_slo_burn_rate",
             "Burn rate over the trailing window (label window): of the latest closed hour "
             "(granularity hour), or of the fast-burn sensor's last evaluation (granularity rolling)."),
            ("telemetry_slo_fast_burn_evaluated_timestamp_seconds",
             "Unix time of the fast-burn evaluation the rolling burn rates come from."),
            ("telemetry_kpi_value", "KPI value of the latest closed period (kpi_aggregations.metric_value)."),
            ("telemetry_alerts_pending", "Alerts recorded and not yet delivered (slo_alerts.state = 'pending')."),
            ("telemetry_last_event_timestamp_seconds", "Unix time of the newest stored event per event type."),
            ("telemetry_metrics_scopes_truncated",
             f"1 when a series key had more than {MAX_SCOPES_PER_SERIES} scopes of a dimension and some "
             "were not exported."),
        ):
            gauges.declare(name, doc)
        with self._connection() as conn:
            with conn.cursor(row_factory=dict_row) as cur:
                self._slo_rows(cur, catalog, scoping, now, gauges)
                self._kpi_rows(cur, scoping, now, gauges)
                pending = cur.execute("select count(*) as n from public.slo_alerts where state = 'pending'").fetchone()
                gauges.add("telemetry_alerts_pending", {}, pending["n"] if pending else 0)
                self._last_events(cur, gauges)
            self._rolling_burn(conn, catalog, now, gauges)
        yield from gauges.families.values()

    def _slo_rows(self, cur: psycopg.Cursor, catalog: SloCatalog, scoping: Scoping, now: datetime,
                  gauges: _Gauges) -> None:
        keys = [(slo.name, sli.name, g, slo.scope or GLOBAL)
                for slo in catalog for sli in slo.slis
                for g in (scoping.granularities if slo.scope else GRANULARITIES)]
        burn = [f"burn_rate_{w}" for w in TABLE_WINDOWS]
        query = _latest_rows("slo_status", ("slo_name", "sli", "aggregation_period"),
                             ["value", "target", "met", "error_budget_remaining", *burn],
                             sql.SQL("t.met, t.dimension_value"))
        rows = cur.execute(query, _params(keys, now, scoping)).fetchall()
        for key, group in _by_key(rows, ("slo_name", "sli", "aggregation_period", "dim")):
            base = dict(zip(SLO_LABELS, key[:3], strict=True))
            for row in self._capped(gauges, base, key[3], group):
                labels = base | _scope_labels(row)
                gauges.add("telemetry_slo_sli_value", labels, row["value"])
                gauges.add("telemetry_slo_target", labels, row["target"])
                gauges.add("telemetry_slo_met", labels, int(row["met"]))
                gauges.add("telemetry_slo_error_budget_remaining_percent", labels, row["error_budget_remaining"])
                for window in TABLE_WINDOWS:
                    gauges.add("telemetry_slo_burn_rate", labels | {"window": window}, row[f"burn_rate_{window}"])

    def _kpi_rows(self, cur: psycopg.Cursor, scoping: Scoping, now: datetime, gauges: _Gauges) -> None:
        keys = [(m.name, g, GLOBAL) for m in METRICS for g in GRANULARITIES]
        keys += [(m.name, g, d) for m in METRICS for g in scoping.granularities for d in DIMENSIONS]
        query = _latest_rows("kpi_aggregations", ("metric_name", "aggregation_period"), ["metric_value"],
                             sql.SQL("t.dimension_value"))
        rows = cur.execute(query, _params(keys, now, scoping)).fetchall()
        for (metric, granularity, dim), group in _by_key(rows, ("metric_name", "aggregation_period", "dim")):
            base = {"metric": metric, "granularity": granularity}
            for row in self._capped(gauges, base, dim, group):
                gauges.add("telemetry_kpi_value", base | _scope_labels(row), row["metric_value"])

    @staticmethod
    def _capped(gauges: _Gauges, base: dict[str, str], dim: str, group: list[dict]) -> list[dict]:
        """The rows of one key and dimension within MAX_SCOPES_PER_SERIES; a cut is reported."""
        if len(group) > MAX_SCOPES_PER_SERIES:
            gauges.add("telemetry_metrics_scopes_truncated", base | {"dimension": dim}, 1)
        return group[:MAX_SCOPES_PER_SERIES]

    def _rolling_burn(self, conn: psycopg.Connection, catalog: SloCatalog, now: datetime, gauges: _Gauges) -> None:
        """The fast-burn sensor's last evaluation: one series per global ratio SLI and window."""
        wanted = {(slo.name, sli.name) for slo in catalog if slo.scope is None
                  for sli in slo.slis if sli.name in RATIO_SLIS}
        stored = [w for w in fast_burn_latest.read(conn, now)
                  if (w.slo, w.sli) in wanted and w.window in FAST_BURN.windows]
        for slo, sli in sorted({(w.slo, w.sli) for w in stored}):
            newest = max(w.evaluated_at for w in stored if (w.slo, w.sli) == (slo, sli))
            gauges.add("telemetry_slo_fast_burn_evaluated_timestamp_seconds", {"slo": slo, "sli": sli},
                       newest.timestamp())
        for window in stored:
            if now - window.evaluated_at <= FAST_BURN_STALE_AFTER:
                labels = {"slo": window.slo, "sli": window.sli, "granularity": ROLLING, "window": window.window}
                gauges.add("telemetry_slo_burn_rate", labels, window.burn_rate)

    def _last_events(self, cur: psycopg.Cursor[Any], gauges: _Gauges) -> None:
        rows = cur.execute(
            """
            select k.event_type, extract(epoch from latest.event_timestamp) as seconds
            from unnest(%s::text[]) as k (event_type)
            cross join lateral (
              select e.event_timestamp from public.telemetry_events e
              where e.event_type = k.event_type order by e.event_timestamp desc limit 1
            ) latest
            """,
            (list(EVENT_TYPES),),
        ).fetchall()
        for row in rows:
            gauges.add("telemetry_last_event_timestamp_seconds", {"event_type": row["event_type"]}, row["seconds"])


def _by_key(rows: Sequence[Any], key_columns: tuple[str, ...]) -> Iterable[tuple[tuple, list[dict]]]:
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(row[c] for c in key_columns), []).append(row)
    return groups.items()


def metrics_endpoint(connection: Callable[[], Any], clock: Callable[[], datetime]) -> Callable[[Request], Response]:
    """The Starlette endpoint of GET /metrics over `connection` (a pool's connection())."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WarehouseCollector(connection, clock))

    def endpoint(_request: Request) -> Response:
        return Response(generate_latest(registry), media_type=MEDIA_TYPE,
                        headers={"Cache-Control": "no-store"})

    return endpoint
