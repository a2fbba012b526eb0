-- cancel: submitted/scheduled/waiting tasks are cancelled at once; a started task gets a durable
-- cancel flag, a mailbox entry for its worker and a pub/sub hint.
-- ARGV: prefix, id, reason
-- Returns {'cancelled'} | {'requested'} | {'conflict', status} | {'notfound'}
local id, reason = ARGV[2], ARGV[3]
local t = tk(id)
local f = redis.call('HMGET', t, 'status', 'queue', 'worker', 'attempt')
if not f[1] then
  -- A compact waiting task gets its full form first (its list entry stays a tombstone).
  local rec = redis.call('HGET', wk(), id)
  if not rec then return {'notfound'} end
  local r = unpack_record(rec)
  materialize(id, r)
  drop_tombstones(r.queue, r.ttype, false)
  drop_tombstones(r.queue, r.ttype, true)
  f = {'submitted', r.queue, false, '0'}
end
if f[1] == 'submitted' or f[1] == 'scheduled' or f[1] == 'waiting' then
  history(id, {attempt = tonumber(f[4]), kind = 'cancelled', message = reason})
  finish_at(id, 'cancelled', f[2], f[1])
  redis.call('HDEL', t, 'scheduled_for')
  bump(f[2], 'cancelled')
  return {'cancelled'}
end
if f[1] == 'started' then
  redis.call('HSET', t, 'cancel', '1')
  redis.call('SADD', P .. 'cancel:' .. f[3], id)
  redis.call('PUBLISH', P .. 'events', 'cancel:' .. id)
  return {'requested'}
end
return {'conflict', f[1]}
