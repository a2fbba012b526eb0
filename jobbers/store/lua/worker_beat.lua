#!lua flags=allow-oom
-- worker_beat: register a worker or renew its lease, on the Redis clock.
-- Allowed under OOM (the shebang): a lease that cannot be renewed at maxmemory would let
-- the reaper re-queue every running task and fence its live worker out.
-- ARGV: prefix, worker, lease_ms, mode ('register' | 'beat'), info_json, runs_json, grace_ms,
--   max_recoveries ('' = no cap)
--   info_json: fields of the worker HASH (register only)
--   runs_json: [[id, run_id], ...] the runs the worker believes it holds (beat only)
-- Returns {'ok', stale_ids_json, cancel_ids_json, config_version} | {'reaped'}
--   stale ids: runs that are no longer the worker's (recovered elsewhere): stop them
--   cancel ids: durable cancel requests for runs in runs_json, popped from the mailbox
--   grace_ms: how old an unknown in-flight entry must be before it is re-queued
--   max_recoveries: the cap reap.lua applies; an unknown in-flight task past it ends
--   `stalled` (a run that died outside the worker's handlers must not cycle forever)
-- uses: K_task, K_history, K_parents, K_children, K_status_index, K_status_name_index,
-- uses: K_waiting_list, K_waiting_types, K_bell, K_workers, K_worker, K_inflight,
-- uses: K_cancel_box, K_heartbeat_deadlines, K_dlq, K_config_version, K_minute_counts,
-- uses: K_workflow, K_event_stream, default_priority, ptype, listed, stream_event, move,
-- uses: ring, bump, history, dead_letter, wf_count, settled, finish_at
local worker, lease, mode = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local KEY = {workers = K_workers, worker = K_worker(worker), inflight = K_inflight(worker),
  cancel_box = K_cancel_box(worker), config_version = K_config_version,
  heartbeat_deadlines = K_heartbeat_deadlines}
local wk = KEY.worker
if mode == 'register' then
  local info = cjson.decode(ARGV[5])
  redis.call('DEL', wk)
  for k, v in pairs(info) do redis.call('HSET', wk, k, tostring(v)) end
  redis.call('HSET', wk, 'started_at', NOW, 'last_seen', NOW, 'processed', 0, 'failed', 0)
  redis.call('ZADD', KEY.workers, NOW + lease, worker)
  return {'ok', '[]', '[]', redis.call('GET', KEY.config_version) or '0'}
end
if not redis.call('ZSCORE', KEY.workers, worker) then return {'reaped'} end
local runs = cjson.decode(ARGV[6])  -- decoded before the first write
local maxrec = tonumber(ARGV[8] or '')
redis.call('ZADD', KEY.workers, NOW + lease, worker)
redis.call('HSET', wk, 'last_seen', NOW)
local stale, mine = {}, {}
for _, pair in ipairs(runs) do
  if type(pair) == 'table' and type(pair[1]) == 'string' then
    mine[pair[1]] = true
    local f = redis.call('HMGET', K_task(pair[1]), 'status', 'run_id')
    if f[1] ~= 'started' or f[2] ~= pair[2] then stale[#stale + 1] = pair[1] end
  end
end
-- Tasks recorded as held by this worker that it does not know of (a claim whose reply was
-- lost on the wire, a run that died outside the worker's handlers) go back to the front of
-- their queue, as for a dead worker: a pending cancel wins, and past max_recoveries the
-- task ends `stalled`.
local inflight = KEY.inflight
for _, id in ipairs(redis.call('ZRANGEBYSCORE', inflight, '-inf', NOW - tonumber(ARGV[7]))) do
  if not mine[id] then
    local t = K_task(id)
    local f = redis.call('HMGET', t, 'status', 'worker', 'queue', 'recoveries', 'attempt', 'cancel', 'dlq', 'name')
    redis.call('ZREM', inflight, id)
    redis.call('ZREM', KEY.heartbeat_deadlines, id)
    if f[1] == 'started' and f[2] == worker and f[3] then
      local queue, attempt = f[3], tonumber(f[5]) or 0
      local rec = (tonumber(f[4]) or 0) + 1
      local msg = 'worker ' .. worker .. ' lost track of the task'
      redis.call('HSET', t, 'recoveries', rec)
      if f[6] == '1' then
        history(id, {attempt = attempt, kind = 'cancelled', message = msg .. '; cancel was pending', worker_id = worker})
        finish_at(id, 'cancelled', queue, 'started')
        redis.call('HDEL', t, 'cancel')
        bump(queue, 'cancelled')
      elseif maxrec and rec > maxrec then
        msg = msg .. ' (' .. rec .. ' times, over the cap of ' .. maxrec .. ')'
        history(id, {attempt = attempt, kind = 'worker_lost', message = msg, worker_id = worker})
        finish_at(id, 'stalled', queue, 'started')
        redis.call('HSET', t, 'last_error', msg)
        if f[7] == '1' then dead_letter(id, queue, f[8] or '') end
        bump(queue, 'failed')
      else
        history(id, {attempt = attempt, kind = 'worker_lost', message = msg .. '; re-queued', worker_id = worker})
        move(id, queue, 'started', 'submitted', 0)
        ring(queue)
      end
    end
  end
end
-- Hand over the cancels of runs the worker knows. A run it holds but does not know yet
-- (claimed, its reply still on the way) keeps its request for the next beat; requests for
-- tasks this worker no longer runs are dropped.
local box = KEY.cancel_box
local cancels = {}
for _, id in ipairs(redis.call('SMEMBERS', box)) do
  if mine[id] then
    cancels[#cancels + 1] = id
    redis.call('SREM', box, id)
  else
    local f = redis.call('HMGET', K_task(id), 'status', 'worker')
    if f[1] ~= 'started' or f[2] ~= worker then redis.call('SREM', box, id) end
  end
end
local s, c = '[]', '[]'
if #stale > 0 then s = cjson.encode(stale) end
if #cancels > 0 then c = cjson.encode(cancels) end
return {'ok', s, c, redis.call('GET', KEY.config_version) or '0'}
