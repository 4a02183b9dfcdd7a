-- Late-data sensor support (issue 4 item 4, telemetry_pipeline/events/late_data.py).

-- A row's inserting transaction id (the 32-bit `xmin` system column) widened to the 64-bit xid8
-- that pg_visible_in_snapshot() takes, relative to `next_full` (the xmax of a current snapshot,
-- i.e. the next full transaction id). Correct for any row written within the last 2^31
-- transactions, which is every row the sensor looks at (id above its floor).
create or replace function public.telemetry_full_xid(x xid, next_full bigint) returns xid8
language sql immutable parallel safe as $$
  select (case
    when x::text::bigint <= (next_full & 4294967295) then ((next_full >> 32) << 32) | x::text::bigint
    else (((next_full >> 32) - 1) << 32) | x::text::bigint
  end)::text::xid8
$$;
