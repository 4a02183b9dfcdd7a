-- Event collection (issue 4): idempotency keys on telemetry_events and the quarantine table.

-- event_id: an optional idempotency key sent by the producer (SPEC section 3). A second event with
-- the same key is a duplicate and is not stored again; writers insert with
-- `on conflict (event_id) where event_id is not null do nothing`. The index is partial so that
-- events without a key (most of them) cost nothing in it.
alter table public.telemetry_events add column if not exists event_id text;
create unique index if not exists uq_telemetry_events_event_id
  on public.telemetry_events (event_id) where event_id is not null;

-- telemetry_events_rejected: every event that broke a rule of SPEC section 3, kept with the raw
-- text as received and the reason, so nothing is silently dropped and a producer can be fixed.
--   source       'ingest:<file>' / 'ingest:-' (stdin), 'collector', 'github', 'emit'
--   batch_id     one id per ingest run / collector request, to find a whole batch's rejects
--   line_number  1-based line in the file or request body (null when there are no lines)
--   reason_code  stable code (bad_json, missing_field, bad_timestamp, ...); reason = code: detail
--   raw          the line as received, decoded as UTF-8 (undecodable bytes and NUL shown as U+FFFD)
create table if not exists public.telemetry_events_rejected (
  id bigserial primary key,
  received_at timestamptz not null default now(),
  source text not null,
  batch_id text,
  line_number bigint,
  reason_code text not null,
  reason text not null,
  raw text not null
);
create index if not exists idx_telemetry_events_rejected_received_at
  on public.telemetry_events_rejected (received_at desc);
create index if not exists idx_telemetry_events_rejected_batch
  on public.telemetry_events_rejected (batch_id);
