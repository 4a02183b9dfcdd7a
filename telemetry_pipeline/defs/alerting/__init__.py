"""Alerting in Dagster: slo_alert_sensor and the Slack and email channel resources."""
