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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.granularity import PERIODS
from telemetry_pipeline.core.slos.config import DEFAULT_MIN_SAMPLE_SIZE, SloCatalog

#: How many periods of its granularity a violation may lie behind its evaluation and still page.
BACKFILL_GRACE_PERIODS = 2

#: Per SLO the fields the rules and messages need, as parallel arrays (one parameter each).
_CATALOG_CTE = """
    catalog (slo_name, min_sample_size, runbook_url, description) as (
      select * from unnest(%(slo_names)s::text[], %(min_samples)s::int[],
                           %(runbooks)s::text[], %(descriptions)s::text[])
    )
"""

#: The alert key of a row: slo|sli|granularity|period_start|kind (period in UTC, minute precision).
_KEY = """concat_ws('|', {r}.slo_name, {r}.sli, {r}.aggregation_period,
                    to_char({r}.period_start at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI"Z"'), {kind})"""

#: The latest 30-day error budget remaining of the row's SLI (daily rows carry it).
_BUDGET_LATERAL = """
    left join lateral (
      select b.error_budget_remaining, b.period_start as budget_day
      from public.slo_status b
      where b.slo_name = {r}.slo_name and b.sli = {r}.sli and b.aggregation_period = 'day'
        and b.error_budget_remaining is not null and b.dimension is null
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
      'budget_remaining', budget.error_budget_remaining, 'budget_day', budget.budget_day)"""

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
        and s.dimension is null  -- scoped SLO rows are not alerted on yet (docs/scopes.md)
        and {filter}
    )
"""

#: Why a row is recorded but never sent, strongest first: an old period (backfill), a
#: maintenance window overlapping it, or a fast-burn episode of its SLI that already paged.
_QUIET_REASON = """(case when {r}.is_backfill then 'backfill' when {r}.in_maintenance then 'maintenance'
                          when {r}.in_episode then 'episode' end)"""

#: The sample behind a burn alert: that of the shortest window of the rule that fired (the
#: hour itself for the page rules, the trailing 6 h for the ticket rule), so one errored run
#: in a quiet hour cannot page, as min_sample_size promises for violations.
_BURN_SAMPLE = """(case
      when {r}.burn_alert_windows ~ '(^|&)1h' then {r}.sample_size
      when {r}.burn_alert_windows ~ '(^|&)6h'
        then coalesce(public.telemetry_try_float8({r}.metadata ->> 'sample_6h'), {r}.sample_size)
      else coalesce(public.telemetry_try_float8({r}.metadata ->> 'sample_3d'), {r}.sample_size)
    end)"""

#: The burn-rate columns of an hourly row (absent keys when null), for the message to name them.
_BURN_FIELDS = """jsonb_strip_nulls(jsonb_build_object(
         'burn_alert', {r}.burn_alert, 'burn_alert_windows', {r}.burn_alert_windows,
         'burn_rate_1h', {r}.burn_rate_1h, 'burn_rate_6h', {r}.burn_rate_6h, 'burn_rate_3d', {r}.burn_rate_3d))"""

_INSERT_COLUMNS = """(key, kind, state, suppressed_reason, slo_name, sli, aggregation_period,
                       period_start, period_end, payload)"""

VIOLATIONS_SQL = f"""
with {_CATALOG_CTE}, {_CANDIDATES.format(filter="not s.met")}
insert into public.slo_alerts {_INSERT_COLUMNS}
select {_KEY.format(r="v", kind="'violation'")}, 'violation',
       case when v.is_backfill or v.in_maintenance or v.in_episode then 'suppressed' else 'pending' end,
       {_QUIET_REASON.format(r="v")},
       v.slo_name, v.sli, v.aggregation_period, v.period_start, v.period_end,
       {_PAYLOAD.format(r="v")} || {_BURN_FIELDS.format(r="v")}
from candidates v
{_BUDGET_LATERAL.format(r="v", when="not v.is_backfill")}
where v.sample_size >= v.min_sample_size
on conflict (key) do nothing
returning id, state
"""  # noqa: S608 - composed of this module's constants; values are bound parameters

BURN_SQL = f"""
with {_CATALOG_CTE}, {_CANDIDATES.format(filter="s.burn_alert is not null")}
insert into public.slo_alerts {_INSERT_COLUMNS}
select {_KEY.format(r="v", kind="'burn_' || v.burn_alert")}, 'burn_' || v.burn_alert,
       case when v.is_backfill or v.in_maintenance or v.in_episode or %(burn_inline)s
            then 'suppressed' else 'pending' end,
       coalesce({_QUIET_REASON.format(r="v")}, case when %(burn_inline)s then 'inline' end),
       v.slo_name, v.sli, v.aggregation_period, v.period_start, v.period_end,
       {_PAYLOAD.format(r="v")} || {_BURN_FIELDS.format(r="v")}
from candidates v
{_BUDGET_LATERAL.format(r="v", when="not v.is_backfill")}
where {_BURN_SAMPLE.format(r="v")} >= v.min_sample_size
on conflict (key) do nothing
returning id, state
"""  # noqa: S608 - composed of this module's constants; values are bound parameters

#: Newly recorded burn alerts continuing an episode: the previous hour of the same SLI has a
#: burn alert of the same class (or a page, when this one is a ticket) that was not a backfill.
#: One statement sees all of this tick's rows, so a run of hours keeps only its first.
BURN_CONTINUING_SQL = """
update public.slo_alerts a
set state = 'suppressed', suppressed_reason = 'continuing', updated_at = now()
where a.id = any(%(ids)s::bigint[]) and a.state = 'pending'
  and exists (
    select 1 from public.slo_alerts p
    where p.aggregation_period = 'hour' and p.slo_name = a.slo_name and p.sli = a.sli
      and p.period_start = a.period_start - interval '1 hour'
      and (p.kind = a.kind or (a.kind = 'burn_ticket' and p.kind = 'burn_page'))
      and p.suppressed_reason is distinct from 'backfill'
  )
returning a.id
"""

#: A violation that is or will be notified, followed by a period that meets: one resolved alert.
#: `starts` holds the changed periods and the periods just before them, so the rule fires
#: whichever of the two rows (violation or recovery) was materialised last.
RESOLVED_SQL = f"""
insert into public.slo_alerts (key, kind, state, slo_name, sli, aggregation_period,
                               period_start, period_end, resolves_key, payload)
select {_KEY.format(r="v", kind="'resolved'")}, 'resolved', 'pending',
       v.slo_name, v.sli, v.aggregation_period, v.period_start, v.period_end, v.key,
       v.payload || jsonb_build_object(
         'budget_remaining', budget.error_budget_remaining, 'budget_day', budget.budget_day,
         'resolved_by', jsonb_build_object(
           'period_start', n.period_start, 'period_end', n.period_end, 'value', n.value,
           'sample_size', n.sample_size, 'evaluated_at', n.evaluated_at))
from public.slo_alerts v
join public.slo_status n
  on n.slo_name = v.slo_name and n.sli = v.sli and n.aggregation_period = v.aggregation_period
 and n.period_start = v.period_end and n.met and n.dimension is null
{_BUDGET_LATERAL.format(r="v", when="true")}
where v.kind = 'violation' and v.state in ('pending', 'sent', 'resolved', 'dead')
  and v.aggregation_period = %(granularity)s
  and v.period_start = any(%(starts)s::timestamptz[])
on conflict (key) do nothing
returning id
"""  # noqa: S608 - composed of this module's constants; values are bound parameters


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


def _insert(conn: psycopg.Connection, statement: str, params: dict) -> Recorded:
    rows = conn.execute(statement, params).fetchall()
    return Recorded(
        pending_ids=[r[0] for r in rows if r[1] == "pending"],
        suppressed=sum(1 for r in rows if r[1] == "suppressed"),
    )
