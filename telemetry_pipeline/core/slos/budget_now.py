"""Error budget and burn rates *as of now*, including the open period (docs/dashboard.md).

The daily slo_status rows carry the 30-day budget only once a day has closed and been
evaluated, so an outage in the open hour burns at 148x while "error budget left" still reads
the last closed day. Here the budget window is the one of the daily rows (burn_windows.yaml:
the day itself and the 29 before it), ending at `now` instead of at a day's end:

- closed part: the global daily rows of the 29 days before today (UTC), each counting its
  sample and its bad rows (sample x bad fraction) unless a maintenance window excluded it;
- open part: the raw rows from the end of the newest of those daily rows (at most
  OPEN_READ_LIMIT back: today, plus yesterday while its daily row is not written yet) to
  `now`, counted by the fast-burn evaluation (fast_burn.evaluate, `extra` window "open"),
  which also gives the 5m/30m/1h/6h windows ending now in the same scan.

remaining = 100 * (1 - (bad_closed + bad_open) / (rows_closed + rows_open) / allowed)

At the end of a day this equals that day's own error_budget_remaining. Two statements, both
bounded whatever the table sizes: 29 daily rows per SLI, and one indexed scan of the raw rows
since the open part's start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

import psycopg
from psycopg import sql

from telemetry_pipeline.core.granularity import period_start_of
from telemetry_pipeline.core.slos.budgets import BUDGET_WINDOW, FAST_BURN, FastBurn
from telemetry_pipeline.core.slos.config import RATIO_SLIS, SloCatalog
from telemetry_pipeline.core.slos.fast_burn import SliBurn, WindowBurn, evaluate
from telemetry_pipeline.core.slos.sql import RATIO_DIRECTION, bad_fraction

#: How far back the open part may read raw rows: today and, before its daily row exists, yesterday.
OPEN_READ_LIMIT = timedelta(days=1)
OPEN = "open"

#: Per ratio SLI: the closed daily rows of the window, their rows and bad rows (excluded ones count 0).
_CLOSED = sql.SQL("""
select c.slo_name, c.sli, count(s.period_start),
       coalesce(sum(s.sample_size) filter (where not s.excluded), 0)::numeric,
       coalesce(sum(s.sample_size * {bad_fraction}) filter (where not s.excluded), 0)::numeric,
       max(s.period_end)
from unnest(%(slo)s::text[], %(sli)s::text[], %(direction)s::text[]) as c(slo_name, sli, direction)
left join public.slo_status s
  on s.slo_name = c.slo_name and s.sli = c.sli and s.dimension is null and s.aggregation_period = 'day'
 and s.period_start >= %(window_start)s and s.period_start < %(today)s
group by c.slo_name, c.sli
""").format(bad_fraction=bad_fraction(sql.SQL("c.direction"), sql.SQL("s.value")))


@dataclass(frozen=True)
class BudgetNow:
    """One ratio SLI's budget over the window ending `as_of`, and its fast-burn windows then."""

    slo_name: str
    sli: str
    as_of: datetime
    window_start: datetime
    closed_days: int
    closed_rows: Fraction
    closed_bad: Fraction
    open_from: datetime
    open_rows: int
    open_bad: int
    allowed: Fraction
    windows: dict[str, WindowBurn]

    @property
    def rows(self) -> Fraction:
        return self.closed_rows + self.open_rows

    @property
    def bad(self) -> Fraction:
        return self.closed_bad + self.open_bad

    @property
    def remaining(self) -> float | None:
        """Percent of the budget left (negative once overspent); None without any row."""
        if not self.rows or not self.allowed:
            return None
        return float(100 * (1 - self.bad / self.rows / self.allowed))


def budgets_now(
    conn: psycopg.Connection, catalog: SloCatalog, now: datetime, policy: FastBurn = FAST_BURN
) -> list[BudgetNow]:
    """Every global ratio SLI's budget and fast-burn windows as of `now` (catalog order)."""
    today = period_start_of(now, "day")
    window_start = today - (BUDGET_WINDOW - timedelta(days=1))
    slis = [(slo, sli) for slo in catalog if slo.scope is None for sli in slo.slis if sli.name in RATIO_SLIS]
    if not slis:
        return []
    closed = {
        (slo, sli): (int(days), Fraction(rows), Fraction(bad), until)
        for slo, sli, days, rows, bad, until in conn.execute(_CLOSED, {
            "slo": [s.name for s, _ in slis], "sli": [i.name for _, i in slis],
            "direction": [RATIO_DIRECTION[i.name] for _, i in slis],
            "window_start": window_start, "today": today,
        })
    }
    floor = max(window_start, today - OPEN_READ_LIMIT)
    open_from = {key: max(until or floor, floor) for key, (_d, _r, _b, until) in closed.items()}
    burns: dict[tuple[str, str], SliBurn] = {
        (b.slo.name, b.sli.name): b
        for b in evaluate(conn, catalog, now, policy, extra={k: {OPEN: v} for k, v in open_from.items()})
    }
    result = []
    for slo, sli in slis:
        key = (slo.name, sli.name)
        days, rows, bad, _until = closed[key]
        burn = burns[key]
        part = burn.extra[OPEN]
        result.append(BudgetNow(
            slo.name, sli.name, now, window_start, days, rows, bad, open_from[key], part.rows, part.bad,
            part.allowed, burn.windows,
        ))
    return result
