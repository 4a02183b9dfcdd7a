"""SLOs as Dagster assets: slo_status_{hourly,daily,weekly}."""
