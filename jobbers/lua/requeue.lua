#!lua
-- requeue: an operator puts a failed, stalled or cancelled task back on its queue
-- (also DLQ resubmit). Atomic per task: never in the DLQ and the queue at once.
-- ARGV: prefix, id, reset_attempts 0/1, from_dlq_only 0/1
-- Returns {'ok'} | {'notfound'} | {'notindlq'} | {'conflict', status} | {'noqueue', queue}
local id = ARGV[2]
local t = tk(id)
local f = redis.call('HMGET', t, 'status', 'queue', 'name', 'in_dlq')
if not f[1] then
  if redis.call('HEXISTS', wk(), id) == 1 then
    return ARGV[4] == '1' and {'notindlq'} or {'conflict', 'submitted'}  -- waiting compact
  end
  return {'notfound'}
end
if ARGV[4] == '1' and f[4] ~= '1' then return {'notindlq'} end
if f[1] ~= 'failed' and f[1] ~= 'stalled' and f[1] ~= 'cancelled' then return {'conflict', f[1]} end
if redis.call('HEXISTS', P .. 'queues', f[2]) == 0 then return {'noqueue', f[2]} end
if f[4] == '1' then undead(id, f[2], f[3] or '') end
if ARGV[3] == '1' then redis.call('HSET', t, 'attempt', 0) end
redis.call('HSET', t, 'recoveries', 0)
redis.call('HDEL', t, 'completed_at', 'cancel', 'scheduled_for', 'progress', 'pmsg', 'run_id', 'worker')
move(id, f[2], f[1], 'submitted', NOW)
ring(f[2])
return {'ok'}
