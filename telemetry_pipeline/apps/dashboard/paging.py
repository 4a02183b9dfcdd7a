"""Paging on the dashboard: the SLO panel as of now, and what the charts mark (docs/dashboard.md).

- `slo_status_now` adds to every ratio SLI of /api/slo-status its error budget and fast-burn
  windows (5m/30m/1h/6h) as of the view's end (now for the quick ranges), open period included
  (core/slos/budget_now.py), so an outage in the open hour shows in "error budget left" at once.
- `/api/paging` lists what overlapped the view: fast-burn episodes (open ones until now), NO DATA
  intervals and maintenance windows, each with the metrics whose charts it shades.
Reads only: three short statements over small state tables (episodes, no-data, windows).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg

from telemetry_pipeline.apps.dashboard import queries
from telemetry_pipeline.apps.dashboard.params import View, iso
from telemetry_pipeline.core.alerting.no_data import source_name
from telemetry_pipeline.core.slos.budget_now import budgets_now
from telemetry_pipeline.core.slos.config import SloCatalog

Read = Callable[[psycopg.Connection, View, SloCatalog], dict[str, Any]]


def as_of(view: View, now: datetime) -> datetime:
    """The instant the panel is "as of": the view's end, never later than now."""
    return min(view.end, now)


def slo_status_now(clock: Callable[[], datetime]) -> Read:
    """/api/slo-status with `as_of` and, per ratio SLI, `now`: budget and fast-burn windows then."""

    def read(conn: psycopg.Connection, view: View, catalog: SloCatalog) -> dict[str, Any]:
        body = queries.slo_status(conn, view, catalog)
        at = as_of(view, clock())
        shown = {(r["slo_name"], r["sli"]) for r in body["slis"]}
        found = {(b.slo_name, b.sli): b for b in budgets_now(conn, catalog, at) if (b.slo_name, b.sli) in shown}
        for row in body["slis"]:
            budget = found.get((row["slo_name"], row["sli"]))
            row["now"] = None if budget is None else {
                "as_of": iso(budget.as_of),
                "error_budget_remaining": budget.remaining,
                "window_start": iso(budget.window_start),
                "closed_days": budget.closed_days,
                "closed_rows": float(budget.closed_rows),
                "closed_bad": float(budget.closed_bad),
                "open_from": iso(budget.open_from),
                "open_rows": budget.open_rows,
                "open_bad": budget.open_bad,
                "burn": {w.window: {"rows": w.rows, "bad": w.bad, "burn_rate": w.rate} for w in budget.windows.values()},
            }
        return body | {"as_of": iso(at)}

    return read


_EPISODES = """
select slo_name, sli, started_at, closed_at, pair, last_firing_at
from public.slo_episodes
where slo_name = any(%(slos)s) and started_at <= %(as_of)s and (closed_at is null or closed_at > %(start)s)
order by started_at, id
"""

_NO_DATA = """
select slo_name, source, last_row_at, raised_at, resolved_at
from public.slo_no_data
where slo_name = any(%(slos)s) and raised_at <= %(as_of)s and (resolved_at is null or resolved_at > %(start)s)
order by last_row_at, id
"""

_WINDOWS = """
select id, slo_name, sli, starts_at, ends_at, reason
from public.slo_maintenance_windows
where slo_name = any(%(slos)s) and starts_at < %(end)s and ends_at > %(start)s
order by starts_at, id
"""


def _ended(end: datetime | None, at: datetime) -> str | None:
    """An end after `at` had not happened yet as of `at`: still open then."""
    return iso(end) if end is not None and end <= at else None


def paging_read(clock: Callable[[], datetime]) -> Read:
    """/api/paging: episodes, NO DATA intervals and maintenance windows overlapping the view."""

    def read(conn: psycopg.Connection, view: View, catalog: SloCatalog) -> dict[str, Any]:
        at = as_of(view, clock())
        params = {"slos": list(view.slos), "start": view.first_period, "end": view.end, "as_of": at}
        shown = set(view.metrics)

        def metrics_of(slo_name: str, sli: str | None = None) -> list[str]:
            slo = catalog.get(slo_name)
            return [s.metric for s in slo.slis if (sli is None or s.name == sli) and s.metric in shown]

        episodes = [
            {"slo_name": slo, "sli": sli, "started_at": iso(start), "ended_at": _ended(closed, at),
             "open": _ended(closed, at) is None, "pair": pair, "last_firing_at": iso(last),
             "metrics": metrics_of(slo, sli)}
            for slo, sli, start, closed, pair, last in conn.execute(_EPISODES, params)
        ]
        no_data = [
            {"slo_name": slo, "source": source, "last_row_at": iso(last_row), "raised_at": iso(raised),
             "resolved_at": _ended(resolved, at), "open": _ended(resolved, at) is None,
             "metrics": [m for m in metrics_of(slo) if source_name(m) == source]}
            for slo, source, last_row, raised, resolved in conn.execute(_NO_DATA, params)
        ]
        windows = [
            {"id": wid, "slo_name": slo, "sli": sli, "starts_at": iso(start), "ends_at": iso(end), "reason": reason,
             "active": start <= at < end, "metrics": metrics_of(slo, sli)}
            for wid, slo, sli, start, end, reason in conn.execute(_WINDOWS, params)
        ]
        return {"view": queries.view_header(view), "as_of": iso(at), "episodes": episodes, "no_data": no_data,
                "maintenance": windows}

    return read
