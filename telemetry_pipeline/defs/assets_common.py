"""Conventions every asset of the project shares (owners, kinds, retry)."""

from __future__ import annotations

import warnings

from dagster import Backoff, BetaWarning, RetryPolicy

# We use two beta parameters on purpose (single-run backfill policies, a partitioned observable
# source); Dagster warns about them on every process start, burying the logs people read.
warnings.filterwarnings("ignore", message=r".*(`backfill_policy`|`observable_source_asset`).*", category=BetaWarning)

OWNERS = ["team:data-platform"]
KINDS = {"postgres"}
#: Transient database trouble (failover, restart) should not fail a scheduled partition.
RETRY = RetryPolicy(max_retries=2, delay=10, backoff=Backoff.EXPONENTIAL)
