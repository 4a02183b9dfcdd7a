"""Cadence across stages: each granularity's job and schedule, and the late-data sensor."""
