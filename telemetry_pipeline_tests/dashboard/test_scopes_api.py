"""Scoped views, the scope picker's values and the ranking over real HTTP (scope_rows.py's numbers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from telemetry_pipeline.apps.dashboard.app import create_app
from telemetry_pipeline.apps.dashboard.server import running
from telemetry_pipeline.core.settings import SLOS_FILE_ENV, TEAMS_FILE_ENV
from telemetry_pipeline_tests.dashboard import rows, scope_rows
from telemetry_pipeline_tests.dashboard.conftest import get

DAYS_7_TO_1 = [f"2025-03-{day:02d}T00:00:00Z" for day in range(3, 10)]  # d = 7 .. 1


@pytest.fixture(scope="module")
def scoped(warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dashboard over rows.py + scope_rows.py, with the scoped SLO in its catalog."""
    with psycopg.connect(warehouse_url) as conn:
        scope_rows.seed(conn)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(SLOS_FILE_ENV, str(scope_rows.write_scoped_slos(tmp_path_factory.mktemp("slos"))))
        mp.delenv(TEAMS_FILE_ENV, raising=False)
        with running(create_app(warehouse_url, clock=lambda: rows.NOW)) as base:
            yield base


def series(body: dict, name: str) -> dict:
    return next(m for m in body["metrics"] if m["name"] == name)


def test_scoped_series_are_the_scope_rows_at_day_granularity(scoped: str) -> None:
    status, body = get(scoped, "/api/kpis?repository=acme/web&range=7d&metric=provenance_availability")
    assert status == 200
    # a 7-day span defaults to hours, but scoped rows exist per day and week only (default)
    assert body["view"]["granularity"] == "day"
    assert body["view"]["scope"] == {"dimension": "repository", "value": "acme/web"}
    availability = series(body, "provenance_availability")
    assert availability["points"]["period_start"] == DAYS_7_TO_1
    assert availability["points"]["value"] == [99.0, 100.0, 99.0, 100.0, 99.0, 100.0, 99.0]  # d odd -> 99
    assert availability["points"]["sample_size"] == [20] * 7
    # the scoped SLO's target and its violating days (d = 7, 5, 3, 1), not the global SLO's
    assert availability["targets"] == [
        {"slo": "provenance_by_repository", "sli": "availability", "comparator": ">=", "target": 99.5}]
    assert availability["violations"]["period_start"] == DAYS_7_TO_1[::2]
    # the global view of the same window is untouched by the scoped rows (rows.py: 99.95 daily)
    _, global_body = get(scoped, "/api/kpis?range=7d&granularity=day&metric=provenance_availability")
    assert "scope" not in global_body["view"]
    assert series(global_body, "provenance_availability")["points"]["value"] == [99.95] * 7


def test_workflow_and_team_scopes(scoped: str) -> None:
    status, body = get(scoped, "/api/kpis?workflow=acme/web/build&range=7d&metric=provenance_availability")
    assert status == 200
    assert series(body, "provenance_availability")["points"]["value"] == [99.0, 100.0] * 3 + [99.0]
    status, body = get(scoped, "/api/kpis?team=payments&range=7d&metric=provenance_availability")
    assert status == 200
    assert series(body, "provenance_availability")["points"]["value"] == [99.9] * 7
    # `unowned` always exists (no rows here yet: an empty series, not a 400)
    status, body = get(scoped, "/api/kpis?team=unowned&range=7d&metric=provenance_availability")
    assert status == 200
    assert series(body, "provenance_availability")["points"]["value"] == []


def test_team_of_the_teams_file_is_known_before_it_has_rows(
    warehouse_url: str, scoped: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, body = get(scoped, "/api/kpis?team=platform")
    assert (status, body["param"]) == (400, "team")
    teams = tmp_path / "teams.yaml"
    teams.write_text("teams:\n  - name: platform\n    repositories: ['acme/*']\n")
    monkeypatch.setenv(TEAMS_FILE_ENV, str(teams))
    status, body = get(scoped, "/api/slo-status?team=platform")
    assert status == 200
    assert body["slis"] == []  # no SLO is scoped by team in this catalog


@pytest.mark.parametrize(("query", "param", "fragment"), [
    ("repository=acme/nope", "repository", "unknown repository 'acme/nope'"),
    ("workflow=acme/web/deploy", "workflow", "unknown workflow"),
    ("team=nobody", "team", "teams file"),
    ("repository=acme/web&workflow=acme/web/build", "workflow", "one scope at a time"),
    ("repository=acme/web&repository=acme/api", "repository", "more than once"),
    ("repository=acme%2Fweb%0A", "repository", "control characters"),
    ("repository=" + "x" * 513, "repository", "too long"),
])
def test_bad_or_unknown_scope_is_a_400_naming_it(scoped: str, query: str, param: str, fragment: str) -> None:
    for endpoint in ("/api/kpis", "/api/slo-status", "/api/violations"):
        status, body = get(scoped, f"{endpoint}?{query}")
        assert status == 400, endpoint
        assert body["param"] == param
        assert fragment in body["message"]


def test_scoped_slo_panel_and_violations(scoped: str) -> None:
    status, body = get(scoped, "/api/slo-status?repository=acme/pay-api&range=7d")
    assert status == 200
    [row] = body["slis"]  # only the SLO scoped by repository; the global SLOs are not this scope's
    assert (row["slo_name"], row["sli"], row["status"]) == ("provenance_by_repository", "availability", "violated")
    assert row["latest"]["period_start"] == "2025-03-09T00:00:00Z"  # d = 1
    assert (row["latest"]["value"], row["latest"]["sample_size"]) == (90.0, 30)
    assert row["error_budget_remaining"] == 9.0  # 10 - d at d = 1
    assert row["burn_rate_day"] == 0.1
    assert (row["violations_in_view"], row["periods_in_view"]) == (1, 7)

    _, web = get(scoped, "/api/slo-status?repository=acme/web&range=7d")
    assert (web["slis"][0]["error_budget_remaining"], web["slis"][0]["violations_in_view"]) == (81.0, 4)

    status, body = get(scoped, "/api/violations?repository=acme/web&range=7d")
    assert status == 200
    assert body["total"] == 4
    assert [v["period_start"] for v in body["violations"]] == DAYS_7_TO_1[::-2]  # newest first: d = 1, 3, 5, 7
    assert {v["slo_name"] for v in body["violations"]} == {"provenance_by_repository"}

    # a repository without scoped SLO rows: the SLO is listed with no data
    _, api = get(scoped, "/api/slo-status?repository=acme/api&range=7d")
    assert [(r["slo_name"], r["status"]) for r in api["slis"]] == [("provenance_by_repository", "no_data")]


def test_scope_values_for_the_picker(scoped: str) -> None:
    status, body = get(scoped, "/api/scopes?dimension=repository")
    assert status == 200
    # gamma/old has a weekly row only: every granularity is listed
    assert body["values"] == ["acme/api", "acme/pay-api", "acme/web", "beta/tool", "gamma/old"]
    assert body["truncated"] is False
    _, body = get(scoped, "/api/scopes?dimension=repository&prefix=ACME/&limit=2")
    assert (body["values"], body["truncated"]) == (["acme/api", "acme/pay-api"], True)
    _, body = get(scoped, "/api/scopes?dimension=repository&prefix=acme/w")
    assert body["values"] == ["acme/web"]
    _, body = get(scoped, "/api/scopes?dimension=workflow")
    assert body["values"] == ["acme/web/build"]
    _, body = get(scoped, "/api/scopes?dimension=team")
    assert body["values"] == ["payments", "unowned"]


@pytest.mark.parametrize(("query", "param"), [
    ("", "dimension"),
    ("dimension=org", "dimension"),
    ("dimension=repository&limit=0", "limit"),
    ("dimension=repository&range=7d", "range"),
])
def test_scope_values_bad_parameters(scoped: str, query: str, param: str) -> None:
    status, body = get(scoped, f"/api/scopes?{query}")
    assert (status, body["param"]) == (400, param)


def test_ranking_worst_repositories_by_availability_over_the_view(scoped: str) -> None:
    status, body = get(scoped, "/api/ranking?dimension=repository&metric=provenance_availability&range=7d")
    assert status == 200
    assert body["view"]["granularity"] == "day"
    assert (body["order"], body["limit"], body["total"]) == ("worst", 20, 4)  # gamma/old has no daily rows
    ranked = [(r["rank"], r["value"], round(r["metric_value"], 6), r["sample_size"], r["periods"]) for r in body["rows"]]
    assert ranked == [
        (1, "acme/pay-api", round(8700 / 90, 6), 90, 7),
        (2, "beta/tool", 98.0, 35, 7),
        (3, "acme/web", round(696 / 7, 6), 140, 7),
        (4, "acme/api", 100.0, 70, 7),  # d = 8's 0 % lies before the view
    ]
    # each row links to its scoped view over the same window
    assert body["rows"][0]["url"] == "/?repository=acme%2Fpay-api&granularity=day&range=7d"
    status, linked = get(scoped, "/api/kpis" + body["rows"][0]["url"][1:] + "&metric=provenance_availability")
    assert status == 200
    assert series(linked, "provenance_availability")["points"]["value"] == [100.0] * 6 + [90.0]

    _, best = get(scoped, "/api/ranking?dimension=repository&metric=provenance_availability&range=7d"
                          "&order=best&limit=2")
    assert [r["value"] for r in best["rows"]] == ["acme/api", "acme/web"]
    assert best["total"] == 4


def test_ranking_counts_add_up_and_lower_is_better_metrics_rank_high_first(scoped: str) -> None:
    _, body = get(scoped, "/api/ranking?dimension=repository&metric=event_count&range=7d")
    assert [(r["value"], r["metric_value"]) for r in body["rows"]] == [("acme/web", 70.0), ("acme/api", 350.0)]
    # a custom window: only d = 1 (2025-03-09); over it the worst failure rate is the highest
    window = "from=2025-03-09&to=2025-03-10"
    _, body = get(scoped, f"/api/ranking?dimension=repository&metric=provenance_availability&{window}")
    assert [(r["value"], r["metric_value"]) for r in body["rows"]] == [
        ("acme/pay-api", 90.0), ("beta/tool", 98.0), ("acme/web", 99.0), ("acme/api", 100.0)]
    assert body["rows"][0]["url"] == "/?" + "&".join([
        "repository=acme%2Fpay-api", "granularity=day", "from=" + quote("2025-03-09T00:00:00Z"),
        "to=" + quote("2025-03-10T00:00:00Z")])
    _, body = get(scoped, "/api/ranking?dimension=repository&metric=provenance_p95_duration_ms&range=7d")
    assert (body["lower_is_better"], body["rows"]) == (True, [])


@pytest.mark.parametrize(("query", "param"), [
    ("metric=provenance_availability", "dimension"),
    ("dimension=repository", "metric"),
    ("dimension=repository&metric=nope", "metric"),
    ("dimension=repository&metric=event_count&order=middle", "order"),
    ("dimension=repository&metric=event_count&limit=501", "limit"),
    ("dimension=repository&metric=event_count&repository=acme/web", "repository"),
    ("dimension=repository&metric=event_count&granularity=minute", "granularity"),
])
def test_ranking_bad_parameters(scoped: str, query: str, param: str) -> None:
    status, body = get(scoped, f"/api/ranking?{query}")
    assert (status, body["param"]) == (400, param)
