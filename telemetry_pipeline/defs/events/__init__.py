"""Getting telemetry in as Dagster sees it: raw_events and the late-data sensor."""
