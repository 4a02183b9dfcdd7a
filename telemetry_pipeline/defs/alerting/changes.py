"""The sensor's cursor: event-log storage ids of slo_status materialisations.

`@asset_sensor` only sees an asset's latest materialisation; a single-run backfill, or several
scheduled partitions between two ticks, materialise many partitions at once. So the cursor is
the highest storage id processed, over ASSET_MATERIALIZATION events of the three slo_status
assets, read in pages in ascending storage-id order (public `fetch_materializations`, which
works on SQLite and PostgreSQL instance storage alike). A page yields only the distinct periods
it names, so memory is bounded by the page size however long the backfill was.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

from telemetry_pipeline.core.granularity import Granularity

#: granularity -> slo_status asset key
SLO_STATUS_KEYS: dict[str, AssetKey] = {g.value: AssetKey(g.slo_asset) for g in Granularity}


@dataclass(frozen=True)
class ChangedPeriods:
    """The periods of one granularity named by one page of materialisation events."""

    granularity: str
    period_starts: list[datetime]
    unreadable: int = 0  # events without a parsable partition key


def parse_cursor(raw: str | None) -> int:
    """The stored cursor as a storage id; none (first tick, restart) means from the beginning."""
    if not raw:
        return 0
    try:
        return max(int(raw), 0)
    except ValueError:
        raise ValueError(f"slo_alert_sensor cursor {raw!r} is not a storage id; reset the cursor") from None


def period_start_of_key(partition_key: str, granularity: str) -> datetime | None:
    """Period start (UTC) of a slo_status partition key, None if it is not one."""
    try:
        return datetime.strptime(partition_key, Granularity(granularity).key_format).replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None


class MaterializationScan:
    """Pages of changed periods after a storage id; `next_cursor` is valid once iterated.

    Each asset key is read up to `max_pages` pages per scan. If a key has more, the cursor
    stops just after the last event read of that key, so the rest is read next tick (events of
    other keys beyond that point are read again then, which the idempotent outbox absorbs).
    """

    def __init__(
        self, instance: DagsterInstance, after_storage_id: int, *, page_size: int = 200, max_pages: int = 250
    ) -> None:
        self.instance = instance
        self.after = after_storage_id
        self.page_size = page_size
        self.max_pages = max_pages
        self.events = 0
        self._highest = after_storage_id
        self._incomplete_at: list[int] = []

    @property
    def next_cursor(self) -> int:
        return min(self._incomplete_at) if self._incomplete_at else self._highest

    def pages(self) -> Iterator[ChangedPeriods]:
        for granularity, key in SLO_STATUS_KEYS.items():
            after = self.after
            for page_number in range(self.max_pages):
                result = self.instance.fetch_materializations(
                    AssetRecordsFilter(asset_key=key, after_storage_id=after),
                    limit=self.page_size,
                    ascending=True,
                )
                records = result.records
                if not records:
                    break
                starts: set[datetime] = set()
                unreadable = 0
                for record in records:
                    start = period_start_of_key(record.partition_key or "", granularity)
                    if start is None:
                        unreadable += 1
                    else:
                        starts.add(start)
                after = records[-1].storage_id
                self._highest = max(self._highest, after)
                self.events += len(records)
                yield ChangedPeriods(granularity, sorted(starts), unreadable)
                if len(records) < self.page_size:
                    break
                if page_number == self.max_pages - 1:
                    self._incomplete_at.append(after)
