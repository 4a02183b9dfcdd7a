"""Run assets through Dagster the way the product does: one run per partition or per range."""

from __future__ import annotations

from collections.abc import Sequence

from dagster import AssetsDefinition, DagsterInstance, ExecuteInProcessResult, materialize
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from telemetry_pipeline.defs.resources import WarehouseResource


def run_partitions(
    assets: Sequence[AssetsDefinition],
    warehouse: WarehouseResource,
    instance: DagsterInstance,
    first: str,
    last: str | None = None,
) -> ExecuteInProcessResult:
    """Materialise `assets` for partition `first`, or for the range first..last in a single run."""
    if last is None or last == first:
        return materialize(assets, partition_key=first, resources={"warehouse": warehouse}, instance=instance)
    return materialize(
        assets,
        resources={"warehouse": warehouse},
        instance=instance,
        tags={ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last},
    )
