-- promote: move due scheduled tasks onto their queues. Atomic, so several schedulers can
-- run at once without promoting a task twice.
-- ARGV: prefix, limit
-- Returns {promoted, ms_until_next_due (-1 when nothing is scheduled)}
local ids = redis.call('ZRANGEBYSCORE', P .. 's:scheduled', '-inf', NOW, 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  local f = redis.call('HMGET', tk(id), 'status', 'queue')
  if f[1] == 'scheduled' then
    move(id, f[2], 'scheduled', 'submitted', NOW)
    redis.call('HDEL', tk(id), 'scheduled_for')
    ring(f[2])
  else
    redis.call('ZREM', P .. 's:scheduled', id)
  end
end
local nxt = redis.call('ZRANGE', P .. 's:scheduled', 0, 0, 'WITHSCORES')
if nxt[2] then return {#ids, math.max(0, tonumber(nxt[2]) - NOW)} end
return {#ids, -1}
