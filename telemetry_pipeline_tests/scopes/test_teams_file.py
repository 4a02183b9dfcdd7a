"""The teams file: validated like slos.yaml, and globs that match in SQL exactly as fnmatch does."""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.scopes.teams import (
    UNOWNED,
    TeamsConfigError,
    glob_to_regex,
    load_teams,
    parse_teams,
)

GOOD = {
    "teams": [
        {"name": "payments", "repositories": ["acme/pay-*", "acme/billing"],
         "slack_channel": "#payments-oncall", "email": ["pay-oncall@example.org"]},
        {"name": "platform", "repositories": ["acme/*"]},
    ]
}


def test_first_matching_team_owns_a_repository():
    teams = parse_teams(GOOD, "teams.yaml")
    assert teams.team_of("acme/pay-api") == "payments"  # matches both teams: the first wins
    assert teams.team_of("acme/web") == "platform"
    assert teams.team_of("other/tool") == UNOWNED
    assert teams.team_of("ACME/web") == UNOWNED  # case-sensitive
    assert teams.team_of(None) is None
    assert teams.get("payments").slack_channel == "#payments-oncall"
    assert teams.get("payments").email == ("pay-oncall@example.org",)
    assert teams.get("platform").slack_channel is None


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"teams": [{"name": "Pay", "repositories": ["a/*"]}]},
         "t.yaml: team 'Pay', field name: must match [a-z0-9_-]+"),
        ({"teams": [{"name": "pay", "repositories": []}]},
         "t.yaml: team 'pay', field repositories: expected a non-empty list of repository globs"),
        ({"teams": [{"name": "pay", "repositories": ["a/*"], "channel": "#x"}]},
         "t.yaml: team 'pay', field channel: unknown key; allowed: name, repositories, slack_channel, email"),
        ({"teams": [{"name": "pay"}]}, "t.yaml: team 'pay', field repositories: missing"),
        ({"teams": [{"name": "pay", "repositories": ["a/*"], "email": ["nobody"]}]},
         "t.yaml: team 'pay', field email: not an e-mail address: 'nobody'"),
        ({"teams": [{"name": "pay", "repositories": ["a/*"]}, {"name": "pay", "repositories": ["b/*"]}]},
         "t.yaml: field teams: duplicate team name 'pay'"),
        ({"teams": [{"name": "unowned", "repositories": ["a/*"]}]},
         "t.yaml: team 'unowned', field name: 'unowned' is the team of repositories no team owns"),
        ({"teams": ["pay"]}, "t.yaml: team 'teams[0]': expected a mapping, got str"),
        ({"team": []}, "t.yaml: expected a mapping with the single key 'teams', got ['team']"),
    ],
)
def test_a_bad_file_names_file_team_and_field(document, message):
    with pytest.raises(TeamsConfigError) as caught:
        parse_teams(document, "t.yaml")
    assert str(caught.value) == message


def test_the_file_comes_from_the_environment_and_edits_apply(tmp_path: Path, monkeypatch):
    assert len(load_teams()) == 0  # unset: no teams, every repository is unowned
    path = tmp_path / "teams.yaml"
    path.write_text("teams:\n  - name: a\n    repositories: ['x/*']\n")
    monkeypatch.setenv(settings.TEAMS_FILE_ENV, str(path))
    assert load_teams().team_of("x/y") == "a"
    path.write_text("teams:\n  - name: b\n    repositories: ['x/*', 'yy/zz']\n")
    assert load_teams().team_of("x/y") == "b"
    path.write_text("teams:\n  - name: b\n    repositories: 'x/*'\n")
    with pytest.raises(TeamsConfigError, match=r"teams.yaml: team 'b', field repositories"):
        load_teams()
    monkeypatch.setenv(settings.TEAMS_FILE_ENV, str(tmp_path / "missing.yaml"))
    with pytest.raises(TeamsConfigError, match=r"missing.yaml: cannot read the teams file"):
        load_teams()


def test_dimension_granularities_setting(monkeypatch):
    assert settings.current().dimension_granularities == ("day", "week")
    monkeypatch.setenv(settings.DIMENSION_GRANULARITIES_ENV, "week, hour,day")
    assert settings.current().dimension_granularities == ("hour", "day", "week")
    monkeypatch.setenv(settings.DIMENSION_GRANULARITIES_ENV, "day,month")
    with pytest.raises(settings.SettingsError, match="TELEMETRY_DIMENSION_GRANULARITIES='day,month'"):
        _ = settings.current().dimension_granularities


PATTERNS = ["acme/*", "acme/pay-?", "acme/[ab]*", "acme/[!ab]*", "a.b/*", "acme/[]x]", "acme/[!]]",
            "x+y/(z)", "a/[", "a/[a-c]", "acme/\\*", "a/^b$", "acme/[^a]", "*", "a|b/*"]
NAMES = ["acme/pay-1", "acme/pay-12", "acme/a1", "acme/b", "acme/c", "aXb/q", "a.b/q", "acme/]", "acme/x",
         "acme/!", "x+y/(z)", "a/[", "a/b", "a/d", "acme/\\*", "acme/\\x", "a/^b$", "acme/^", "acme/a",
         "a|b/c", "b/c", "", "acme/pay-é"]


def test_globs_match_in_postgresql_as_fnmatch(warehouse):
    pairs = [(p, n) for p in PATTERNS for n in NAMES]
    with warehouse.connect() as conn:
        got = conn.execute(
            "select n ~ r from unnest(%s::text[], %s::text[]) as t(n, r)",
            ([n for _, n in pairs], [glob_to_regex(p) for p, _ in pairs]),
        ).fetchall()
    mismatches = [(p, n, g) for (p, n), (g,) in zip(pairs, got, strict=True) if g != fnmatchcase(n, p)]
    assert mismatches == []
