-- Dead alerts (docs/alerting.md): a channel that rejects a message permanently (Slack's
-- invalid_blocks, channel_not_found, not_in_channel, invalid_auth; a message that cannot be
-- built) marks that channel 'dead' on the alert with the error; it is never retried. An alert
-- with no channel left pending and at least one dead channel is in state 'dead', which the
-- delivery pass (state = 'pending' only) never looks at again and the dashboard lists.
alter table public.slo_alerts drop constraint if exists slo_alerts_state_check;
alter table public.slo_alerts add constraint slo_alerts_state_check
  check (state in ('pending', 'sent', 'suppressed', 'resolved', 'dead'));
alter table public.slo_alerts drop constraint if exists slo_alerts_slack_state_check;
alter table public.slo_alerts add constraint slo_alerts_slack_state_check
  check (slack_state in ('pending', 'sent', 'skipped', 'dead'));
alter table public.slo_alerts drop constraint if exists slo_alerts_email_state_check;
alter table public.slo_alerts add constraint slo_alerts_email_state_check
  check (email_state in ('pending', 'sent', 'skipped', 'dead'));

-- Why a channel gave the alert up, e.g. 'slack: Slack rejected the message: invalid_blocks'.
alter table public.slo_alerts add column if not exists dead_error text;
alter table public.slo_alerts add column if not exists dead_at timestamptz;

-- Per-recipient email state: address -> {"state": "sent"|"refused", "error": ..., "at": ...}.
-- Accepted recipients are never mailed again; refused ones are retried with the alert's backoff.
alter table public.slo_alerts add column if not exists email_recipients jsonb not null default '{}'::jsonb;

create index if not exists idx_slo_alerts_dead
  on public.slo_alerts (dead_at desc, id) where dead_at is not null;
