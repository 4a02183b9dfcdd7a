"""Maintenance windows: `slo silence` / `slo silences`, and no page during a window."""

from __future__ import annotations

from datetime import timedelta

from click.testing import CliRunner

from telemetry_pipeline.cli import cli
from telemetry_pipeline.core.alerting.episodes import record_episodes
from telemetry_pipeline.core.alerting.rules import record_alerts
from telemetry_pipeline.core.slos.config import load_slos
from telemetry_pipeline_tests.alerting.slo_rows import Row, upsert
from telemetry_pipeline_tests.alerting.test_fast_burn import T0, _alerts, _burn, _steady_outage


def _run(*args: str):
    return CliRunner().invoke(cli, ["slo", *args], catch_exceptions=False)


def test_silence_list_and_delete(db):
    result = _run("silence", "--slo", "validation", "--sli", "availability", "--from", "2026-03-04T09:55Z",
                  "--to", "+1h", "--reason", "database upgrade")
    assert result.exit_code == 0, result.output
    assert result.output == ("recorded maintenance window 1\tvalidation\tavailability\t2026-03-04T09:55:00Z\t"
                             "2026-03-04T10:55:00Z\tdatabase upgrade\n")
    listed = _run("silences", "--all")
    assert listed.output.splitlines() == [
        "id\tslo\tsli\tfrom\tto\treason",
        "1\tvalidation\tavailability\t2026-03-04T09:55:00Z\t2026-03-04T10:55:00Z\tdatabase upgrade",
    ]
    assert _run("silences").output == "no maintenance windows now or ahead (--all lists past ones)\n"
    assert _run("silences", "--delete", "1").output == "deleted maintenance window 1\n"
    missing = _run("silences", "--delete", "1")
    assert missing.exit_code == 1 and "no maintenance window with id 1" in missing.output


def test_silence_refuses_what_it_cannot_mean(db):
    cases = {
        ("--slo", "nope", "--from", "now", "--to", "+1h"): "--slo: unknown SLO 'nope'",
        ("--slo", "validation", "--sli", "latency", "--from", "now", "--to", "+1h"): "--sli: SLO 'validation' has no SLI 'latency'",
        ("--slo", "validation", "--from", "yesterday", "--to", "+1h"): "--from: 'yesterday' is not a time",
        ("--slo", "validation", "--from", "2026-03-04T10:00Z", "--to", "2026-03-04T09:00Z"): "--to must be after --from",
        ("--slo", "validation", "--from", "now", "--to", "+8d"): "a window is at most 7 days",
    }
    for args, message in cases.items():
        result = _run("silence", *args, "--reason", "x")
        assert result.exit_code == 1 and message in result.output, (args, result.output)
    assert db.execute("select count(*) from public.slo_maintenance_windows").fetchone() == (0,)


def test_no_page_during_a_window(db):
    """The outage of test_fast_burn (T0..T0+20m) inside a window of validation: no episode, no
    page; the closed hour overlapping it is recorded 'maintenance'. The same outage without the
    window pages (test_fast_burn), so the window is what keeps it quiet."""
    _steady_outage(db)
    assert _run("silence", "--slo", "validation", "--from", (T0 - timedelta(minutes=1)).isoformat(),
                "--to", "+25m", "--reason", "planned failover").exit_code == 0
    catalog = load_slos()
    reports = [record_episodes(db, catalog, T0 + timedelta(minutes=m)) for m in range(0, 90)]
    assert [r.opened for r in reports if r.opened] == []
    at_10 = _burn("validation", "availability", reports[10].burns)
    assert (at_10.windows["1h"].rows, at_10.windows["1h"].bad) == (293, 0)  # T0-49m50s..T0-1m10s every 10 s: healthy only
    upsert(db, [Row("validation", "availability", "hour", T0, 66.7, 360, evaluated_at=T0 + timedelta(hours=1, minutes=5)),
                Row("validation", "error_rate", "hour", T0, 33.3, 360, evaluated_at=T0 + timedelta(hours=1, minutes=5))])
    record_alerts(db, catalog, "hour", [T0])
    assert _alerts(db) == [("violation", "suppressed", "maintenance", "validation", "availability"),
                           ("violation", "suppressed", "maintenance", "validation", "error_rate")]


def test_a_window_over_an_outage_leaves_the_budget_unchanged(db, warehouse):
    """Days B..B+4, 1000 validations each; day B+2 had 10 % failures (100 bad rows).

    Without a window, day B+4's 30-day budget of error_rate (< 0.5 %: 0.005 * 5000 = 25 rows
    allowed) is 100 * (1 - 100 / 25) = -300. With a window over day B+2 that row keeps its
    value and sample with excluded = true, and the budget counts only the other four clean days:
    100. The other SLO (no window) is unaffected.
    """
    from datetime import UTC, datetime

    from telemetry_pipeline.core.slos.sql import replace_window
    from telemetry_pipeline_tests.slos.kpi_rows import dec, put_kpis, status

    b = datetime(2025, 3, 10, tzinfo=UTC)
    days = [b + timedelta(days=i) for i in range(5)]
    kpis = [("validation_failure_rate", d, "10" if i == 2 else "0", 1000) for i, d in enumerate(days)]
    kpis += [("provenance_failure_rate", d, "10" if i == 2 else "0", 1000) for i, d in enumerate(days)]
    put_kpis(db, "day", kpis)
    catalog = load_slos()

    def budget_at_day_4() -> tuple:
        with warehouse.connect() as conn:
            replace_window(conn, catalog, "day", b, b + timedelta(days=5))
            rows = status(conn, "day")
        return (rows[("validation", "error_rate", days[4])]["error_budget_remaining"],
                rows[("provenance_generation", "error_rate", days[4])]["error_budget_remaining"])

    assert budget_at_day_4() == (-300, -100)  # provenance: < 1 % allows 50 rows: 100 * (1 - 100/50)
    assert _run("silence", "--slo", "validation", "--from", days[2].isoformat(), "--to", "+1d",
                "--reason", "planned migration").exit_code == 0
    assert budget_at_day_4() == (100, -100)
    excluded = db.execute(
        "select period_start, value, sample_size, excluded from public.slo_status "
        "where slo_name = 'validation' and sli = 'error_rate' and excluded").fetchall()
    assert excluded == [(days[2], dec("10"), 1000, True)]
