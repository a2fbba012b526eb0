-- retention: delete terminal tasks older than their retention, batch by batch, from the
-- status indexes (never a scan). A tombstone keeps the id's fingerprint so a late
-- duplicate submit is still recognised.
-- ARGV: prefix, status, max_age_ms, limit, tombstone_ttl_s
-- Returns the number deleted.
-- uses: K_task, K_params, K_results, K_history, K_parents, K_children, K_seen,
-- uses: K_status_index, K_status_name_index, K_all_index, K_dlq, K_workflow, K_workflows,
-- uses: undead
local status, age, limit, ttl = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local KEY = {status_index = K_status_index(status), all_index = K_all_index(),
  workflows = K_workflows}
local ids = redis.call('ZRANGEBYSCORE', KEY.status_index, '-inf', NOW - age, 'LIMIT', 0, limit)
-- Workflows: a parent that a live child still needs (for its results) is kept, and
-- checked again one retention period later (its index entries move to now).
do
  local LIVE = {waiting = true, submitted = true, scheduled = true, started = true}
  local kept = {}
  for _, id in ipairs(ids) do
    local held = false
    for _, cid in ipairs(redis.call('SMEMBERS', K_children(id))) do
      if LIVE[redis.call('HGET', K_task(cid), 'status') or ''] then held = true; break end
    end
    local f = held and redis.call('HMGET', K_task(id), 'queue', 'name')
    if f and f[1] and f[2] then
      redis.call('ZADD', KEY.status_index, NOW, id)
      redis.call('ZADD', K_status_index(status, f[1]), NOW, id)
      redis.call('ZADD', K_status_name_index(status, f[2]), NOW, id)
    else
      kept[#kept + 1] = id
    end
  end
  ids = kept
end
for _, id in ipairs(ids) do
  local t = K_task(id)
  local f = redis.call('HMGET', t, 'queue', 'name', 'fp', 'in_dlq')
  if f[1] then
    if f[4] == '1' then undead(id, f[1], f[2]) end
    redis.call('ZREM', K_status_index(status, f[1]), id)
    redis.call('ZREM', K_status_name_index(status, f[2]), id)
    redis.call('ZREM', K_all_index(f[1]), id)
    if f[3] then redis.call('SET', K_seen(id), f[3], 'EX', ttl) end
  end
  redis.call('ZREM', KEY.status_index, id)
  redis.call('ZREM', KEY.all_index, id)
  -- Workflows: the last of its nodes deleted takes the workflow's record with it.
  local wf = redis.call('HGET', t, 'wf')
  local wn = wf and tonumber(redis.call('HGET', K_workflow(wf), 'n'))
  if wn and redis.call('HINCRBY', K_workflow(wf), 'gone', 1) >= wn then
    redis.call('DEL', K_workflow(wf))
    redis.call('ZREM', KEY.workflows, wf)
  end
  redis.call('DEL', t, K_params(id), K_results(id), K_history(id), K_parents(id), K_children(id))
end
return #ids
