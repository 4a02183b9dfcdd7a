"""Programs that run outside Dagster: emit, the collector, the dashboard and the CLI commands."""
