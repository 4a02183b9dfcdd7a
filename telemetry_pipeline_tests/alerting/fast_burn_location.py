"""A code location holding only slo_fast_burn_sensor, for test_fast_burn_ticks.py.

Its resources are the product's defaults: the warehouse of TELEMETRY_DATABASE_URL (the test
database, set by the warehouse_url fixture) and unconfigured Slack and email (channels off).
"""

from dagster import Definitions

from telemetry_pipeline.defs.alerting.email import EmailAlertResource
from telemetry_pipeline.defs.alerting.fast_burn import slo_fast_burn_sensor
from telemetry_pipeline.defs.alerting.slack import SlackAlertResource
from telemetry_pipeline.defs.resources import WarehouseResource

defs = Definitions(
    sensors=[slo_fast_burn_sensor],
    resources={"warehouse": WarehouseResource(), "slack": SlackAlertResource(), "email": EmailAlertResource()},
)
