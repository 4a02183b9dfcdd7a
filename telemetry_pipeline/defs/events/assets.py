"""raw_events: the telemetry_events rows of one UTC hour, as a partitioned asset.

Events are written by ingestion (emit, collector, ingest, or a workflow's own SQL); this asset
does not copy them. Materialising a partition records what the hour holds (counts by event type
and status), which makes the hour visible, plottable and a dependency the KPI assets can follow.
"""


from collections import defaultdict

from dagster import AssetExecutionContext, BackfillPolicy, MaterializeResult, asset

from telemetry_pipeline.core.granularity import hourly_partitions, partition_key_for
from telemetry_pipeline.core.warehouse import WarehouseResource
from telemetry_pipeline.defs.assets_common import KINDS, OWNERS, RETRY
from telemetry_pipeline.defs.partition_metadata import add_metadata_by_partition

_COUNTS_SQL = """
    select date_trunc('hour', event_timestamp, 'UTC') as hour, event_type,
           coalesce(m_status, '(none)') as status, count(*)
    from public.telemetry_events
    where event_timestamp >= %s and event_timestamp < %s
    group by 1, 2, 3
"""


@asset(
    name="raw_events",
    partitions_def=hourly_partitions(),
    backfill_policy=BackfillPolicy.single_run(),
    group_name="telemetry",
    kinds=KINDS,
    owners=OWNERS,
    retry_policy=RETRY,
    description=(
        "Telemetry events (table public.telemetry_events) whose event_timestamp lies in the UTC hour. "
        "Written by `telemetry-pipeline emit/ingest`, the collector or workflows' SQL; "
        "materialising records counts by event type and status."
    ),
)
def raw_events(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    window = context.partition_time_window
    per_hour: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    with warehouse.connect() as conn:
        for hour, event_type, status, n in conn.execute(_COUNTS_SQL, (window.start, window.end)):
            counts = per_hour[partition_key_for(hour, "hour")]
            counts["events"] += n
            counts[f"type:{event_type}"] += n
            counts[f"status:{status}"] += n
    targeted = context.partition_keys
    add_metadata_by_partition(context, {key: {"events": 0, **per_hour.get(key, {})} for key in targeted})
    total = sum(c["events"] for c in per_hour.values())
    context.log.info("raw_events: %d events in %d of %d hours", total, len(per_hour), len(targeted))
    return MaterializeResult(metadata={"window_events": total, "hours_with_events": len(per_hour)})
