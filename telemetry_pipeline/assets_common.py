"""Conventions every asset of the project shares (owners, kinds, retry)."""

from __future__ import annotations

from dagster import Backoff, RetryPolicy

OWNERS = ["team:data-platform"]
KINDS = {"postgres"}
#: Transient database trouble (failover, restart) should not fail a scheduled partition.
RETRY = RetryPolicy(max_retries=2, delay=10, backoff=Backoff.EXPONENTIAL)
