"""NO DATA: one alert when a source that had rows in the last 7 days goes silent for
no_data_after (2h, the default), one resolve when rows return; old silence never alerts."""

from __future__ import annotations

from datetime import timedelta

from telemetry_pipeline.core.alerting.no_data import record_no_data
from telemetry_pipeline.core.slos.config import load_slos
from telemetry_pipeline.defs.alerting.fast_burn import run_fast_burn_tick
from telemetry_pipeline.defs.alerting.sensor import channels_of
from telemetry_pipeline_tests.alerting.conftest import email_resource, slack_resource
from telemetry_pipeline_tests.alerting.test_fast_burn import LOG, T0, VAL, _rows


def test_no_data_raises_once_and_resolves_once(db, warehouse, slack_api, smtp):
    _rows(db, T0 - timedelta(hours=3), T0 - timedelta(hours=2), 60, "success")  # last row T0-2h-1m
    _rows(db, T0 - timedelta(days=8), T0 - timedelta(days=8) + timedelta(minutes=5), 60, "success",
          event_type="provenance.generation")  # silent for 8 days: history, never alerted
    _rows(db, T0 + timedelta(minutes=30), T0 + timedelta(minutes=31), 60, "success")  # rows return
    channels = channels_of(slack_resource(slack_api), email_resource(smtp))
    texts: dict[int, list[str]] = {}
    for m in (-2, -1, 0, 1, 10, 29, 30, 31):
        before = len(slack_api.messages)
        run_fast_burn_tick(warehouse, channels, LOG, now=T0 + timedelta(minutes=m))
        if new := [t.split(":")[0] for t in slack_api.texts()[before:]]:
            texts[m] = new
    # last row at T0-2h-1m: silent for 2 h at T0-1m; the row at T0+30m ends it
    assert texts == {
        -1: ["[FIRING] SLO validation"],
        30: ["[RESOLVED] SLO validation"],
    }
    assert slack_api.messages[0]["text"].startswith(
        "[FIRING] SLO validation: NO DATA from events:" + VAL + ": events:" + VAL
        + " has sent no row since 2026-03-04 07:59:00 UTC (no_data_after 2h)")
    assert "has rows again (newest 2026-03-04 10:30:00 UTC)" in slack_api.messages[1]["text"]


def test_no_data_respects_each_slo_setting(db, tmp_path, monkeypatch):
    """no_data_after: 30m in slos.yaml raises after 30 minutes; the audit source is checked too."""
    catalog_file = tmp_path / "slos.yaml"
    catalog_file.write_text(
        "version: 1\nslos:\n  - name: audit_observer\n    description: audits\n    no_data_after: 30m\n"
        "    slis:\n      - {name: availability, metric: audit_availability, comparator: '>=', target: 99.5}\n"
    )
    catalog = load_slos(catalog_file)
    db.execute("""insert into public.slsa_audit_metrics (audited_at, status, sha256_verified,
                  predicate_type_verified, supabase_synced) values (%s, 'success', true, true, true)""",
               (T0 - timedelta(minutes=30),))
    assert record_no_data(db, catalog, T0 - timedelta(minutes=1)).raised == []
    assert record_no_data(db, catalog, T0).raised == ["audit_observer/audits"]
    assert record_no_data(db, catalog, T0 + timedelta(minutes=5)).raised == []
    assert db.execute("select kind, state, sli from public.slo_alerts").fetchall() == [("no_data", "pending", "audits")]
