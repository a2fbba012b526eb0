-- submit: store new tasks and put them on their queues, idempotent on each id.
-- ARGV: prefix, mode, then one per task: id, name, version, queue, fingerprint and
--   params_json joined by the unit separator (\31), which neither JSON text nor a name,
--   ULID, number or hex digest can hold (one argument per task is 6x cheaper to send).
--   Per-task fields after params_json, each after its own separator:
--     7 priority, a digit 0-9 (absent or '' = 5; issue 15 part 3)
-- mode 'all': all or nothing; a batch with one conflicting id or unknown queue stores none
--   of its tasks, so a client that retries a rejected batch never finds half of it queued.
--   Returns {'ok', kind1, value1, ...} with 'new', submitted_at | 'exists', status per task,
--   or {'rejected', index (1-based), kind, value} for the first task that stops the batch:
--   'conflict', status | 'expired', same_content 0/1 | 'noqueue', queue
-- mode 'each': tasks of unrelated callers sent together; each stands alone, and a refused
--   one gets its own kind and value in the 'ok' reply (the others are stored).
-- A new task is stored compact (see common.lua): a record in `wait` and its id on the
-- list of its queue and type, a handful of variadic calls for the whole batch.
-- uses: K_task, K_params, K_seen, K_status_index, K_status_name_index, K_all_index,
-- uses: K_waiting_records, K_waiting_list, K_waiting_types, K_waiting_counts, K_bell,
-- uses: K_sched_bell, K_queues, K_minute_counts, K_event_stream, default_priority, ptype,
-- uses: listed, stream_event, move, pack_record, unpack_record, ring, bump
local all_or_nothing = ARGV[2] == 'all'
local KEY = {waiting_records = K_waiting_records, waiting_counts = K_waiting_counts,
  queues = K_queues, all_index = K_all_index(), sched_bell = K_sched_bell}
local queues = {}
local out = {'ok'}
local fresh = {}
local later = {}  -- Delayed submit (issue 15 §1): tasks stored `scheduled`
local taken = {}  -- id -> fingerprint of the tasks this call stores
local tasks = {}
local now_text = tostring(NOW)
for i = 3, #ARGV do
  tasks[#tasks + 1] = {string.match(ARGV[i], '^([^\31]*)\31([^\31]*)\31([^\31]*)\31([^\31]*)\31([^\31]*)\31(.*)$')}
end
-- Per-task fields after params_json (JSON text holds no \31), one \31 each: split them off
-- f[6]. extra[1]: the priority (issue 15 part 3); extra[2], optional: the due time of a
-- delayed submit (issue 15 part 1).
local due_at = {}
for _, f in ipairs(tasks) do
  local params, rest = string.match(f[6], '^([^\31]*)(.*)$')
  f[6] = params
  local extra = {}
  for v in string.gmatch(rest, '\31([^\31]*)') do extra[#extra + 1] = v end
  -- Priorities: a digit 0-9 (the manager validated it); the type's list for it (common.lua).
  f.prio = extra[1]
  if f.prio and (default_priority(f.prio) or not string.match(f.prio, '^%d$')) then f.prio = nil end
  -- Delayed submit: 'a<ms>' (a time) or 'd<ms>' (a delay from NOW). One due later than NOW
  -- is stored in full form as `scheduled` (scored by its due time, promoted by
  -- promote.lua); one not later runs now like any other. Its reply is 'later',
  -- "submitted_at:due".
  local kind, ms = string.match(extra[2] or '', '^([ad])(%-?%d+)$')
  if kind then
    local due = kind == 'a' and tonumber(ms) or NOW + tonumber(ms)
    if due > NOW then due_at[f[1]] = due end
  end
end
-- Fresh ids are the rule: one variadic EXISTS over every task key and expiry marker of the
-- batch answers for all of them when none is stored or expired (then no per-task lookup),
-- and one HMGET finds the ones waiting compact.
local known_any, records
do
  local keys, ids = {}, {}
  for i, f in ipairs(tasks) do
    keys[#keys + 1] = K_task(f[1])
    keys[#keys + 1] = K_seen(f[1])
    ids[i] = f[1]
  end
  known_any = redis.call('EXISTS', unpack(keys)) > 0
  records = redis.call('HMGET', KEY.waiting_records, unpack(ids))
end
for index, f in ipairs(tasks) do
  local id, queue, fp = f[1], f[4], f[5]
  local existing = {}
  if taken[id] then
    existing = {taken[id], 'submitted'}
  elseif records[index] then
    existing = {unpack_record(records[index]).fp, 'submitted'}
  elseif known_any then
    existing = redis.call('HMGET', K_task(id), 'fp', 'status')
  end
  if existing[1] then
    if existing[1] ~= fp then
      if all_or_nothing then return {'rejected', index, 'conflict', existing[2]} end
      out[#out + 1] = 'conflict'
    else
      out[#out + 1] = 'exists'
    end
    out[#out + 1] = existing[2]
  else
    local seen = known_any and redis.call('GET', K_seen(id))
    local refused = nil
    if seen then
      refused = {'expired', seen == fp and '1' or '0'}
    else
      if queues[queue] == nil then
        queues[queue] = redis.call('HEXISTS', KEY.queues, queue) == 1 and 0 or false
      end
      if queues[queue] == false then refused = {'noqueue', queue} end
    end
    if refused and all_or_nothing then
      return {'rejected', index, refused[1], refused[2]}
    elseif refused then
      out[#out + 1] = refused[1]
      out[#out + 1] = refused[2]
    elseif due_at[id] then  -- Delayed submit (issue 15 §1)
      later[#later + 1] = f
      taken[id] = fp
      out[#out + 1] = 'later'
      out[#out + 1] = now_text .. ':' .. due_at[id]
    else
      fresh[#fresh + 1] = f
      taken[id] = fp
      out[#out + 1] = 'new'
      out[#out + 1] = now_text
    end
  end
end
-- Write the new tasks: one variadic HSET of records, then per queue and type one RPUSH
-- of ids, per queue one count, in chunks of 1000 tasks (Lua's unpack limit). A type new to
-- the queue's type index enters it with this call's time (NX: a listed type keeps its
-- older bound).
local by_queue = {}
for _, f in ipairs(fresh) do
  local q = by_queue[f[4]]
  if not q then q = {n = 0, types = {}, order = {}}; by_queue[f[4]] = q end
  local ttype = ptype(f[2] .. '@' .. f[3], f.prio)
  if not q.types[ttype] then
    q.types[ttype] = {}
    q.order[#q.order + 1] = ttype
  end
  table.insert(q.types[ttype], f)
  q.n = q.n + 1
end
for queue, q in pairs(by_queue) do
  for _, ttype in ipairs(q.order) do
    local list = q.types[ttype]
    for i = 1, #list, 1000 do
      local pairs_, ids = {}, {}
      for j = i, math.min(i + 999, #list) do
        local f = list[j]
        pairs_[#pairs_ + 1] = f[1]
        pairs_[#pairs_ + 1] = pack_record(queue, f[2], f[3], f[5], now_text, f[6], f.prio)
        ids[#ids + 1] = f[1]
      end
      redis.call('HSET', KEY.waiting_records, unpack(pairs_))
      redis.call('RPUSH', K_waiting_list(queue, ttype), unpack(ids))
      for k = 1, #ids, EVBATCH do
        stream_event({ids, k, math.min(k + EVBATCH - 1, #ids)}, list[1][2], queue, nil, 'submitted', nil, 0)
      end
    end
    redis.call('ZADD', K_waiting_types(queue), 'NX', NOW, ttype)
  end
  redis.call('HINCRBY', KEY.waiting_counts, queue, q.n)
  ring(queue)
  bump(queue, 'submitted', q.n)
end
-- Delayed submit (issue 15 §1): full form, `scheduled` until due; the scheduler's doorbell
-- rings so that a scheduler asleep until a later due time wakes for this one.
for _, f in ipairs(later) do
  local id, queue, due = f[1], f[4], due_at[f[1]]
  local t = K_task(id)
  redis.call('HSET', t, 'name', f[2], 'version', f[3], 'queue', queue, 'attempt', 0,
    'recoveries', 0, 'submitted_at', NOW, 'fp', f[5], 'scheduled_for', due)
  if f[6] ~= '{}' then redis.call('SET', K_params(id), f[6]) end
  -- Its priority goes with it to the list it joins when due (`listed` reads `prio`).
  if f.prio then redis.call('HSET', t, 'prio', f.prio) end
  redis.call('ZADD', KEY.all_index, NOW, id)
  redis.call('ZADD', K_all_index(queue), NOW, id)
  move(id, queue, nil, 'scheduled', due)
  bump(queue, 'submitted')
end
if #later > 0 then redis.call('ZADD', KEY.sched_bell, 0, 'r') end
return out
