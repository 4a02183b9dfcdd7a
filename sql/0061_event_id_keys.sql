-- event_id idempotency on the partitioned telemetry_events (SPEC §3, §13).
-- A unique index on a partitioned table must contain the partition key, and a second event with
-- the same event_id must never be stored again whatever its timestamp, so the keys live in their
-- own small table, one row per stored event_id, written by a statement-level trigger in the same
-- statement as the events (COPY included). The trigger raises unique_violation when any event_id
-- of the statement is stored already (or repeats within it), exactly as the old unique index
-- did; writers that skip duplicates filter against telemetry_event_ids first (ingest's safe
-- path, the collector). Deleting events releases their keys (a deleted event may be sent again);
-- retention dropping a month does not: its event_ids stay known (docs/ARCHITECTURE.md).
create table if not exists public.telemetry_event_ids (
  event_id text primary key,
  event_timestamp timestamptz not null
);

insert into public.telemetry_event_ids (event_id, event_timestamp)
select event_id, event_timestamp from public.telemetry_events where event_id is not null
on conflict (event_id) do nothing;

-- One pass over the statement's rows; the primary key raises unique_violation on a stored or
-- repeated id (measured: checking with on conflict + a second count cost a second scan).
create or replace function public.telemetry_event_ids_insert() returns trigger
language plpgsql as $$
begin
  insert into public.telemetry_event_ids (event_id, event_timestamp)
  select event_id, event_timestamp from new_rows where event_id is not null;
  return null;
end
$$;

create or replace function public.telemetry_event_ids_delete() returns trigger
language plpgsql as $$
begin
  delete from public.telemetry_event_ids k using old_rows o
  where o.event_id is not null and k.event_id = o.event_id;
  return null;
end
$$;

create or replace function public.telemetry_event_ids_truncate() returns trigger
language plpgsql as $$
begin
  truncate public.telemetry_event_ids;
  return null;
end
$$;

drop trigger if exists telemetry_event_ids_insert on public.telemetry_events;
create trigger telemetry_event_ids_insert after insert on public.telemetry_events
  referencing new table as new_rows for each statement execute function public.telemetry_event_ids_insert();
drop trigger if exists telemetry_event_ids_delete on public.telemetry_events;
create trigger telemetry_event_ids_delete after delete on public.telemetry_events
  referencing old table as old_rows for each statement execute function public.telemetry_event_ids_delete();
drop trigger if exists telemetry_event_ids_truncate on public.telemetry_events;
create trigger telemetry_event_ids_truncate after truncate on public.telemetry_events
  for each statement execute function public.telemetry_event_ids_truncate();
