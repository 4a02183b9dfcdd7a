-- slo_alerts: the alert outbox (docs/alerting.md, SPEC section 7).
-- The sensor first records every alert here (insert ... on conflict (key) do nothing, so each
-- violation is recorded once, ever), then delivers the pending ones. Delivery state is kept per
-- channel, so an alert that reached Slack but not email is retried on email only, and a channel
-- that succeeded is never sent to again, also across daemon restarts.
create table if not exists public.slo_alerts (
  id bigserial primary key,
  -- slo|sli|granularity|period_start|kind, e.g. 'validation|availability|hour|2025-01-01T10:00Z|violation'
  key text not null,
  kind text not null
    check (kind in ('violation', 'resolved', 'burn_page', 'burn_ticket')),
  -- pending: to be delivered; sent: every configured channel delivered (or skipped);
  -- suppressed: recorded, never delivered (suppressed_reason says why);
  -- resolved: a sent violation whose resolved message has been sent since.
  state text not null default 'pending'
    check (state in ('pending', 'sent', 'suppressed', 'resolved')),
  suppressed_reason text
    check (suppressed_reason in ('backfill', 'continuing')),
  slo_name text not null,
  sli text not null,
  aggregation_period text not null check (aggregation_period in ('hour', 'day', 'week')),
  period_start timestamptz not null,
  period_end timestamptz not null,
  -- for kind = 'resolved': the key of the violation it closes
  resolves_key text,
  -- per channel: pending (not yet delivered), sent, skipped (channel not configured)
  slack_state text not null default 'pending' check (slack_state in ('pending', 'sent', 'skipped')),
  email_state text not null default 'pending' check (email_state in ('pending', 'sent', 'skipped')),
  slack_ts text,            -- Slack's message timestamp (its id) once posted
  email_message_id text,    -- Message-ID header of the sent email
  attempts integer not null default 0,
  last_error text,
  next_attempt_at timestamptz not null default now(),
  sent_at timestamptz,
  payload jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create unique index if not exists uq_slo_alerts_key on public.slo_alerts (key);

-- Delivery scans only what is due; the partial index keeps that cheap however many alerts
-- (mostly suppressed backfill history) the table holds.
create index if not exists idx_slo_alerts_due
  on public.slo_alerts (next_attempt_at, period_start, id) where state = 'pending';

-- Resolved and burn-episode rules look alerts up by series and period.
create index if not exists idx_slo_alerts_series
  on public.slo_alerts (aggregation_period, period_start, slo_name, sli, kind);
