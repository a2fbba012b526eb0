-- retention: delete terminal tasks older than their retention, batch by batch, from the
-- status indexes (never a scan). A tombstone keeps the id's fingerprint so a late
-- duplicate submit is still recognised.
-- ARGV: prefix, status, max_age_ms, limit, tombstone_ttl_s
-- Returns the number deleted.
local status, age, limit, ttl = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local ids = redis.call('ZRANGEBYSCORE', P .. 's:' .. status, '-inf', NOW - age, 'LIMIT', 0, limit)
-- Workflows: a parent that a live child still needs (for its results) is kept, and
-- checked again one retention period later (its index entries move to now).
do
  local LIVE = {waiting = true, submitted = true, scheduled = true, started = true}
  local kept = {}
  for _, id in ipairs(ids) do
    local held = false
    for _, cid in ipairs(redis.call('SMEMBERS', tk(id) .. ':c')) do
      if LIVE[redis.call('HGET', tk(cid), 'status') or ''] then held = true; break end
    end
    local f = held and redis.call('HMGET', tk(id), 'queue', 'name')
    if f and f[1] and f[2] then
      redis.call('ZADD', P .. 's:' .. status, NOW, id)
      redis.call('ZADD', P .. 's:' .. status .. ':' .. f[1], NOW, id)
      redis.call('ZADD', P .. 's:' .. status .. ':n:' .. f[2], NOW, id)
    else
      kept[#kept + 1] = id
    end
  end
  ids = kept
end
for _, id in ipairs(ids) do
  local t = tk(id)
  local f = redis.call('HMGET', t, 'queue', 'name', 'fp', 'in_dlq')
  if f[1] then
    if f[4] == '1' then undead(id, f[1], f[2]) end
    redis.call('ZREM', P .. 's:' .. status .. ':' .. f[1], id)
    redis.call('ZREM', P .. 's:' .. status .. ':n:' .. f[2], id)
    redis.call('ZREM', P .. 'all:' .. f[1], id)
    if f[3] then redis.call('SET', P .. 'seen:' .. id, f[3], 'EX', ttl) end
  end
  redis.call('ZREM', P .. 's:' .. status, id)
  redis.call('ZREM', P .. 'all', id)
  -- Workflows: the last of its nodes deleted takes the workflow's record with it.
  local wf = redis.call('HGET', t, 'wf')
  local wn = wf and tonumber(redis.call('HGET', P .. 'wf:' .. wf, 'n'))
  if wn and redis.call('HINCRBY', P .. 'wf:' .. wf, 'gone', 1) >= wn then
    redis.call('DEL', P .. 'wf:' .. wf)
    redis.call('ZREM', P .. 'wfs', wf)
  end
  redis.call('DEL', t, t .. ':p', t .. ':r', t .. ':h', t .. ':pa', t .. ':c')
end
return #ids
