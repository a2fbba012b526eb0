-- purge: cancel (visibly, with a reason) up to `limit` waiting tasks of a queue: compact
-- ones first (see common.lua), then full-form submitted ones, then scheduled retries.
-- Nothing is deleted.
-- ARGV: prefix, queue, limit
-- Returns {cancelled, more}: call again while more is 1. A call also drops at most 20
-- x limit tombstones from the head of the queue's list, so it never runs long.
local queue, limit = ARGV[2], tonumber(ARGV[3])
local n = 0
local function purged(id, status, attempt)
  history(id, {attempt = attempt, kind = 'cancelled', message = 'queue ' .. queue .. ' purged'})
  finish_at(id, 'cancelled', queue, status)
  redis.call('HSET', tk(id), 'last_error', 'queue ' .. queue .. ' purged')
  bump(queue, 'cancelled')
  n = n + 1
end
for _ = 1, 20 do
  local listed = redis.call('LRANGE', wl(queue), 0, limit - 1)
  if #listed == 0 then break end
  local recs = redis.call('HMGET', wk(), unpack(listed))
  local taken = 0
  for i, id in ipairs(listed) do
    if recs[i] then
      if n >= limit then break end
      materialize(id, unpack_record(recs[i]))
      purged(id, 'submitted', 0)
    end
    taken = i
  end
  redis.call('LTRIM', wl(queue), taken, -1)
  if n >= limit then return {n, 1} end
end
if redis.call('LLEN', wl(queue)) > 0 then return {n, 1} end
for _, status in ipairs({'submitted', 'scheduled'}) do
  if n < limit then
    for _, id in ipairs(redis.call('ZRANGE', P .. 's:' .. status .. ':' .. queue, 0, limit - n - 1)) do
      purged(id, status, tonumber(redis.call('HGET', tk(id), 'attempt')) or 0)
    end
  end
end
return {n, n >= limit and 1 or 0}
