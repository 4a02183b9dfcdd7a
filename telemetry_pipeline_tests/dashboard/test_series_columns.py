"""The typed copies behind the series index (sql/0040, sql/0041) never fail a KPI write, and what
they cannot read stays out of the API's JSON instead of breaking it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from telemetry_pipeline.apps.dashboard.app import create_app
from telemetry_pipeline.apps.dashboard.server import running
from telemetry_pipeline.defs.resources import WarehouseResource
from telemetry_pipeline_tests.dashboard.conftest import get

T0 = datetime(2025, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)

# (metric, value as SQL text, hour offset, metadata) -> (sample_size, value_float8) expected
ROWS = [
    ("event_count", "5", 0, {"sample_size": 7, "unit": "count"}, (7, 5.0)),
    ("event_count", "NaN", 1, {"sample_size": 7, "unit": "count"}, (7, None)),
    ("event_count", "1e400", 2, {"sample_size": 7, "unit": "count"}, (7, None)),
    ("error_rate", "2.5", 0, {"sample_size": "7", "unit": "percent"}, (None, 2.5)),  # a string
    ("error_rate", "1", 1, {"sample_size": 3.5, "unit": "percent"}, (None, 1.0)),  # not an integer
    ("error_rate", "0.5", 2, {"unit": "percent"}, (None, 0.5)),  # missing
]


def test_generated_columns_accept_anything_and_the_api_skips_what_is_not_a_number(
    warehouse: WarehouseResource,
) -> None:
    with warehouse.connect() as conn:
        for metric, value, offset, metadata, _ in ROWS:
            conn.execute(
                "insert into public.kpi_aggregations (metric_name, metric_value, aggregation_period,"
                " period_start, period_end, metadata) values (%s, %s::numeric, 'hour', %s, %s, %s)",
                (metric, value, T0 + offset * HOUR, T0 + (offset + 1) * HOUR, json.dumps(metadata)),
            )
        stored = conn.execute(
            "select sample_size, value_float8 from public.kpi_aggregations order by metric_name desc, period_start"
        ).fetchall()
    assert stored == [expected for *_, expected in ROWS]

    with running(create_app(warehouse.url(), clock=lambda: T0 + 3 * HOUR)) as base:
        status, body = get(base, "/api/kpis?range=24h&granularity=hour&metric=event_count&metric=error_rate")
    assert status == 200
    points = {m["name"]: m["points"] for m in body["metrics"]}
    assert points["event_count"] == {"period_start": ["2025-03-01T00:00:00Z"], "value": [5.0], "sample_size": [7]}
    assert points["error_rate"]["value"] == [2.5, 1.0, 0.5]
    assert points["error_rate"]["sample_size"] == [None, None, None]
