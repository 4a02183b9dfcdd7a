"""Late data: re-materialise exactly the partitions whose rows arrived after their scheduled run.

The schedules (jobs.py) run each period once, a few minutes after it closes. A row that lands
later (a delayed webhook, a replayed NDJSON file, a re-run audit) would leave its hour, day and
week stale. `late_data_sensor` (running by default, every minute) finds such rows and requests
runs of the hourly, daily and weekly jobs for only the periods they fall in.

Which rows are new. A plain cursor "id > last seen id" misses rows: ids are taken when a
transaction inserts but become visible when it commits, so an ingest chunk holding ids 1..20000
can commit after a collector request that took id 20001 and was already seen. The sensor
therefore remembers the PostgreSQL snapshot of its previous tick and takes, among rows with id
above a floor, those not visible in that snapshot (`pg_visible_in_snapshot` on the row's xmin):
exactly the rows committed since. The floor (per table) only rises to a max id observed at an
earlier tick once every transaction open now started after that tick (pg_stat_activity's
xact_start), so no row still in flight can have an id below it, and the scan stays a short
index range. Updated rows count as new (an UPDATE writes a new row version); deletes are not seen.

Which periods need a run (the rule). A period P is requested when a new row falls in it and
  1. P has closed and its scheduled run is due: now >= end(P) + the schedule's lag (hour: 5 min,
     day: 10 min, week: 20 min; Granularity.schedule). A row committed before that moment is read by the
     scheduled run itself, so earlier periods are left to the schedule; a row that becomes
     visible after it may have been missed by the scheduled run, so P is re-run (at worst once
     too often, never once too few);
  2. P lies within the lookback: the row's time (event_timestamp / audited_at) is at most
     TELEMETRY_LATE_DATA_LOOKBACK_DAYS (default 7) days old. Older rows are left to a manual
     backfill: re-running history automatically would let a bulk import of last year's
     telemetry re-page on-call and occupy the run queue for hours;
  3. P exists (on or after TELEMETRY_PARTITIONS_START).
The SLO rows after P read P too: hourly burn rates look back up to 3 days, daily error budgets
30 days (slos/budgets.py LOOKBACK). So the periods after P within that reach that are due as
well get a run of the SLO asset alone (`asset_selection`); their KPIs did not change.
Contiguous periods of a granularity go into one run (a partition range; the assets have
single-run backfill policies), so a late file touching 30 hours starts one hourly run, not 30.
Each request has a run_key made of the periods and the newest row ids of the tick, so a repeated
evaluation never starts a second run for the same rows, while rows arriving later for the same
period do start a new one.

Limits (documented in docs/collection.md): on its very first tick the sensor starts at the current
max ids (history is not re-run), so rows being committed at that instant are not seen; rows a
writer inserts inside a savepoint/subtransaction that commits across a tick may be missed
(pg_current_snapshot lists top-level transactions only); with writers under other database roles
the sensor's role needs pg_read_all_stats to see their open transactions.
"""

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import psycopg
from dagster import (
    AssetKey,
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.granularity import Granularity
from telemetry_pipeline.core.slos.budgets import LOOKBACK as SLO_READS_BACK
from telemetry_pipeline.core.warehouse import one
from telemetry_pipeline.defs.partitions import partitions_for
from telemetry_pipeline.defs.resources import WarehouseResource

SENSOR_NAME = "late_data_sensor"
MINIMUM_INTERVAL_SECONDS = 60
#: Ticks remembered for raising the floor; fewer only means the floor rises later.
MAX_SAMPLES = 120
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


@dataclass
class LateDataCursor:
    """The sensor's memory between ticks (stored as JSON in Dagster's sensor cursor)."""

    snapshot: str  # pg_snapshot of the previous tick
    events_floor: int  # every telemetry_events row with id <= floor is handled or will never commit
    audits_floor: int  # the same for slsa_audit_metrics
    samples: list[list] = field(default_factory=list)  # [epoch seconds, events max id, audits max id]

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> "LateDataCursor":
        return cls(**json.loads(raw))


@dataclass(frozen=True)
class ChangedHour:
    """An hour with rows committed since the previous tick."""

    hour: datetime
    rows: int
    max_event_id: int | None
    max_audit_id: int | None


@dataclass(frozen=True)
class Scan:
    """One tick's reading of the warehouse."""

    now: datetime
    cursor: LateDataCursor
    changed: list[ChangedHour]
    restarted: bool = False  # the cursor was (re)initialised at the current max ids


_HORIZON = """
    select clock_timestamp(),
           (select min(xact_start) from pg_stat_activity
             where datname = current_database() and pid <> pg_backend_pid() and xact_start is not null)
"""
_SNAPSHOT = """
    select pg_current_snapshot()::text, clock_timestamp(), now(),
           (select coalesce(max(id), 0) from public.telemetry_events),
           (select coalesce(max(id), 0) from public.slsa_audit_metrics)
"""
_CHANGED_HOURS = """
    with tick as (
      select %(previous)s::pg_snapshot as previous,
             pg_snapshot_xmax(pg_current_snapshot())::text::bigint as next_xid,
             now() - %(lookback)s as since
    ), new_rows as (
      select e.event_timestamp as ts, e.id as event_id, null::bigint as audit_id
      from public.telemetry_events e, tick
      where e.id > %(events_floor)s and e.event_timestamp >= tick.since
        and not pg_visible_in_snapshot(public.telemetry_full_xid(e.xmin, tick.next_xid), tick.previous)
      union all
      select a.audited_at, null, a.id
      from public.slsa_audit_metrics a, tick
      where a.id > %(audits_floor)s and a.audited_at >= tick.since
        and not pg_visible_in_snapshot(public.telemetry_full_xid(a.xmin, tick.next_xid), tick.previous)
    )
    select date_trunc('hour', ts, 'UTC'), count(*), max(event_id), max(audit_id)
    from new_rows group by 1 order by 1
"""


def scan(conn: psycopg.Connection, previous: LateDataCursor | None, lookback: timedelta) -> Scan:
    """Read what changed since `previous` and the next cursor (`conn` in autocommit mode)."""
    horizon_clock, oldest_open = one(conn.execute(_HORIZON))
    horizon = min(horizon_clock, oldest_open) if oldest_open else horizon_clock
    with conn.transaction():
        conn.execute("set transaction isolation level repeatable read, read only")
        snapshot, clock, now, events_max, audits_max = one(conn.execute(_SNAPSHOT))
        # First start, or the tables were emptied and their ids restarted (the floors would hide
        # every new row): begin at the current max ids, do not re-run history.
        if previous is None or events_max < previous.events_floor or audits_max < previous.audits_floor:
            fresh = LateDataCursor(snapshot, events_max, audits_max, [[clock.timestamp(), events_max, audits_max]])
            return Scan(now, fresh, [], restarted=True)
        rows = conn.execute(
            _CHANGED_HOURS,
            {
                "previous": previous.snapshot,
                "lookback": lookback,
                "events_floor": previous.events_floor,
                "audits_floor": previous.audits_floor,
            },
        ).fetchall()
    changed = [ChangedHour(hour, n, e, a) for hour, n, e, a in rows]
    return Scan(now, _next_cursor(previous, snapshot, horizon, clock, events_max, audits_max), changed)


def _next_cursor(
    previous: LateDataCursor, snapshot: str, horizon: datetime, clock: datetime, events_max: int, audits_max: int
) -> LateDataCursor:
    """Raise the floors to the newest sample taken before every open transaction began."""
    events_floor, audits_floor = previous.events_floor, previous.audits_floor
    keep: list[list] = []
    for sample in previous.samples:
        taken, sample_events, sample_audits = sample
        if taken <= horizon.timestamp():
            events_floor, audits_floor = max(events_floor, sample_events), max(audits_floor, sample_audits)
        else:
            keep.append(sample)
    keep.append([clock.timestamp(), events_max, audits_max])
    return LateDataCursor(snapshot, events_floor, audits_floor, keep[-MAX_SAMPLES:])


def plan_runs(changed: Sequence[ChangedHour], now: datetime) -> list[RunRequest]:
    """The run requests for changed hours: their hours, days and weeks, by the rule above, plus
    the SLO rows after them whose rolling windows reach back into them."""
    if not changed:
        return []
    newest_event = max((c.max_event_id or 0) for c in changed)
    newest_audit = max((c.max_audit_id or 0) for c in changed)
    marker = f"e{newest_event}a{newest_audit}"
    requests: list[RunRequest] = []
    for granularity in Granularity:
        length = granularity.length
        first = partitions_for(granularity).start.astimezone(UTC)
        due = now - granularity.schedule.lag()
        runnable = partial(_runnable, first=first, length=length, due=due)
        touched = {granularity.period_start(c.hour) for c in changed}
        periods = sorted(p for p in touched if runnable(p))
        for run in _contiguous(periods, length):
            requests.append(_request(granularity, run[0], run[-1], marker))
        # SLO rows read a trailing window (30-day budgets, up to 3-day burn rates): a change in P
        # changes the SLO rows of the periods after P within that window. Only the SLO asset of
        # those periods is re-run; their KPIs did not change.
        trailing: set[datetime] = set()
        for period in touched:
            later = period + length
            while later <= period + SLO_READS_BACK[granularity] and runnable(later):
                trailing.add(later)
                later += length
        for run in _contiguous(sorted(trailing - set(periods)), length):
            requests.append(_request(granularity, run[0], run[-1], marker, slo_only=True))
    return requests


def _runnable(start: datetime, *, first: datetime, length: timedelta, due: datetime) -> bool:
    """The period exists and its scheduled run is due (rule 1 and 3)."""
    return start >= first and start + length <= due


def _contiguous(periods: list[datetime], length: timedelta) -> list[list[datetime]]:
    runs: list[list[datetime]] = []
    for start in periods:
        if runs and runs[-1][-1] + length == start:
            runs[-1].append(start)
        else:
            runs.append([start])
    return runs


def _request(
    granularity: Granularity, first: datetime, last: datetime, marker: str, slo_only: bool = False
) -> RunRequest:
    first_key, last_key = granularity.partition_key(first), granularity.partition_key(last)
    job = granularity.job_name
    tags = {"telemetry/trigger": "late-data"}
    what = "slo" if slo_only else "all"
    run_key = f"late-data:{granularity}:{what}:{first_key}..{last_key}:{marker}"
    selection = [AssetKey(granularity.slo_asset)] if slo_only else None
    if first == last:
        return RunRequest(run_key=run_key, job_name=job, partition_key=first_key, tags=tags, asset_selection=selection)
    return RunRequest(
        run_key=run_key, job_name=job, asset_selection=selection,
        tags={**tags, RANGE_START_TAG: first_key, RANGE_END_TAG: last_key},
    )


def build_late_data_sensor(jobs: Sequence[Any]) -> SensorDefinition:
    """The sensor, targeting the hourly/daily/weekly jobs built in jobs.py (asset jobs)."""

    @sensor(
        name=SENSOR_NAME,
        jobs=list(jobs),
        minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
        default_status=DefaultSensorStatus.RUNNING,
        description=(
            "Re-materialises the hours, days and weeks that received telemetry or audit rows after "
            "their scheduled run (lookback TELEMETRY_LATE_DATA_LOOKBACK_DAYS, default 7 days)."
        ),
    )
    def late_data_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource) -> SensorResult:
        previous = LateDataCursor.from_json(context.cursor) if context.cursor else None
        with psycopg.connect(warehouse.url(), autocommit=True, options="-c TimeZone=UTC") as conn:
            result = scan(conn, previous, settings.current().late_data_lookback)
        requests = plan_runs(result.changed, result.now)
        cursor = result.cursor.to_json()
        if result.restarted:
            why = "first tick" if previous is None else "ids restarted (tables emptied)"
            return SensorResult(skip_reason=SkipReason(f"{why}: starting at the current max ids"), cursor=cursor)
        if not requests:
            hours = len(result.changed)
            why = f"{hours} changed hour(s), none closed and past its scheduled run" if hours else "no new rows"
            return SensorResult(skip_reason=SkipReason(why), cursor=cursor)
        context.log.info(
            "late data in %d hour(s): requesting %s",
            len(result.changed), ", ".join(r.run_key or "" for r in requests),
        )
        return SensorResult(run_requests=requests, cursor=cursor)

    return late_data_sensor
