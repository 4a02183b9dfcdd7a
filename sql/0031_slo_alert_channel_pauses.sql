-- slo_alert_channel_pauses: a channel that asked us to wait (Slack's 429 + Retry-After) is not
-- called at all until paused_until, whichever alert is due: the rate limit is the channel's,
-- not one message's (docs/alerting.md).
create table if not exists public.slo_alert_channel_pauses (
  channel text primary key check (channel in ('slack', 'email')),
  paused_until timestamptz not null,
  reason text,
  updated_at timestamptz not null default now()
);
