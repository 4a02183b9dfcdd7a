"""Warehouse maintenance in Dagster: monthly partitions ahead and raw-data retention, daily."""
