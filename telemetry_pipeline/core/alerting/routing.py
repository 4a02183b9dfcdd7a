"""Where a scoped alert goes: the owning team's Slack channel and e-mail, else the defaults.

The team of an alert's scope (SPEC section 10): a `team` scope is that team; a `repository`
scope belongs to the first team whose globs match the repository; a `workflow` scope
(`<owner>/<name>/<workflow>`) to the team of its repository (the first two path segments). A
team with a `slack_channel` gets the Slack message there, one with `email` addresses gets the
e-mail there; everything else (global alerts, `unowned`, a team without that channel, a team no
longer in the file) goes to the channel's default (SLACK_CHANNEL, ALERT_EMAIL_TO).

The route is decided when the message is sent, from the teams file of that delivery pass: an
edited file applies to every alert still pending, retries included (docs/alerting.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from telemetry_pipeline.core.scopes.teams import EMPTY, Team, TeamCatalog

#: A channel's target: a Slack channel, a tuple of e-mail addresses, or None for the default.
Target = str | tuple[str, ...] | None


def repository_of_workflow(workflow_key: str) -> str:
    """'acme/api/build' -> 'acme/api': a workflow scope's repository (owner/name)."""
    return "/".join(workflow_key.split("/")[:2])


@dataclass(frozen=True)
class Router:
    """Routes alerts by the teams file given (an empty catalog routes everything to the defaults)."""

    teams: TeamCatalog = field(default=EMPTY)

    def team(self, dimension: str | None, value: str | None) -> Team | None:
        """The team owning a scope value, or None (global alert, unowned, unknown team)."""
        if dimension is None or value is None:
            return None
        if dimension == "team":
            return self.teams.get(value)
        repository = value if dimension == "repository" else repository_of_workflow(value)
        owner = self.teams.team_of(repository)
        return self.teams.get(owner) if owner is not None else None

    def target(self, channel: str, dimension: str | None, value: str | None) -> Target:
        """Where `channel` ('slack' or 'email') sends an alert of this scope; None = its default."""
        team = self.team(dimension, value)
        if team is None:
            return None
        if channel == "slack":
            return team.slack_channel
        if channel == "email":
            return team.email or None
        return None
