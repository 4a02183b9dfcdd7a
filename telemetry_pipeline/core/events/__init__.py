"""Getting telemetry in: the raw_events asset, ingest, emit, collector, late data."""
