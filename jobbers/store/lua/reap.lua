#!lua
-- reap: recover the tasks of workers whose lease lapsed (SIGKILL, OOM, lost host).
-- Each task goes back to the front of its queue with recoveries+1 and a "worker lost"
-- history entry; past max_recoveries it ends `stalled` (and in the DLQ under SAVE): a
-- task that keeps killing its worker cannot take the fleet down. A pending cancel wins.
-- ARGV: prefix, max_recoveries, max_workers, [worker, started_at]...
--   max_workers: how many workers whose lease lapsed to reap (0: none)
--   worker, started_at: workers Redis holds no connection of (the cleaner's connection
--   watch), reaped whatever their lease if still registered with that started_at (a
--   worker that registered again since is another life of it, and is left alone)
-- Returns {workers_reaped, tasks_requeued, tasks_stalled}
-- uses: K_task, K_history, K_parents, K_children, K_status_index, K_status_name_index,
-- uses: K_waiting_list, K_waiting_types, K_bell, K_wake, K_workers, K_worker, K_inflight,
-- uses: K_cancel_box, K_heartbeat_deadlines, K_dlq, K_minute_counts, K_workflow,
-- uses: K_event_stream, default_priority, ptype, listed, stream_event, move, ring, bump,
-- uses: history, dead_letter, wf_count, settled, finish_at
local maxrec, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local KEY = {workers = K_workers, heartbeat_deadlines = K_heartbeat_deadlines}
local dead = {}
if limit > 0 then
  dead = redis.call('ZRANGEBYSCORE', KEY.workers, '-inf', NOW - 1, 'LIMIT', 0, limit)
end
for i = 4, #ARGV - 1, 2 do
  if redis.call('ZSCORE', KEY.workers, ARGV[i])
      and redis.call('HGET', K_worker(ARGV[i]), 'started_at') == ARGV[i + 1] then
    dead[#dead + 1] = ARGV[i]
  end
end
local requeued, stalled = 0, 0
for _, w in ipairs(dead) do
  for _, id in ipairs(redis.call('ZRANGE', K_inflight(w), 0, -1)) do
    local t = K_task(id)
    local f = redis.call('HMGET', t, 'status', 'worker', 'queue', 'name', 'recoveries', 'attempt', 'dlq', 'cancel')
    if f[1] == 'started' and f[2] == w and f[3] then  -- (a record without its queue: skip)
      local queue = f[3]
      local rec = (tonumber(f[5]) or 0) + 1
      local attempt = tonumber(f[6]) or 0
      redis.call('ZREM', KEY.heartbeat_deadlines, id)
      redis.call('HSET', t, 'recoveries', rec)
      local msg = 'worker ' .. w .. ' lost while running the task'
      if f[8] == '1' then
        history(id, {attempt = attempt, kind = 'cancelled', message = msg .. '; cancel was pending', worker_id = w})
        finish_at(id, 'cancelled', queue, 'started')
      elseif rec > maxrec then
        msg = msg .. ' (' .. rec .. ' times, over the cap of ' .. maxrec .. ')'
        history(id, {attempt = attempt, kind = 'worker_lost', message = msg, worker_id = w})
        finish_at(id, 'stalled', queue, 'started')
        redis.call('HSET', t, 'last_error', msg)
        if f[7] == '1' then dead_letter(id, queue, f[4] or '') end
        bump(queue, 'failed')
        stalled = stalled + 1
      else
        history(id, {attempt = attempt, kind = 'worker_lost', message = msg .. '; re-queued', worker_id = w})
        move(id, queue, 'started', 'submitted', 0)
        ring(queue)
        requeued = requeued + 1
      end
    end
  end
  redis.call('DEL', K_inflight(w), K_cancel_box(w), K_worker(w), K_wake(w))
  redis.call('ZREM', KEY.workers, w)
end
return {#dead, requeued, stalled}
