"""KPIs as Dagster assets: kpi_aggregations_{hourly,daily,weekly} and their checks."""
