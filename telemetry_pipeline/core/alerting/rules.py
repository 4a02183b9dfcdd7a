"""Which slo_status rows become which alerts: the rules of SPEC section 7, as set-based SQL.

Every rule is an `insert ... on conflict (key) do nothing` into the slo_alerts outbox, so each
alert is recorded once, ever: re-materialising a partition, a second sensor tick or a restarted
daemon finds the key taken and records nothing new. The rules read the changed periods of one
granularity in one statement each, whatever their number (a year of hourly partitions is one
array parameter, not 8,760 queries).

  violation   met = false and sample_size >= the SLO's min_sample_size
  backfill    a violation (or burn alert) whose period ended more than two periods of its
              granularity before it was evaluated (slo_status.evaluated_at) is recorded as
              state 'suppressed', suppressed_reason 'backfill', and never sent
  resolved    the next period of the same (slo, sli, granularity) has met = true after a
              violation that was or will be notified (pending/sent): one 'resolved' alert
  burn        an hourly row with burn_alert 'page'/'ticket' is a burn_page/burn_ticket alert
              when the sample of the rule's shortest window reaches min_sample_size; in the
              default "inline" mode (ALERT_BURN_RATE_MESSAGES) it is recorded as suppressed
              'inline' and the violation message of that hour names the window pair instead;
              while the previous hour of the same SLI already carried an alert of the same (or
              a more urgent) class, it is recorded as suppressed 'continuing': one message per
              burn episode, not one per hour
  episode     a violation (or burn alert) of a period overlapping a fast-burn episode of its
              SLI (episodes.py) is recorded 'suppressed', reason 'episode': the incident paged
  maintenance a period overlapping a maintenance window of its SLO (and SLI) is recorded
              'suppressed', reason 'maintenance'

A scoped SLO's rows (slo_status.dimension / dimension_value) follow the same rules per scope
value: the alert key, the budget, the burn episode and the resolve are each the scope's own, so
one repository recovering resolves that repository only (docs/alerting.md "Scoped alerts").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.granularity import PERIODS
from telemetry_pipeline.core.slos.budgets import BURN_WINDOWS, BurnWindow
from telemetry_pipeline.core.slos.config import DEFAULT_MIN_SAMPLE_SIZE, SloCatalog

#: How many periods of its granularity a violation may lie behind its evaluation and still page.
BACKFILL_GRACE_PERIODS = 2

#: Per SLO the fields the rules and messages need, as parallel arrays (one parameter each).
_CATALOG_CTE = sql.SQL("""
    catalog (slo_name, min_sample_size, runbook_url, description) as (
      select * from unnest(%(slo_names)s::text[], %(min_samples)s::int[],
                           %(runbooks)s::text[], %(descriptions)s::text[])
    )
""")

#: The alert key of a row: slo|sli|granularity|period_start[|dimension=value]|kind (period in UTC,
#: minute precision). concat_ws skips nulls, so a global row's key has no scope part.
_KEY = """concat_ws('|', {r}.slo_name, {r}.sli, {r}.aggregation_period,
                    to_char({r}.period_start at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI"Z"'),
                    {r}.dimension || '=' || {r}.dimension_value, {kind})"""

#: The latest 30-day error budget remaining of the row's SLI and scope (daily rows carry it).
_BUDGET_LATERAL = """
    left join lateral (
      select b.error_budget_remaining, b.period_start as budget_day
      from public.slo_status b
      where b.slo_name = {r}.slo_name and b.sli = {r}.sli and b.aggregation_period = 'day'
        and b.error_budget_remaining is not null
        and b.dimension is not distinct from {r}.dimension
        and b.dimension_value is not distinct from {r}.dimension_value
      order by b.period_start desc
      limit 1
    ) budget on {when}
"""

_PAYLOAD = """jsonb_build_object(
      'slo', {r}.slo_name, 'sli', {r}.sli, 'metric', {r}.metric_name,
      'granularity', {r}.aggregation_period,
      'period_start', {r}.period_start, 'period_end', {r}.period_end,
      'value', {r}.value, 'target', {r}.target, 'comparator', {r}.comparator,
      'sample_size', {r}.sample_size, 'min_sample_size', {r}.min_sample_size,
      'evaluated_at', {r}.evaluated_at,
      'description', {r}.description, 'runbook_url', {r}.runbook_url,
      'budget_remaining', budget.error_budget_remaining, 'budget_day', budget.budget_day)
    || jsonb_strip_nulls(jsonb_build_object('dimension', {r}.dimension, 'dimension_value', {r}.dimension_value))"""

_CANDIDATES = """
    candidates as (
      select s.*,
             coalesce(c.min_sample_size,
                      public.telemetry_try_float8(s.metadata ->> 'min_sample_size')::int,
                      %(default_min_sample)s) as min_sample_size,
             c.runbook_url, c.description,
             s.period_end < s.evaluated_at - %(grace)s::interval as is_backfill,
             exists (select 1 from public.slo_maintenance_windows m
                     where m.slo_name = s.slo_name and (m.sli is null or m.sli = s.sli)
                       and m.starts_at < s.period_end and m.ends_at > s.period_start) as in_maintenance,
             exists (select 1 from public.slo_episodes e
                     where e.slo_name = s.slo_name and e.sli = s.sli and e.started_at < s.period_end
                       and coalesce(e.closed_at, 'infinity') > s.period_start) as in_episode
      from public.slo_status s
      left join catalog c on c.slo_name = s.slo_name
      where s.aggregation_period = %(granularity)s
        and s.period_start = any(%(starts)s::timestamptz[])
        and {filter}
    )
"""

#: Why a row is recorded but never sent, strongest first: an old period (backfill), a
#: maintenance window overlapping it, or a fast-burn episode of its SLI that already paged.
_QUIET_REASON = """(case when {r}.is_backfill then 'backfill' when {r}.in_maintenance then 'maintenance'
                          when {r}.in_episode then 'episode' end)"""

_INSERT_COLUMNS = sql.SQL("""(key, kind, state, suppressed_reason, slo_name, sli, aggregation_period,
                       period_start, period_end, dimension, dimension_value, payload)""")

_V = sql.Identifier("v")


def _part(template: str, **values: sql.Composable) -> sql.Composed:
    """One of this module's SQL templates with `{r}` bound to the candidate alias."""
    return sql.SQL(template).format(r=_V, **values)


def _burn_sample() -> sql.Composable:
    """The sample behind a burn alert: that of the shortest window of the rule that fired.

    The hour itself for a rule with the 1-hour window, else the trailing window's sample
    (metadata sample_<w>), so one errored run in a quiet hour cannot page, as min_sample_size
    promises for violations. The windows come from burn_windows.yaml (budgets.BURN_WINDOWS,
    shortest first): the first window a rule names is its shortest.
    """
    def sample_of(window: BurnWindow) -> sql.Composable:
        if window.span == PERIODS["hour"]:
            return sql.SQL("v.sample_size")
        return sql.SQL("coalesce(public.telemetry_try_float8(v.metadata ->> {}), v.sample_size)").format(
            sql.Literal(window.sample_key))

    *shorter, longest = BURN_WINDOWS
    if not shorter:
        return sample_of(longest)
    cases = [sql.SQL("when v.burn_alert_windows ~ {} then {}").format(sql.Literal(f"(^|&){w.label}"), sample_of(w))
             for w in shorter]
    return sql.SQL("(case {} else {} end)").format(sql.SQL(" ").join(cases), sample_of(longest))


def _burn_fields() -> sql.Composable:
    """The burn-rate columns of an hourly row (absent keys when null), for the message to name them."""
    pairs: list[sql.Composable] = [sql.SQL("'burn_alert', v.burn_alert, 'burn_alert_windows', v.burn_alert_windows")]
    pairs += [sql.SQL("{}, {}").format(sql.Literal(w.rate_column), sql.Identifier("v", w.rate_column))
              for w in BURN_WINDOWS]
    return sql.SQL("jsonb_strip_nulls(jsonb_build_object({}))").format(sql.SQL(", ").join(pairs))


def _candidates(condition: str) -> sql.Composed:
    return sql.SQL("with {}, {}").format(_CATALOG_CTE, sql.SQL(_CANDIDATES).format(filter=sql.SQL(condition)))


VIOLATIONS_SQL = sql.SQL("""
{candidates}
insert into public.slo_alerts {columns}
select {key}, 'violation',
       case when v.is_backfill or v.in_maintenance or v.in_episode then 'suppressed' else 'pending' end,
       {quiet},
       v.slo_name, v.sli, v.aggregation_period, v.period_start, v.period_end, v.dimension, v.dimension_value,
       {payload} || {burn_fields}
from candidates v
{budget}
where v.sample_size >= v.min_sample_size
on conflict (key) do nothing
returning id, state
""").format(
    candidates=_candidates("not s.met"), columns=_INSERT_COLUMNS, key=_part(_KEY, kind=sql.SQL("'violation'")),
    quiet=_part(_QUIET_REASON), payload=_part(_PAYLOAD), burn_fields=_burn_fields(),
    budget=_part(_BUDGET_LATERAL, when=sql.SQL("not v.is_backfill")),
)

BURN_SQL = sql.SQL("""
{candidates}
insert into public.slo_alerts {columns}
select {key}, 'burn_' || v.burn_alert,
       case when v.is_backfill or v.in_maintenance or v.in_episode or %(burn_inline)s
            then 'suppressed' else 'pending' end,
       coalesce({quiet}, case when %(burn_inline)s then 'inline' end),
       v.slo_name, v.sli, v.aggregation_period, v.period_start, v.period_end, v.dimension, v.dimension_value,
       {payload} || {burn_fields}
from candidates v
{budget}
where {burn_sample} >= v.min_sample_size
on conflict (key) do nothing
returning id, state
""").format(
    candidates=_candidates("s.burn_alert is not null"), columns=_INSERT_COLUMNS,
    key=_part(_KEY, kind=sql.SQL("'burn_' || v.burn_alert")), quiet=_part(_QUIET_REASON),
    payload=_part(_PAYLOAD), burn_fields=_burn_fields(),
    budget=_part(_BUDGET_LATERAL, when=sql.SQL("not v.is_backfill")), burn_sample=_burn_sample(),
)

#: Newly recorded burn alerts continuing an episode: the previous hour of the same SLI (and
#: scope) has a burn alert of the same class (or a page, when this one is a ticket) that was not
#: a backfill. One statement sees all of this tick's rows, so a run of hours keeps only its first.
BURN_CONTINUING_SQL = """
update public.slo_alerts a
set state = 'suppressed', suppressed_reason = 'continuing', updated_at = now()
where a.id = any(%(ids)s::bigint[]) and a.state = 'pending'
  and exists (
    select 1 from public.slo_alerts p
    where p.aggregation_period = 'hour' and p.slo_name = a.slo_name and p.sli = a.sli
      and p.dimension_value is not distinct from a.dimension_value
      and p.dimension is not distinct from a.dimension
      and p.period_start = a.period_start - interval '1 hour'
      and (p.kind = a.kind or (a.kind = 'burn_ticket' and p.kind = 'burn_page'))
      and p.suppressed_reason is distinct from 'backfill'
  )
returning a.id
"""

#: A violation that is or will be notified, followed by a period of the same scope that meets:
#: one resolved alert. `starts` holds the changed periods and the periods just before them, so
#: the rule fires whichever of the two rows (violation or recovery) was materialised last.
RESOLVED_SQL = sql.SQL("""
insert into public.slo_alerts (key, kind, state, slo_name, sli, aggregation_period,
                               period_start, period_end, dimension, dimension_value, resolves_key, payload)
select {key}, 'resolved', 'pending',
       v.slo_name, v.sli, v.aggregation_period, v.period_start, v.period_end, v.dimension, v.dimension_value,
       v.key,
       v.payload || jsonb_build_object(
         'budget_remaining', budget.error_budget_remaining, 'budget_day', budget.budget_day,
         'resolved_by', jsonb_build_object(
           'period_start', n.period_start, 'period_end', n.period_end, 'value', n.value,
           'sample_size', n.sample_size, 'evaluated_at', n.evaluated_at))
from public.slo_alerts v
join public.slo_status n
  on n.slo_name = v.slo_name and n.sli = v.sli and n.aggregation_period = v.aggregation_period
 and n.period_start = v.period_end and n.met
 and n.dimension is not distinct from v.dimension and n.dimension_value is not distinct from v.dimension_value
{budget}
where v.kind = 'violation' and v.state in ('pending', 'sent', 'resolved', 'dead')
  and v.aggregation_period = %(granularity)s
  and v.period_start = any(%(starts)s::timestamptz[])
on conflict (key) do nothing
returning id
""").format(key=_part(_KEY, kind=sql.SQL("'resolved'")), budget=_part(_BUDGET_LATERAL, when=sql.SQL("true")))


@dataclass
class Recorded:
    """What one call recorded: new alert ids to deliver and counts per outcome."""

    pending_ids: list[int]
    suppressed: int = 0

    def add(self, other: Recorded) -> None:
        self.pending_ids.extend(other.pending_ids)
        self.suppressed += other.suppressed


def _catalog_params(catalog: SloCatalog) -> dict[str, object]:
    slos = list(catalog)
    return {
        "slo_names": [s.name for s in slos],
        "min_samples": [s.min_sample_size for s in slos],
        "runbooks": [s.runbook_url for s in slos],
        "descriptions": [s.description for s in slos],
        "default_min_sample": DEFAULT_MIN_SAMPLE_SIZE,
    }


def record_alerts(
    conn: psycopg.Connection, catalog: SloCatalog, granularity: str, period_starts: Sequence[datetime]
) -> Recorded:
    """Record the alerts the given periods of one granularity imply (idempotent)."""
    if granularity not in PERIODS:
        raise ValueError(f"unknown granularity {granularity!r}; expected one of {sorted(PERIODS)}")
    recorded = Recorded(pending_ids=[])
    if not period_starts:
        return recorded
    period = PERIODS[granularity]
    starts = sorted(set(period_starts))
    params = {
        **_catalog_params(catalog),
        "granularity": granularity,
        "starts": starts,
        "grace": period * BACKFILL_GRACE_PERIODS,
        "burn_inline": settings.current().burn_rate_messages == "inline",
    }
    with conn.transaction():
        recorded.add(_insert(conn, VIOLATIONS_SQL, params))
        if granularity == "hour":
            burn = _insert(conn, BURN_SQL, params)
            if burn.pending_ids:
                continuing = {
                    r[0] for r in conn.execute(BURN_CONTINUING_SQL, {"ids": burn.pending_ids})
                }
                burn.pending_ids = [i for i in burn.pending_ids if i not in continuing]
                burn.suppressed += len(continuing)
            recorded.add(burn)
        with_previous = sorted(set(starts) | {s - period for s in starts})
        rows = conn.execute(RESOLVED_SQL, {**params, "starts": with_previous}).fetchall()
        recorded.pending_ids.extend(r[0] for r in rows)
    return recorded


def _insert(conn: psycopg.Connection, statement: sql.Composed, params: dict) -> Recorded:
    rows = conn.execute(statement, params).fetchall()
    return Recorded(
        pending_ids=[r[0] for r in rows if r[1] == "pending"],
        suppressed=sum(1 for r in rows if r[1] == "suppressed"),
    )
