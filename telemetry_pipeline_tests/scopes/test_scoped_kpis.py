"""Scoped KPI rows (SPEC section 10) against values computed by hand in the comments.

Teams: payments owns acme/pay-* and acme/billing, platform owns acme/*, so acme/pay-api matches
both (payments, listed first, wins), acme/web is platform's and other/tool nobody's (`unowned`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dagster import AssetKey, instance_for_test

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.kpis.sql import replace_window
from telemetry_pipeline.core.scopes.teams import parse_teams
from telemetry_pipeline.defs.kpis.assets import kpi_aggregations_daily
from telemetry_pipeline_tests.dagster_run import run_partitions

DAY = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday
NEXT = DAY + timedelta(days=1)
GEN = "provenance.generation"

TEAMS = {"teams": [
    {"name": "payments", "repositories": ["acme/pay-*", "acme/billing"], "slack_channel": "#pay"},
    {"name": "platform", "repositories": ["acme/*"]},
]}
SWAPPED = {"teams": list(reversed(TEAMS["teams"]))}

# (timestamp, metadata) of provenance generations
EVENTS = [
    ("2025-03-03T01:00:00Z", {"status": "success", "duration_ms": 100, "repository": "acme/pay-api", "workflow": "build"}),
    ("2025-03-03T02:00:00Z", {"status": "failure", "duration_ms": 200, "repository": "acme/pay-api", "workflow": "build"}),
    # the workflow name `build` again, in another repository: a different workflow scope
    ("2025-03-03T03:00:00Z", {"status": "error", "duration_ms": 300, "repository": "acme/web", "workflow": "build"}),
    # a repository but no workflow: counts for acme/web and platform, in no workflow
    ("2025-03-03T04:00:00Z", {"status": "success", "duration_ms": 400, "repository": "acme/web"}),
    ("2025-03-03T05:00:00Z", {"status": "success", "duration_ms": 500, "repository": "other/tool", "workflow": "release"}),
    # a workflow but no repository, and nothing at all: global rows only
    ("2025-03-03T06:00:00Z", {"status": "success", "duration_ms": 600, "workflow": "build"}),
    ("2025-03-03T07:00:00Z", {"status": "success", "duration_ms": 700, "repository": ""}),
    # the next day only acme/web has data: no row for any other scope there
    ("2025-03-04T01:00:00Z", {"status": "success", "duration_ms": 50, "repository": "acme/web", "workflow": "deploy"}),
]
# (audited_at, status, metadata)
AUDITS = [
    ("2025-03-03T08:00:00Z", "success", {"repository": "acme/billing", "workflow": "audit"}),
    ("2025-03-03T09:00:00Z", "failure", {}),
]


@pytest.fixture
def loaded(warehouse):
    with warehouse.connect() as conn, conn.cursor() as cur:
        cur.executemany(
            "insert into public.telemetry_events (event_type, event_timestamp, metadata) values (%s, %s, %s)",
            [(GEN, ts, json.dumps(md)) for ts, md in EVENTS],
        )
        cur.executemany(
            "insert into public.slsa_audit_metrics (audited_at, status, duration_ms, sha256_verified,"
            " predicate_type_verified, supabase_synced, metadata) values (%s, %s, 10, true, true, true, %s)",
            [(ts, status, json.dumps(md)) for ts, status, md in AUDITS],
        )
    return warehouse


def rows(conn, granularity: str, start: datetime, metric: str) -> dict[tuple[str | None, str | None], tuple]:
    """{(dimension, value): (metric_value, sample_size)} of one metric and period."""
    return {
        (dim, val): (float(v), n)
        for dim, val, v, n in conn.execute(
            "select dimension, dimension_value, metric_value, sample_size from public.kpi_aggregations"
            " where aggregation_period = %s and period_start = %s and metric_name = %s",
            (granularity, start, metric),
        )
    }


def compute(conn, teams=TEAMS, granularities=("day", "week")):
    return replace_window(conn, "day", DAY, NEXT + timedelta(days=1), teams=parse_teams(teams, "teams.yaml"),
                          dimension_granularities=granularities)


def test_scoped_values_by_hand(loaded):
    with loaded.connect() as conn:
        result = compute(conn)
        count = rows(conn, "day", DAY, "provenance_count")
        success = rows(conn, "day", DAY, "provenance_success_rate")
        availability = rows(conn, "day", DAY, "provenance_availability")
        p95 = rows(conn, "day", DAY, "provenance_p95_duration_ms")
        audits = rows(conn, "day", DAY, "audit_count")
        next_day = rows(conn, "day", NEXT, "provenance_count")
        validations = rows(conn, "day", DAY, "validation_count")
    assert count == {
        (None, None): (7.0, 7),
        ("repository", "acme/pay-api"): (2.0, 2),
        ("repository", "acme/web"): (2.0, 2),
        ("repository", "other/tool"): (1.0, 1),
        ("workflow", "acme/pay-api/build"): (2.0, 2),
        ("workflow", "acme/web/build"): (1.0, 1),  # not the 3 `build` rows of all repositories
        ("workflow", "other/tool/release"): (1.0, 1),
        ("team", "payments"): (2.0, 2),  # acme/pay-api: payments first, though acme/* matches too
        ("team", "platform"): (2.0, 2),
        ("team", "unowned"): (1.0, 1),
    }
    # successes: global 5/7; acme/pay-api 1/2; acme/web 1/2; acme/web/build 0/1
    assert success[(None, None)][0] == pytest.approx(100 * 5 / 7, rel=1e-12)
    assert success[("repository", "acme/pay-api")] == (50.0, 2)
    assert success[("workflow", "acme/web/build")] == (0.0, 1)
    assert success[("team", "unowned")] == (100.0, 1)
    # availability: acme/web had 1 error in 2 -> 50; globally 1 in 7
    assert availability[("repository", "acme/web")] == (50.0, 2)
    assert availability[(None, None)][0] == pytest.approx(100 - 100 / 7, rel=1e-12)
    # p95 of [100, 200]: rank 0.95 -> 195; global [100..700]: rank 5.7 -> 670
    assert p95[("repository", "acme/pay-api")] == (195.0, 2)
    assert p95[(None, None)] == (670.0, 7)
    # audits: acme/billing is payments'; the audit without repository is global only
    assert audits == {(None, None): (2.0, 2), ("repository", "acme/billing"): (1.0, 1),
                      ("workflow", "acme/billing/audit"): (1.0, 1), ("team", "payments"): (1.0, 1)}
    # the next day: only acme/web's scopes (an empty scope has no row)
    assert next_day == {(None, None): (1.0, 1), ("repository", "acme/web"): (1.0, 1),
                        ("workflow", "acme/web/deploy"): (1.0, 1), ("team", "platform"): (1.0, 1)}
    assert validations == {}  # no sample anywhere: no row, global or scoped
    # 24 provenance/operational metrics... counted per dimension by the result
    assert result.scoped_rows["team"] > 0 and set(result.scoped_rows) == {"repository", "workflow", "team"}
    assert result.scoped_by_period[NEXT]["repository"] == result.scoped_by_period[NEXT]["team"]


def test_global_rows_are_exactly_the_unscoped_ones_and_reruns_change_nothing(loaded):
    query = ("select metric_name, period_start, period_end, metric_value, metadata from public.kpi_aggregations"
             " where dimension is null order by 1, 2")
    with loaded.connect() as conn:
        compute(conn, granularities=())
        unscoped = conn.execute(query).fetchall()
        assert conn.execute("select count(*) from public.kpi_aggregations where dimension is not null"
                            ).fetchone() == (0,)
        compute(conn)
        scoped = conn.execute(query).fetchall()
        everything = conn.execute("select metric_name, period_start, dimension, dimension_value, metric_value,"
                                  " metadata from public.kpi_aggregations order by 1, 2, 3, 4").fetchall()
        again = compute(conn)
        rerun = conn.execute("select metric_name, period_start, dimension, dimension_value, metric_value,"
                             " metadata from public.kpi_aggregations order by 1, 2, 3, 4").fetchall()
    assert scoped == unscoped
    assert rerun == everything and again.deleted == again.inserted == len(everything)


def test_a_teams_file_change_applies_on_recomputation(loaded):
    with loaded.connect() as conn:
        compute(conn)
        compute(conn, teams=SWAPPED)  # platform (acme/*) now first: it owns acme/pay-api too
        count = rows(conn, "day", DAY, "provenance_count")
        audits = rows(conn, "day", DAY, "audit_count")
    teams = {val: v for (dim, val), v in count.items() if dim == "team"}
    assert teams == {"platform": (4.0, 4), "unowned": (1.0, 1)}  # no payments row left behind
    assert audits[("team", "platform")] == (1.0, 1)  # acme/billing: acme/* now comes first too
    assert ("team", "payments") not in audits


def test_hours_are_global_unless_configured(loaded):
    with loaded.connect() as conn:
        replace_window(conn, "hour", DAY, NEXT, teams=parse_teams(TEAMS, "t"), dimension_granularities=("day",))
        assert conn.execute("select count(*) from public.kpi_aggregations where dimension is not null"
                            ).fetchone() == (0,)
        replace_window(conn, "hour", DAY, NEXT, teams=parse_teams(TEAMS, "t"),
                       dimension_granularities=("hour", "day"))
        hour = rows(conn, "hour", DAY + timedelta(hours=1), "provenance_count")
    assert hour == {(None, None): (1.0, 1), ("repository", "acme/pay-api"): (1.0, 1),
                    ("workflow", "acme/pay-api/build"): (1.0, 1), ("team", "payments"): (1.0, 1)}


def test_the_daily_asset_reads_the_teams_file_and_reports_scoped_rows(loaded, tmp_path: Path, monkeypatch):
    path = tmp_path / "teams.yaml"
    path.write_text(json.dumps(TEAMS))  # JSON is YAML
    monkeypatch.setenv(settings.TEAMS_FILE_ENV, str(path))
    with instance_for_test() as instance:
        run_partitions([kpi_aggregations_daily], loaded, instance, "2025-03-03", "2025-03-04")
        records = instance.fetch_materializations(AssetKey("kpi_aggregations_daily"), limit=10).records
    by_partition = {r.partition_key: {k: v.value for k, v in r.asset_materialization.metadata.items()}
                    for r in records}
    with loaded.connect() as conn:
        expected = dict(conn.execute(
            "select dimension, count(*) from public.kpi_aggregations where aggregation_period = 'day'"
            " and period_start = %s and dimension is not null group by 1", (NEXT,)).fetchall())
        payments = rows(conn, "day", DAY, "provenance_count")[("team", "payments")]
    assert payments == (2.0, 2)
    # 2025-03-04: acme/web's one success -> per dimension the same metrics (count, rates, ...)
    assert {k: by_partition["2025-03-04"][f"scoped_rows_{k}"] for k in expected} == expected
    assert expected["repository"] == expected["workflow"] == expected["team"] > 0
