-- submit: store new tasks and put them on their queues, idempotent on each id.
-- ARGV: prefix, mode, then 6 per task: id, name, version, queue, params_json, fingerprint
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
for i = 3, #ARGV, 6 do
  local id, queue, fp = ARGV[i], ARGV[i + 3], ARGV[i + 5]
  local index = (i - 3) / 6 + 1
  local existing
  if taken[id] then
    existing = {taken[id], 'submitted'}
  else
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
    local seen = redis.call('GET', P .. 'seen:' .. id)
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
      fresh[#fresh + 1] = i
      taken[id] = fp
      out[#out + 1] = 'new'
      out[#out + 1] = tostring(NOW)
    end
  end
end
for _, i in ipairs(fresh) do
  local id, name, version, queue, params, fp =
    ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local t = tk(id)
  redis.call('HSET', t, 'id', id, 'name', name, 'version', version, 'queue', queue,
    'attempt', 0, 'recoveries', 0, 'submitted_at', NOW, 'fp', fp)
  redis.call('SET', t .. ':p', params)
  redis.call('ZADD', P .. 'all', NOW, id)
  redis.call('ZADD', P .. 'all:' .. queue, NOW, id)
  move(id, queue, nil, 'submitted', NOW)
  queues[queue] = queues[queue] + 1
end
for queue, added in pairs(queues) do
  if added and added > 0 then
    ring(queue)
    bump(queue, 'submitted', added)
  end
end
return out
