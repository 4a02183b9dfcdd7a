"""Telemetry -> kpi_aggregations -> slo_status through Dagster runs -> sensor -> Slack and email.

The only hand-made input is telemetry events; KPIs, SLO rows and burn alerts are computed by the
project's assets in single-run backfills, and the expected messages are derived by hand:
hour H-1 has 20 validations of which 4 errored (tag `<!channel>`):
  availability = 100 * (1 - 4/20) = 80 %    (target >= 99.9)  -> violation
  failure rate = 100 * 4/20       = 20 %    (target < 0.5)    -> violation
  1 h burn rates: 0.2 / 0.001 = 200x and 0.2 / 0.005 = 40x (>= 14.4) -> page '1h>=14.4', named
  in each violation message (the default "inline" burn-rate mode sends nothing more)
hour H-3 has 20 successful validations (met, no alert); a day ten days back with the same
errors is a backfill: recorded suppressed, never sent.
"""

from __future__ import annotations

from datetime import timedelta

from psycopg.types.json import Jsonb

from telemetry_pipeline.core.granularity import partition_key_for
from telemetry_pipeline.core.slos.config import load_slos
from telemetry_pipeline.defs.kpis.assets import kpi_aggregations_daily, kpi_aggregations_hourly
from telemetry_pipeline.defs.slos.assets import build_slo_asset
from telemetry_pipeline_tests.alerting.slo_rows import alerts, period
from telemetry_pipeline_tests.dagster_run import run_partitions


def _validations(conn, start, n_ok: int, n_error: int) -> None:
    rows = [("ok-tag", "success")] * n_ok + [("<!channel>", "error")] * n_error
    for i, (tag, status) in enumerate(rows):
        conn.execute(
            "insert into public.telemetry_events (event_type, event_timestamp, tag, metadata) "
            "values ('provenance.validation', %s, %s, %s)",
            (start + timedelta(minutes=2 * i), tag, Jsonb({"status": status, "duration_ms": 1000})),
        )


def test_kpis_to_slo_status_to_alerts(sensor, db, warehouse, slack_api, smtp):
    h1, h3, h5 = period("hour", 1), period("hour", 3), period("hour", 5)
    old_day = period("day", 10)
    _validations(db, h3, 20, 0)
    _validations(db, h1, 16, 4)
    _validations(db, old_day + timedelta(hours=3), 16, 4)

    catalog = load_slos()
    slo_hourly, slo_daily = build_slo_asset("hour", catalog), build_slo_asset("day", catalog)
    first, last = partition_key_for(h5, "hour"), partition_key_for(h1, "hour")
    assert run_partitions([kpi_aggregations_hourly, slo_hourly], warehouse, sensor.instance, first, last).success
    day_key = partition_key_for(old_day, "day")
    assert run_partitions([kpi_aggregations_daily, slo_daily], warehouse, sensor.instance, day_key).success

    sensor.tick()
    sensor.tick()

    texts = sorted(t.split(":")[0] for t in slack_api.texts())
    assert texts == [
        "[FIRING] SLO validation / availability violated",
        "[FIRING] SLO validation / error_rate violated",
    ]
    by_text = {m["text"].split(":")[0]: m for m in slack_api.messages}
    availability = by_text["[FIRING] SLO validation / availability violated"]
    assert "80 % against a target of ≥ 99.9 %" in availability["text"]
    fields = [f["text"] for f in availability["blocks"][2]["fields"]]
    assert "*Sample size*\n20" in fields
    burn = next(f for f in fields if f.startswith("*Burn rate*"))
    assert "page: the 1-hour window burns" in burn and "window pair 1h&gt;=14.4; burn rates 1h 200x" in burn
    assert "&lt;!channel&gt;" in str(availability["blocks"]) and "<!channel>" not in str(availability)
    assert len(smtp.mails) == 2

    recorded = {(a["key"].split("|")[1], a["key"].split("|")[2], a["kind"], a["state"]) for a in alerts(db)}
    assert recorded == {
        ("availability", "hour", "violation", "sent"), ("error_rate", "hour", "violation", "sent"),
        ("availability", "hour", "burn_page", "suppressed"), ("error_rate", "hour", "burn_page", "suppressed"),
        ("availability", "day", "violation", "suppressed"), ("error_rate", "day", "violation", "suppressed"),
    }
