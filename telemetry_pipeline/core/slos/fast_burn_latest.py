"""The latest fast-burn evaluation, kept for GET /metrics (public.slo_fast_burn_latest, sql/0105).

slo_fast_burn_sensor evaluates the rolling 5m/30m/1h/6h windows of every ratio SLI from the raw
rows every 30 s (fast_burn.py). Storing that evaluation, rather than evaluating again on each
scrape, keeps a scrape a primary-key read whatever the size of telemetry_events, lets any number
of Prometheus servers scrape without adding raw-row scans, and makes Prometheus hold the very
numbers the pager decided on (including a short window that starts after an episode closed,
which a second evaluation would not know about).

`store` replaces the rows of one evaluation in one transaction: an upsert per (slo, sli, window)
that an older evaluation never overwrites (two evaluators racing leave the newest), then the keys
this evaluation no longer has (an SLO or window removed from the catalog) are deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg

from telemetry_pipeline.core.slos.fast_burn import SliBurn

_UPSERT = """
    insert into public.slo_fast_burn_latest as t
      (slo_name, sli, burn_window, evaluated_at, sample_rows, bad_rows, burn_rate)
    select * from unnest(%(slo)s::text[], %(sli)s::text[], %(window)s::text[], %(at)s::timestamptz[],
                         %(rows)s::bigint[], %(bad)s::bigint[], %(rate)s::float8[])
    on conflict (slo_name, sli, burn_window) do update
      set evaluated_at = excluded.evaluated_at, sample_rows = excluded.sample_rows,
          bad_rows = excluded.bad_rows, burn_rate = excluded.burn_rate
      where t.evaluated_at <= excluded.evaluated_at
"""

_DELETE_OTHERS = """
    delete from public.slo_fast_burn_latest t
    where t.evaluated_at <= %(at)s
      and (t.slo_name, t.sli, t.burn_window) not in (
        select * from unnest(%(slo)s::text[], %(sli)s::text[], %(window)s::text[]))
"""

_READ = """
    select slo_name, sli, burn_window, evaluated_at, sample_rows, bad_rows, burn_rate
    from public.slo_fast_burn_latest
    where evaluated_at <= %(now)s
    order by slo_name, sli, burn_window
"""


@dataclass(frozen=True)
class StoredWindow:
    """One stored window of one SLI."""

    slo: str
    sli: str
    window: str
    evaluated_at: datetime
    rows: int
    bad: int
    burn_rate: float | None


def store(conn: psycopg.Connection, burns: Sequence[SliBurn], evaluated_at: datetime) -> int:
    """Replace the stored evaluation with `burns` (evaluated at `evaluated_at`); returns the rows written."""
    columns: dict[str, list] = {k: [] for k in ("slo", "sli", "window", "at", "rows", "bad", "rate")}
    for burn in burns:
        for window in burn.windows.values():
            columns["slo"].append(burn.slo.name)
            columns["sli"].append(burn.sli.name)
            columns["window"].append(window.window)
            columns["at"].append(evaluated_at)
            columns["rows"].append(window.rows)
            columns["bad"].append(window.bad)
            columns["rate"].append(window.rate)
    with conn.transaction():
        written = conn.execute(_UPSERT, columns).rowcount
        conn.execute(_DELETE_OTHERS, columns | {"at": evaluated_at})
    return written


def read(conn: psycopg.Connection, now: datetime) -> list[StoredWindow]:
    """Every stored window evaluated at or before `now` (a clock behind the sensor's sees nothing newer)."""
    return [StoredWindow(*row) for row in conn.execute(_READ, {"now": now}).fetchall()]
