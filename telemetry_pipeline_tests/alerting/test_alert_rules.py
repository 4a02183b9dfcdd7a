"""SPEC section 7 through the sensor: what is recorded, what is sent, and that nothing is sent twice.

Each test writes slo_status rows (values chosen by hand), reports their materialisations to a
real Dagster instance, and ticks slo_alert_sensor through Dagster against the real Slack API
and SMTP servers on 127.0.0.1.
"""

from __future__ import annotations

from datetime import timedelta

from telemetry_pipeline_tests.alerting.slo_rows import HOUR, Row, alerts, materialize, period

PG, VAL, AUD = "provenance_generation", "validation", "audit_observer"


def fresh(row: Row, after_end: timedelta = timedelta(minutes=5)) -> Row:
    """Evaluated shortly after its period closed, as the schedule does (independent of the clock)."""
    row.evaluated_at = row.period_start + {"hour": HOUR, "day": timedelta(days=1),
                                           "week": timedelta(weeks=1)}[row.granularity] + after_end
    return row


def test_several_partitions_between_ticks_are_all_alerted(sensor, db, slack_api, smtp):
    rows = [
        fresh(Row(PG, "availability", "hour", period("hour", 2), 97.5, 40)),
        fresh(Row(VAL, "error_rate", "hour", period("hour", 1), 2.5, 400)),
        fresh(Row(AUD, "latency_p95", "day", period("day", 1), 250000, 30, budget=None)),
        fresh(Row(PG, "error_rate", "hour", period("hour", 1), 0.5, 400)),  # meets: no alert
    ]
    materialize(db, sensor.instance, rows)
    summary = sensor.tick()

    assert "recorded 3 alerts to send" in summary
    assert len(slack_api.messages) == 3 and len(smtp.mails) == 3
    texts = slack_api.texts()
    # oldest period first: the daily row (yesterday), then the two hours
    assert texts[0].startswith("[FIRING] SLO audit_observer / latency_p95 violated")
    assert "250,000 ms against a target of &lt; 180,000 ms" in texts[0]
    assert texts[1].startswith("[FIRING] SLO provenance_generation / availability violated")
    assert "97.5 % against a target of ≥ 99.9 %" in texts[1]
    assert "2.5 % against a target of &lt; 0.5 %" in texts[2]
    assert [a["state"] for a in alerts(db)] == ["sent", "sent", "sent"]
    assert int(sensor.cursor) > 0


def test_rematerialisation_second_tick_and_restart_send_nothing_twice(sensor, db, slack_api, smtp):
    rows = [fresh(Row(PG, "availability", "hour", period("hour", 1), 95.0, 200)),
            fresh(Row(VAL, "availability", "day", period("day", 1), 99.0, 5000))]
    materialize(db, sensor.instance, rows)
    sensor.tick()
    assert len(slack_api.messages) == 2 and len(smtp.mails) == 2

    sensor.tick()  # nothing new
    for row in rows:  # re-materialised: same violation, re-evaluated with another value
        row.value -= 1
    materialize(db, sensor.instance, rows)
    sensor.tick()
    read_up_to = sensor.cursor
    sensor.restart()
    summary = sensor.tick()  # cursor-less: reads every materialisation again

    assert sensor.cursor == read_up_to and "recorded 0 alerts" in summary
    assert len(slack_api.requests) == 2 and len(smtp.mails) == 2
    assert {a["state"] for a in alerts(db)} == {"sent"}


def test_backfill_violations_are_recorded_suppressed_not_sent(sensor, db, slack_api, smtp):
    base = period("hour", 30)
    evaluated = base + 3 * HOUR
    rows = [
        # ended exactly two periods before evaluation: still pages
        Row(PG, "availability", "hour", base, 90.0, 50, evaluated_at=evaluated),
        # ended two periods and a second before: a backfill
        Row(VAL, "availability", "hour", base, 90.0, 50, evaluated_at=evaluated + timedelta(seconds=1)),
        # a year-old day and a ten-week-old week evaluated now
        Row(AUD, "availability", "day", period("day", 365), 90.0, 50),
        Row(AUD, "availability", "week", period("week", 10), 90.0, 50),
        # three days ago evaluated now: more than two days old
        Row(PG, "latency_p95", "day", period("day", 3), 400000.0, 50),
    ]
    materialize(db, sensor.instance, rows)
    sensor.tick()

    outbox = {a["key"].split("|")[0] + "|" + a["key"].split("|")[2]: a for a in alerts(db)}
    assert outbox[f"{PG}|hour"]["state"] == "sent"
    assert [outbox[k]["state"] for k in (f"{VAL}|hour", f"{AUD}|day", f"{AUD}|week")] == ["suppressed"] * 3
    suppressed = [a for a in alerts(db) if a["state"] == "suppressed"]
    assert len(suppressed) == 4 and {a["suppressed_reason"] for a in suppressed} == {"backfill"}
    assert len(slack_api.messages) == 1 and len(smtp.mails) == 1


def test_one_resolved_message_after_a_notified_violation(sensor, db, slack_api, smtp):
    violation = fresh(Row(VAL, "error_rate", "hour", period("hour", 2), 3.0, 100))
    materialize(db, sensor.instance, [violation])
    sensor.tick()
    recovery = fresh(Row(VAL, "error_rate", "hour", period("hour", 1), 0.2, 120))
    materialize(db, sensor.instance, [recovery])
    sensor.tick()
    materialize(db, sensor.instance, [recovery])  # re-materialised recovery
    sensor.tick()
    sensor.restart()
    sensor.tick()

    texts = slack_api.texts()
    assert len(texts) == 2 and texts[0].startswith("[FIRING]")
    assert texts[1].startswith("[RESOLVED] SLO validation / error_rate meets its target again")
    assert "0.2 % (target &lt; 0.5 %)" in texts[1] and "after 3 % in the hour" in texts[1]
    assert smtp.subjects() == [
        "[FIRING] SLO validation / error_rate violated",
        "[RESOLVED] SLO validation / error_rate meets its target again",
    ]
    states = {a["kind"]: a["state"] for a in alerts(db)}
    assert states == {"violation": "resolved", "resolved": "sent"}


def test_resolve_seen_whichever_partition_lands_first(sensor, db, slack_api):
    """The recovery hour materialised in the same tick as (or before) its violation still resolves."""
    rows = [fresh(Row(AUD, "availability", "hour", period("hour", 2), 98.0, 60)),
            fresh(Row(AUD, "availability", "hour", period("hour", 1), 100.0, 60))]
    materialize(db, sensor.instance, list(reversed(rows)))
    sensor.tick()
    assert [t[:10] for t in slack_api.texts()] == ["[FIRING] S", "[RESOLVED]"]


def test_no_resolved_message_without_a_notified_violation(sensor, db, slack_api, smtp):
    rows = [
        # suppressed (backfill) violation followed by a good hour: nothing to resolve
        Row(PG, "availability", "hour", period("hour", 50), 90.0, 50),
        Row(PG, "availability", "hour", period("hour", 49), 100.0, 50),
        # unmet with a tiny sample (not a violation) followed by a good hour
        fresh(Row(VAL, "availability", "hour", period("hour", 2), 50.0, 4)),
        fresh(Row(VAL, "availability", "hour", period("hour", 1), 100.0, 40)),
        # a sent violation followed by another violation: still open, no resolve
        fresh(Row(AUD, "error_rate", "hour", period("hour", 2), 5.0, 40)),
        fresh(Row(AUD, "error_rate", "hour", period("hour", 1), 4.0, 40)),
    ]
    materialize(db, sensor.instance, rows)
    sensor.tick()
    kinds = sorted((a["key"].split("|")[0], a["kind"], a["state"]) for a in alerts(db))
    assert kinds == [
        (AUD, "violation", "sent"), (AUD, "violation", "sent"),
        (PG, "violation", "suppressed"),
    ]
    assert not any(t.startswith("[RESOLVED]") for t in slack_api.texts())


def test_min_sample_size_guard(sensor, db, slack_api, tmp_path, monkeypatch):
    catalog = tmp_path / "slos.yaml"
    catalog.write_text(
        """
slos:
  - name: validation
    description: strict sample guard
    min_sample_size: 50
    runbook_url: https://runbooks.example.org/validation?x=1&y=2
    slis:
      - {name: availability, metric: validation_availability, comparator: ">=", target: 99.9}
  - name: audit_observer
    description: default guard
    slis:
      - {name: availability, metric: audit_availability, comparator: ">=", target: 99.5}
"""
    )
    monkeypatch.setenv("TELEMETRY_SLOS_FILE", str(catalog))
    hour = period("hour", 1)
    rows = [
        fresh(Row(VAL, "availability", "hour", hour, 50.0, 49)),  # below its SLO's 50
        fresh(Row(VAL, "availability", "day", period("day", 1), 50.0, 50)),  # exactly 50: alerts
        fresh(Row(AUD, "availability", "hour", hour, 50.0, 9)),  # below the default 10
        fresh(Row(AUD, "availability", "day", period("day", 1), 50.0, 10)),  # exactly 10: alerts
    ]
    materialize(db, sensor.instance, rows)
    sensor.tick()
    assert sorted(a["key"].rsplit("|", 2)[0] for a in alerts(db)) == [
        f"{AUD}|availability|day", f"{VAL}|availability|day",
    ]
    validation = next(m for m in slack_api.messages if "validation" in m["text"])
    links = validation["blocks"][-1]["text"]["text"]
    assert "<https://runbooks.example.org/validation?x=1&amp;y=2|Runbook>" in links


def test_burn_rate_alerts_inline_by_default(sensor, db, slack_api, smtp):
    """Default mode: the violation message names the window pair; no extra burn message."""
    h1 = period("hour", 1)
    materialize(db, sensor.instance, [
        fresh(Row(PG, "availability", "hour", h1, 97.0, 100, burn_alert="page",
                  burn_alert_windows="6h&1h>=6", burn_rates=(30.0, 8.0, 1.5))),
    ])
    sensor.tick()
    assert [t.split(":")[0] for t in slack_api.texts()] == ["[FIRING] SLO provenance_generation / availability violated"]
    fields = [f["text"] for f in slack_api.messages[0]["blocks"][2]["fields"]]
    assert ("*Burn rate*\npage: the 6-hour and the 1-hour windows both burn at &gt;= 6x"
            " (window pair 6h&amp;1h&gt;=6; burn rates 1h 30x, 6h 8x, 3d 1.5x)") in fields
    burn = [(a["kind"], a["state"], a["suppressed_reason"]) for a in alerts(db) if a["kind"].startswith("burn")]
    assert burn == [("burn_page", "suppressed", "inline")]
    assert len(smtp.mails) == 1


def test_burn_rate_alerts_one_per_episode_saying_which_windows_fired(sensor, db, slack_api, smtp, monkeypatch):
    monkeypatch.setenv("ALERT_BURN_RATE_MESSAGES", "separate")
    h = [period("hour", k) for k in range(6)]
    rows = [
        # an episode: page (1h>=14.4) for two hours, then ticket: one page message
        fresh(Row(PG, "availability", "hour", h[3], 97.0, 100, burn_alert="page",
                  burn_alert_windows="1h>=14.4", burn_rates=(30.0, 8.0, 1.5))),
        fresh(Row(PG, "availability", "hour", h[2], 98.0, 100, burn_alert="page",
                  burn_alert_windows="6h&1h>=6", burn_rates=(20.0, 9.0, 1.6))),
        fresh(Row(PG, "availability", "hour", h[1], 99.95, 100, burn_alert="ticket",
                  burn_alert_windows="3d&6h>=1", burn_rates=(0.5, 4.0, 1.7))),
        # a ticket on its own
        fresh(Row(VAL, "error_rate", "hour", h[1], 0.4, 100, burn_alert="ticket",
                  burn_alert_windows="3d&6h>=1", burn_rates=(0.8, 1.2, 1.1))),
        # a page in a quiet hour: 3 rows cannot page
        fresh(Row(AUD, "availability", "hour", h[1], 66.7, 3, burn_alert="page",
                  burn_alert_windows="1h>=14.4", burn_rates=(66.6, 5.0, 1.0))),
        # a page from a backfill
        Row(AUD, "error_rate", "hour", period("hour", 100), 50.0, 100, burn_alert="page",
            burn_alert_windows="1h>=14.4", burn_rates=(25.0, 5.0, 1.0)),
    ]
    materialize(db, sensor.instance, rows)
    sensor.tick()

    burn = [(a["key"].split("|")[0], a["kind"], a["state"], a["suppressed_reason"])
            for a in alerts(db) if a["kind"].startswith("burn")]
    assert sorted(burn) == sorted([
        (AUD, "burn_page", "suppressed", "backfill"),
        (PG, "burn_page", "sent", None),
        (PG, "burn_page", "suppressed", "continuing"),
        (PG, "burn_ticket", "suppressed", "continuing"),
        (VAL, "burn_ticket", "sent", None),
    ])
    burn_texts = [t for t in slack_api.texts() if "burning" in t]
    assert len(burn_texts) == 2
    page_message = next(m for m in slack_api.messages if m["text"].startswith(
        "[FIRING] SLO provenance_generation / availability burning"))
    assert page_message["blocks"][0]["text"]["text"] == (
        "[FIRING] SLO provenance_generation / availability burning error budget")
    page = page_message["text"]
    assert "(page: 1h&gt;=14.4)" in page
    assert "the 1-hour window burns the error budget at &gt;= 14.4x (fast burn)" in page
    assert "burn rates 1h 30x, 6h 8x, 3d 1.5x" in page
    ticket = next(t for t in burn_texts if t.startswith("[FIRING] SLO validation"))
    assert "window pair 3d&amp;6h&gt;=1" in ticket
    assert any(s.endswith("(ticket: 3d&6h>=1)") for s in smtp.subjects())
