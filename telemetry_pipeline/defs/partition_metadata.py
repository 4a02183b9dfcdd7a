"""Per-partition materialisation metadata for single-run backfills, in linear time.

Dagster's public `context.add_asset_metadata(md, partition_key=k)` re-lists the run's whole
partition range and copies the accumulated dict on every call: quadratic, minutes for a year of
hourly partitions. Dagster is pinned (pyproject), so we build the accumulator in one step and
fall back to the public call if its internals ever move. A test pins the result: each partition's
materialisation event carries its own values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import AssetExecutionContext


def add_metadata_by_partition(
    context: AssetExecutionContext, by_partition: Mapping[str, Mapping[str, Any]]
) -> None:
    """Attach `by_partition[key]` to the materialisation event of each partition key."""
    if not by_partition:
        return
    asset_key = context.assets_def.key
    try:
        from dagster._core.execution.context.metadata_logging import (
            AssetMetadataHandle,
            OutputMetadataAccumulator,
        )

        step = context.op_execution_context._step_execution_context  # noqa: SLF001
        current = step._metadata_accumulator  # noqa: SLF001
        targeted = set(context.partition_keys)
        merged = dict(current.per_output_metadata)
        for key, metadata in by_partition.items():
            if key not in targeted:
                raise ValueError(f"partition {key!r} is not targeted by this run")
            handle = AssetMetadataHandle(asset_key=asset_key, partition_key=key)
            merged[handle] = {**merged.get(handle, {}), **metadata}
        step._metadata_accumulator = OutputMetadataAccumulator(per_output_metadata=merged)  # noqa: SLF001
    except (ImportError, AttributeError):
        for key, metadata in by_partition.items():
            context.add_asset_metadata(dict(metadata), partition_key=key)
