-- cancel: submitted/scheduled/waiting tasks are cancelled at once; a started task gets a durable
-- cancel flag, a mailbox entry for its worker and a pub/sub hint.
-- ARGV: prefix, id, reason
-- Returns {'cancelled'} | {'requested'} | {'conflict', status} | {'notfound'}
-- uses: K_task, K_params, K_history, K_parents, K_children, K_status_index,
-- uses: K_status_name_index, K_all_index, K_queue, K_waiting_records, K_waiting_list,
-- uses: K_waiting_types, K_waiting_counts, K_bell, K_cancel_box, K_minute_counts,
-- uses: K_workflow, K_events, K_event_stream, default_priority, ptype, listed, stream_event,
-- uses: move, unpack_record, full_fields, materialize, live_entries, drop_tombstones, ring,
-- uses: bump, history, wf_count, settled, finish_at
local id, reason = ARGV[2], ARGV[3]
local KEY = {task = K_task(id), events = K_events}
local t = KEY.task
local f = redis.call('HMGET', t, 'status', 'queue', 'worker', 'attempt')
if not f[1] then
  -- A compact waiting task gets its full form first (its list entry stays a tombstone).
  local rec = redis.call('HGET', K_waiting_records, id)
  if not rec then return {'notfound'} end
  local r = unpack_record(rec)
  materialize(id, r)
  drop_tombstones(r.queue, r.ttype, false)
  drop_tombstones(r.queue, r.ttype, true)
  f = {'submitted', r.queue, false, '0'}
end
if f[1] == 'submitted' or f[1] == 'scheduled' or f[1] == 'waiting' then
  history(id, {attempt = tonumber(f[4]), kind = 'cancelled', message = reason})
  finish_at(id, 'cancelled', f[2], f[1])
  redis.call('HDEL', t, 'scheduled_for')
  bump(f[2], 'cancelled')
  return {'cancelled'}
end
if f[1] == 'started' then
  redis.call('HSET', t, 'cancel', '1')
  redis.call('SADD', K_cancel_box(f[3]), id)
  redis.call('PUBLISH', KEY.events, 'cancel:' .. id)
  return {'requested'}
end
return {'conflict', f[1]}
