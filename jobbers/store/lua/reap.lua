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
local maxrec, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local dead = {}
if limit > 0 then
  dead = redis.call('ZRANGEBYSCORE', P .. 'workers', '-inf', NOW - 1, 'LIMIT', 0, limit)
end
for i = 4, #ARGV - 1, 2 do
  if redis.call('ZSCORE', P .. 'workers', ARGV[i])
      and redis.call('HGET', P .. 'worker:' .. ARGV[i], 'started_at') == ARGV[i + 1] then
    dead[#dead + 1] = ARGV[i]
  end
end
local requeued, stalled = 0, 0
for _, w in ipairs(dead) do
  for _, id in ipairs(redis.call('ZRANGE', P .. 'inflight:' .. w, 0, -1)) do
    local t = tk(id)
    local f = redis.call('HMGET', t, 'status', 'worker', 'queue', 'name', 'recoveries', 'attempt', 'dlq', 'cancel')
    if f[1] == 'started' and f[2] == w and f[3] then  -- (a record without its queue: skip)
      local queue = f[3]
      local rec = (tonumber(f[5]) or 0) + 1
      local attempt = tonumber(f[6]) or 0
      redis.call('ZREM', P .. 'hb', id)
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
  redis.call('DEL', P .. 'inflight:' .. w, P .. 'cancel:' .. w, P .. 'worker:' .. w, P .. 'wake:' .. w)
  redis.call('ZREM', P .. 'workers', w)
end
return {#dead, requeued, stalled}
