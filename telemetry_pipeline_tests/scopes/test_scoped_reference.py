"""Every global and scoped KPI row (SPEC sections 5 and 10) against an independent computation.

The acceptance check this mirrors: an independent dataset (dozens of repositories and teams,
overlapping globs, missing keys, the section 5 edge cases) is loaded through the SPEC columns
and materialised by range; every scoped and global KPI row is compared with an independent
computation (relative tolerance 1e-6); re-running changes nothing.

The reference below is plain Python written from the SPEC alone: it reads the metadata the way
SPEC section 3 says, maps repositories to teams with `fnmatch.fnmatchcase` in teams-file order
(section 10), and computes each metric of section 5 over its sample. It imports nothing of the
product's SQL; the product is only driven (rows inserted with SQL, `replace_window`, the
kpi_aggregations table read back).

Where the SPEC is silent, the reference follows what telemetry_pipeline/core/kpis/catalog.py
decided, noted where it matters:

- A missing (or JSON null) `metadata.status`, and an event whose whole metadata is SQL NULL,
  is not `cancelled`: it stays in every event sample (so in every rate's and availability's
  denominator and in error_rate's), counting as neither success, failure nor error. SPEC
  section 3 lists four statuses and says nothing of a missing one; the catalog's samples are
  `status is distinct from 'cancelled'` (Metric.counts_cancelled), which keeps it.
- `provenance_count` and `validation_count` leave cancelled steps out: SPEC section 3 says they
  count in `event_count` only (the catalog agrees: only event_count has counts_cancelled).
- A JSON null repository or workflow is absent, like a missing key or an empty string.
- Audit `duration_ms` NaN (the numeric column accepts it) is "not a number", so absent; so are
  the strings "NaN" / "Infinity" in event metadata (Python's float() would accept them).
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from telemetry_pipeline.core.kpis.sql import replace_window
from telemetry_pipeline.core.scopes.teams import load_teams

SEED = 20250305
DAY = timedelta(days=1)
WEEK = timedelta(days=7)
LENGTH = {"day": DAY, "week": WEEK}

DATA_START = datetime(2025, 3, 5, tzinfo=UTC)  # a Wednesday; the data runs 10 days, over Monday 03-10
DATA_DAYS = 10
WINDOWS = {
    "day": (DATA_START, DATA_START + DATA_DAYS * DAY),  # [03-05, 03-15)
    "week": (datetime(2025, 3, 3, tzinfo=UTC), datetime(2025, 3, 17, tzinfo=UTC)),  # weeks of 03-03, 03-10
}
NO_AUDIT_DAY = datetime(2025, 3, 8, tzinfo=UTC)  # no audit at all that day: no audit_* rows
NO_VALIDATION_DAY = datetime(2025, 3, 12, tzinfo=UTC)  # no validation at all that day

GEN = "provenance.generation"
VAL = "provenance.validation"
RUN = "workflow.run"
API = "api.request"
#: Other event types: counted in event_count / error_rate only. `Provenance.Generation` is not
#: `provenance.generation` (event types are compared exactly).
OTHER_TYPES = ("deploy.step", "sbom.scan", "Provenance.Generation")

N_EVENTS = 3600
N_AUDITS = 420

#: The teams file, in precedence order (first listed match wins; fnmatch, case-sensitive).
TEAMS_DOC: dict[str, Any] = {"teams": [
    {"name": "payments", "repositories": ["acme/pay-*", "acme/billing"], "slack_channel": "#pay"},
    # any owner's infra, listed before acme/*: acme/infra is ops', not platform's
    {"name": "ops", "repositories": ["*/infra", "ops/*"]},
    {"name": "platform", "repositories": ["acme/*"]},
    # differs from acme/* only in case: Acme/... is legacy's, never payments' or platform's
    {"name": "legacy", "repositories": ["Acme/*"]},
    # `?` and `[...]`: svc-1a and svc-22 match, svc-1 (one character short) does not; the `.` of
    # web.app is a literal (corp/webXapp matches no team)
    {"name": "services", "repositories": ["corp/svc-[0-9]?", "corp/web.app", "corp/web-*"]},
    {"name": "data", "repositories": ["data/??-etl", "data/[a-c]*"]},
    # regex metacharacters and an unclosed `[` are literals; misc/c++ is langs' (listed first)
    {"name": "langs", "repositories": ["misc/c++", "tools/a[b"]},
    # negated set: misc/alpha matches, misc/xray does not (-> unowned)
    {"name": "misc", "repositories": ["misc/[!x]*"], "email": ["misc@example.org"]},
]}

#: Repositories of the random rows; the `solo/*` and `audit-only/*` ones get hand-made rows only.
REPOSITORIES = (
    "acme/pay-api", "acme/pay-web", "acme/billing", "acme/infra", "acme/web", "acme/docs",
    "Acme/pay-old", "Acme/website",
    "corp/svc-1a", "corp/svc-22", "corp/svc-1", "corp/web.app", "corp/webXapp", "corp/web-admin", "corp/infra",
    "data/eu-etl", "data/us-etl", "data/apac-etl", "data/beta", "data/zeta",
    "misc/alpha", "misc/xray", "misc/c++", "tools/a[b", "other/tool",
)
WORKFLOW_NAMES = ("build", "release", "deploy")

MISSING = object()  # a metadata key left out


# --------------------------------------------------------------------------------------------
# The dataset
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    event_type: str
    ts: datetime
    metadata: dict[str, Any] | None  # None: SQL NULL metadata


@dataclass(frozen=True)
class Audit:
    ts: datetime
    status: str
    duration_ms: Decimal | None
    sha256_verified: bool
    predicate_type_verified: bool
    supabase_synced: bool
    metadata: dict[str, Any] | None  # None: SQL NULL metadata


def _pick(rng: random.Random, weighted: Iterable[tuple[Any, float]]) -> Any:
    choices, weights = zip(*weighted, strict=True)
    return rng.choices(choices, weights)[0]


def _number_field(rng: random.Random, low: int, high: int) -> Any:
    """A duration or size as a writer may send it: JSON numbers, numeric strings, junk, nothing."""
    kind = _pick(rng, [("int", 50), ("float", 12), ("numeric_string", 12), ("junk_string", 8),
                       ("null", 3), ("bool", 2), ("object", 1), ("missing", 12)])
    if kind == "int":
        return rng.randint(low, high)
    if kind == "float":
        return round(rng.uniform(low, high), 3)
    if kind == "numeric_string":
        value = rng.uniform(low, high)
        return rng.choice([str(int(value)), f"{value:.2f}", f"{value:.4e}", "0"])
    if kind == "junk_string":
        return rng.choice(["fast", "", "NaN", "Infinity", "-Infinity", "12ms", "1,5", "0x1A", "null", " ",
                           "1e", "."])
    if kind == "null":
        return None
    if kind == "bool":
        return rng.choice([True, False])
    if kind == "object":
        return {"ms": rng.randint(low, high)}
    return MISSING


def _scope_keys(rng: random.Random, workflows: dict[str, list[str]]) -> tuple[Any, Any]:
    """(repository, workflow) metadata values: present, missing, empty or JSON null."""
    repository = _pick(rng, [("repo", 84), (MISSING, 7), ("", 4), (None, 2), ("repo_no_wf", 3)])
    if repository in ("repo", "repo_no_wf"):
        name = rng.choice(REPOSITORIES)
        if repository == "repo_no_wf":
            return name, MISSING
        workflow = _pick(rng, [("known", 82), (MISSING, 9), ("", 5), (None, 2), ("nightly", 2)])
        return name, rng.choice(workflows[name]) if workflow == "known" else workflow
    # no repository: sometimes a workflow all the same (it counts in the global rows only)
    return repository, _pick(rng, [(rng.choice(WORKFLOW_NAMES), 50), (MISSING, 40), ("", 10)])


def _timestamp(rng: random.Random) -> datetime:
    return DATA_START + timedelta(microseconds=rng.randrange(DATA_DAYS * 86_400 * 10**6))


def _put(metadata: dict[str, Any], key: str, value: Any) -> None:
    if value is not MISSING:
        metadata[key] = value


def make_dataset() -> tuple[list[Event], list[Audit]]:
    rng = random.Random(SEED)
    workflows = {r: rng.sample(WORKFLOW_NAMES, rng.choice([2, 3])) for r in REPOSITORIES}
    events: list[Event] = []
    for _ in range(N_EVENTS):
        ts = _timestamp(rng)
        event_type = _pick(rng, [(GEN, 34), (VAL, 24), (RUN, 15), (API, 15), ("other", 12)])
        if event_type == "other":
            event_type = rng.choice(OTHER_TYPES)
        if event_type == VAL and period_start(ts, "day") == NO_VALIDATION_DAY:
            event_type = RUN
        shape = _pick(rng, [("normal", 97), ("null_metadata", 1), ("empty_metadata", 2)])
        if shape == "null_metadata":
            events.append(Event(event_type, ts, None))
            continue
        metadata: dict[str, Any] = {}
        if shape == "normal":
            _put(metadata, "status", _pick(rng, [("success", 68), ("failure", 10), ("error", 7),
                                                 ("cancelled", 7), (MISSING, 5), (None, 3)]))
            repository, workflow = _scope_keys(rng, workflows)
            _put(metadata, "repository", repository)
            _put(metadata, "workflow", workflow)
            low, high = {GEN: (5_000, 400_000), VAL: (1_000, 150_000)}.get(event_type, (10, 90_000))
            _put(metadata, "duration_ms", _number_field(rng, low, high))
            if event_type == GEN or rng.random() < 0.1:  # a size on another type is ignored
                _put(metadata, "artifact_size_bytes", _number_field(rng, 1_000, 50_000_000))
            if event_type == API:
                metadata["status_code"] = rng.choice([200, 200, 201, 404, 500, 503])
        events.append(Event(event_type, ts, metadata))

    audits: list[Audit] = []
    for _ in range(N_AUDITS):
        ts = _timestamp(rng)
        if period_start(ts, "day") == NO_AUDIT_DAY:
            ts += DAY
        duration = _pick(rng, [("value", 77), (None, 18), ("nan", 5)])
        if duration == "value":
            duration = Decimal(str(round(rng.uniform(500, 250_000), rng.choice([0, 2]))))
        elif duration == "nan":
            duration = Decimal("NaN")
        keys = _pick(rng, [("both", 60), ("repository", 14), ("workflow", 5), ("none", 10), ("empty", 5),
                           ("null_metadata", 3), ("nulls", 3)])
        name = rng.choice(REPOSITORIES + ("audit-only/repo",) * 2)
        audit_metadata: dict[str, Any] | None = {
            "both": {"repository": name, "workflow": rng.choice(workflows.get(name, ["audit"]))},
            "repository": {"repository": name, "artifact_kind": "container"},
            "workflow": {"workflow": "audit"},
            "none": {},
            "empty": {"repository": "", "workflow": "audit"},
            "null_metadata": None,
            "nulls": {"repository": None, "workflow": None},
        }[keys]
        audits.append(Audit(
            ts, _pick(rng, [("success", 75), ("failure", 15), ("error", 10)]), duration,
            rng.random() < 0.9, rng.random() < 0.85, rng.random() < 0.95, audit_metadata))

    events += hand_made_events()
    audits += hand_made_audits()
    return events, audits


def hand_made_events() -> list[Event]:
    """Section 5 edge cases and window boundaries that random rows would only hit by luck."""
    mon = datetime(2025, 3, 10, tzinfo=UTC)  # the week boundary
    rows = [
        # only cancelled steps: these scopes get event_count rows and nothing else (error_rate's
        # sample, the non-cancelled events, is empty)
        *(Event(t, DATA_START + timedelta(days=1, hours=h), {"status": "cancelled", "duration_ms": 10 * h,
                                                              "repository": "solo/cancelled-only",
                                                              "workflow": "build"})
          for h, t in enumerate((GEN, VAL, RUN, API, "deploy.step"), start=1)),
        # generations without a readable duration or size: counts and rates, no avg or p95 rows
        *(Event(GEN, DATA_START + timedelta(days=2, hours=h),
                {"status": s, "duration_ms": d, "artifact_size_bytes": "big", "repository": "solo/nodur",
                 "workflow": "release"})
          for h, (s, d) in enumerate([("success", "n/a"), ("failure", None), ("error", ""), ("success", True)])),
        Event(GEN, DATA_START + timedelta(days=2, hours=5), {"status": "success", "repository": "solo/nodur"}),
        # one validation: a p95 over a single value is that value
        Event(VAL, DATA_START + timedelta(days=3, hours=1), {"status": "failure", "duration_ms": "4321.5",
                                                             "repository": "solo/one", "workflow": "build"}),
        # ties: the p95 of identical values
        *(Event(GEN, DATA_START + timedelta(days=4, minutes=m), {"status": "success", "duration_ms": 777,
                                                                 "repository": "solo/ties", "workflow": "build"})
          for m in range(6)),
        # the week boundary: Sunday's last microsecond is the first week's, Monday 00:00 the second's
        Event(GEN, mon - timedelta(microseconds=1), {"status": "error", "duration_ms": 1,
                                                     "repository": "acme/web", "workflow": "deploy"}),
        Event(GEN, mon, {"status": "success", "duration_ms": 2, "repository": "acme/web", "workflow": "deploy"}),
        Event(VAL, mon, {"status": "error", "duration_ms": "3", "repository": "Acme/website", "workflow": "build"}),
        # inside the week window, outside the day window: week rows only (no day row for 03-04 or 03-15)
        Event(GEN, datetime(2025, 3, 4, 12, tzinfo=UTC), {"status": "success", "duration_ms": 1234,
                                                          "repository": "corp/infra", "workflow": "build"}),
        Event(API, datetime(2025, 3, 15, tzinfo=UTC), {"status": "error", "duration_ms": 55,
                                                       "repository": "other/tool", "workflow": "deploy"}),
        Event(RUN, datetime(2025, 3, 16, 23, 59, 59, 999_999, tzinfo=UTC), {"status": "success", "duration_ms": 9,
                                                                           "repository": "data/beta"}),
        # outside both windows (03-17 00:00 is the half-open end): never in any row
        Event(GEN, datetime(2025, 3, 17, tzinfo=UTC), {"status": "success", "duration_ms": 1,
                                                       "repository": "acme/web", "workflow": "deploy"}),
        Event(GEN, datetime(2025, 3, 2, 23, 59, 59, tzinfo=UTC), {"status": "success", "repository": "acme/web"}),
    ]
    return rows


def hand_made_audits() -> list[Audit]:
    return [
        Audit(datetime(2025, 3, 4, 6, tzinfo=UTC), "error", None, False, False, False,
              {"repository": "data/zeta", "workflow": "audit"}),  # week rows only
        Audit(datetime(2025, 3, 10, tzinfo=UTC), "success", Decimal("1000.5"), True, True, True,
              {"repository": "misc/c++", "workflow": "audit"}),
        Audit(datetime(2025, 3, 17, tzinfo=UTC), "failure", Decimal(5), True, True, True,
              {"repository": "acme/web"}),  # outside both windows
    ]


def load(conn: Any, events: list[Event], audits: list[Audit]) -> None:
    """Through the SPEC columns, as a workflow writing SQL directly would (not the ingest CLI)."""
    with conn.cursor() as cur:
        cur.executemany(
            "insert into public.telemetry_events (event_type, event_timestamp, metadata) values (%s, %s, %s::jsonb)",
            [(e.event_type, e.ts, None if e.metadata is None else json.dumps(e.metadata)) for e in events],
        )
        cur.executemany(
            "insert into public.slsa_audit_metrics (audited_at, status, duration_ms, sha256_verified,"
            " predicate_type_verified, supabase_synced, metadata) values (%s, %s, %s, %s, %s, %s, %s::jsonb)",
            [(a.ts, a.status, a.duration_ms, a.sha256_verified, a.predicate_type_verified, a.supabase_synced,
              None if a.metadata is None else json.dumps(a.metadata)) for a in audits],
        )
    conn.commit()


# --------------------------------------------------------------------------------------------
# The reference: SPEC sections 3, 5 and 10 in plain Python
# --------------------------------------------------------------------------------------------

_NUMERIC_STRING = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def number(value: Any) -> float | None:
    """A JSON number or a numeric string; anything else (junk, NaN, booleans, null) is absent."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str) and _NUMERIC_STRING.fullmatch(value):
        result = float(value)
    else:
        return None
    return result if math.isfinite(result) else None


def text(metadata: dict[str, Any] | None, key: str) -> str | None:
    """A scope key: a non-empty string, else absent (missing, JSON null, empty string)."""
    value = (metadata or {}).get(key)
    return value if isinstance(value, str) and value != "" else None


@dataclass(frozen=True)
class EventRow:
    event_type: str
    status: str | None
    duration: float | None
    size: float | None


@dataclass(frozen=True)
class AuditRow:
    status: str
    duration: float | None
    sha256_verified: bool
    predicate_type_verified: bool
    supabase_synced: bool


def team_of(repository: str) -> str:
    for team in TEAMS_DOC["teams"]:
        if any(fnmatchcase(repository, glob) for glob in team["repositories"]):
            return str(team["name"])
    return "unowned"


def scopes(metadata: dict[str, Any] | None) -> list[tuple[str | None, str | None]]:
    """The (dimension, value) groups a row counts in: the global one, then its scopes."""
    out: list[tuple[str | None, str | None]] = [(None, None)]
    repository, workflow = text(metadata, "repository"), text(metadata, "workflow")
    if repository is not None:
        out.append(("repository", repository))
        out.append(("team", team_of(repository)))
        if workflow is not None:
            out.append(("workflow", f"{repository}/{workflow}"))
    return out


def period_start(ts: datetime, granularity: str) -> datetime:
    day = ts.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day if granularity == "day" else day - timedelta(days=day.weekday())


def p95(values: list[float]) -> float:
    """percentile_cont(0.95): linear interpolation between the closest ranks (numpy's default)."""
    xs = sorted(values)
    rank = 0.95 * (len(xs) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(xs) - 1)
    return xs[low] + (xs[high] - xs[low]) * (rank - low)


Value = tuple[float, int]  # (metric_value, sample_size)


def _rate(sample: list[Any], hit: Callable[[Any], bool]) -> Value:
    return 100.0 * sum(1 for r in sample if hit(r)) / len(sample), len(sample)


def _availability(sample: list[Any]) -> Value:
    return 100.0 * (1 - sum(1 for r in sample if r.status == "error") / len(sample)), len(sample)


def _failed(row: Any) -> bool:
    return bool(row.status in ("failure", "error"))


def event_metrics(rows: list[EventRow]) -> dict[str, Value]:
    """Section 5's event metrics over one group's rows; an empty sample gives no entry."""
    active = [r for r in rows if r.status != "cancelled"]  # section 3: cancelled counts in event_count only
    gen = [r for r in active if r.event_type == GEN]
    val = [r for r in active if r.event_type == VAL]
    out: dict[str, Value] = {}

    def durations(sample: list[EventRow]) -> list[float]:
        return [r.duration for r in sample if r.duration is not None]

    step_names = {  # count, success rate, failure rate, availability of each provenance step
        "gen": ("provenance_count", "provenance_success_rate", "provenance_failure_rate", "provenance_availability"),
        "val": ("validation_count", "provenance_validation_rate", "validation_failure_rate", "validation_availability"),
    }
    for step, sample in (("gen", gen), ("val", val)):
        if sample:
            count, success, failure, availability = step_names[step]
            out[count] = (float(len(sample)), len(sample))
            out[success] = _rate(sample, lambda r: r.status == "success")
            out[failure] = _rate(sample, _failed)
            out[availability] = _availability(sample)
    if dur := durations(gen):
        out["provenance_avg_duration_ms"] = (math.fsum(dur) / len(dur), len(dur))
        out["provenance_p95_duration_ms"] = (p95(dur), len(dur))
    if sizes := [r.size for r in gen if r.size is not None]:
        out["artifact_avg_size_bytes"] = (math.fsum(sizes) / len(sizes), len(sizes))
    if dur := durations(val):
        out["validation_p95_duration_ms"] = (p95(dur), len(dur))
    for name, event_type in (("workflow_run_avg_duration_ms", RUN), ("api_avg_response_time_ms", API)):
        if dur := durations([r for r in active if r.event_type == event_type]):
            out[name] = (math.fsum(dur) / len(dur), len(dur))
    if rows:
        out["event_count"] = (float(len(rows)), len(rows))
    if active:  # error_rate: errors over every non-cancelled event of any type
        out["error_rate"] = _rate(active, lambda r: r.status == "error")
    return out


def audit_metrics(rows: list[AuditRow]) -> dict[str, Value]:
    out: dict[str, Value] = {}
    if rows:
        out["audit_count"] = (float(len(rows)), len(rows))
        out["audit_success_rate"] = _rate(rows, lambda r: r.status == "success")
        out["audit_failure_rate"] = _rate(rows, _failed)
        out["audit_availability"] = _availability(rows)
        out["sha256_verification_rate"] = _rate(rows, lambda r: r.sha256_verified)
        out["predicate_type_verification_rate"] = _rate(rows, lambda r: r.predicate_type_verified)
        out["supabase_sync_rate"] = _rate(rows, lambda r: r.supabase_synced)
    if dur := [r.duration for r in rows if r.duration is not None]:
        out["audit_p95_duration_ms"] = (p95(dur), len(dur))
    return out


Key = tuple[str, str, datetime, str | None, str | None]  # metric, granularity, period, dimension, value


def reference(events: list[Event], audits: list[Audit],
              windows: dict[str, tuple[datetime, datetime]] = WINDOWS) -> dict[Key, Value]:
    """The expected KPI rows of `windows` (granularity -> [start, end))."""
    expected: dict[Key, Value] = {}
    for granularity, (start, end) in windows.items():
        event_groups: dict[tuple, list[EventRow]] = defaultdict(list)
        for e in events:
            if start <= e.ts < end:
                status = (e.metadata or {}).get("status")
                row = EventRow(e.event_type, status if isinstance(status, str) else None,
                               number((e.metadata or {}).get("duration_ms")),
                               number((e.metadata or {}).get("artifact_size_bytes")))
                for scope in scopes(e.metadata):
                    event_groups[(period_start(e.ts, granularity), *scope)].append(row)
        audit_groups: dict[tuple, list[AuditRow]] = defaultdict(list)
        for a in audits:
            if start <= a.ts < end:
                duration = None if a.duration_ms is None or a.duration_ms.is_nan() else float(a.duration_ms)
                audit_row = AuditRow(a.status, duration, a.sha256_verified, a.predicate_type_verified,
                                     a.supabase_synced)
                for scope in scopes(a.metadata):
                    audit_groups[(period_start(a.ts, granularity), *scope)].append(audit_row)
        results = [(group, event_metrics(rows)) for group, rows in event_groups.items()]
        results += [(group, audit_metrics(audit_rows)) for group, audit_rows in audit_groups.items()]
        for (period, dimension, value), metrics in results:
            for metric, result in metrics.items():
                expected[(metric, granularity, period, dimension, value)] = result
    return expected


# --------------------------------------------------------------------------------------------
# The product's rows and the comparison
# --------------------------------------------------------------------------------------------

SNAPSHOT = (
    "select metric_name, aggregation_period, period_start, period_end, dimension, dimension_value,"
    " metric_value, metadata from public.kpi_aggregations"
    " order by aggregation_period, metric_name, period_start, dimension nulls first, dimension_value nulls first"
)


def materialise(conn: Any, teams_file: Path,
                windows: dict[str, tuple[datetime, datetime]] = WINDOWS) -> dict[str, Any]:
    """The product's KPI rows of `windows`, scoped at day and week (the default granularities)."""
    return {
        granularity: replace_window(conn, granularity, start, end, teams=load_teams(teams_file),
                                    dimension_granularities=("day", "week"))
        for granularity, (start, end) in windows.items()
    }


def close(got: float, expected: float) -> bool:
    return abs(got - expected) <= max(1e-6 * abs(expected), 1e-9)


def _fmt(key: Key) -> str:
    metric, granularity, period, dimension, value = key
    scope = "global" if dimension is None else f"{dimension}={value}"
    return f"{metric} {granularity} {period:%Y-%m-%d} {scope}"


def compare(snapshot: list[tuple], expected: dict[Key, Value]) -> list[str]:
    problems: list[str] = []
    got: dict[Key, Value] = {}
    for metric, granularity, start, end, dimension, value, metric_value, metadata in snapshot:
        start = start.astimezone(UTC)
        key = (metric, granularity, start, dimension, value)
        window = WINDOWS.get(granularity)
        if window is None or not window[0] <= start < window[1]:
            problems.append(f"row outside the materialised windows: {_fmt(key)}")
            continue
        if end.astimezone(UTC) != start + LENGTH[granularity]:
            problems.append(f"{_fmt(key)}: period_end {end} is not period_start + one {granularity}")
        if key in got:
            problems.append(f"{_fmt(key)}: duplicate row")
        sample_size = (metadata or {}).get("sample_size")
        got[key] = (float(metric_value), int(sample_size) if sample_size is not None else -1)
        if "unit" not in (metadata or {}):
            problems.append(f"{_fmt(key)}: metadata without unit: {metadata}")
    for key in sorted(set(expected) - set(got), key=_fmt):
        problems.append(f"missing row {_fmt(key)}: expected value {expected[key][0]!r}, sample {expected[key][1]}")
    for key in sorted(set(got) - set(expected), key=_fmt):
        problems.append(f"unexpected row {_fmt(key)}: value {got[key][0]!r}, sample {got[key][1]}")
    for key in sorted(set(got) & set(expected), key=_fmt):
        (value, n), (want, want_n) = got[key], expected[key]
        if not close(value, want) or n != want_n:
            problems.append(f"{_fmt(key)}: got value {value!r} sample {n}, expected {want!r} sample {want_n}")
    return problems


def test_every_kpi_row_matches_an_independent_computation(warehouse, tmp_path: Path) -> None:
    events, audits = make_dataset()
    teams_file = tmp_path / "teams.yaml"
    teams_file.write_text(yaml.safe_dump(TEAMS_DOC, sort_keys=False), encoding="utf-8")
    expected = reference(events, audits)

    # the dataset covers what it claims (a guard against a generator change hollowing it out)
    scoped = {(d, v) for (_, _, _, d, v) in expected if d is not None}
    assert len({v for d, v in scoped if d == "repository"}) >= 25
    assert {v for d, v in scoped if d == "team"} == {t["name"] for t in TEAMS_DOC["teams"]} | {"unowned"}
    assert ("team", "unowned") in scoped and ("repository", "corp/webXapp") in scoped
    assert {k[2] for k in expected if k[1] == "week"} == {datetime(2025, 3, 3, tzinfo=UTC),
                                                          datetime(2025, 3, 10, tzinfo=UTC)}
    solo = {k[0] for k in expected if k[3] == "repository" and k[4] == "solo/cancelled-only"}
    assert solo == {"event_count"}
    assert not any(k[0].startswith("audit_") and k[1] == "day" and k[2] == NO_AUDIT_DAY for k in expected)
    assert not any(k[0].startswith("validation_") and k[1] == "day" and k[2] == NO_VALIDATION_DAY
                   for k in expected)

    with warehouse.connect() as conn:
        load(conn, events, audits)
        first = materialise(conn, teams_file)
        conn.commit()
        snapshot = conn.execute(SNAPSHOT).fetchall()
        again = materialise(conn, teams_file)
        conn.commit()
        rerun = conn.execute(SNAPSHOT).fetchall()
        # the typed copies the writer fills (sql/0120) are the row's own value and sample size
        copies = conn.execute(
            "select count(*), count(*) filter (where sample_size is distinct from (metadata ->> 'sample_size')::bigint"
            " or value_float8 is distinct from metric_value::float8) from public.kpi_aggregations").fetchone()

    problems = compare(snapshot, expected)
    assert not problems, (f"{len(problems)} of {len(expected)} expected KPI rows disagree"
                          f" ({len(snapshot)} rows written):\n" + "\n".join(problems[:60]))
    assert sum(r.inserted for r in first.values()) == len(snapshot) == len(expected)
    # re-running the same windows changes nothing: the same rows, values and metadata
    assert rerun == snapshot
    assert copies == (len(snapshot), 0)
    assert all(again[g].deleted == again[g].inserted == first[g].inserted for g in WINDOWS)
