"""`GET /metrics`: the latest closed period of slo_status and kpi_aggregations for Prometheus.

SPEC section 12. The numbers are the warehouse's own (never recomputed here), so a Prometheus
scraping this endpoint reads exactly what slo_status holds and Grafana panels agree with the
dashboard. The text is produced by `prometheus_client` (escaping of label values, number
formatting, HELP/TYPE lines) from a custom collector that reads the warehouse per scrape.

Why it stays cheap (a few ms for the demo catalog):
- one index probe per (slo, sli, granularity) of the catalog finds the latest closed period
  (uq_slo_status_key_scope, sql/0071, read backwards), then the rows of that period are read; the same per
  (metric, granularity) on kpi_aggregations; the pending-alert count uses the partial
  idx_slo_alerts_due; the last event per type walks idx_telemetry_events_event_timestamp.
- cardinality is bounded by our catalog: series exist only for SLOs, SLIs and metrics named in
  slos.yaml and the KPI catalog and for the event types KPIs read; rows of names the catalog
  no longer holds are not exported. Scoped rows (dimension, dimension_value) are capped at
  MAX_SCOPES_PER_SERIES per (slo, sli, granularity) or (metric, granularity).

Scopes (SPEC section 10) and the 5m/30m fast-burn windows (section 11) arrive in later
migrations: the columns present are read from information_schema on the first scrape, so the
`dimension`/`dimension_value` labels and the extra `window` values appear as soon as the
columns exist (after a dashboard restart).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from psycopg import sql
from psycopg.rows import dict_row
from starlette.requests import Request
from starlette.responses import Response

from telemetry_pipeline.core.kpis.catalog import METRICS
from telemetry_pipeline.core.slos.config import SloCatalog, load_slos

#: The granularities of kpi_aggregations.aggregation_period (SPEC section 4).
GRANULARITIES = ("hour", "day", "week")
#: Burn-rate windows of SPEC section 12, each read from slo_status.burn_rate_<window> when present.
BURN_WINDOWS = ("5m", "30m", "1h", "6h", "3d")
#: Scoped rows exported per series key; more scopes than this are cut (and counted).
MAX_SCOPES_PER_SERIES = 500
#: Event types whose last event is exported: the ones KPIs read (SPEC section 3).
EVENT_TYPES = tuple(sorted({m.event_type for m in METRICS if m.event_type}))

SLO_LABELS = ("slo", "sli", "granularity")
#: The classic text format (what generate_latest writes for our names): every Prometheus reads it,
#: whereas newer prometheus_client releases label it version=1.0.0, which older servers do not know.
MEDIA_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class Columns:
    """Which optional columns the warehouse has (read once from information_schema)."""

    slo_scoped: bool
    kpi_scoped: bool
    burn_windows: tuple[str, ...]

    @classmethod
    def read(cls, conn: psycopg.Connection) -> Columns:
        rows = conn.execute(
            "select table_name, column_name from information_schema.columns"
            " where table_schema = 'public' and table_name in ('slo_status', 'kpi_aggregations')"
        ).fetchall()
        present = {(t, c) for t, c in rows}
        scoped = {t for t in ("slo_status", "kpi_aggregations")
                  if (t, "dimension") in present and (t, "dimension_value") in present}
        windows = tuple(w for w in BURN_WINDOWS if ("slo_status", f"burn_rate_{w}") in present)
        return cls("slo_status" in scoped, "kpi_aggregations" in scoped, windows)


def _latest_rows(table: str, key_columns: tuple[str, ...], value_columns: list[str], scoped: bool) -> sql.Composed:
    """Rows of the latest closed period per catalog key (arrays %(a0)s, %(a1)s, ...), capped per key.

    Every identifier is one of ours (table and column names above), never input.
    """
    keys = sql.SQL(", ").join(sql.Identifier(c) for c in key_columns)
    match = sql.SQL(" and ").join(
        sql.SQL("t.{c} = k.{c}").format(c=sql.Identifier(c)) for c in key_columns
    )
    selected: list[sql.Composable] = [sql.SQL("r.{}").format(sql.Identifier(c)) for c in value_columns]
    order = sql.SQL("")
    if scoped:
        selected += [sql.SQL("r.dimension"), sql.SQL("r.dimension_value")]
        order = sql.SQL("order by t.dimension nulls first, t.dimension_value")
    arrays = sql.SQL(", ").join(
        sql.SQL("{}::text[]").format(sql.Placeholder(f"a{i}")) for i in range(len(key_columns))
    )
    return sql.SQL(
        """
        select {key_out}, {selected}
        from unnest({arrays}) as k ({keys})
        cross join lateral (
          select t.period_start from public.{table} t
          where {match} and t.period_end <= %(now)s
          order by t.period_start desc limit 1
        ) latest
        cross join lateral (
          select * from public.{table} t
          where {match} and t.period_start = latest.period_start
          {order} limit %(cap)s
        ) r
        """
    ).format(
        key_out=sql.SQL(", ").join(sql.SQL("k.{}").format(sql.Identifier(c)) for c in key_columns),
        selected=sql.SQL(", ").join(selected),
        arrays=arrays,
        keys=keys,
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


class WarehouseCollector:
    """Reads the warehouse on each scrape (prometheus_client calls collect() per generate_latest)."""

    def __init__(self, connection: Callable[[], Any], clock: Callable[[], datetime],
                 catalog: Callable[[], SloCatalog] = load_slos) -> None:
        self._connection = connection
        self._clock = clock
        self._catalog = catalog
        self._columns: Columns | None = None
        self._lock = threading.Lock()

    def columns(self, conn: psycopg.Connection) -> Columns:
        with self._lock:
            if self._columns is None:
                self._columns = Columns.read(conn)
            return self._columns

    def describe(self) -> list[Metric]:
        """No warehouse read at registration time (the registry would otherwise call collect())."""
        return []

    def collect(self) -> Iterator[Metric]:
        catalog = self._catalog()
        now = self._clock()
        gauges = _Gauges()
        for name, doc in (
            ("telemetry_slo_sli_value", "SLI value of the latest closed period (slo_status.value)."),
            ("telemetry_slo_target", "SLI target of the latest closed period (slo_status.target)."),
            ("telemetry_slo_met", "1 when the latest closed period met its target, else 0."),
            ("telemetry_slo_error_budget_remaining_percent",
             "30-day rolling error budget left, percent (daily rows of ratio SLIs; may be negative)."),
            ("telemetry_slo_burn_rate", "Burn rate over the trailing window (label window) of the latest hour."),
            ("telemetry_kpi_value", "KPI value of the latest closed period (kpi_aggregations.metric_value)."),
            ("telemetry_alerts_pending", "Alerts recorded and not yet delivered (slo_alerts.state = 'pending')."),
            ("telemetry_last_event_timestamp_seconds", "Unix time of the newest stored event per event type."),
            ("telemetry_metrics_scopes_truncated",
             f"1 when a series key had more than {MAX_SCOPES_PER_SERIES} scopes and some were not exported."),
        ):
            gauges.declare(name, doc)
        with self._connection() as conn:
            columns = self.columns(conn)
            with conn.cursor(row_factory=dict_row) as cur:
                self._slo_rows(cur, catalog, columns, now, gauges)
                self._kpi_rows(cur, columns, now, gauges)
                pending = cur.execute("select count(*) as n from public.slo_alerts where state = 'pending'").fetchone()
                gauges.add("telemetry_alerts_pending", {}, pending["n"] if pending else 0)
                self._last_events(cur, gauges)
        yield from gauges.families.values()

    def _slo_rows(self, cur: psycopg.Cursor, catalog: SloCatalog, columns: Columns, now: datetime,
                  gauges: _Gauges) -> None:
        keys = [(slo.name, sli.name, g) for slo in catalog for sli in slo.slis for g in GRANULARITIES]
        burn = [f"burn_rate_{w}" for w in columns.burn_windows]
        query = _latest_rows("slo_status", ("slo_name", "sli", "aggregation_period"),
                             ["value", "target", "met", "error_budget_remaining", *burn], columns.slo_scoped)
        rows = cur.execute(query, _arrays(keys) | {"now": now, "cap": MAX_SCOPES_PER_SERIES + 1}).fetchall()
        for key, group in _by_key(rows, ("slo_name", "sli", "aggregation_period")):
            base = dict(zip(SLO_LABELS, key, strict=True))
            if len(group) > MAX_SCOPES_PER_SERIES:
                gauges.add("telemetry_metrics_scopes_truncated", base, 1)
            for row in group[:MAX_SCOPES_PER_SERIES]:
                labels = base | _scope_labels(row)
                gauges.add("telemetry_slo_sli_value", labels, row["value"])
                gauges.add("telemetry_slo_target", labels, row["target"])
                gauges.add("telemetry_slo_met", labels, int(row["met"]))
                gauges.add("telemetry_slo_error_budget_remaining_percent", labels, row["error_budget_remaining"])
                for window in columns.burn_windows:
                    gauges.add("telemetry_slo_burn_rate", labels | {"window": window}, row[f"burn_rate_{window}"])

    def _kpi_rows(self, cur: psycopg.Cursor, columns: Columns, now: datetime, gauges: _Gauges) -> None:
        keys = [(m.name, g) for m in METRICS for g in GRANULARITIES]
        query = _latest_rows("kpi_aggregations", ("metric_name", "aggregation_period"), ["metric_value"],
                             columns.kpi_scoped)
        rows = cur.execute(query, _arrays(keys) | {"now": now, "cap": MAX_SCOPES_PER_SERIES + 1}).fetchall()
        for (metric, granularity), group in _by_key(rows, ("metric_name", "aggregation_period")):
            base = {"metric": metric, "granularity": granularity}
            if len(group) > MAX_SCOPES_PER_SERIES:
                gauges.add("telemetry_metrics_scopes_truncated", base, 1)
            for row in group[:MAX_SCOPES_PER_SERIES]:
                gauges.add("telemetry_kpi_value", base | _scope_labels(row), row["metric_value"])

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


def _arrays(keys: Sequence[tuple[str, ...]]) -> dict[str, Any]:
    """Catalog keys as one text[] parameter per column (psycopg named params a0, a1, ...)."""
    return {f"a{i}": list(column) for i, column in enumerate(zip(*keys, strict=True))}


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
