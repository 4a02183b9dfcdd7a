"""The plain library: granularities, settings, warehouse, KPI and SLO catalogs, events, alerting.

Nothing under core/ imports Dagster, so the programs in apps/ (emit, the collector, the dashboard)
start without it; defs/ wraps this library in Dagster assets, checks, schedules and sensors.
"""
