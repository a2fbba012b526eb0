#!lua
-- stall: mark `stalled` every started task whose heartbeat deadline passed, and ask its
-- worker to stop it (durable mailbox + pub/sub hint). A pending cancel wins: such a task
-- ends `cancelled` instead (the next claim would otherwise drop the request).
-- ARGV: prefix, limit, postpone_ms, max_gap_ms
--   postpone_ms: first move every heartbeat deadline this much later (an outage the
--   caller saw: no task could beat while Redis was away, so the time it lasted must not
--   count against them; the same grace reaping gets). 0 = none.
--   max_gap_ms: the longest expected time between two passes (0 = do not check). A
--   longer gap since the last pass, on the Redis clock (`stallpass`), is an outage too,
--   however it happened (Redis killed and restarted, frozen, cut off from the cleaner):
--   the deadlines move later by the whole gap, so a task that was beating has as long to
--   beat again as it had at the last pass.
-- Returns the number of tasks marked stalled (or cancelled).
-- uses: K_task, K_history, K_parents, K_children, K_status_index, K_status_name_index,
-- uses: K_waiting_list, K_waiting_types, K_bell, K_inflight, K_cancel_box,
-- uses: K_heartbeat_deadlines, K_stall_pass, K_dlq, K_minute_counts, K_workflow, K_events,
-- uses: K_event_stream, default_priority, ptype, listed, stream_event, move, ring, bump,
-- uses: history, dead_letter, release, wf_count, settled, finish_at
local KEY = {heartbeat_deadlines = K_heartbeat_deadlines, stall_pass = K_stall_pass,
  events = K_events}
local hb = KEY.heartbeat_deadlines
local postpone = tonumber(ARGV[3] or '0') or 0
local max_gap = tonumber(ARGV[4] or '0') or 0
if max_gap > 0 then
  local last = tonumber(redis.call('GET', KEY.stall_pass) or '')
  if last and NOW - last > max_gap then postpone = math.max(postpone, NOW - last) end
  redis.call('SET', KEY.stall_pass, NOW)
end
if postpone > 0 then
  -- Once per outage, O(running tasks with a heartbeat deadline), in chunks of 500.
  local deadlines = redis.call('ZRANGE', hb, 0, -1, 'WITHSCORES')
  for i = 1, #deadlines, 1000 do
    local pairs_ = {}
    for j = i, math.min(i + 998, #deadlines), 2 do
      pairs_[#pairs_ + 1] = tonumber(deadlines[j + 1]) + postpone
      pairs_[#pairs_ + 1] = deadlines[j]
    end
    redis.call('ZADD', hb, 'XX', unpack(pairs_))
  end
end
local ids = redis.call('ZRANGEBYSCORE', hb, '-inf', NOW, 'LIMIT', 0, tonumber(ARGV[2]))
local n = 0
for _, id in ipairs(ids) do
  redis.call('ZREM', hb, id)
  local t = K_task(id)
  local f = redis.call('HMGET', t, 'status', 'worker', 'queue', 'name', 'attempt', 'dlq', 'hbmax', 'cancel')
  -- A started task always has its worker and queue; the check keeps a damaged record
  -- from failing the script after its first write.
  if f[1] == 'started' and f[2] and f[3] then
    local attempt, worker, queue = tonumber(f[5]) or 0, f[2], f[3]
    release(id, worker)
    if f[8] == '1' then
      history(id, {attempt = attempt, kind = 'cancelled', worker_id = worker,
        message = 'cancelled by request (its heartbeat was overdue)'})
      finish_at(id, 'cancelled', queue, 'started')
      redis.call('HDEL', t, 'cancel')
      bump(queue, 'cancelled')
    else
      local msg = 'no heartbeat within ' .. ((tonumber(f[7]) or 0) / 1000) .. 's'
      history(id, {attempt = attempt, kind = 'stalled', message = msg, worker_id = worker})
      finish_at(id, 'stalled', queue, 'started')
      redis.call('HSET', t, 'last_error', msg)
      if f[6] == '1' then dead_letter(id, queue, f[4] or '') end
      bump(queue, 'failed')
    end
    redis.call('SADD', K_cancel_box(worker), id)
    redis.call('PUBLISH', KEY.events, 'cancel:' .. id)
    n = n + 1
  end
end
return n
