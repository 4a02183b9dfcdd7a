"""The KPI catalog checks its own invariants when a metric is defined, not when an asset runs."""

from __future__ import annotations

import re

import pytest

from telemetry_pipeline.core.kpis.catalog import CONDITIONS, GROUP_COLUMNS, METRICS, Agg, Metric, Source
from telemetry_pipeline.core.kpis.sql import sample_condition


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"agg": Agg.RATE}, "a rate needs `where`"),
        ({"agg": Agg.RATE, "where": "sha256_verified"}, "a rate needs `where`"),  # an audits-only condition
        ({"agg": Agg.P95}, "p95 needs `column`"),
        ({"agg": Agg.COUNT, "where": "success"}, "`where` applies to rates only"),
        ({"agg": Agg.COUNT, "column": "duration_ms"}, "`column` applies to avg and p95 only"),
    ],
)
def test_a_malformed_metric_fails_when_defined_naming_it(kwargs, message):
    fields = {"name": "broken_metric", "source": Source.EVENTS, "unit": "percent", "group": "operational",
              "description": "d", **kwargs}
    with pytest.raises(ValueError, match=message) as raised:
        Metric(**fields)
    assert "'broken_metric'" in str(raised.value)


def test_the_shipped_catalog_is_valid_and_typed():
    rates = [m for m in METRICS if m.agg is Agg.RATE]
    assert all(m.condition for m in rates)
    assert {m.value_column for m in METRICS if m.agg in (Agg.AVG, Agg.P95)} == {"duration_ms", "artifact_size_bytes"}


def test_grouped_sources_filter_on_their_group_columns_only():
    # The one-period statement of a source in GROUP_COLUMNS evaluates the samples and conditions
    # on group rows, which carry nothing but those columns (and the counts and sums).
    words = re.compile(r"'[^']*'|\b([a-z_][a-z0-9_]*)\b")
    keywords = {"and", "or", "not", "is", "in", "null", "distinct", "from", "true", "false"}
    for source, columns in GROUP_COLUMNS.items():
        texts = list(CONDITIONS[source].values())
        texts += [sample_condition(m, value_known=False).as_string(None) for m in METRICS if m.source is source]
        read = {w for text in texts for w in words.findall(text) if w} - keywords
        assert read and read <= set(columns), (source, read - set(columns))
