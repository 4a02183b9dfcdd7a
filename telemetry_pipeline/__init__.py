"""telemetry_pipeline: CI/CD supply-chain telemetry turned into KPIs, SLOs and alerts."""
