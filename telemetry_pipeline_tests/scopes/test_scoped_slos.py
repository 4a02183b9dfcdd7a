"""Scoped SLOs (SPEC section 10): one slo_status row per scope value, its own budget, by hand."""

from __future__ import annotations

from datetime import timedelta

import pytest

from telemetry_pipeline.core.alerting.evidence import attach_evidence
from telemetry_pipeline.core.alerting.routing import Router
from telemetry_pipeline.core.alerting.rules import record_alerts
from telemetry_pipeline.core.kpis.sql import replace_window
from telemetry_pipeline.core.scopes.teams import parse_teams
from telemetry_pipeline.core.slos import sql as slo_sql
from telemetry_pipeline.core.slos.config import DEFAULT_SLOS_FILE, SloConfigError, load_slos, parse_catalog
from telemetry_pipeline_tests.scopes.test_scoped_kpis import DAY, NEXT, TEAMS, compute, loaded  # noqa: F401

CATALOG = parse_catalog({"slos": [
    {"name": "gen_by_team", "description": "per team", "scope": "team", "min_sample_size": 1,
     "slis": [{"name": "availability", "metric": "provenance_availability", "comparator": ">=", "target": 99.5}]},
    {"name": "gen", "description": "global", "min_sample_size": 1,
     "slis": [{"name": "availability", "metric": "provenance_availability", "comparator": ">=", "target": 99.5}]},
]}, "slos.yaml")


def status(conn, slo: str, period) -> dict:
    return {
        (dim, val): (float(v), met, n, None if b is None else float(b), float(burn))
        for dim, val, v, met, n, b, burn in conn.execute(
            "select dimension, dimension_value, value, met, sample_size, error_budget_remaining, burn_rate"
            " from public.slo_status where slo_name = %s and aggregation_period = 'day' and period_start = %s",
            (slo, period),
        )
    }


def test_a_scoped_slo_is_evaluated_per_team_with_its_own_budget(loaded):  # noqa: F811
    with loaded.connect() as conn:
        compute(conn)
        result = slo_sql.replace_window(conn, CATALOG, "day", DAY, NEXT + timedelta(days=1))
        day, next_day = status(conn, "gen_by_team", DAY), status(conn, "gen_by_team", NEXT)
        global_day = status(conn, "gen", DAY)
    # allowed bad fraction 1 - 99.5/100 = 0.005. platform on DAY: acme/web 1 error in 2 -> 50 %,
    # bad rows 1, budget 100 * (1 - 1 / (0.005 * 2)) = -9900, burn 0.5 / 0.005 = 100
    assert day == {
        ("team", "payments"): (100.0, True, 2, 100.0, 0.0),
        ("team", "platform"): (50.0, False, 2, pytest.approx(-9900.0), pytest.approx(100.0)),
        ("team", "unowned"): (100.0, True, 1, 100.0, 0.0),
    }
    # NEXT: platform's one success; its 30-day budget counts only its own rows: 1 bad of 3
    # -> 100 * (1 - 1 / (0.005 * 3)) = -6566.67 (the other teams' rows do not dilute it)
    assert next_day == {("team", "platform"): (100.0, True, 1, pytest.approx(100 * (1 - 1 / 0.015)), 0.0)}
    # the global SLO over the same KPI: 1 error in 7 -> no scope columns, its own budget
    assert list(global_day) == [(None, None)]
    assert global_day[(None, None)][0] == pytest.approx(100 - 100 / 7)
    assert result.violation_counts == {"gen_by_team": 1, "gen": 1}


def test_a_scoped_slo_is_evaluated_only_at_the_dimension_granularities(loaded):  # noqa: F811
    """Hourly scoped KPI rows written under `hour,day,week` stay in the table until their hours are
    re-computed; under the default `day,week` the hourly evaluation gives the scoped SLO no row."""
    window = (DAY, NEXT + timedelta(days=1))
    with loaded.connect() as conn:
        replace_window(conn, "hour", *window, teams=parse_teams(TEAMS, "teams.yaml"),
                       dimension_granularities=("hour", "day", "week"))

        def hourly(slo: str, granularities: tuple[str, ...]) -> dict:
            slo_sql.replace_window(conn, CATALOG, "hour", *window, dimension_granularities=granularities)
            return {
                (period.hour, period.day, val): (float(v), met)
                for period, val, v, met in conn.execute(
                    "select period_start, dimension_value, value, met from public.slo_status"
                    " where slo_name = %s and aggregation_period = 'hour' order by 1, 2", (slo,))
            }

        assert hourly("gen_by_team", ("day", "week")) == {}
        # the global SLO is evaluated either way: the 7 hours of DAY with a generation and NEXT's one
        assert len(hourly("gen", ("day", "week"))) == 8
        # 02:00 is pay-api's failure (not an outage), 03:00 acme/web's error; 06:00 and 07:00 carry
        # no repository, so no team
        assert hourly("gen_by_team", ("hour", "day", "week")) == {
            (1, 3, "payments"): (100.0, True), (2, 3, "payments"): (100.0, True),
            (3, 3, "platform"): (0.0, False), (4, 3, "platform"): (100.0, True),
            (5, 3, "unowned"): (100.0, True), (1, 4, "platform"): (100.0, True),
        }


def test_scope_is_validated_and_the_packaged_catalog_ships_a_team_slo():
    with pytest.raises(SloConfigError) as caught:
        parse_catalog({"slos": [{"name": "x", "description": "d", "scope": "org", "slis": [
            {"name": "availability", "metric": "provenance_availability", "comparator": ">=", "target": 99}]}]},
            "slos.yaml")
    assert str(caught.value) == (
        "slos.yaml: SLO 'x', field scope: unknown scope 'org'; expected one of repository, workflow, team"
    )
    packaged = load_slos(DEFAULT_SLOS_FILE)
    assert [slo.name for slo in packaged if slo.scope == "team"] == ["provenance_generation_by_team"]
    assert [slo.name for slo in packaged if slo.scope is None] == ["provenance_generation", "validation",
                                                                    "audit_observer"]


def test_computed_scoped_and_global_violations_become_their_own_alerts(loaded):  # noqa: F811
    """From raw events through the KPI and SLO SQL to the outbox: the scoped SLO's violation is
    platform's alone (keyed by its scope), the global one names its top offender."""
    with loaded.connect() as conn:
        compute(conn)
        slo_sql.replace_window(conn, CATALOG, "day", DAY, NEXT + timedelta(days=1))
        recorded = record_alerts(conn, CATALOG, "day", [DAY, NEXT])
        attach_evidence(conn, [a for (a,) in conn.execute("select id from public.slo_alerts")])
        outbox = conn.execute(
            "select key, state, suppressed_reason, dimension, dimension_value, payload"
            " from public.slo_alerts order by key").fetchall()
    assert recorded.pending_ids == []  # 2025 is long ago: both are backfills, recorded and never sent
    assert [row[:5] for row in outbox] == [
        ("gen_by_team|availability|day|2025-03-03T00:00Z|team=platform|violation", "suppressed", "backfill",
         "team", "platform"),
        ("gen|availability|day|2025-03-03T00:00Z|violation", "suppressed", "backfill", None, None),
    ]
    scoped_payload, global_payload = outbox[0][5], outbox[1][5]
    assert (scoped_payload["dimension"], scoped_payload["dimension_value"], scoped_payload["value"]) == (
        "team", "platform", 50.0)
    # the one errored generation of DAY is acme/web's (the failure is not an outage)
    assert global_payload["top_offenders"] == [{"repository": "acme/web", "bad_rows": 1}]
    assert "top_offenders" not in scoped_payload
    assert Router(parse_teams(TEAMS, "teams.yaml")).target("slack", "team", "platform") is None  # no channel
