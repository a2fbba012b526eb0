-- claim: atomically take up to n waiting tasks of one queue for a worker.
-- The pop, the status flip to `started`, the run id and the in-flight record happen in
-- this one script, so a task id is never only in a client's memory.
-- ARGV: prefix, worker, queue, n, lookahead, known_json, config_version
--   known_json: {"name@version": [max_heartbeat_ms, dlq 0/1, free], ...} the types the
--   worker can run; free is how many more of that type it may start (-1: no cap), and a
--   type with no free slot is left waiting for another worker (or later).
--   lookahead: how many tasks of a type the worker cannot run are dropped in one call.
--   config_version: the `cfgver` the worker computed n from ('' = do not check). A worker
--   sends its claim ahead, behind its blocking wait, so the queues' limits may have
--   changed by the time it runs: then nothing is claimed and the worker re-reads them.
-- Order: the highest priority first; within a priority, the oldest waiting tasks (by
-- submit time, or re-queue time for full-form ones; 0 = the front) among the types the
-- worker may start, FIFO within a type and across types; each type and priority is read
-- from its own list (see common.lua), so a type at its cap never delays another, however
-- many of its tasks wait ahead, whatever their priority.
-- Doorbells: the queue's bell is rung again when the claim filled its request (more work
-- may wait for other workers), `bell:{queue}:{type}` when tasks of a capped type are left
-- because this worker reached its cap (workers with a free slot of that type wait on it),
-- and a claim that takes nothing because the worker's view was stale (`dead`, `config`)
-- passes the bell on: the blocking wait in front of it popped it.
-- Returns {'dead'} | {'noqueue'} | {'paused'} | {'config'} | {'limited', retry_after_ms}
--       | {'ok', skipped, id, run_id, name, version, attempt, ..., params, ...}: five
--         fields per claimed task, then the parameters of each in the same order;
--         skipped is the number of waiting lists (a type at one priority) left because
--         of the worker's caps
-- uses: K_task, K_params, K_results, K_history, K_parents, K_children, K_status_index,
-- uses: K_status_name_index, K_all_index, K_queue, K_waiting_records, K_waiting_list,
-- uses: K_waiting_types, K_waiting_counts, K_bell, K_workers, K_inflight,
-- uses: K_heartbeat_deadlines, K_queues, K_config_version, K_run_sequence, K_rate_log,
-- uses: K_minute_counts, K_workflow, K_event_stream, default_priority, ptype, split_ptype,
-- uses: listed, stream_event, joined, move, move_many, unpack_record, full_fields,
-- uses: materialize, live_entries, ring, bump, history, parent_reads, wf_count, settled,
-- uses: finish_at
local worker, queue = ARGV[2], ARGV[3]
-- At most 1000 a call (Lua's unpack limit); a worker with more free slots claims again.
local n, look = math.min(tonumber(ARGV[4]), 1000), math.min(tonumber(ARGV[5]), 1000)
local known = cjson.decode(ARGV[6])
local version = ARGV[7] or ''
local KEY = {workers = K_workers, config_version = K_config_version, queues = K_queues,
  queue = K_queue(queue), status_index = K_status_index('submitted'),
  waiting_types = K_waiting_types(queue), waiting_records = K_waiting_records,
  waiting_counts = K_waiting_counts, rate_log = K_rate_log(queue),
  run_sequence = K_run_sequence, all_index = K_all_index(), queue_all = K_all_index(queue),
  inflight = K_inflight(worker), heartbeat_deadlines = K_heartbeat_deadlines}

local function pass_bell()
  if redis.call('ZCARD', KEY.waiting_types) > 0 then ring(queue) end
end

local lease = redis.call('ZSCORE', KEY.workers, worker)
if not lease or tonumber(lease) < NOW then
  pass_bell()
  return {'dead'}
end
if version ~= '' and (redis.call('GET', KEY.config_version) or '0') ~= version then
  pass_bell()
  return {'config'}
end
local raw = redis.call('HGET', KEY.queues, queue)
if not raw then return {'noqueue'} end
local cfg = cjson.decode(raw)
if cfg.paused then return {'paused'} end

local rl, window = nil, 0
if cfg.rate_numerator then
  local periods = {second = 1, minute = 60, hour = 3600, day = 86400}
  window = (cfg.rate_denominator or 1) * periods[cfg.rate_period] * 1000
  rl = KEY.rate_log
  redis.call('ZREMRANGEBYSCORE', rl, '-inf', NOW - window)
  local avail = cfg.rate_numerator - redis.call('ZCARD', rl)
  if avail <= 0 then
    local oldest = redis.call('ZRANGE', rl, 0, 0, 'WITHSCORES')
    pass_bell()
    return {'limited', tostring(math.max(1, tonumber(oldest[2]) + window - NOW))}
  end
  if avail < n then n = avail end
end

-- Candidates, oldest first: each type the worker may start is read from the head of its
-- list, as many live entries as it may take (its free slots, at most n), and the
-- candidates of all types are merged by score. Types are visited in the order of their
-- bound in `wt`, and one whose bound is past the n-th candidate is not read at all. Pick
-- the tasks first, then write them as one batch: one INCRBY for the run ids, one variadic
-- ZREM/ZADD per index, one counter bump.
local skipped, more = 0, false
local picked, specs, fields, compact = {}, {}, {}, {}
local cands, lists, bells = {}, {}, {}
local seen = {}  -- ids met in this claim: an id listed twice is taken once
local function before(a, b)
  if a.list.prio ~= b.list.prio then return a.list.prio > b.list.prio end
  if a.score ~= b.score then return a.score < b.score end
  if a.list.rank ~= b.list.rank then return a.list.rank < b.list.rank end
  return a.pos < b.pos
end

-- Sort the candidates and keep the first n a worker may take: a type's priorities are
-- separate lists, each read up to the type's free slots, so its cap is applied over them
-- all here. A candidate dropped for its cap stays dropped (the type's other candidates
-- that come later are of lower priority).
local function admit()
  -- `before` is a strict total order (positions differ), so candidates read in order (one
  -- list, the rule) are already sorted: one pass checks it instead of a sort's n log n calls.
  for i = 2, #cands do
    if not before(cands[i - 1], cands[i]) then
      table.sort(cands, before)
      break
    end
  end
  local kept, per = {}, {}
  for _, c in ipairs(cands) do
    if #kept >= n then break end
    local cap, base = c.list.spec[3], c.list.base
    if cap < 0 or (per[base] or 0) < cap then
      per[base] = (per[base] or 0) + 1
      kept[#kept + 1] = c
    end
  end
  cands = kept
end

-- Up to `quota` live entries from the head of a type's list, reading past tombstones (at
-- most 21 chunks); tombstones and second entries of an id are marked for removal.
local function read(ttype, quota)
  local L = {ttype = ttype, key = K_waiting_list(queue, ttype), ids = {}, live = {}, used = {},
    taken = {}, whole = false}
  local chunk = math.max(quota, 16)
  for round = 1, 21 do
    local from = #L.ids
    local ids = redis.call('LRANGE', L.key, from, from + chunk - 1)
    local live = live_entries(queue, ids)
    for i, id in ipairs(ids) do
      local pos = from + i
      L.ids[pos] = id
      local e = live[i]
      if e and not seen[id] then
        local c = {pos = pos, id = id, list = L}
        if type(e) == 'table' then c.rec, c.score = e, e.at else c.score = e end
        L.live[#L.live + 1] = c
      else
        L.used[pos] = true
      end
      seen[id] = true
    end
    if #ids < chunk then L.whole = true; break end
    if #L.live >= quota then break end
    if round == 21 then more = true end
  end
  return L
end

-- The members of `wt` (one per type and priority in use, a handful) in claim order:
-- highest priority first, then by their oldest task's time.
local types = {}
do
  local raw = redis.call('ZRANGE', KEY.waiting_types, 0, -1, 'WITHSCORES')
  for i = 1, #raw, 2 do
    local base, prio = split_ptype(raw[i])
    types[#types + 1] = {member = raw[i], base = base, prio = prio, bound = tonumber(raw[i + 1])}
  end
  table.sort(types, function(a, b)
    if a.prio ~= b.prio then return a.prio > b.prio end
    return a.bound < b.bound
  end)
end
for _, t in ipairs(types) do
  local ttype, bound = t.member, t.bound
  local spec = known[t.base]
  if spec and spec[3] == 0 then
    skipped = skipped + 1
    bells[t.base] = true
  else
    if n > 0 and #cands >= n then admit() end
    if n > 0 and #cands >= n then
      local last = cands[n]
      if t.prio < last.list.prio or (t.prio == last.list.prio and bound > last.score) then
        more = true
        break
      end
    end
    local quota = look
    if spec then quota = spec[3] < 0 and n or math.min(n, spec[3]) end
    local L = read(ttype, quota)
    L.spec, L.rank, L.prio, L.base = spec, #lists + 1, t.prio, t.base
    lists[L.rank] = L
    if not spec then
      -- A type this worker does not run: its tasks are dropped, whatever their place.
      for _, c in ipairs(L.live) do
        local id = c.id
        L.used[c.pos], L.taken[c.pos] = true, true
        local attempt = 0
        if c.rec then
          materialize(id, c.rec)
        else
          attempt = tonumber(redis.call('HGET', K_task(id), 'attempt')) or 0
        end
        finish_at(id, 'dropped', queue, 'submitted')
        local why = 'task ' .. t.base .. ' is not registered on worker ' .. worker
        redis.call('HSET', K_task(id), 'worker', worker, 'last_error', why)
        history(id, {attempt = attempt, kind = 'dropped', message = why, worker_id = worker})
        bump(queue, 'dropped')
      end
      if not L.whole then more = true end
    else
      for j = 1, math.min(quota, #L.live) do cands[#cands + 1] = L.live[j] end
    end
  end
end
admit()
local took = {}  -- per type, for its bell
for j = 1, math.min(n, #cands) do
  local c = cands[j]
  local L, id = c.list, c.id
  L.used[c.pos], L.taken[c.pos] = true, true
  local f = nil
  if not c.rec then
    f = redis.call('HMGET', K_task(id), 'name', 'version', 'status', 'attempt',
      'progress', 'pmsg', 'cancel', 'completed_at', 'scheduled_for')
    if f[3] ~= 'submitted' then
      -- An index entry without a matching task: repair the index, never run it.
      redis.call('ZREM', KEY.queue, id)
      redis.call('ZREM', KEY.status_index, id)
      f = false
    end
  end
  if f ~= false then
    took[L.base] = (took[L.base] or 0) + 1
    picked[#picked + 1] = id
    specs[#picked] = L.spec
    compact[#picked] = c.rec
    fields[#picked] = f
  end
end

-- Take the used entries off the lists: the leading run at once, any taken one after an
-- entry left waiting by value (it is the first entry of its id). Then the type's bound
-- moves up to the oldest entry left, or the type leaves the index with its list.
for _, L in ipairs(lists) do
  local lead = 0
  while L.used[lead + 1] do lead = lead + 1 end
  if lead > 0 then redis.call('LTRIM', L.key, lead, -1) end
  for pos = lead + 2, #L.ids do
    if L.taken[pos] then redis.call('LREM', L.key, 1, L.ids[pos]) end
  end
  local left = nil
  for _, c in ipairs(L.live) do
    if not L.taken[c.pos] then left = c.score; break end
  end
  if L.whole and not left and lead == #L.ids then
    redis.call('ZREM', KEY.waiting_types, L.ttype)
  else
    if not left then
      for _, c in ipairs(L.live) do left = math.max(left or c.score, c.score) end
    end
    if left then redis.call('ZADD', KEY.waiting_types, left, L.ttype) end
    local spec = L.spec
    if spec and spec[3] > 0 and (took[L.base] or 0) >= spec[3] then bells[L.base] = true end
  end
end

local out = {'ok', skipped}
local claimed = #picked
if claimed > 0 then
  local first = redis.call('INCRBY', KEY.run_sequence, claimed) - claimed
  local inflight, params_keys, params, all_pairs, fresh_ids, full_ids = {}, {}, {}, {}, {}, {}
  local known = {names = {}, workers = {}, attempts = {}, compact = {}}  -- for move_many
  local deadlines, runs = {}, {}  -- one variadic ZADD each
  for i, id in ipairs(picked) do
    local t, spec, r = K_task(id), specs[i], compact[i]
    local run = worker .. '/' .. (first + i)
    local started = {'status', 'started', 'run_id', run, 'worker', worker,
      'started_at', NOW, 'heartbeat_at', NOW, 'hbmax', spec[1], 'dlq', spec[2]}
    local name, version, attempt
    if r then
      -- A compact task gets its full form here, started, in one HSET.
      redis.call('HSET', t, unpack(full_fields(r, started)))
      if r.params ~= '{}' then redis.call('SET', K_params(id), r.params) end
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
    known.names[i], known.workers[i], known.attempts[i], known.compact[i] = name, worker, attempt, r ~= nil
    if spec[1] > 0 then
      deadlines[#deadlines + 1] = NOW + spec[1]
      deadlines[#deadlines + 1] = id
    end
    if rl then
      runs[#runs + 1] = NOW
      runs[#runs + 1] = run
    end
    inflight[#inflight + 1] = NOW
    inflight[#inflight + 1] = id
    out[#out + 1] = id
    out[#out + 1] = run
    out[#out + 1] = name
    out[#out + 1] = version
    out[#out + 1] = attempt
  end
  if #fresh_ids > 0 then
    redis.call('ZADD', KEY.all_index, unpack(all_pairs))
    redis.call('ZADD', KEY.queue_all, unpack(all_pairs))
    redis.call('HDEL', KEY.waiting_records, unpack(fresh_ids))
    redis.call('HINCRBY', KEY.waiting_counts, queue, -#fresh_ids)
  end
  if #params_keys > 0 then
    local keys = {}
    for j, i in ipairs(params_keys) do keys[j] = K_params(picked[i]) end
    local got = redis.call('MGET', unpack(keys))
    for j, i in ipairs(params_keys) do params[i] = got[j] or '{}' end
  end
  -- Only the full-form tasks were in the `submitted` indexes.
  if #full_ids > 0 then
    redis.call('ZREM', KEY.status_index, unpack(full_ids))
    redis.call('ZREM', KEY.queue, unpack(full_ids))
  end
  move_many(picked, queue, nil, 'started', NOW, known)
  if #deadlines > 0 then redis.call('ZADD', KEY.heartbeat_deadlines, unpack(deadlines)) end
  if rl then redis.call('ZADD', rl, unpack(runs)) end
  redis.call('ZADD', KEY.inflight, unpack(inflight))
  -- Parameters go after the five fields of every task: id, run, name, version, attempt.
  for i = 1, claimed do out[#out + 1] = params[i] end
  -- Workflows: after the marker '@parents', the claimed tasks that have parents (only
  -- full-form ones can), each followed by its parents' outcomes and results (common.lua
  -- `parent_reads`): the child starts without another round trip after its parent.
  local parented = {}
  for _, i in ipairs(params_keys) do
    if redis.call('HEXISTS', K_task(picked[i]), 'deps') == 1 then parented[#parented + 1] = picked[i] end
  end
  if #parented > 0 then
    out[#out + 1] = '@parents'
    for _, id in ipairs(parented) do
      out[#out + 1] = id
      parent_reads(id, out)
    end
  end
  bump(queue, 'started', claimed)
end
if rl then redis.call('PEXPIRE', rl, window) end
-- Ring again while tasks wait that another worker (or this one) may take: the request
-- was filled, or a read stopped short. Types left at this worker's cap ring their own bell.
if more or (claimed == n and redis.call('ZCARD', KEY.waiting_types) > 0) then ring(queue) end
for ttype in pairs(bells) do
  redis.call('ZADD', K_bell(queue, ttype), 0, 'r')
end
return out
