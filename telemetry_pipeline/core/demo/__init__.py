"""Synthetic telemetry with incidents, for the demo and the benchmarks."""
