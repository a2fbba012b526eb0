-- purge: cancel (visibly, with a reason) up to `limit` waiting tasks of a queue:
-- submitted first, then scheduled retries. Nothing is deleted.
-- ARGV: prefix, queue, limit
-- Returns the number of tasks cancelled (call again while it equals limit).
local queue, limit = ARGV[2], tonumber(ARGV[3])
local n = 0
for _, status in ipairs({'submitted', 'scheduled'}) do
  if n < limit then
    for _, id in ipairs(redis.call('ZRANGE', P .. 's:' .. status .. ':' .. queue, 0, limit - n - 1)) do
      local attempt = tonumber(redis.call('HGET', tk(id), 'attempt')) or 0
      history(id, {attempt = attempt, kind = 'cancelled', message = 'queue ' .. queue .. ' purged'})
      finish_at(id, 'cancelled', queue, status)
      redis.call('HSET', tk(id), 'last_error', 'queue ' .. queue .. ' purged')
      bump(queue, 'cancelled')
      n = n + 1
    end
  end
end
return n
