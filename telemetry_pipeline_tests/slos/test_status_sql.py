"""slo_status from hand-built kpi_aggregations rows: met flags, budgets and burn rates by hand.

Every expected number is worked out in the comments; the product's formulas are not reused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from telemetry_pipeline.core.slos.config import load_slos
from telemetry_pipeline.core.slos.sql import MAX_LISTED_VIOLATIONS, replace_window
from telemetry_pipeline_tests.slos.kpi_rows import dec, put_kpis, status
from telemetry_pipeline_tests.testdata import TEST_SLOS_FILE

CATALOG = load_slos(TEST_SLOS_FILE)
DAY = datetime(2025, 3, 10, tzinfo=UTC)  # a Monday
HOUR = timedelta(hours=1)


def run(conn, granularity: str, start: datetime, end: datetime | None = None):
    step = {"hour": HOUR, "day": timedelta(days=1), "week": timedelta(weeks=1)}[granularity]
    return replace_window(conn, CATALOG, granularity, start, end or start + step)


# (metric, value, sample) for one period; hand-checked below
PERIOD_KPIS = [
    ("provenance_availability", "99.9", 1000),  # == target with '>=': met
    ("provenance_p95_duration_ms", "300000", 50),  # == target with '<': not met
    ("provenance_failure_rate", "0.5", 1000),
    ("validation_p95_duration_ms", "119999.5", 20),
    ("audit_failure_rate", "2.5", 5),  # unmet, but 5 < min_sample_size 10: not a violation
    ("audit_availability", "99.4", 200),
    ("provenance_count", "1000", 1000),  # not an SLI metric: no row
]


def test_daily_rows_exact(warehouse):
    with warehouse.connect() as conn:
        put_kpis(conn, "day", [(m, DAY, v, n) for m, v, n in PERIOD_KPIS])
        put_kpis(conn, "hour", [("validation_availability", DAY, "50", 100)])  # other granularity
        result = run(conn, "day", DAY)
        rows = status(conn, "day")
    assert result.inserted == 6 and result.deleted == 0
    end = DAY + timedelta(days=1)
    # (slo, sli) -> metric, value, target, comparator, met, n, budget remaining, burn rate
    #   provenance availability: bad 0.001 / allowed 0.001 -> burn 1, budget 100*(1-1) = 0
    #   provenance error_rate:   bad 0.005 / allowed 0.01  -> burn 0.5, budget 50
    #   audit error_rate:        bad 0.025 / allowed 0.02  -> burn 1.25, budget -25
    #   audit availability:      bad 0.006 / allowed 0.005 -> burn 1.2, budget -20
    expected = {
        ("provenance_generation", "availability"):
            ("provenance_availability", "99.9", "99.9", ">=", True, 1000, "0", "1"),
        ("provenance_generation", "latency_p95"):
            ("provenance_p95_duration_ms", "300000", "300000", "<", False, 50, None, None),
        ("provenance_generation", "error_rate"):
            ("provenance_failure_rate", "0.5", "1", "<", True, 1000, "50", "0.5"),
        ("validation", "latency_p95"):
            ("validation_p95_duration_ms", "119999.5", "120000", "<", True, 20, None, None),
        ("audit_observer", "error_rate"):
            ("audit_failure_rate", "2.5", "2", "<", False, 5, "-25", "1.25"),
        ("audit_observer", "availability"):
            ("audit_availability", "99.4", "99.5", ">=", False, 200, "-20", "1.2"),
    }
    assert set(rows) == {(slo, sli, DAY) for slo, sli in expected}
    for (slo, sli), (metric, value, target, comparator, met, n, budget, burn) in expected.items():
        row = rows[(slo, sli, DAY)]
        assert row["metric_name"] == metric
        assert (row["value"], row["target"], row["comparator"], row["met"], row["sample_size"]) == (
            dec(value), dec(target), comparator, met, n), (slo, sli)
        assert (row["error_budget_remaining"], row["burn_rate"]) == (dec(budget), dec(burn)), (slo, sli)
        assert row["period_end"] == end and row["aggregation_period"] == "day"
        assert row["burn_rate_1h"] is row["burn_rate_6h"] is row["burn_rate_3d"] is row["burn_alert"] is None
        assert row["metadata"]["min_sample_size"] == 10
        assert row["metadata"].get("budget_window_sample") == (n if budget is not None else None)
    # violations need met = false and sample_size >= 10
    assert {slo: [(v.sli, v.sample_size) for v in vs] for slo, vs in result.violations.items()} == {
        "provenance_generation": [("latency_p95", 50)],
        "audit_observer": [("availability", 200)],
    }
    assert result.small_sample_unmet == {"audit_observer": 1}
    assert result.unmet == 3


def test_weekly_rows_have_the_period_burn_rate_but_no_budget(warehouse):
    with warehouse.connect() as conn:
        put_kpis(conn, "week", [(m, DAY, v, n) for m, v, n in PERIOD_KPIS])
        run(conn, "week", DAY)
        rows = status(conn, "week")
    avail = rows[("provenance_generation", "availability", DAY)]
    latency = rows[("provenance_generation", "latency_p95", DAY)]
    assert (avail["met"], latency["met"]) == (True, False)
    assert avail["period_end"] == DAY + timedelta(weeks=1)
    assert avail["burn_rate"] == 1 and avail["error_budget_remaining"] is None
    assert latency["burn_rate"] is None
    assert len(rows) == 6


def test_window_replace_is_idempotent_and_drops_stale_rows(warehouse):
    with warehouse.connect() as conn:
        put_kpis(conn, "day", [(m, DAY, v, n) for m, v, n in PERIOD_KPIS])
        first = run(conn, "day", DAY)
        before = status(conn, "day")
        second = run(conn, "day", DAY)
        assert status(conn, "day") == before
        assert (second.deleted, second.inserted) == (first.inserted, first.inserted)
        conn.execute("delete from public.kpi_aggregations where metric_name = 'audit_availability'")
        run(conn, "day", DAY)
        after = status(conn, "day")
    assert set(before) - set(after) == {("audit_observer", "availability", DAY)}
    assert len(after) == 5


# --- 30-day rolling error budget (validation error_rate: target 0.5 -> allowed 0.005) ----------
B = datetime(2025, 2, 1, tzinfo=UTC)
BUDGET_SERIES = (
    [(i, "10", 1000) for i in range(0, 5)]  # heavy burn early on
    + [(i, "0", 1000) for i in range(5, 34) if i != 20]  # then clean, with day 20 missing
    + [(34, "0.9", 2000)]
)


def budget_kpis():
    return [("validation_failure_rate", B + timedelta(days=i), v, n) for i, v, n in BUDGET_SERIES]


def test_rolling_budget_by_hand(warehouse):
    with warehouse.connect() as conn:
        put_kpis(conn, "day", budget_kpis())
        # a single-day run still reads the 29 days before it
        run(conn, "day", B + timedelta(days=34))
        single = status(conn, "day")
        run(conn, "day", B, B + timedelta(days=35))
        rows = status(conn, "day")

    def at(i):
        return rows[("validation", "error_rate", B + timedelta(days=i))]

    assert single == {k: v for k, v in rows.items() if k[2] == B + timedelta(days=34)}
    # day 34: window days 5..34 = 28 clean days (day 20 missing) * 1000 + 2000 rows = 30000 rows;
    # bad rows 0.009 * 2000 = 18; budget = 100 * (1 - 18 / (0.005 * 30000)) = 100 * (1 - 0.12) = 88
    assert at(34)["error_budget_remaining"] == 88
    assert at(34)["burn_rate"] == dec("1.8")  # 0.009 / 0.005
    assert at(34)["metadata"]["budget_window_sample"] == 30000
    # day 33: window days 4..33: day 4 brings 0.1 * 1000 = 100 bad rows of 29 * 1000;
    # budget = 100 * (1 - 100 / 145) = 31.0344827586...
    assert float(at(33)["error_budget_remaining"]) == pytest.approx(100 * (1 - 100 / 145), abs=1e-12)
    assert at(33)["burn_rate"] == 0
    # day 5: window days 0..5: 500 bad of 6000; 100 * (1 - 500 / 30) = -1566.666...
    assert float(at(5)["error_budget_remaining"]) == pytest.approx(-1566.6666666666667, abs=1e-9)
    # day 4: window days 0..4: 500 bad of 5000; 100 * (1 - 500 / 25) = -1900; burn 0.1 / 0.005 = 20
    assert (at(4)["error_budget_remaining"], at(4)["burn_rate"]) == (-1900, 20)
    assert at(0)["error_budget_remaining"] == -1900  # 100 bad of 1000: 100 * (1 - 100 / 5)
    assert len(rows) == 34


def test_range_run_equals_per_partition_runs_daily(warehouse):
    with warehouse.connect() as conn:
        put_kpis(conn, "day", budget_kpis())
        run(conn, "day", B, B + timedelta(days=35))
        ranged = status(conn, "day")
        conn.execute("truncate public.slo_status")
        for i in reversed(range(35)):  # any order: each day reads only KPI rows
            run(conn, "day", B + timedelta(days=i))
        assert status(conn, "day") == ranged


# --- hourly burn rates and multiwindow alerts (provenance availability: allowed 0.001) -----------
# A burn rate r over one hour is a bad fraction of 0.001 * r, i.e. availability 100 - 0.1 * r.
def avail(burn: float) -> str:
    return f"{100 - burn / 10:.4f}"


T = datetime(2025, 4, 1, tzinfo=UTC)
SCENARIOS = {  # name -> (day offset, [(hour offset, burn, sample)], evaluated hour offset)
    "fast": (0, [(10, 14.4, 1000)], 10),
    "just_below_fast": (4, [(10, 14.3, 1000)], 10),
    "six_hours": (8, [(h, 0, 1000) for h in range(-66, 0)] + [(h, 6, 1000) for h in range(6)], 5),
    "three_days": (16, [(-1, 0, 1000)] + [(h, 1, 1000) for h in range(72)], 71),
    "short_only": (24, [(h, 0, 1000) for h in range(-66, 0)] + [(h, 2, 1000) for h in range(6)], 5),
    "six_not_one": (32, [(h, 8, 1000) for h in range(5)] + [(5, 0, 1000)], 5),
    "weighted": (40, [(0, 30, 100), (1, 1, 900)], 1),
}


def scenario_kpis():
    rows = []
    for day, hours, _ in SCENARIOS.values():
        base = T + timedelta(days=day)
        rows += [("provenance_availability", base + h * HOUR, avail(r), n) for h, r, n in hours]
    return rows


def evaluated_hour(name: str) -> datetime:
    day, _, hour = SCENARIOS[name]
    return T + timedelta(days=day) + hour * HOUR


@pytest.mark.parametrize(
    ("name", "b1", "b6", "b3d", "alert", "windows"),
    [
        ("fast", 14.4, 14.4, 14.4, "page", "1h>=14.4"),  # the threshold itself fires
        ("just_below_fast", 14.3, 14.3, 14.3, "page", "6h&1h>=6"),  # next rule catches it
        # 6 h frame is exactly the 6 burning hours (a 7th clean hour would give 36/7 < 6);
        # 3 d = 6 * 6 / 72 = 0.5
        ("six_hours", 6, 6, 0.5, "page", "6h&1h>=6"),
        # 72 hours at 1x; the clean hour before must fall outside the 3 d frame (72/73 < 1)
        ("three_days", 1, 1, 1, "ticket", "3d&6h>=1"),
        ("short_only", 2, 2, 12 / 72, None, None),  # 3 d dilutes a short burn: no alert
        ("six_not_one", 0, 40 / 6, 40 / 6, "ticket", "3d&6h>=1"),  # 6h >= 6 alone does not page
        ("weighted", 1, 3.9, 3.9, "ticket", "3d&6h>=1"),  # (30*100 + 1*900) / 1000 rows = 3.9
    ],
)
def test_burn_windows_by_hand(warehouse, name, b1, b6, b3d, alert, windows):
    hour = evaluated_hour(name)
    with warehouse.connect() as conn:
        put_kpis(conn, "hour", scenario_kpis())
        run(conn, "hour", hour)  # one partition: the trailing windows are read from before it
        rows = status(conn, "hour")
    assert set(rows) == {("provenance_generation", "availability", hour)}
    row = rows[("provenance_generation", "availability", hour)]
    got = [float(row[c]) for c in ("burn_rate_1h", "burn_rate_6h", "burn_rate_3d")]
    assert got == pytest.approx([b1, b6, b3d], abs=1e-12)
    assert row["burn_rate"] == row["burn_rate_1h"]
    assert (row["burn_alert"], row["burn_alert_windows"]) == (alert, windows)
    assert row["error_budget_remaining"] is None


def test_weighted_scenario_first_hour_pages(warehouse):
    hour = evaluated_hour("weighted") - HOUR
    with warehouse.connect() as conn:
        put_kpis(conn, "hour", scenario_kpis())
        result = run(conn, "hour", hour)
        row = status(conn, "hour")[("provenance_generation", "availability", hour)]
    assert (row["burn_rate_1h"], row["burn_alert"], row["burn_alert_windows"]) == (30, "page", "1h>=14.4")
    assert row["metadata"] == {"unit": "percent", "min_sample_size": 10, "sample_1h": 100, "sample_6h": 100,
                               "sample_3d": 100}
    assert result.burn_alerts == {"page": 1}


def test_range_run_equals_per_partition_runs_hourly(warehouse):
    hours = sorted({start for _, start, _, _ in scenario_kpis()})
    with warehouse.connect() as conn:
        put_kpis(conn, "hour", scenario_kpis())
        result = run(conn, "hour", hours[0], hours[-1] + HOUR)
        ranged = status(conn, "hour")
        conn.execute("truncate public.slo_status")
        for hour in hours:
            run(conn, "hour", hour)
        assert status(conn, "hour") == ranged
    assert result.inserted == len(hours) == len(ranged)
    assert {r["burn_alert"] for r in ranged.values()} == {"page", "ticket", None}


def test_violations_are_counted_in_full_and_listed_up_to_the_limit(warehouse):
    # 30 hours whose provenance p95 is over its 300000 ms target with 50 rows each: 30 violations
    hours = [DAY + HOUR * i for i in range(30)]
    with warehouse.connect() as conn:
        put_kpis(conn, "hour", [("provenance_p95_duration_ms", h, "400000", 50) for h in hours])
        result = run(conn, "hour", DAY, DAY + HOUR * 30)
    assert result.violation_counts == {"provenance_generation": 30}
    listed = result.violations["provenance_generation"]
    assert [v.period_start for v in listed] == hours[:MAX_LISTED_VIOLATIONS]
    assert {(v.sli, v.value, v.target, v.sample_size) for v in listed} == {("latency_p95", 400000.0, 300000.0, 50)}
    assert result.unmet == 30 and result.small_sample_unmet == {}
    assert len(result.period_metadata) == 30
    assert result.period_metadata[DAY] == {
        "provenance_generation.latency_p95": 400000.0, "provenance_generation.latency_p95.target": 300000.0,
    }
