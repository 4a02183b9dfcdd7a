"""The PostgreSQL warehouse: where it is (embedded or by URL), how to connect, how to migrate."""

from telemetry_pipeline.core.warehouse.resource import WarehouseResource, warehouse_from_env

__all__ = ["WarehouseResource", "warehouse_from_env"]
