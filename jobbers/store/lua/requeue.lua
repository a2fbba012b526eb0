#!lua
-- requeue: an operator puts a failed, stalled or cancelled task back on its queue
-- (also DLQ resubmit). Atomic per task: never in the DLQ and the queue at once.
-- ARGV: prefix, id, reset_attempts 0/1, from_dlq_only 0/1[, params JSON, fingerprint]
-- (new parameters, checked by the caller: a DLQ resubmit that fixes the task's input)
-- Returns {'ok'} | {'notfound'} | {'notindlq'} | {'conflict', status} | {'noqueue', queue}
-- uses: K_task, K_params, K_parents, K_children, K_status_index, K_status_name_index,
-- uses: K_waiting_records, K_waiting_list, K_waiting_types, K_bell, K_dlq, K_queues,
-- uses: K_workflow, K_event_stream, default_priority, ptype, listed, stream_event, move,
-- uses: ring, undead, wf_count, rearm
local id = ARGV[2]
local KEY = {task = K_task(id), params = K_params(id), queues = K_queues}
local t = KEY.task
local f = redis.call('HMGET', t, 'status', 'queue', 'name', 'in_dlq')
if not f[1] then
  if redis.call('HEXISTS', K_waiting_records, id) == 1 then
    return ARGV[4] == '1' and {'notindlq'} or {'conflict', 'submitted'}  -- waiting compact
  end
  return {'notfound'}
end
if ARGV[4] == '1' and f[4] ~= '1' then return {'notindlq'} end
if f[1] ~= 'failed' and f[1] ~= 'stalled' and f[1] ~= 'cancelled' then return {'conflict', f[1]} end
if redis.call('HEXISTS', KEY.queues, f[2]) == 0 then return {'noqueue', f[2]} end
if f[4] == '1' then undead(id, f[2], f[3] or '') end
-- A requeue starts a new attempt: `abase` grows so that the next run's number (abase +
-- attempt) follows the last one, whether the retry count is reset to 0 or kept.
local g = redis.call('HMGET', t, 'attempt', 'abase')
local attempt, base = tonumber(g[1]) or 0, tonumber(g[2]) or 0
local kept = attempt
if ARGV[3] == '1' then kept = 0 end
redis.call('HSET', t, 'attempt', kept, 'abase', base + attempt + 1 - kept)
redis.call('HSET', t, 'recoveries', 0)
if ARGV[5] then
  if ARGV[5] == '{}' then redis.call('DEL', KEY.params) else redis.call('SET', KEY.params, ARGV[5]) end
  redis.call('HSET', t, 'fp', ARGV[6])
end
redis.call('HDEL', t, 'completed_at', 'cancel', 'scheduled_for', 'progress', 'pmsg', 'run_id', 'worker')
move(id, f[2], f[1], 'submitted', NOW)
rearm(id, f[1])  -- workflows: the children its failure cancelled wait for it again
ring(f[2])
return {'ok'}
