"""Links from the dashboard into the Dagster UI, to the partition a number came from."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.granularity import partition_key_for
from telemetry_pipeline.defs.kpis.assets import GRANULARITIES, kpi_asset_key


def slo_asset_key(granularity: str) -> str:
    """slo_status_{hourly,daily,weekly} (SPEC section 8)."""
    return f"slo_status_{GRANULARITIES[granularity]}"


def partition_url(asset_key: str, period_start: datetime, granularity: str) -> str:
    """The asset's page in the Dagster UI opened on the partition of `period_start`."""
    key = partition_key_for(period_start, granularity)
    return f"{settings.dagster_webserver_url()}/assets/{quote(asset_key)}?partition={quote(key, safe='')}"


def partition_links(period_start: datetime, granularity: str) -> dict[str, str]:
    """Partition key plus links to the KPI and SLO partitions of one period."""
    return {
        "partition": partition_key_for(period_start, granularity),
        "slo_status_url": partition_url(slo_asset_key(granularity), period_start, granularity),
        "kpi_url": partition_url(kpi_asset_key(granularity).to_user_string(), period_start, granularity),
    }
