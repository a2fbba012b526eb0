-- claim: atomically take up to n waiting tasks of one queue for a worker.
-- The pop, the status flip to `started`, the run id and the in-flight record happen in
-- this one script, so a task id is never only in a client's memory.
-- ARGV: prefix, worker, queue, n, lookahead, known_json, config_version
--   known_json: {"name@version": [max_heartbeat_ms, dlq 0/1, free], ...} the types the
--   worker can run; free is how many more of that type it may start (-1: no cap), and a
--   type with no free slot is left waiting for another worker (or later).
--   config_version: the `cfgver` the worker computed n from ('' = do not check). A worker
--   sends its claim ahead, behind its blocking wait, so the queues' limits may have
--   changed by the time it runs: then nothing is claimed and the worker re-reads them.
-- Returns {'dead'} | {'noqueue'} | {'paused'} | {'config'} | {'limited', retry_after_ms}
--       | {'ok', skipped, id, run_id, name, version, attempt, ..., params, ...}: five
--         fields per claimed task, then the parameters of each in the same order
local worker, queue = ARGV[2], ARGV[3]
local n, look = tonumber(ARGV[4]), tonumber(ARGV[5])
local known = cjson.decode(ARGV[6])
local version = ARGV[7] or ''

local lease = redis.call('ZSCORE', P .. 'workers', worker)
if not lease or tonumber(lease) < NOW then return {'dead'} end
if version ~= '' and (redis.call('GET', P .. 'cfgver') or '0') ~= version then
  return {'config'}
end
local raw = redis.call('HGET', P .. 'queues', queue)
if not raw then return {'noqueue'} end
local cfg = cjson.decode(raw)
if cfg.paused then return {'paused'} end
local qk = P .. 's:submitted:' .. queue

local rl, window = nil, 0
if cfg.rate_numerator then
  local periods = {second = 1, minute = 60, hour = 3600, day = 86400}
  window = (cfg.rate_denominator or 1) * periods[cfg.rate_period] * 1000
  rl = P .. 'rl:' .. queue
  redis.call('ZREMRANGEBYSCORE', rl, '-inf', NOW - window)
  local avail = cfg.rate_numerator - redis.call('ZCARD', rl)
  if avail <= 0 then
    local oldest = redis.call('ZRANGE', rl, 0, 0, 'WITHSCORES')
    if redis.call('ZCARD', qk) > 0 then ring(queue) end
    return {'limited', tostring(math.max(1, tonumber(oldest[2]) + window - NOW))}
  end
  if avail < n then n = avail end
end

-- Pick the tasks first, then write them as one batch: one INCRBY for the run ids, one
-- variadic ZREM/ZADD per index, one MGET for the parameters, one counter bump.
local skipped = 0
local picked, specs, fields = {}, {}, {}
for _, id in ipairs(redis.call('ZRANGE', qk, 0, look - 1)) do
  if #picked >= n then break end
  local t = tk(id)
  local f = redis.call('HMGET', t, 'name', 'version', 'status', 'attempt',
    'progress', 'pmsg', 'cancel', 'completed_at', 'scheduled_for')
  if f[3] ~= 'submitted' then
    -- An index entry without a matching task: repair the index, never run it.
    redis.call('ZREM', qk, id)
    redis.call('ZREM', P .. 's:submitted', id)
  else
    local key = f[1] .. '@' .. f[2]
    local spec = known[key]
    if spec and spec[3] == 0 then
      skipped = skipped + 1
    elseif not spec then
      finish_at(id, 'dropped', queue, 'submitted')
      local why = 'task ' .. key .. ' is not registered on worker ' .. worker
      redis.call('HSET', t, 'worker', worker, 'last_error', why)
      history(id, {attempt = tonumber(f[4]), kind = 'dropped', message = why, worker_id = worker})
      bump(queue, 'dropped')
    else
      if spec[3] > 0 then spec[3] = spec[3] - 1 end
      picked[#picked + 1] = id
      specs[#picked] = spec
      fields[#picked] = f
    end
  end
end

local out = {'ok', skipped}
local claimed = #picked
if claimed > 0 then
  local first = redis.call('INCRBY', P .. 'runseq', claimed) - claimed
  local inflight, params_keys = {}, {}
  for i, id in ipairs(picked) do
    local t, spec = tk(id), specs[i]
    local run = worker .. '/' .. (first + i)
    local f = fields[i]
    if f[5] or f[6] or f[7] or f[8] or f[9] then
      -- Left by an earlier run (a retry, a recovery): a fresh task has none of them.
      redis.call('HDEL', t, 'progress', 'pmsg', 'cancel', 'completed_at', 'scheduled_for')
    end
    redis.call('HSET', t, 'status', 'started', 'run_id', run, 'worker', worker,
      'started_at', NOW, 'heartbeat_at', NOW, 'hbmax', spec[1], 'dlq', spec[2])
    if spec[1] > 0 then redis.call('ZADD', P .. 'hb', NOW + spec[1], id) end
    if rl then redis.call('ZADD', rl, NOW, run) end
    inflight[#inflight + 1] = NOW
    inflight[#inflight + 1] = id
    params_keys[i] = t .. ':p'
    out[#out + 1] = id
    out[#out + 1] = run
    out[#out + 1] = f[1]
    out[#out + 1] = f[2]
    out[#out + 1] = f[4]
  end
  move_many(picked, queue, 'submitted', 'started', NOW)
  -- Parameters go after the five fields of every task: id, run, name, version, attempt.
  for i = 1, claimed, 1000 do
    local last = math.min(i + 999, claimed)
    redis.call('ZADD', P .. 'inflight:' .. worker, unpack(inflight, 2 * i - 1, 2 * last))
    local params = redis.call('MGET', unpack(params_keys, i, last))
    for j = 1, last - i + 1 do out[#out + 1] = params[j] or '{}' end
  end
  bump(queue, 'started', claimed)
end
if rl then redis.call('PEXPIRE', rl, window) end
if redis.call('ZCARD', qk) > 0 then ring(queue) end
return out
