-- worker_beat: register a worker or renew its lease, on the Redis clock.
-- ARGV: prefix, worker, lease_ms, mode ('register' | 'beat'), info_json, runs_json, grace_ms
--   info_json: fields of the worker HASH (register only)
--   runs_json: [[id, run_id], ...] the runs the worker believes it holds (beat only)
-- Returns {'ok', stale_ids_json, cancel_ids_json, config_version} | {'reaped'}
--   stale ids: runs that are no longer the worker's (recovered elsewhere): stop them
--   cancel ids: durable cancel requests for runs in runs_json, popped from the mailbox
--   grace_ms: how old an unknown in-flight entry must be before it is re-queued
local worker, lease, mode = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local wk = P .. 'worker:' .. worker
if mode == 'register' then
  local info = cjson.decode(ARGV[5])
  redis.call('DEL', wk)
  for k, v in pairs(info) do redis.call('HSET', wk, k, tostring(v)) end
  redis.call('HSET', wk, 'started_at', NOW, 'last_seen', NOW, 'processed', 0, 'failed', 0)
  redis.call('ZADD', P .. 'workers', NOW + lease, worker)
  return {'ok', '[]', '[]', redis.call('GET', P .. 'cfgver') or '0'}
end
if not redis.call('ZSCORE', P .. 'workers', worker) then return {'reaped'} end
redis.call('ZADD', P .. 'workers', NOW + lease, worker)
redis.call('HSET', wk, 'last_seen', NOW)
local stale, mine = {}, {}
for _, pair in ipairs(cjson.decode(ARGV[6])) do
  mine[pair[1]] = true
  local f = redis.call('HMGET', tk(pair[1]), 'status', 'run_id')
  if f[1] ~= 'started' or f[2] ~= pair[2] then stale[#stale + 1] = pair[1] end
end
-- Tasks recorded as held by this worker that it does not know of (a claim whose reply was
-- lost on the wire) go back to the front of their queue, as for a dead worker.
local inflight = P .. 'inflight:' .. worker
for _, id in ipairs(redis.call('ZRANGEBYSCORE', inflight, '-inf', NOW - tonumber(ARGV[7]))) do
  if not mine[id] then
    local t = tk(id)
    local f = redis.call('HMGET', t, 'status', 'worker', 'queue', 'recoveries', 'attempt')
    redis.call('ZREM', inflight, id)
    redis.call('ZREM', P .. 'hb', id)
    if f[1] == 'started' and f[2] == worker then
      history(id, {attempt = tonumber(f[5]), kind = 'worker_lost',
        message = 'worker ' .. worker .. ' lost track of the task; re-queued', worker_id = worker})
      redis.call('HSET', t, 'recoveries', (tonumber(f[4]) or 0) + 1)
      move(id, f[3], 'started', 'submitted', 0)
      ring(f[3])
    end
  end
end
-- Hand over the cancels of runs the worker knows. A run it holds but does not know yet
-- (claimed, its reply still on the way) keeps its request for the next beat; requests for
-- tasks this worker no longer runs are dropped.
local box = P .. 'cancel:' .. worker
local cancels = {}
for _, id in ipairs(redis.call('SMEMBERS', box)) do
  if mine[id] then
    cancels[#cancels + 1] = id
    redis.call('SREM', box, id)
  else
    local f = redis.call('HMGET', tk(id), 'status', 'worker')
    if f[1] ~= 'started' or f[2] ~= worker then redis.call('SREM', box, id) end
  end
end
local s, c = '[]', '[]'
if #stale > 0 then s = cjson.encode(stale) end
if #cancels > 0 then c = cjson.encode(cancels) end
return {'ok', s, c, redis.call('GET', P .. 'cfgver') or '0'}
