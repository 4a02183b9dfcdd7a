"""Scoped SLO alerts: routed to the owning team, grouped per channel, notified once per scope.

Real parts only: the Slack Web API server and the SMTP server on 127.0.0.1 (conftest), the
sensor evaluated through Dagster, the teams file read from TELEMETRY_TEAMS_FILE. Rows are
slo_status rows of scoped SLOs written by hand with their materialisation events, as the SLO
assets write them; every expected message is spelled out from those values.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import psycopg
import pytest
import yaml
from psycopg.types.json import Jsonb

from telemetry_pipeline.core.alerting.messages import render_group
from telemetry_pipeline.core.alerting.routing import Router, repository_of_workflow
from telemetry_pipeline.core.granularity import PERIODS
from telemetry_pipeline.core.scopes.teams import parse_teams
from telemetry_pipeline.core.settings import TEAMS_FILE_ENV
from telemetry_pipeline_tests.alerting.slack_api_server import block_kit_errors
from telemetry_pipeline_tests.alerting.slo_rows import (
    Row,
    age_retries,
    alerts,
    materialize,
    period,
    report_materializations,
)
from telemetry_pipeline_tests.alerting.test_alert_rules import fresh

TEAMS = """
teams:
  - name: payments
    repositories: ["acme/pay-*", "acme/billing"]
    slack_channel: "#payments-oncall"
    email: ["pay-oncall@example.org"]
  - name: platform                 # also matches acme/pay-*, but payments comes first
    repositories: ["acme/*"]
    slack_channel: "#platform"
  - name: docs                     # no channel of its own: the defaults
    repositories: ["docs/*"]
"""
DEFAULT_CHANNEL = "#slo-alerts"  # conftest.slack_resource
DEFAULT_RECIPIENTS = ["oncall@example.org", "sre@example.org"]  # conftest.email_resource


@pytest.fixture(autouse=True)
def teams_file(tmp_path, monkeypatch):
    path = tmp_path / "teams.yaml"
    path.write_text(TEAMS, encoding="utf-8")
    monkeypatch.setenv(TEAMS_FILE_ENV, str(path))
    return path


def scoped(
    db: psycopg.Connection, instance, slo: str, dimension: str, values: dict[str, float], *,
    granularity: str = "day", periods_ago: int = 1, sample: int = 100,
) -> datetime:
    """slo_status rows of a scoped provenance availability SLO (target >= 99.5), one per scope value."""
    start = period(granularity, periods_ago)
    end = start + PERIODS[granularity]
    evaluated = fresh(Row(slo, "availability", granularity, start, 0, 0)).evaluated_at
    for value_of_scope, value in values.items():
        db.execute(
            """
            insert into public.slo_status (slo_name, sli, metric_name, aggregation_period, period_start,
              period_end, value, target, comparator, met, sample_size, evaluated_at, dimension, dimension_value)
            values (%s, 'availability', 'provenance_availability', %s, %s, %s, %s, 99.5, '>=', %s, %s, %s, %s, %s)
            on conflict (slo_name, sli, aggregation_period, period_start, dimension, dimension_value)
            do update set value = excluded.value, met = excluded.met
            """,
            (slo, granularity, start, end, value, value >= 99.5, sample, evaluated, dimension, value_of_scope),
        )
    report_materializations(instance, [Row(slo, "availability", granularity, start, 0, 0)])
    return start


def posted(slack_api) -> list[tuple[str, str]]:
    """(channel, fallback text) of every message Slack accepted, in order."""
    return [(m["channel"], m["text"]) for m in slack_api.messages]


def mails(smtp) -> list[tuple[list[str], str]]:
    return [(m.rcpt_tos, str(m.message["Subject"])) for m in smtp.mails]


def test_router_team_of_each_scope():
    router = Router(parse_teams(yaml.safe_load(TEAMS), "teams.yaml"))
    assert router.target("slack", "team", "payments") == "#payments-oncall"
    assert router.target("email", "team", "payments") == ("pay-oncall@example.org",)
    assert router.target("slack", "repository", "acme/pay-api") == "#payments-oncall"  # first glob wins
    assert router.target("slack", "repository", "acme/web") == "#platform"
    assert router.target("email", "repository", "acme/web") is None  # platform has no email: default
    assert router.target("slack", "workflow", "acme/web/build/nightly") == "#platform"
    assert repository_of_workflow("acme/web/build/nightly") == "acme/web"
    assert router.target("slack", "team", "docs") is None
    assert router.target("slack", "team", "unowned") is None
    assert router.target("slack", "repository", "other/x") is None
    assert router.target("slack", None, None) is None
    assert Router().target("slack", "team", "payments") is None  # no teams file: defaults


def test_team_scopes_go_to_the_team_channel_else_the_default(sensor, db, slack_api, smtp):
    scoped(db, sensor.instance, "pg_by_team", "team", {"payments": 90.0, "docs": 95.0, "unowned": 97.0, "ok": 99.9})
    summary = sensor.tick()
    assert "recorded 3 alerts to send" in summary
    assert sorted(posted(slack_api)) == sorted([
        ("#payments-oncall", "[FIRING] SLO pg_by_team / availability violated in 1 team: availability missed its "
         f"target of ≥ 99.5 % in the {_day_label(1)} in 1 team, worst first: payments 90 % (100 rows)."),
        (DEFAULT_CHANNEL, "[FIRING] SLO pg_by_team / availability violated in 2 teams: availability missed its "
         f"target of ≥ 99.5 % in the {_day_label(1)} in 2 teams, worst first: docs 95 % (100 rows), "
         "unowned 97 % (100 rows)."),
    ])
    assert sorted(mails(smtp)) == sorted([
        (["pay-oncall@example.org"], "[FIRING] SLO pg_by_team / availability violated in 1 team"),
        (DEFAULT_RECIPIENTS, "[FIRING] SLO pg_by_team / availability violated in 2 teams"),
    ])
    keys = sorted(a["key"] for a in alerts(db))
    day = period("day", 1).strftime("%Y-%m-%dT%H:%MZ")
    assert keys == [f"pg_by_team|availability|day|{day}|team={t}|violation" for t in ("docs", "payments", "unowned")]
    assert {(a["state"], a["slack_state"], a["email_state"]) for a in alerts(db)} == {("sent", "sent", "sent")}


def test_repository_and_workflow_scopes_go_to_the_team_whose_globs_match(sensor, db, slack_api, smtp):
    scoped(db, sensor.instance, "pg_by_repo", "repository",
           {"acme/pay-api": 80.0, "acme/web": 85.0, "other/x": 90.0})
    scoped(db, sensor.instance, "pg_by_workflow", "workflow", {"acme/web/build": 70.0})
    sensor.tick()
    channels = sorted((channel, text.split(":")[0]) for channel, text in posted(slack_api))
    assert channels == [
        ("#payments-oncall", "[FIRING] SLO pg_by_repo / availability violated in 1 repository"),
        ("#platform", "[FIRING] SLO pg_by_repo / availability violated in 1 repository"),
        ("#platform", "[FIRING] SLO pg_by_workflow / availability violated in 1 workflow"),
        (DEFAULT_CHANNEL, "[FIRING] SLO pg_by_repo / availability violated in 1 repository"),  # other/x: unowned
    ]
    by_channel = {(c, t.split(":")[0]): t for c, t in posted(slack_api)}
    assert "worst first: acme/pay-api 80 %" in by_channel[channels[0]]
    assert "worst first: acme/web 85 %" in by_channel[channels[1]]
    assert "worst first: acme/web/build 70 %" in by_channel[channels[2]]
    assert "worst first: other/x 90 %" in by_channel[channels[3]]
    # platform has no e-mail: its repository and workflow go to the default recipients, with other/x
    assert sorted(mails(smtp)) == sorted([
        (["pay-oncall@example.org"], "[FIRING] SLO pg_by_repo / availability violated in 1 repository"),
        (DEFAULT_RECIPIENTS, "[FIRING] SLO pg_by_repo / availability violated in 2 repositories"),
        (DEFAULT_RECIPIENTS, "[FIRING] SLO pg_by_workflow / availability violated in 1 workflow"),
    ])
    two = next(m for m in smtp.mails if "2 repositories" in str(m.message["Subject"]))
    assert "worst first: acme/web 85 % (100 rows), other/x 90 % (100 rows)." in two.message.get_body(
        ("plain",)).get_content()


def test_twelve_scopes_are_one_message_naming_the_ten_worst(sensor, db, slack_api, smtp):
    values = {f"other/r{i:02d}": 80.0 + (i * 7) % 12 for i in range(12)}  # 80..91, shuffled
    scoped(db, sensor.instance, "pg_by_repo", "repository", values)
    sensor.tick()
    ((channel, text),) = posted(slack_api)
    ranked = sorted(values, key=values.get)
    named = ", ".join(f"{r} {values[r]:g} % (100 rows)" for r in ranked[:10])
    assert channel == DEFAULT_CHANNEL
    assert text == (f"[FIRING] SLO pg_by_repo / availability violated in 12 repositories: availability missed "
                    f"its target of ≥ 99.5 % in the {_day_label(1)} in 12 repositories, worst first: "
                    f"{named} and 2 more.")
    assert ranked[0] == "other/r00" and values[ranked[0]] == 80.0 and ranked[-1] == "other/r05"
    assert "other/r05" not in text and "other/r10" not in text  # 91 and 90: the two best, not named
    (mail,) = smtp.mails
    assert f"{named} and 2 more." in mail.message.get_body(("plain",)).get_content()
    blocks = json.dumps(slack_api.messages[0]["blocks"])
    assert "*Scope (repository)*\\n12 repositories" in blocks
    assert len(alerts(db)) == 12 and {a["state"] for a in alerts(db)} == {"sent"}


def test_two_channels_get_two_messages_and_each_scope_is_notified_once(sensor, db, slack_api, smtp):
    start = scoped(db, sensor.instance, "pg_by_repo", "repository", {"acme/pay-api": 90.0, "other/x": 91.0})
    sensor.tick()
    assert sorted(c for c, _ in posted(slack_api)) == ["#payments-oncall", DEFAULT_CHANNEL]
    assert len(smtp.mails) == 2

    # Next tick: the same period is re-materialised (same values) plus one more scope violating:
    # only the new scope is sent, alone.
    scoped(db, sensor.instance, "pg_by_repo", "repository", {"acme/pay-api": 90.0, "other/x": 91.0, "other/y": 92.0})
    sensor.tick()
    sensor.restart()  # and a daemon that lost its cursor re-reads everything
    sensor.tick()
    assert len(slack_api.messages) == 3 and len(smtp.mails) == 3
    assert posted(slack_api)[2][0] == DEFAULT_CHANNEL
    assert posted(slack_api)[2][1].endswith("in 1 repository, worst first: other/y 92 % (100 rows).")
    assert len(alerts(db)) == 3 and {a["period_start"] for a in _rows(db)} == {start}


def test_retry_after_a_500_sends_only_the_scopes_not_yet_sent(sensor, db, slack_api, smtp):
    # payments' scope is recorded first, so its message is the first of the pass
    scoped(db, sensor.instance, "pg_by_repo", "repository", {"acme/pay-api": 90.0})
    sensor.tick()
    assert len(slack_api.messages) == 1
    scoped(db, sensor.instance, "pg_by_repo", "repository",
           {"acme/pay-api": 90.0, "acme/billing": 93.0, "other/x": 91.0, "other/y": 92.0}, periods_ago=2)
    slack_api.fail_channels = {DEFAULT_CHANNEL}
    sensor.tick()
    assert [(r.body["channel"], r.mode) for r in slack_api.requests[1:]] == [
        ("#payments-oncall", "ok"), (DEFAULT_CHANNEL, "error500")]
    failed = [a for a in alerts(db) if a["slack_state"] == "pending"]
    assert sorted(a["key"].split("|")[4] for a in failed) == ["repository=other/x", "repository=other/y"]
    assert {a["attempts"] for a in failed} == {1} and {a["email_state"] for a in failed} == {"sent"}

    slack_api.fail_channels = set()
    age_retries(db)
    sensor.tick()
    sensor.tick()
    assert [(r.body["channel"], r.mode) for r in slack_api.requests[3:]] == [(DEFAULT_CHANNEL, "ok")]
    assert posted(slack_api)[-1][1].endswith(
        "in 2 repositories, worst first: other/x 91 % (100 rows), other/y 92 % (100 rows).")
    payments_texts = [t for c, t in posted(slack_api) if c == "#payments-oncall"]
    assert len(payments_texts) == 2  # period 1 and period 2, each once
    assert "acme/pay-api 90 % (100 rows), acme/billing 93 % (100 rows)" in payments_texts[1]
    assert {a["state"] for a in alerts(db)} == {"sent"}
    assert len(smtp.mails) == 3  # e-mail was never retried: pay-oncall twice, defaults once


def test_a_permanent_rejection_marks_every_grouped_scope_dead(sensor, db, slack_api, smtp):
    slack_api.reject = {"violated in 3 repositories": "channel_not_found"}
    scoped(db, sensor.instance, "pg_by_repo", "repository", {"other/a": 90.0, "other/b": 91.0, "other/c": 92.0})
    sensor.tick()
    assert len(slack_api.requests) == 1 and slack_api.messages == []
    assert [(a["state"], a["slack_state"], a["email_state"]) for a in alerts(db)] == [("dead", "dead", "sent")] * 3
    sensor.tick()
    assert len(slack_api.requests) == 1  # never retried


def test_resolve_messages_are_per_scope(sensor, db, slack_api, smtp):
    scoped(db, sensor.instance, "pg_by_repo", "repository", {"other/a": 90.0, "other/b": 95.0, "other/c": 97.0},
           periods_ago=2)
    sensor.tick()
    scoped(db, sensor.instance, "pg_by_repo", "repository", {"other/a": 99.9, "other/b": 99.6, "other/c": 98.0},
           periods_ago=1)
    sensor.tick()
    sensor.tick()
    texts = [t for _, t in posted(slack_api)]
    assert len(texts) == 3
    # the resolve belongs to the older period, so it leaves first
    assert texts[1:] == [
        f"[RESOLVED] SLO pg_by_repo / availability meets its target again in 2 repositories: availability meets "
        f"its target of ≥ 99.5 % again in the {_day_label(1)} in 2 repositories, after the {_day_label(2)}: "
        "other/a 90 % → 99.9 % (100 rows), other/b 95 % → 99.6 % (100 rows).",
        f"[FIRING] SLO pg_by_repo / availability violated in 1 repository: availability missed its target of "
        f"≥ 99.5 % in the {_day_label(1)} in 1 repository, worst first: other/c 98 % (100 rows).",
    ]
    states = {(a["key"].split("|")[3], a["key"].split("|")[4], a["kind"]): a["state"] for a in alerts(db)}
    first, second = (period("day", n).strftime("%Y-%m-%dT%H:%MZ") for n in (2, 1))
    assert states == {
        (first, "repository=other/a", "violation"): "resolved",
        (first, "repository=other/b", "violation"): "resolved",
        (first, "repository=other/c", "violation"): "sent",
        (first, "repository=other/a", "resolved"): "sent",
        (first, "repository=other/b", "resolved"): "sent",
        (second, "repository=other/c", "violation"): "sent",
    }


def test_global_violation_names_the_top_offending_repositories(sensor, db, slack_api, smtp):
    hour = period("hour", 1)
    errors = {"acme/r1": 6, "acme/r2": 5, "acme/r3": 4, "acme/r4": 3, "acme/r5": 2, "acme/r6": 1}
    rows: list[tuple[str, str, str | None]] = []
    for repository, n in errors.items():
        rows += [("provenance.validation", "error", repository)] * n
    rows += [("provenance.validation", "success", "acme/r6")] * 30
    rows += [("provenance.generation", "error", "acme/r6")] * 9  # another SLO's events
    rows += [("provenance.validation", "cancelled", "acme/r6")] * 9  # not in the sample
    rows += [("provenance.validation", "failure", "acme/r6")] * 9  # a failure is not an outage
    rows += [("provenance.validation", "error", None)] * 7  # no repository: counted, no offender
    for i, (event_type, status, repository) in enumerate(rows):
        metadata = {"status": status} | ({"repository": repository} if repository else {})
        db.execute("insert into public.telemetry_events (event_type, event_timestamp, metadata) values (%s, %s, %s)",
                   (event_type, hour + timedelta(seconds=i), Jsonb(metadata)))
    # validation availability: 28 errors of 30 + 21 + 9 + 7 = 67 validations (cancelled left out)
    materialize(db, sensor.instance, [fresh(Row("validation", "availability", "hour", hour, 58.209, 67))])
    sensor.tick()
    assert alerts(db)[0]["payload"]["top_offenders"] == [
        {"repository": f"acme/r{i}", "bad_rows": n} for i, n in zip(range(1, 6), (6, 5, 4, 3, 2), strict=True)]
    (message,) = slack_api.messages
    assert "*Top offenders (bad rows)*\\nacme/r1 (6), acme/r2 (5), acme/r3 (4), acme/r4 (3), acme/r5 (2)" in json.dumps(
        message["blocks"])
    plain = smtp.mails[0].message.get_body(("plain",)).get_content()
    assert "Top offenders (bad rows): acme/r1 (6), acme/r2 (5), acme/r3 (4), acme/r4 (3), acme/r5 (2)" in plain


def _rows(db: psycopg.Connection) -> list[dict]:
    cur = db.execute("select key, period_start from public.slo_alerts order by id")
    return [{"key": k, "period_start": p} for k, p in cur.fetchall()]


def _day_label(periods_ago: int) -> str:
    return f"day {period('day', periods_ago):%Y-%m-%d} (UTC)"


def test_the_route_is_taken_from_the_teams_file_at_send_time(sensor, db, slack_api, smtp, teams_file):
    scoped(db, sensor.instance, "pg_by_team", "team", {"payments": 90.0})
    slack_api.fail_channels = {"#payments-oncall"}
    sensor.tick()
    assert slack_api.messages == [] and [r.body["channel"] for r in slack_api.requests] == ["#payments-oncall"]
    teams_file.write_text(TEAMS.replace('"#payments-oncall"', '"#payments-new"'), encoding="utf-8")
    age_retries(db)
    sensor.tick()
    assert [c for c, _ in posted(slack_api)] == ["#payments-new"]
    assert mails(smtp) == [(["pay-oncall@example.org"], "[FIRING] SLO pg_by_team / availability violated in 1 team")]


def test_grouped_messages_stay_within_slack_limits_and_name_burns():
    payloads = [
        {"slo": "s", "sli": "availability", "metric": "provenance_availability", "granularity": "hour",
         "period_start": "2025-03-04T05:00:00+00:00", "period_end": "2025-03-04T06:00:00+00:00",
         "value": 50.0 + i, "target": 99.9, "comparator": ">=", "sample_size": 40,
         "dimension": "workflow", "dimension_value": f"acme/{'x' * 1500}{i:02d}/<!channel>"}
        for i in range(12)
    ]
    message = render_group("burn_page", payloads)
    assert block_kit_errors({"blocks": message.blocks}) == []
    assert message.subject == "[FIRING] SLO s / availability burning error budget (page) in 12 workflows"
    assert "<!channel>" not in json.dumps(message.blocks) and "&lt;!channel&gt;" in json.dumps(message.blocks)
    assert message.text.index("acme/" + "x" * 1500 + "00") < message.text.index("acme/" + "x" * 1500 + "09")
    assert message.text.count("(40 rows)") == 10 and "and 2 more." in message.text
