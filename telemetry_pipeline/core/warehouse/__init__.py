"""The PostgreSQL warehouse: where it is (embedded or by URL), how to connect, how to migrate."""

from telemetry_pipeline.core.warehouse.resource import Warehouse, configured, libpq_url, one

__all__ = ["Warehouse", "configured", "libpq_url", "one"]
