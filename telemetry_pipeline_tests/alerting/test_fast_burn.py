"""Fast burn from the raw rows of the open period, episodes, closed-hour violations inside them.

The clock is a parameter: every evaluation is `record_episodes(..., now=T)` or
`run_fast_burn_tick(..., now=T)` with T chosen by the test; rows are written around T. The
tests' catalog: validation availability >= 99.9 (allowed bad fraction 1/1000), error_rate <
0.5 (1/200), min_sample_size 10; pairs 1h&5m >= 14.4 and 6h&30m >= 6 (burn_windows.yaml).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest

from telemetry_pipeline.core.alerting.episodes import record_episodes
from telemetry_pipeline.core.alerting.rules import record_alerts
from telemetry_pipeline.core.slos.budgets import FAST_BURN
from telemetry_pipeline.core.slos.config import load_slos
from telemetry_pipeline.core.slos.fast_burn import SliBurn, WindowBurn, evaluate
from telemetry_pipeline.defs.alerting.fast_burn import run_fast_burn_tick
from telemetry_pipeline.defs.alerting.sensor import channels_of
from telemetry_pipeline_tests.alerting.conftest import email_resource, slack_resource
from telemetry_pipeline_tests.alerting.slo_rows import Row, upsert

T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
VAL = "provenance.validation"
PAIR_1H, PAIR_6H = FAST_BURN.pairs
LOG = logging.getLogger("test_fast_burn")


def _rows(conn, start: datetime, end: datetime, step_s: int, status: str, event_type: str = VAL) -> None:
    """One event every `step_s` seconds in [start, end), all with `status`."""
    conn.execute(
        """insert into public.telemetry_events (event_type, event_timestamp, tag, metadata)
           select %s, ts, 'v1', jsonb_build_object('status', %s::text, 'duration_ms', 1000)
           from generate_series(%s::timestamptz, %s::timestamptz - interval '1 microsecond',
                                make_interval(secs => %s)) ts""",
        (event_type, status, start, end, step_s),
    )


def _burn(name: str, sli: str, burns: list[SliBurn]) -> SliBurn:
    return next(b for b in burns if b.slo.name == name and b.sli.name == sli)


def _alerts(conn) -> list[tuple]:
    return conn.execute(
        "select kind, state, suppressed_reason, slo_name, sli from public.slo_alerts order by id"
    ).fetchall()


def test_windows_count_rows_of_the_half_open_range_ending_now(db):
    """(now - 5m, now]: a row exactly 5 min old is out, one at now is in, one after now is out."""
    now = T0
    for ts, status in [(now - timedelta(minutes=5), "error"), (now, "error"),
                       (now - timedelta(minutes=4), "success"), (now + timedelta(seconds=1), "error"),
                       (now - timedelta(minutes=29), "cancelled"), (now - timedelta(hours=5), "failure")]:
        db.execute("insert into public.telemetry_events (event_type, event_timestamp, metadata) "
                   "values (%s, %s, jsonb_build_object('status', %s::text))", (VAL, ts, status))
    burns = evaluate(db, load_slos(), now)
    avail, err = _burn("validation", "availability", burns), _burn("validation", "error_rate", burns)
    counts = {w: (avail.windows[w].rows, avail.windows[w].bad) for w in FAST_BURN.windows}
    # cancelled steps are outside every sample (SPEC section 3); failure is bad for error_rate only
    assert counts == {"5m": (2, 1), "30m": (3, 2), "1h": (3, 2), "6h": (4, 2)}
    assert (err.windows["6h"].rows, err.windows["6h"].bad) == (4, 3)
    assert avail.windows["5m"].rate == pytest.approx(500.0)  # 1/2 bad / (1/1000 allowed)
    # the other SLOs see no rows: no rate, never firing
    assert _burn("audit_observer", "availability", burns).windows["6h"].rate is None


def _sli_burn(counts: dict[str, tuple[int, int]]) -> SliBurn:
    catalog = load_slos()
    slo = catalog.get("validation")
    sli = slo.sli("availability")
    return SliBurn(slo, sli, {w: WindowBurn(w, n, bad, Fraction(1, 1000)) for w, (n, bad) in counts.items()})


@pytest.mark.parametrize(
    ("long_bad", "short_bad", "fires"),
    [(72, 500, True),    # long window exactly 14.4x (72/5000/0.001), short far over
     (71, 500, False),   # 14.2x
     (72, 7, False),     # short window 7/500/0.001 = 14.0x
     (72, 8, True)],     # short window 16x
)
def test_first_pair_threshold_edges(long_bad, short_bad, fires):
    burn = _sli_burn({"5m": (500, short_bad), "30m": (500, short_bad), "1h": (5000, long_bad), "6h": (5000, long_bad)})
    assert burn.fires(PAIR_1H) is fires


@pytest.mark.parametrize(("long_bad", "fires"), [(36, True), (35, False)])  # 6000 rows: 6x and 5.83x
def test_second_pair_threshold_edge(long_bad, fires):
    burn = _sli_burn({"5m": (100, 0), "30m": (600, 60), "1h": (1200, 60), "6h": (6000, long_bad)})
    assert burn.fires(PAIR_1H) is False  # 1h: 50x, but 5m: 0x
    assert burn.fires(PAIR_6H) is fires
    assert (burn.firing_pair() is PAIR_6H) is fires


@pytest.mark.parametrize(("errors", "pages"), [(9, False), (10, True)])
def test_min_sample_size_guard_in_the_long_window(db, errors, pages):
    """A full outage with fewer rows than min_sample_size (10) in the long window never pages."""
    _rows(db, T0 - timedelta(seconds=errors * 10), T0, 10, "error")
    now = T0 - timedelta(microseconds=1)
    report = record_episodes(db, load_slos(), now)
    assert _burn("validation", "availability", report.burns).windows["1h"].rows == errors
    assert sorted(report.opened) == (["validation/availability", "validation/error_rate"] if pages else [])


def _steady_outage(db) -> None:
    """A validation every 10 s for 6 h; a full outage from T0 to T0+20m; healthy again after."""
    _rows(db, T0 - timedelta(hours=6), T0, 10, "success")
    _rows(db, T0, T0 + timedelta(minutes=20), 10, "error")
    _rows(db, T0 + timedelta(minutes=20), T0 + timedelta(hours=1), 10, "success")


def test_outage_pages_once_per_sli_and_resolves_once(db, warehouse, slack_api, smtp):
    """Availability (allowed 0.1 %) pages after one minute, error_rate (0.5 %) after five.

    At T0+1m the last hour holds 7 errors (T0, T0+10s, ..., T0+60s) of 360 rows: 19.4x >= 14.4
    (at T0 it was 1 of 360: 2.8x). error_rate needs 14.4 * 0.5 % = 7.2 % of the hour bad: at
    T0+4m 25 of 360 (13.9x), at T0+5m 31 of 360 (17.2x).
    The last error is at T0+19m50s, so the 5-minute window holds one until T0+24m50s: the
    tick at T0+24m still fires, the one at T0+25m does not, and ten minutes later (T0+34m) the
    episode closes with one RESOLVED per SLI. Each tick opens a new connection, as a restarted
    daemon would; two ticks at the same instant change nothing.
    """
    _steady_outage(db)
    channels = channels_of(slack_resource(slack_api), email_resource(smtp))
    arrived: dict[int, list[str]] = {}
    for m in range(0, 45):
        before = len(slack_api.messages)
        run_fast_burn_tick(warehouse, channels, LOG, now=T0 + timedelta(minutes=m))
        run_fast_burn_tick(warehouse, channels, LOG, now=T0 + timedelta(minutes=m))  # a repeated tick
        new = [t.split(":")[0] for t in slack_api.texts()[before:]]
        if new:
            arrived[m] = new
    assert arrived == {
        1: ["[FIRING] SLO validation / availability burning error budget fast"],
        5: ["[FIRING] SLO validation / error_rate burning error budget fast"],
        34: ["[RESOLVED] SLO validation / availability fast burn over",
             "[RESOLVED] SLO validation / error_rate fast burn over"],
    }
    first = slack_api.messages[0]["text"]
    assert "Since 2026-03-04 10:01:00 UTC the 1h and the 5m windows" in first
    assert "(pair 1h&amp;5m&gt;=14.4)" in first  # Slack-escaped
    assert "availability was 98.056 % over the last 1h" in first  # 100 * (1 - 7/360)
    assert sorted(smtp.subjects()) == sorted(t for ts in arrived.values() for t in ts)
    episodes = db.execute(
        "select sli, started_at, last_firing_at, closed_at from public.slo_episodes order by sli"
    ).fetchall()
    assert episodes == [
        ("availability", T0 + timedelta(minutes=1), T0 + timedelta(minutes=24), T0 + timedelta(minutes=34)),
        ("error_rate", T0 + timedelta(minutes=5), T0 + timedelta(minutes=24), T0 + timedelta(minutes=34)),
    ]


def test_closed_hour_violation_inside_an_episode_is_recorded_not_sent(db):
    _steady_outage(db)
    catalog = load_slos()
    record_episodes(db, catalog, T0 + timedelta(minutes=5))
    # the hour of the outage closes and is evaluated while the episode is open: recorded, not sent
    evaluated = T0 + timedelta(hours=1, minutes=5)
    upsert(db, [Row("validation", "availability", "hour", T0, 66.7, 360, evaluated_at=evaluated),
                Row("validation", "availability", "hour", T0 + timedelta(hours=3), 90.0, 360,
                    evaluated_at=T0 + timedelta(hours=4, minutes=5))])
    record_alerts(db, catalog, "hour", [T0])
    # the episode closes at T0+34m; a violation of an hour after it pages as usual
    for m in range(6, 40):
        record_episodes(db, catalog, T0 + timedelta(minutes=m))
    record_alerts(db, catalog, "hour", [T0 + timedelta(hours=3)])
    assert _alerts(db) == [
        ("fast_burn", "pending", None, "validation", "availability"),
        ("fast_burn", "pending", None, "validation", "error_rate"),
        ("violation", "suppressed", "episode", "validation", "availability"),
        ("resolved", "pending", None, "validation", "availability"),
        ("resolved", "pending", None, "validation", "error_rate"),
        ("violation", "pending", None, "validation", "availability"),
    ]


def test_open_episode_survives_a_restart_and_closes_once(db, warehouse):
    """A new process (a restarted daemon) finds the open episode in the table: no second page."""
    _steady_outage(db)
    catalog = load_slos()
    assert record_episodes(db, catalog, T0 + timedelta(minutes=6)).opened == [
        "validation/availability", "validation/error_rate"]
    with warehouse.connect(autocommit=True) as fresh:  # the "restarted" evaluator
        reports = [record_episodes(fresh, catalog, T0 + timedelta(minutes=m)) for m in range(7, 40)]
    assert [r.opened for r in reports if r.opened] == []
    assert [(m + 7, r.closed) for m, r in enumerate(reports) if r.closed] == [
        (34, ["validation/availability", "validation/error_rate"])]
    kinds = [a[0] for a in _alerts(db)]
    assert kinds == ["fast_burn", "fast_burn", "resolved", "resolved"]


def test_scoped_slos_are_not_evaluated_from_the_raw_rows(db):
    """Fast burn is for global SLOs (SPEC section 11): a scoped copy would page the same rows again."""
    import dataclasses

    catalog = load_slos()
    validation = next(slo for slo in catalog if slo.name == "validation")
    scoped = dataclasses.replace(validation, name="validation_by_team", scope="team")
    with_scoped = dataclasses.replace(catalog, slos=(*catalog.slos, scoped))
    db.execute("insert into public.telemetry_events (event_type, event_timestamp, metadata) "
               "values (%s, %s, jsonb_build_object('status', 'error'))", (VAL, T0))
    names = {burn.slo.name for burn in evaluate(db, with_scoped, T0)}
    assert "validation" in names and "validation_by_team" not in names
