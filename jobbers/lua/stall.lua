-- stall: mark `stalled` every started task whose heartbeat deadline passed, and ask its
-- worker to stop it (durable mailbox + pub/sub hint).
-- ARGV: prefix, limit
-- Returns the number of tasks marked stalled.
local ids = redis.call('ZRANGEBYSCORE', P .. 'hb', '-inf', NOW, 'LIMIT', 0, tonumber(ARGV[2]))
local n = 0
for _, id in ipairs(ids) do
  redis.call('ZREM', P .. 'hb', id)
  local t = tk(id)
  local f = redis.call('HMGET', t, 'status', 'worker', 'queue', 'name', 'attempt', 'dlq', 'hbmax')
  if f[1] == 'started' then
    local msg = 'no heartbeat within ' .. (tonumber(f[7]) / 1000) .. 's'
    history(id, {attempt = tonumber(f[5]), kind = 'stalled', message = msg, worker_id = f[2]})
    release(id, f[2])
    finish_at(id, 'stalled', f[3], 'started')
    redis.call('HSET', t, 'last_error', msg)
    if f[6] == '1' then dead_letter(id, f[3], f[4]) end
    redis.call('SADD', P .. 'cancel:' .. f[2], id)
    redis.call('PUBLISH', P .. 'events', 'cancel:' .. id)
    bump(f[3], 'failed')
    n = n + 1
  end
end
return n
