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
-- At most 1000 a call (Lua's unpack limit); a worker with more free slots claims again.
local n, look = math.min(tonumber(ARGV[4]), 1000), math.min(tonumber(ARGV[5]), 1000)
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
    if redis.call('ZCARD', qk) > 0 or waiting_count(queue) > 0 then ring(queue) end
    return {'limited', tostring(math.max(1, tonumber(oldest[2]) + window - NOW))}
  end
  if avail < n then n = avail end
end

-- Candidates, oldest first: the full-form waiting tasks (retries, re-queued, recovered;
-- `qk`) and the compact ones (fresh submits; the queue's list), merged by score. Pick the
-- tasks first, then write them as one batch: one INCRBY for the run ids, one variadic
-- ZREM/ZADD per index, one counter bump.
local skipped = 0
local picked, specs, fields, compact = {}, {}, {}, {}
local full = redis.call('ZRANGE', qk, 0, look - 1, 'WITHSCORES')
-- Tombstones at the head are dropped first (a few rounds at most), so that a run of
-- cancelled tasks does not leave this claim with nothing to take.
local listed, recs
for round = 1, 21 do
  listed = redis.call('LRANGE', wl(queue), 0, look - 1)
  recs = #listed > 0 and redis.call('HMGET', wk(), unpack(listed)) or {}
  local k = 0
  while k < #listed and not recs[k + 1] do k = k + 1 end
  if k == 0 or round == 21 then break end
  redis.call('LTRIM', wl(queue), k, -1)
end
local fi, li = 1, 1
local used = {}  -- list position -> true once claimed, dropped or found to be a tombstone
while #picked < n and (fi <= #full or li <= #listed) do
  local take_full
  if li > #listed then
    take_full = true
  elseif not recs[li] then
    used[li] = true  -- a tombstone: cancelled or purged while compact
    li = li + 1
    take_full = nil
  elseif fi > #full then
    take_full = false
  else
    take_full = tonumber(full[fi + 1]) <= unpack_record(recs[li]).at
  end
  if take_full == true then
    local id = full[fi]
    fi = fi + 2
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
  elseif take_full == false then
    local id, r = listed[li], unpack_record(recs[li])
    local key = r.name .. '@' .. r.version
    local spec = known[key]
    if spec and spec[3] == 0 then
      skipped = skipped + 1
    elseif not spec then
      used[li] = true
      materialize(id, r)
      finish_at(id, 'dropped', queue, 'submitted')
      local why = 'task ' .. key .. ' is not registered on worker ' .. worker
      redis.call('HSET', tk(id), 'worker', worker, 'last_error', why)
      history(id, {attempt = 0, kind = 'dropped', message = why, worker_id = worker})
      bump(queue, 'dropped')
    else
      used[li] = true
      if spec[3] > 0 then spec[3] = spec[3] - 1 end
      picked[#picked + 1] = id
      specs[#picked] = spec
      compact[#picked] = r
    end
    li = li + 1
  end
end
-- Take the used entries off the list: the leading run at once, any after a skipped one
-- by value (they sit within the first `look` entries).
do
  local lead = 0
  while used[lead + 1] do lead = lead + 1 end
  if lead > 0 then redis.call('LTRIM', wl(queue), lead, -1) end
  for pos = lead + 2, #listed do
    if used[pos] then redis.call('LREM', wl(queue), 1, listed[pos]) end
  end
end

local out = {'ok', skipped}
local claimed = #picked
if claimed > 0 then
  local first = redis.call('INCRBY', P .. 'runseq', claimed) - claimed
  local inflight, params_keys, params, all_pairs, fresh_ids, full_ids = {}, {}, {}, {}, {}, {}
  for i, id in ipairs(picked) do
    local t, spec, r = tk(id), specs[i], compact[i]
    local run = worker .. '/' .. (first + i)
    local started = {'status', 'started', 'run_id', run, 'worker', worker,
      'started_at', NOW, 'heartbeat_at', NOW, 'hbmax', spec[1], 'dlq', spec[2]}
    local name, version, attempt
    if r then
      -- A compact task gets its full form here, started, in one HSET.
      redis.call('HSET', t, unpack(full_fields(r, started)))
      if r.params ~= '{}' then redis.call('SET', t .. ':p', r.params) end
      all_pairs[#all_pairs + 1] = r.at
      all_pairs[#all_pairs + 1] = id
      fresh_ids[#fresh_ids + 1] = id
      params[i] = r.params
      name, version, attempt = r.name, r.version, '0'
    else
      local f = fields[i]
      if f[5] or f[6] or f[7] or f[8] or f[9] then
        -- Left by an earlier run (a retry, a recovery): a fresh task has none of them.
        redis.call('HDEL', t, 'progress', 'pmsg', 'cancel', 'completed_at', 'scheduled_for')
      end
      redis.call('HSET', t, unpack(started))
      params_keys[#params_keys + 1] = i
      full_ids[#full_ids + 1] = id
      name, version, attempt = f[1], f[2], f[4]
    end
    if spec[1] > 0 then redis.call('ZADD', P .. 'hb', NOW + spec[1], id) end
    if rl then redis.call('ZADD', rl, NOW, run) end
    inflight[#inflight + 1] = NOW
    inflight[#inflight + 1] = id
    out[#out + 1] = id
    out[#out + 1] = run
    out[#out + 1] = name
    out[#out + 1] = version
    out[#out + 1] = attempt
  end
  if #fresh_ids > 0 then
    redis.call('ZADD', P .. 'all', unpack(all_pairs))
    redis.call('ZADD', P .. 'all:' .. queue, unpack(all_pairs))
    redis.call('HDEL', wk(), unpack(fresh_ids))
    redis.call('HINCRBY', P .. 'wq', queue, -#fresh_ids)
  end
  if #params_keys > 0 then
    local keys = {}
    for j, i in ipairs(params_keys) do keys[j] = tk(picked[i]) .. ':p' end
    local got = redis.call('MGET', unpack(keys))
    for j, i in ipairs(params_keys) do params[i] = got[j] or '{}' end
  end
  -- Only the full-form tasks were in the `submitted` indexes.
  if #full_ids > 0 then
    redis.call('ZREM', P .. 's:submitted', unpack(full_ids))
    redis.call('ZREM', qk, unpack(full_ids))
  end
  move_many(picked, queue, nil, 'started', NOW)
  redis.call('ZADD', P .. 'inflight:' .. worker, unpack(inflight))
  -- Parameters go after the five fields of every task: id, run, name, version, attempt.
  for i = 1, claimed do out[#out + 1] = params[i] end
  bump(queue, 'started', claimed)
end
if rl then redis.call('PEXPIRE', rl, window) end
-- Ring again while tasks wait, so that another worker (or this one) comes back for them.
-- A claim that read both sources whole and left nothing behind knows the queue is empty
-- without asking (an idle worker's claim of one fresh task, the latency path).
local emptied = skipped == 0 and fi > #full and #full < 2 * look and li > #listed
  and #listed < look
if not emptied and (waiting_count(queue) > 0 or redis.call('ZCARD', qk) > 0) then
  ring(queue)
end
return out
