#!lua
-- finish: record the outcome of a run. Fenced: only the current run of a started task may
-- write, so a worker that lost its lease (frozen, partitioned) cannot overwrite the re-run.
-- ARGV: prefix, then one group of five per outcome (a worker batches the outcomes that
-- land in the same tick): id, run_id, outcome, payload, entry_json
-- outcome: a RunOutcome of jobbers/store/protocol.py, one name per event
--   completed:   payload = results JSON (in the HASH's `res` when short, below)
--   retried:     payload = delay ms (negative = re-queue at once), entry = error
--   failed | cancelled | stopped (a worker shutdown, policy STOP: ends `stalled`):
--                entry = history entry
--   resubmitted: back to the front of the queue, attempt unchanged;
--                     payload = max_recoveries: the run counts as a recovery, and past
--                     the cap the task ends `stalled` (in the DLQ under SAVE) as in
--                     reap.lua; '' = not counted (a claim handed straight back)
-- A pending cancel request turns every outcome into cancelled: it always wins.
-- Nothing is written before every group is checked (no script may fail after a write):
-- an entry that cjson cannot decode or re-encode (a lone surrogate escape, Infinity) is
-- replaced by a plain one; an unknown outcome or a bad delay fails the whole call first.
-- Returns, per group, two items: 'ok', new_status | 'stale', current_status
-- uses: K_task, K_results, K_history, K_parents, K_children, K_status_index,
-- uses: K_status_name_index, K_waiting_list, K_waiting_types, K_bell, K_sched_bell,
-- uses: K_worker, K_inflight, K_heartbeat_deadlines, K_dlq, K_minute_counts, K_workflow,
-- uses: K_event_stream, default_priority, ptype, listed, stream_event, joined, move,
-- uses: move_many, ring, bump, history, dead_letter, wf_count, settled, finish_at
local KEY = {heartbeat_deadlines = K_heartbeat_deadlines, sched_bell = K_sched_bell}
-- Redis and Valkey keep a HASH compact (a listpack) while every value is at most
-- hash-max-listpack-value bytes, 64 by default.
local RESULTS_INLINE = 64

-- What every outcome of the batch shares is written once at the end: the completed tasks'
-- index moves (one variadic ZREM/ZADD per index and queue), the release of the workers'
-- in-flight and heartbeat entries, the workers' counts and the per-minute counters. Each
-- task's HASH changes at once, so a task repeated in the batch is fenced off as stale.
local completed = {}  -- queue -> ids, and what move_many and settled need of each
local released = {}   -- worker -> ids
local worker_counts = {}  -- worker -> field -> n
local minute_counts = {}  -- queue -> field -> n

local function add(tbl, key, value)
  local list = tbl[key]
  if not list then list = {}; tbl[key] = list end
  list[#list + 1] = value
end

local function tally(tbl, key, field)
  local counts = tbl[key]
  if not counts then counts = {}; tbl[key] = counts end
  counts[field] = (counts[field] or 0) + 1
end

local OUTCOMES = {completed = true, retried = true, failed = true, stopped = true,
  cancelled = true, resubmitted = true}
-- The outcomes that write a history entry, with the kind of the one made up when none came.
local NEEDS_ENTRY = {retried = 'error', failed = 'error', stopped = 'stopped', cancelled = 'cancelled'}

-- The history entry of one group, checked without writing: its string fields (so that it
-- encodes again and reads back as a TaskError), or a plain replacement that says what
-- was lost when cjson cannot decode it (a lone surrogate escape, say).
local function checked_entry(outcome, entry_json)
  local entry = nil
  if entry_json ~= '' then
    local ok, decoded = pcall(cjson.decode, entry_json)
    if ok and type(decoded) == 'table' and type(decoded.message) == 'string' then
      entry = {message = decoded.message}
      for _, k in ipairs({'kind', 'exc_type', 'traceback', 'worker_id'}) do
        if type(decoded[k]) == 'string' then entry[k] = decoded[k] end
      end
    else
      entry = {kind = 'error', message = 'the error details could not be stored (not valid JSON text)'}
    end
  end
  if not entry and NEEDS_ENTRY[outcome] then
    entry = {kind = NEEDS_ENTRY[outcome], message = 'no details were given'}
  end
  if entry and not entry.kind then entry.kind = 'error' end
  return entry
end

local function finish_one(id, run, outcome, payload, entry, maxrec)
  local t = K_task(id)
  local f = redis.call('HMGET', t, 'status', 'run_id', 'worker', 'queue', 'name', 'attempt', 'dlq', 'cancel',
    'recoveries', 'wf', 'res')
  -- A started task always has its worker and queue: a damaged record is left alone
  -- rather than failing the batch after its first write.
  if f[1] ~= 'started' or f[2] ~= run or not f[3] or not f[4] then return 'stale', f[1] or '' end
  local worker, queue, name, attempt = f[3], f[4], f[5] or '', tonumber(f[6]) or 0
  add(released, worker, id)
  tally(worker_counts, worker, 'processed')
  if entry then
    -- What the task record says, so that every stored entry reads back as a TaskError.
    entry.attempt = attempt
    if not entry.worker_id then entry.worker_id = worker end
  end

  if f[8] == '1' and outcome ~= 'cancelled' then
    outcome = 'cancelled'
    entry = {attempt = attempt, kind = 'cancelled', message = 'cancelled by request', worker_id = worker}
  end

  local status
  if outcome == 'completed' then
    -- Results of up to RESULTS_INLINE bytes go in the task's HASH (field `res`), larger
    -- ones in their own key `task:{id}:r`: one command less per task, and no key for a
    -- small result, while a large one never turns the HASH into a hashtable (whose
    -- entries cost more than the key saves). Readers take `res` first, then the key;
    -- a large result drops a `res` left by an earlier run (an operator requeue).
    status = 'completed'
    if #payload <= RESULTS_INLINE then
      redis.call('HSET', t, 'status', status, 'completed_at', NOW, 'res', payload)
    else
      redis.call('SET', K_results(id), payload)
      redis.call('HSET', t, 'status', status, 'completed_at', NOW)
      if f[11] then redis.call('HDEL', t, 'res') end
    end
    local batch = completed[queue]
    if not batch then
      batch = {ids = {}, names = {}, workers = {}, attempts = {}, compact = {}, wfs = {}}
      completed[queue] = batch
    end
    local j = #batch.ids + 1
    batch.ids[j], batch.names[j], batch.workers[j], batch.attempts[j] = id, f[5], worker, f[6] or '0'
    batch.compact[j], batch.wfs[j] = false, f[10]
    tally(minute_counts, queue, 'completed')
  elseif outcome == 'retried' then
    history(id, entry)
    redis.call('HSET', t, 'attempt', attempt + 1, 'last_error', entry.message)
    tally(worker_counts, worker, 'failed')
    local delay = tonumber(payload)
    if delay < 0 then
      status = 'submitted'
      move(id, queue, 'started', status, NOW)
      ring(queue)
    else
      status = 'scheduled'
      move(id, queue, 'started', status, NOW + delay)
      redis.call('HSET', t, 'scheduled_for', NOW + delay)
      redis.call('ZADD', KEY.sched_bell, 0, 'r')
    end
    tally(minute_counts, queue, 'retried')
  elseif outcome == 'failed' or outcome == 'stopped' then
    history(id, entry)
    status = outcome == 'failed' and 'failed' or 'stalled'
    finish_at(id, status, queue, 'started')
    redis.call('HSET', t, 'last_error', entry.message)
    tally(worker_counts, worker, 'failed')
    if f[7] == '1' then dead_letter(id, queue, name) end
    tally(minute_counts, queue, 'failed')
  elseif outcome == 'cancelled' then
    history(id, entry)
    status = 'cancelled'
    finish_at(id, status, queue, 'started')
    redis.call('HDEL', t, 'cancel')
    tally(minute_counts, queue, 'cancelled')
  elseif outcome == 'resubmitted' then
    -- Every resubmit counts as a recovery: a task whose runs keep getting their worker
    -- stopped (a pod evicted for the memory the task takes) is bounded like a poison pill.
    local rec = (tonumber(f[9]) or 0) + 1
    if maxrec then redis.call('HSET', t, 'recoveries', rec) end
    if maxrec and rec > maxrec then
      local msg = 'resubmitted at worker shutdown ' .. rec .. ' times, over the cap of ' .. maxrec
      history(id, {attempt = attempt, kind = 'interrupted', message = msg, worker_id = worker})
      status = 'stalled'
      finish_at(id, status, queue, 'started')
      redis.call('HSET', t, 'last_error', msg)
      if f[7] == '1' then dead_letter(id, queue, name) end
      tally(minute_counts, queue, 'failed')
    else
      if entry then history(id, entry) end
      status = 'submitted'
      move(id, queue, 'started', status, 0)
      ring(queue)
    end
  end
  return 'ok', status
end

-- Check every group before the first write.
local groups = {}
for i = 2, #ARGV, 5 do
  local outcome, payload = ARGV[i + 2], ARGV[i + 3]
  if not OUTCOMES[outcome] then error('unknown outcome ' .. tostring(outcome)) end
  if outcome == 'retried' and not tonumber(payload) then error('retry delay is not a number') end
  local maxrec = nil
  if outcome == 'resubmitted' and payload ~= '' then
    maxrec = tonumber(payload)
    if not maxrec then error('max_recoveries is not a number') end
  end
  groups[#groups + 1] = {ARGV[i], ARGV[i + 1], outcome, payload, checked_entry(outcome, ARGV[i + 4]), maxrec}
end
local out = {}
for _, g in ipairs(groups) do
  local a, b = finish_one(g[1], g[2], g[3], g[4], g[5], g[6])
  out[#out + 1] = a
  out[#out + 1] = b
end
for queue, b in pairs(completed) do move_many(b.ids, queue, 'started', 'completed', NOW, b) end
-- Workflows: the children waiting for a completed task count it (common.lua `settled`).
-- One variadic EXISTS over the batch's children sets (chunks of 1000) tells whether any
-- task has children: most batches have none, and skip a SMEMBERS per task.
for _, b in pairs(completed) do
  for i = 1, #b.ids, 1000 do
    local last = math.min(i + 999, #b.ids)
    local sets = {}
    for j = i, last do sets[#sets + 1] = K_children(b.ids[j]) end
    local childless = redis.call('EXISTS', unpack(sets)) == 0
    for j = i, last do settled(b.ids[j], 'completed', b.wfs[j], childless) end
  end
end
for worker, ids in pairs(released) do
  for i = 1, #ids, 1000 do
    local last = math.min(i + 999, #ids)
    redis.call('ZREM', K_inflight(worker), unpack(ids, i, last))
    redis.call('ZREM', KEY.heartbeat_deadlines, unpack(ids, i, last))
  end
end
for worker, counts in pairs(worker_counts) do
  for field, n in pairs(counts) do redis.call('HINCRBY', K_worker(worker), field, n) end
end
for queue, counts in pairs(minute_counts) do
  for field, n in pairs(counts) do bump(queue, field, n) end
end
return out
