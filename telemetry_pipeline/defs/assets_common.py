"""Conventions every asset of the project shares (owners, kinds, retry, granularity tag)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dagster import Backoff, BetaWarning, RetryPolicy

from telemetry_pipeline.core.granularity import Granularity

OWNERS = ["team:data-platform"]
KINDS = {"postgres"}
#: Transient database trouble (failover, restart) should not fail a scheduled partition.
RETRY = RetryPolicy(max_retries=2, delay=10, backoff=Backoff.EXPONENTIAL)
#: Every partitioned asset says its granularity; each granularity's job selects by it
#: (defs/cadence/jobs.py), so adding an asset to a stage needs no list to be edited elsewhere.
GRANULARITY_TAG = "telemetry/granularity"


def granularity_tags(granularity: Granularity) -> dict[str, str]:
    return {GRANULARITY_TAG: granularity.value}


def lazy_attributes(module: str, builders: Mapping[str, Callable[[], Any]]) -> Callable[[str], Any]:
    """A module `__getattr__` building the named definitions on first access.

    Assets need the configured partitions, which are read when the code location loads, not
    when a module is imported; `from ... import raw_events` (tests, benchmarks) still works.
    """

    def __getattr__(name: str) -> Any:
        if name in builders:
            return builders[name]()
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__


@contextmanager
def beta_parameters() -> Iterator[None]:
    """Build definitions that use a beta parameter on purpose without Dagster's warning.

    We use two (single-run backfill policies, a partitioned observable source); Dagster warns
    about them on every process start, burying the logs people read. The filter is scoped to
    the block, so no other warning of the process is hidden.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".*(`backfill_policy`|`observable_source_asset`).*", category=BetaWarning
        )
        yield
