-- submit: store new tasks and put them on their queues, idempotent on each id.
-- ARGV: prefix, mode, then one per task: id, name, version, queue, fingerprint and
--   params_json joined by the unit separator (\31), which neither JSON text nor a name,
--   ULID, number or hex digest can hold (one argument per task is 6x cheaper to send).
-- mode 'all': all or nothing; a batch with one conflicting id or unknown queue stores none
--   of its tasks, so a client that retries a rejected batch never finds half of it queued.
--   Returns {'ok', kind1, value1, ...} with 'new', submitted_at | 'exists', status per task,
--   or {'rejected', index (1-based), kind, value} for the first task that stops the batch:
--   'conflict', status | 'expired', same_content 0/1 | 'noqueue', queue
-- mode 'each': tasks of unrelated callers sent together; each stands alone, and a refused
--   one gets its own kind and value in the 'ok' reply (the others are stored).
local all_or_nothing = ARGV[2] == 'all'
local queues = {}
local out = {'ok'}
local fresh = {}
local taken = {}  -- id -> fingerprint of the tasks this call stores
local tasks = {}
local now_text = tostring(NOW)
for i = 3, #ARGV do
  tasks[#tasks + 1] = {string.match(ARGV[i], '^([^\31]*)\31([^\31]*)\31([^\31]*)\31([^\31]*)\31([^\31]*)\31(.*)$')}
end
-- Fresh ids are the rule: one variadic EXISTS over every task key and expiry marker of the
-- batch answers for all of them when none is stored or expired (then no per-task lookup).
local known_any
do
  local keys = {}
  for _, f in ipairs(tasks) do
    keys[#keys + 1] = tk(f[1])
    keys[#keys + 1] = P .. 'seen:' .. f[1]
  end
  known_any = redis.call('EXISTS', unpack(keys)) > 0
end
for index, f in ipairs(tasks) do
  local id, queue, fp = f[1], f[4], f[5]
  local existing = {}
  if taken[id] then
    existing = {taken[id], 'submitted'}
  elseif known_any then
    existing = redis.call('HMGET', tk(id), 'fp', 'status')
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
    local seen = known_any and redis.call('GET', P .. 'seen:' .. id)
    local refused = nil
    if seen then
      refused = {'expired', seen == fp and '1' or '0'}
    else
      if queues[queue] == nil then
        queues[queue] = redis.call('HEXISTS', P .. 'queues', queue) == 1 and 0 or false
      end
      if queues[queue] == false then refused = {'noqueue', queue} end
    end
    if refused and all_or_nothing then
      return {'rejected', index, refused[1], refused[2]}
    elseif refused then
      out[#out + 1] = refused[1]
      out[#out + 1] = refused[2]
    else
      fresh[#fresh + 1] = f
      taken[id] = fp
      out[#out + 1] = 'new'
      out[#out + 1] = now_text
    end
  end
end
-- Write the new tasks: each task's HASH (status included) and parameters, then one
-- variadic ZADD per index and queue for the whole batch (move_many), not four per task.
local by_queue = {}
for _, f in ipairs(fresh) do
  local id, name, version, queue, fp, params = f[1], f[2], f[3], f[4], f[5], f[6]
  local t = tk(id)
  redis.call('HSET', t, 'name', name, 'version', version, 'queue', queue,
    'attempt', 0, 'recoveries', 0, 'submitted_at', NOW, 'fp', fp, 'status', 'submitted')
  -- No parameters, no key: readers take a missing one as {} (72 bytes saved per task).
  if params ~= '{}' then redis.call('SET', t .. ':p', params) end
  by_queue[queue] = by_queue[queue] or {}
  table.insert(by_queue[queue], id)
end
for queue, ids in pairs(by_queue) do
  for i = 1, #ids, 1000 do
    local pairs_ = {}
    for j = i, math.min(i + 999, #ids) do
      pairs_[#pairs_ + 1] = NOW
      pairs_[#pairs_ + 1] = ids[j]
    end
    redis.call('ZADD', P .. 'all', unpack(pairs_))
    redis.call('ZADD', P .. 'all:' .. queue, unpack(pairs_))
  end
  move_many(ids, queue, nil, 'submitted', NOW)
  ring(queue)
  bump(queue, 'submitted', #ids)
end
return out
