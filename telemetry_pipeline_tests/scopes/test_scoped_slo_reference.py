"""Every scoped and global slo_status row (SPEC sections 6, 7 and 10) against an independent computation.

The KPI rows an SLO reads come from the sibling reference (test_scoped_reference.py: its hostile
dataset and its plain-Python SPEC section 5 / 10 computation), never from the product's
kpi_aggregations table. On top of them this file computes, in plain Python from the contract,
what slo_status must hold for a catalog of scoped (team, repository, workflow) and global SLOs,
day and week, and compares every row and every computed column both ways (relative tolerance
1e-6); re-evaluating (the same windows, then partition by partition) changes nothing.

The dataset is the sibling's, plus two things of this file's own:

- a month of plain history before it (01-31 .. 03-02, some days empty), materialised as day KPI
  rows but before the evaluated day window [03-05, 03-15): the 30-day budgets must read it (the
  day itself and the 29 before, so 02-04 counts for 03-05 and 02-03 does not);
- exact ties: `solo/tie` has 1 errored generation in 200 on 03-06 (availability exactly 99.5,
  a target of 99.5 meets, its budget is exactly spent), `solo/lat/build` 5 validations of exactly
  120000 ms on 03-07 (a p95 of 120000 does not meet `< 120000`).

Where the SPEC is silent the reference follows what the product decided (core/slos/sql.py,
core/slos/budgets.py, docs/slos.md):

- Rows below `min_sample_size` are written like any other (value, met computed as usual, the SLO's
  min_sample_size in metadata); min_sample_size only decides whether an unmet row is a violation
  (SPEC section 7), and such rows count in the budgets with their sample like any other row.
- The 30-day budget of a daily ratio row is over the daily KPI rows of the same SLO, SLI and scope
  value whose period_start is the day itself or one of the 29 days before (days without a row
  count nothing), sample-weighted: bad fraction b = (100 - v) / 100 for availability, v / 100 for
  error_rate; allowed a = 1 - target / 100 or target / 100;
  error_budget_remaining = 100 * (1 - sum(b * n) / (a * sum(n))), its sum(n) in
  metadata.budget_window_sample. The ratio direction comes from the SLI name, whatever its metric
  (audit_success_rate as an `availability` SLI is a 'good rows' ratio).
- burn_rate is the period's own b / a on day *and week* rows of ratio SLIs (SPEC section 6 names
  daily rows only); week rows have no budget; latency SLIs have neither (null).
- Each scope value has its own budget; a scoped SLO has rows for the dimension of its scope only
  and a global SLO for the global KPI rows only.
- met is an exact comparison: the ratio values are exact fractions of their sample (a tie with
  a `>=` target meets, a tie with `<` does not).
- sample_size is the KPI row's sample; metadata is {"unit", "min_sample_size"} plus
  "budget_window_sample" on daily ratio rows; the unit is the KPI's ("percent", "ms"), names the
  product's KPI catalog chose (SPEC section 5 requires a unit and names none).
- The hourly columns (burn_rate_1h/6h/3d, burn_alert, burn_alert_windows) are null on day and
  week rows; `excluded` is false (no maintenance window here); evaluated_at is the evaluation's
  transaction time, one value per window, and is the one column a re-run may change.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import psycopg
import yaml
from psycopg import sql

from telemetry_pipeline.core.slos import sql as slo_sql
from telemetry_pipeline.core.slos.config import SloCatalog, parse_catalog
from telemetry_pipeline.defs.resources import WarehouseResource
from telemetry_pipeline_tests.scopes.test_scoped_reference import (
    DAY,
    GEN,
    LENGTH,
    NO_AUDIT_DAY,
    NO_VALIDATION_DAY,
    REPOSITORIES,
    TEAMS_DOC,
    VAL,
    WINDOWS,
    WORKFLOW_NAMES,
    Audit,
    Event,
    Key,
    Value,
    close,
    load,
    make_dataset,
    materialise,
    reference,
)

HISTORY_SEED = 20250131
HISTORY_START = datetime(2025, 1, 31, tzinfo=UTC)
HISTORY_END = datetime(2025, 3, 3, tzinfo=UTC)  # the first week of WINDOWS: history feeds day rows only
#: The KPI windows materialised (and computed by the reference): the day one reaches back over the history.
KPI_WINDOWS = {"day": (HISTORY_START, WINDOWS["day"][1]), "week": WINDOWS["week"]}
#: The SLO windows evaluated: the sibling's; the day budgets read the KPI rows before it.
SLO_WINDOWS = WINDOWS
#: The 30-day rolling budget: the day itself and the 29 before it.
BUDGET_DAYS = 30
DEFAULT_MIN_SAMPLE_SIZE = 10  # SPEC section 7

TIE_DAY = datetime(2025, 3, 6, tzinfo=UTC)
LATENCY_TIE_DAY = datetime(2025, 3, 7, tzinfo=UTC)

#: The catalog, as slos.yaml would hold it. The reference reads this dict, the product its parse.
CATALOG_DOC: dict[str, Any] = {"slos": [
    {"name": "gen_by_team", "description": "provenance per team", "scope": "team", "min_sample_size": 12,
     "slis": [
         {"name": "availability", "metric": "provenance_availability", "comparator": ">=", "target": 95.0},
         {"name": "error_rate", "metric": "provenance_failure_rate", "comparator": "<", "target": 15.0},
     ]},
    {"name": "gen_by_repository", "description": "provenance per repository", "scope": "repository",
     "min_sample_size": 8,
     "slis": [
         {"name": "availability", "metric": "provenance_availability", "comparator": ">=", "target": 99.5},
         {"name": "latency_p95", "metric": "provenance_p95_duration_ms", "comparator": "<", "target": 380000},
     ]},
    {"name": "validation_by_workflow", "description": "validation per workflow", "scope": "workflow",
     "min_sample_size": 3,
     "slis": [
         {"name": "latency_p95", "metric": "validation_p95_duration_ms", "comparator": "<", "target": 120000},
         {"name": "availability", "metric": "validation_availability", "comparator": ">=", "target": 90},
     ]},
    {"name": "audit_by_repository", "description": "audits per repository", "scope": "repository",
     "min_sample_size": 4,
     "slis": [
         {"name": "availability", "metric": "audit_success_rate", "comparator": ">=", "target": 70.0},
         {"name": "error_rate", "metric": "audit_failure_rate", "comparator": "<", "target": 30.0},
         {"name": "latency_p95", "metric": "audit_p95_duration_ms", "comparator": "<", "target": 200000},
     ]},
    # the three global SLOs of SPEC section 6, min_sample_size left to its default
    {"name": "provenance_generation", "description": "global provenance", "slis": [
        {"name": "availability", "metric": "provenance_availability", "comparator": ">=", "target": 99.9},
        {"name": "latency_p95", "metric": "provenance_p95_duration_ms", "comparator": "<", "target": 300000},
        {"name": "error_rate", "metric": "provenance_failure_rate", "comparator": "<", "target": 1.0},
    ]},
    {"name": "validation", "description": "global validation", "slis": [
        {"name": "availability", "metric": "validation_availability", "comparator": ">=", "target": 99.9},
        {"name": "latency_p95", "metric": "validation_p95_duration_ms", "comparator": "<", "target": 120000},
        {"name": "error_rate", "metric": "validation_failure_rate", "comparator": "<", "target": 0.5},
    ]},
    {"name": "audit_observer", "description": "global audits", "slis": [
        {"name": "availability", "metric": "audit_availability", "comparator": ">=", "target": 99.5},
        {"name": "latency_p95", "metric": "audit_p95_duration_ms", "comparator": "<", "target": 180000},
        {"name": "error_rate", "metric": "audit_failure_rate", "comparator": "<", "target": 2.0},
    ]},
]}
RATIO_SLIS = ("availability", "error_rate")


# --------------------------------------------------------------------------------------------
# This file's additions to the dataset
# --------------------------------------------------------------------------------------------


def history() -> tuple[list[Event], list[Audit]]:
    """A month of well-formed rows before the sibling's data: the 30-day budgets reach into it."""
    rng = random.Random(HISTORY_SEED)
    events: list[Event] = []
    audits: list[Audit] = []
    day = HISTORY_START
    while day < HISTORY_END:
        if rng.random() < 0.12:  # a day without any row: it counts nothing in a budget
            day += DAY
            continue
        for _ in range(rng.randint(30, 70)):
            ts = day + timedelta(seconds=rng.randrange(86_400))
            status = rng.choices(["success", "failure", "error", "cancelled"], [80, 8, 8, 4])[0]
            event_type = rng.choice([GEN, GEN, VAL])
            duration = rng.randint(5_000, 400_000) if event_type == GEN else rng.randint(1_000, 150_000)
            events.append(Event(event_type, ts, {"status": status, "repository": rng.choice(REPOSITORIES),
                                                 "workflow": rng.choice(WORKFLOW_NAMES), "duration_ms": duration}))
        for _ in range(rng.randint(0, 16)):
            ts = day + timedelta(seconds=rng.randrange(86_400))
            audits.append(Audit(ts, rng.choices(["success", "failure", "error"], [75, 15, 10])[0],
                                Decimal(rng.randint(500, 250_000)), True, True, True,
                                {"repository": rng.choice(REPOSITORIES), "workflow": "audit"}))
        day += DAY
    return events, audits


def tie_events() -> list[Event]:
    """Exact ties with the catalog's targets, inside the evaluated day window."""
    tie = [Event(GEN, TIE_DAY + timedelta(minutes=m),
                 {"status": "error" if m == 7 else "success", "duration_ms": 1000, "repository": "solo/tie",
                  "workflow": "build"})
           for m in range(200)]
    latency = [Event(VAL, LATENCY_TIE_DAY + timedelta(hours=h),
                     {"status": "success", "duration_ms": 120000, "repository": "solo/lat", "workflow": "build"})
               for h in range(5)]
    return tie + latency


# --------------------------------------------------------------------------------------------
# The reference: SPEC sections 6, 7 and 10 in plain Python over the reference KPI rows
# --------------------------------------------------------------------------------------------

#: slo_name, sli, granularity, period_start, dimension, dimension_value
RowKey = tuple[str, str, str, datetime, str | None, str | None]


@dataclass(frozen=True)
class Expected:
    metric_name: str
    period_end: datetime
    value: float
    target: float
    comparator: str
    met: bool
    sample_size: int
    error_budget_remaining: float | None
    burn_rate: float | None
    metadata: dict[str, Any]


def unit(metric: str) -> str:
    return "ms" if metric.endswith("_ms") else "percent"


def exact(metric: str, value: float, sample: int) -> Fraction:
    """The exact value: a percentage metric is 100 * k / n for a whole k; a duration is its float."""
    if unit(metric) == "ms":
        return Fraction(value)
    k = round(value * sample / 100)
    assert abs(100 * k / sample - value) <= 1e-9, f"{metric}: {value} is not a share of {sample} rows"
    return Fraction(100 * k, sample)


def fractions(sli: dict[str, Any], value: float) -> tuple[float, float]:
    """(bad fraction of the period, allowed bad fraction) of a ratio SLI."""
    target = float(sli["target"])
    if sli["name"] == "availability":
        return (100 - value) / 100, 1 - target / 100
    return value / 100, target / 100


def slo_reference(catalog: dict[str, Any], kpis: dict[Key, Value]) -> dict[RowKey, Expected]:
    expected: dict[RowKey, Expected] = {}
    for slo in catalog["slos"]:
        scope = slo.get("scope")
        min_sample = int(slo.get("min_sample_size", DEFAULT_MIN_SAMPLE_SIZE))
        for sli in slo["slis"]:
            metric, target = sli["metric"], float(sli["target"])
            ratio = sli["name"] in RATIO_SLIS
            for (kpi_metric, granularity, period, dimension, value), (metric_value, n) in kpis.items():
                window = SLO_WINDOWS.get(granularity)
                if kpi_metric != metric or dimension != scope or window is None:
                    continue
                if not window[0] <= period < window[1]:
                    continue
                exact_value, exact_target = exact(metric, metric_value, n), Fraction(str(sli["target"]))
                if unit(metric) == "ms":  # a float p95 decides met only away from the target
                    assert metric_value == target or abs(metric_value - target) > 1e-9 * target, (
                        f"{slo['name']}.{sli['name']} {period}: p95 {metric_value} too close to {target}")
                met = exact_value >= exact_target if sli["comparator"] == ">=" else exact_value < exact_target
                metadata: dict[str, Any] = {"unit": unit(metric), "min_sample_size": min_sample}
                budget = burn = None
                if ratio:
                    bad, allowed = fractions(sli, metric_value)
                    burn = bad / allowed
                    if granularity == "day":
                        trailing = [kpis.get((metric, "day", period - i * DAY, dimension, value))
                                    for i in range(BUDGET_DAYS)]
                        rows = [(fractions(sli, v)[0], m) for v, m in filter(None, trailing)]
                        total = sum(m for _, m in rows)
                        budget = 100 * (1 - sum(b * m for b, m in rows) / (allowed * total))
                        metadata["budget_window_sample"] = total
                expected[(slo["name"], sli["name"], granularity, period, dimension, value)] = Expected(
                    metric, period + LENGTH[granularity], metric_value, target, sli["comparator"], met, n,
                    budget, burn, metadata)
    return expected


def min_sample_of(slo_name: str) -> int:
    slo = next(s for s in CATALOG_DOC["slos"] if s["name"] == slo_name)
    return int(slo.get("min_sample_size", DEFAULT_MIN_SAMPLE_SIZE))


def is_violation(key: RowKey, row: Expected) -> bool:
    """SPEC section 7: met = false and sample_size >= the SLO's min_sample_size."""
    return not row.met and row.sample_size >= min_sample_of(key[0])


# --------------------------------------------------------------------------------------------
# The product's rows and the comparison
# --------------------------------------------------------------------------------------------

COMPARED = (
    "slo_name", "sli", "aggregation_period", "period_start", "dimension", "dimension_value", "metric_name",
    "period_end", "value", "target", "comparator", "met", "sample_size", "error_budget_remaining", "burn_rate",
    "burn_rate_1h", "burn_rate_6h", "burn_rate_3d", "burn_alert", "burn_alert_windows", "metadata", "excluded",
)
#: Every column of slo_status: the compared ones, the surrogate key and the evaluation time. A new
#: column fails the test until it is compared here.
KNOWN_COLUMNS = frozenset(COMPARED) | {"id", "evaluated_at"}
HOURLY_ONLY = ("burn_rate_1h", "burn_rate_6h", "burn_rate_3d", "burn_alert", "burn_alert_windows")

SNAPSHOT = sql.SQL(
    "select {}, evaluated_at from public.slo_status"
    " order by slo_name, sli, aggregation_period, period_start, dimension nulls first, dimension_value nulls first"
).format(sql.SQL(", ").join(map(sql.Identifier, COMPARED)))


def fmt(key: RowKey) -> str:
    slo, sli, granularity, period, dimension, value = key
    scope = "global" if dimension is None else f"{dimension}={value}"
    return f"{slo}.{sli} {granularity} {period:%Y-%m-%d} {scope}"


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _close_or_null(got: float | None, want: float | None) -> bool:
    if got is None or want is None:
        return got is None and want is None
    return close(got, want)


def compare(snapshot: list[tuple[Any, ...]], expected: dict[RowKey, Expected]) -> list[str]:
    problems: list[str] = []
    got: dict[RowKey, dict[str, Any]] = {}
    for record in snapshot:
        row = dict(zip(COMPARED, record[:-1], strict=True))
        key: RowKey = (row["slo_name"], row["sli"], row["aggregation_period"], row["period_start"].astimezone(UTC),
                       row["dimension"], row["dimension_value"])
        if key in got:
            problems.append(f"{fmt(key)}: duplicate row")
        got[key] = row
    for key in sorted(set(expected) - set(got), key=fmt):
        want = expected[key]
        problems.append(f"missing row {fmt(key)}: expected value {want.value!r}, met {want.met},"
                        f" sample {want.sample_size}")
    for key in sorted(set(got) - set(expected), key=fmt):
        row = got[key]
        problems.append(f"unexpected row {fmt(key)}: value {row['value']}, met {row['met']},"
                        f" sample {row['sample_size']}")
    for key in sorted(set(got) & set(expected), key=fmt):
        row, want = got[key], expected[key]
        checks: list[tuple[str, Any, Any, bool]] = [
            ("metric_name", row["metric_name"], want.metric_name, row["metric_name"] == want.metric_name),
            ("period_end", row["period_end"], want.period_end, row["period_end"] == want.period_end),
            ("value", _number(row["value"]), want.value, close(float(row["value"]), want.value)),
            ("target", _number(row["target"]), want.target, close(float(row["target"]), want.target)),
            ("comparator", row["comparator"], want.comparator, row["comparator"] == want.comparator),
            ("met", row["met"], want.met, row["met"] is want.met),
            ("sample_size", row["sample_size"], want.sample_size, row["sample_size"] == want.sample_size),
            ("error_budget_remaining", _number(row["error_budget_remaining"]), want.error_budget_remaining,
             _close_or_null(_number(row["error_budget_remaining"]), want.error_budget_remaining)),
            ("burn_rate", _number(row["burn_rate"]), want.burn_rate,
             _close_or_null(_number(row["burn_rate"]), want.burn_rate)),
            ("metadata", row["metadata"], want.metadata, row["metadata"] == want.metadata),
            ("excluded", row["excluded"], False, row["excluded"] is False),
            *((column, row[column], None, row[column] is None) for column in HOURLY_ONLY),
        ]
        for column, got_value, want_value, ok in checks:
            if not ok:
                problems.append(f"{fmt(key)}: {column} got {got_value!r}, expected {want_value!r}"
                                f" (value {row['value']}, sample {row['sample_size']})")
    return problems


def evaluate(conn: psycopg.Connection, catalog: SloCatalog,
             windows: Iterable[tuple[str, datetime, datetime]]) -> list[slo_sql.SloWindowResult]:
    results = [slo_sql.replace_window(conn, catalog, granularity, start, end) for granularity, start, end in windows]
    conn.commit()
    return results


def partitions(granularity: str) -> list[tuple[str, datetime, datetime]]:
    start, end = SLO_WINDOWS[granularity]
    out = []
    while start < end:
        out.append((granularity, start, start + LENGTH[granularity]))
        start += LENGTH[granularity]
    return out


def assert_coverage(expected: dict[RowKey, Expected], kpis: dict[Key, Value]) -> None:
    """The dataset and catalog cover what this file claims (a guard against a generator or catalog change)."""
    scoped_slos = [s["name"] for s in CATALOG_DOC["slos"] if "scope" in s]
    by_slo: dict[str, list[tuple[RowKey, Expected]]] = {s["name"]: [] for s in CATALOG_DOC["slos"]}
    for key, row in expected.items():
        by_slo[key[0]].append((key, row))
    for slo in CATALOG_DOC["slos"]:
        rows = by_slo[slo["name"]]
        assert {k[2] for k, _ in rows} == {"day", "week"}, slo["name"]
        assert {k[4] for k, _ in rows} == {slo.get("scope")}, slo["name"]
        assert any(is_violation(k, r) for k, r in rows), f"{slo['name']}: no violation"
    for name in scoped_slos:
        rows = by_slo[name]
        small = [(k, r) for k, r in rows if r.sample_size < min_sample_of(name)]
        assert any(not r.met for _, r in small), f"{name}: no unmet row below min_sample_size"
        assert any(r.met for _, r in small), f"{name}: no met row below min_sample_size"
        assert any(r.met and r.sample_size >= min_sample_of(name) for _, r in rows), f"{name}: never met"
        assert len({k[5] for k, _ in rows}) >= 8, f"{name}: too few scope values"
        for sli in {k[1] for k, _ in rows}:
            assert any(is_violation(k, r) for k, r in rows if k[1] == sli), f"{name}.{sli}: no violation"
    assert {s.get("scope") for s in CATALOG_DOC["slos"]} == {None, "team", "repository", "workflow"}
    # the ties decide met exactly, and the tie's budget is exactly spent
    tie = expected[("gen_by_repository", "availability", "day", TIE_DAY, "repository", "solo/tie")]
    assert (tie.value, tie.met, tie.sample_size) == (99.5, True, 200)
    assert tie.error_budget_remaining is not None and close(tie.error_budget_remaining, 0.0)
    latency_tie = expected[("validation_by_workflow", "latency_p95", "day", LATENCY_TIE_DAY, "workflow",
                            "solo/lat/build")]
    assert (latency_tie.value, latency_tie.met, latency_tie.sample_size) == (120000.0, False, 5)
    # the 30-day window's edges hold data: day p-29 counts (inside), day p-30 does not (outside)
    daily_ratio = [(k, r) for k, r in expected.items() if k[2] == "day" and r.error_budget_remaining is not None]
    for edge, label in ((BUDGET_DAYS - 1, "inside"), (BUDGET_DAYS, "outside")):
        at_edge = {k[0] for k, r in daily_ratio if (r.metric_name, "day", k[3] - edge * DAY, k[4], k[5]) in kpis}
        assert at_edge == set(by_slo), f"no budget row with a KPI row {label} its 30-day window's edge: {at_edge}"
    assert any(r.error_budget_remaining is not None and r.error_budget_remaining < 0 for _, r in daily_ratio)
    assert any(r.error_budget_remaining == 100 for _, r in daily_ratio)
    # history rows are read, never written: KPI days before the evaluated window, no SLO row there
    assert any(k[1] == "day" and k[2] < SLO_WINDOWS["day"][0] for k in kpis)
    assert not any(k[3] < SLO_WINDOWS["day"][0] for k in expected if k[2] == "day")
    # periods without the metric have no row
    assert not any(k[3] == NO_AUDIT_DAY for k in expected if k[2] == "day" and k[0].startswith("audit_"))
    assert not any(k[3] == NO_VALIDATION_DAY for k in expected if k[2] == "day" and k[0].startswith("validation"))


def test_every_slo_status_row_matches_an_independent_computation(warehouse: WarehouseResource,
                                                                 tmp_path: Path) -> None:
    events, audits = make_dataset()
    old_events, old_audits = history()
    events += old_events + tie_events()
    audits += old_audits
    teams_file = tmp_path / "teams.yaml"
    teams_file.write_text(yaml.safe_dump(TEAMS_DOC, sort_keys=False), encoding="utf-8")
    kpis = reference(events, audits, KPI_WINDOWS)  # the sibling's, over the history too
    expected = slo_reference(CATALOG_DOC, kpis)

    assert_coverage(expected, kpis)

    # ---- the product ----
    catalog = parse_catalog(CATALOG_DOC, "slos.yaml")
    ranges = [(g, *SLO_WINDOWS[g]) for g in ("day", "week")]
    with warehouse.connect() as conn:
        load(conn, events, audits)
        materialise(conn, teams_file, KPI_WINDOWS)
        conn.commit()
        columns = {c for (c,) in conn.execute(
            "select column_name from information_schema.columns"
            " where table_schema = 'public' and table_name = 'slo_status'")}
        first = evaluate(conn, catalog, ranges)
        snapshot = conn.execute(SNAPSHOT).fetchall()
        again = evaluate(conn, catalog, ranges)
        rerun = conn.execute(SNAPSHOT).fetchall()
        evaluate(conn, catalog, partitions("day") + partitions("week"))
        by_partition = conn.execute(SNAPSHOT).fetchall()

    assert columns == KNOWN_COLUMNS, f"slo_status columns changed: compare {sorted(columns - KNOWN_COLUMNS)}," \
                                     f" gone {sorted(KNOWN_COLUMNS - columns)}"
    problems = compare(snapshot, expected)
    assert not problems, (f"{len(problems)} problems over {len(expected)} expected slo_status rows"
                          f" ({len(snapshot)} rows written):\n" + "\n".join(problems[:60]))
    assert sum(r.inserted for r in first) == len(snapshot) == len(expected)

    # what the evaluation reports, counted by the product in SQL (SPEC section 7's violations)
    for result in first:
        rows = [(k, r) for k, r in expected.items() if k[2] == result.granularity]
        violations = Counter(k[0] for k, r in rows if is_violation(k, r))
        small = Counter(k[0] for k, r in rows if not r.met and not is_violation(k, r))
        assert result.violation_counts == dict(violations), result.granularity
        assert result.small_sample_unmet == dict(small), result.granularity
        assert result.unmet == sum(1 for _, r in rows if not r.met)
        assert result.slos_with_rows == {k[0] for k, _ in rows}
    # one evaluation time per window (its transaction's)
    for granularity in ("day", "week"):
        stamps = {r[-1] for r in snapshot if r[2] == granularity}
        assert len(stamps) == 1 and None not in stamps, stamps

    # re-evaluating changes nothing but evaluated_at: the same windows, then partition by partition
    # (one day reads its 29 days of lookback alone, as a range run does)
    assert [r[:-1] for r in rerun] == [r[:-1] for r in snapshot]
    assert all(a.deleted == a.inserted == f.inserted for a, f in zip(again, first, strict=True))
    assert [r[:-1] for r in by_partition] == [r[:-1] for r in snapshot]
