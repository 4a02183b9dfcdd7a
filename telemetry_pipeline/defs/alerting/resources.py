"""The alert channels' Dagster resources as the environment configures them (definitions.py)."""

from __future__ import annotations

from dagster import ConfigurableResource

from telemetry_pipeline.defs.alerting.email import email_from_env
from telemetry_pipeline.defs.alerting.slack import slack_from_env


def alerting_resources_from_env() -> dict[str, ConfigurableResource]:
    """{'slack': ..., 'email': ...}: unset variables leave a channel unconfigured, never broken."""
    return {"slack": slack_from_env(), "email": email_from_env()}
