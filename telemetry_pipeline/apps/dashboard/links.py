"""Links from the dashboard into the Dagster UI, to the partition a number came from."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.granularity import Granularity, partition_key_for


def partition_url(asset_key: str, period_start: datetime, granularity: str) -> str:
    """The asset's page in the Dagster UI opened on the partition of `period_start`."""
    key = partition_key_for(period_start, granularity)
    return f"{settings.dagster_webserver_url()}/assets/{quote(asset_key)}?partition={quote(key, safe='')}"


def partition_links(period_start: datetime, granularity: str) -> dict[str, str]:
    """Partition key plus links to the KPI and SLO partitions of one period."""
    g = Granularity.parse(granularity)
    return {
        "partition": g.partition_key(period_start),
        "slo_status_url": partition_url(g.slo_asset, period_start, g),
        "kpi_url": partition_url(g.kpi_asset, period_start, g),
    }
