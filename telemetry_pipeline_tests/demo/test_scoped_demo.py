"""The demo's scopes: 40 repositories of six teams (the shipped teams file) and one team's
incident that only its scope shows: the mobile team's day breaks `provenance_generation_by_team`
while the global `provenance_generation` day stays met.

Seed as in test_seed.py: 3 days ending Wednesday 2025-03-05 12:00 UTC, seed 7. The team
incident's day: 4 days before END's day is outside the range, 2025-03-03 is touched by the
runner-queue incident (until 01:00), so it is 2025-03-04.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from telemetry_pipeline.core.demo import team_incident
from telemetry_pipeline.core.demo.fleet import DEMO_FLEET, DEMO_TEAMS_FILE
from telemetry_pipeline.core.demo.seed import seed_demo
from telemetry_pipeline.core.kpis.sql import replace_window
from telemetry_pipeline.core.scopes.teams import load_teams
from telemetry_pipeline.core.slos import sql as slo_sql
from telemetry_pipeline.core.slos.config import DEFAULT_SLOS_FILE, load_slos

END = datetime(2025, 3, 5, 12, tzinfo=UTC)
DAY = datetime(2025, 3, 4, tzinfo=UTC)


def test_the_shipped_teams_file_owns_the_demo_repositories_first_match_wins():
    teams = load_teams(DEMO_TEAMS_FILE)
    owners = {repo: teams.team_of(repo) for repo in DEMO_FLEET.repositories}
    assert len(owners) == 40
    assert Counter(owners.values()) == {"payments": 7, "mobile": 2, "data": 6, "security": 5, "web": 6,
                                        "platform": 10, "unowned": 4}
    # acme/pay-etl matches payments' acme/pay-* and data's acme/*-etl; every acme/ repository
    # matches platform's acme/*: the first team listed owns it
    assert owners["acme/pay-etl"] == "payments" and owners["acme/events-etl"] == "data"
    assert owners["acme/web-docs"] == "web" and owners["acme/runners"] == "platform"
    assert owners["acme-labs/prototype"] == "unowned"
    assert team_incident.REPOSITORIES == ("acme/mobile-ios", "acme/mobile-android")


def test_events_and_audits_of_a_run_share_repository_and_workflow(warehouse):
    summary = seed_demo(warehouse.url(), days=3, seed=7, end=END)
    assert str(summary.team_incident) == "team_signing_error (mobile) [2025-03-04T00:00:00Z, 2025-03-05T00:00:00Z)"
    assert "team_signing_error (mobile)" in str(summary)
    with warehouse.connect() as conn:
        # every generated row names a demo repository and workflow; only the 5 odd rows do not
        unscoped = conn.execute(
            "select count(*) from public.telemetry_events where m_repository is null or m_workflow is null"
        ).fetchone()[0]
        assert unscoped == 5
        repositories = {r for (r,) in conn.execute("select distinct m_repository from public.telemetry_events")}
        assert repositories - {None} == set(DEMO_FLEET.repositories)
        mixed_runs = conn.execute(
            """
            select count(*) from (
              select run_id from (select run_id, m_repository, m_workflow from public.telemetry_events
                                  union all select run_id, m_repository, m_workflow from public.slsa_audit_metrics) r
              where run_id is not null group by run_id
              having count(distinct (m_repository, m_workflow)) > 1) x
            """
        ).fetchone()[0]
        assert mixed_runs == 0


def _slo_day(conn, slo: str) -> dict:
    return {
        (dim, val): (float(v), met, n)
        for dim, val, v, met, n in conn.execute(
            "select dimension, dimension_value, value, met, sample_size from public.slo_status"
            " where slo_name = %s and sli = 'availability' and aggregation_period = 'day'"
            " and period_start = %s",
            (slo, DAY),
        )
    }


def test_the_team_incident_breaks_only_the_teams_scoped_slo(warehouse):
    seed_demo(warehouse.url(), days=3, seed=7, end=END)
    with warehouse.connect() as conn:
        # independent counts of the incident day: generations and errors, fleet-wide and the team's
        counts = conn.execute(
            """
            select count(*), count(*) filter (where m_status = 'error'),
                   count(*) filter (where m_repository like 'acme/mobile-%%'),
                   count(*) filter (where m_repository like 'acme/mobile-%%' and m_status = 'error'),
                   count(*) filter (where m_status = 'error' and metadata ->> 'reason' = %s)
            from public.telemetry_events
            where event_type = 'provenance.generation' and event_timestamp >= %s and event_timestamp < %s
            """,
            (team_incident.REASON, DAY, DAY + timedelta(days=1)),
        ).fetchone()
        n_all, errors_all, n_team, errors_team, incident_rows = counts
        assert (errors_all, errors_team, incident_rows) == (1, 1, 1)  # the incident's row, nothing else
        assert (n_all, n_team) == (1815, 43)

        replace_window(conn, "day", DAY - timedelta(days=1), DAY + timedelta(days=1),
                       teams=load_teams(DEMO_TEAMS_FILE), dimension_granularities=("day", "week"))
        slo_sql.replace_window(conn, load_slos(DEFAULT_SLOS_FILE), "day", DAY, DAY + timedelta(days=1))
        fleet = _slo_day(conn, "provenance_generation")
        by_team = _slo_day(conn, "provenance_generation_by_team")
    # global: 1 error in 1,815 -> 99.945 % >= 99.9: met
    assert fleet == {(None, None): (pytest.approx(100 - 100 / 1815), True, 1815)}
    # mobile: 1 error in its 43 -> 97.674 % < 99.5: violated; every other team 100 %
    assert by_team[("team", "mobile")] == (pytest.approx(100 - 100 / 43), False, 43)
    assert {k[1] for k, v in by_team.items() if not v[1]} == {"mobile"}
    assert set(by_team) == {("team", t) for t in ("payments", "mobile", "data", "security", "web", "platform",
                                                    "unowned")}
