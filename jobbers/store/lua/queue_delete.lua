-- queue_delete: delete an empty queue and drop it from every role, in one step, so no
-- submit can land on the queue between the emptiness check and the delete, and no role
-- edit made meanwhile is overwritten. The caller reads every role and sends its new JSON;
-- if any role changed since, nothing is written and the caller reads again.
-- ARGV: prefix, name, role count, then per role: name, JSON as read, new JSON ('' = keep)
-- Returns {'ok'} | {'missing'} | {'busy', waiting, scheduled, running} | {'changed'}
local q, n = ARGV[2], tonumber(ARGV[3])
if redis.call('HEXISTS', P .. 'queues', q) == 0 then return {'missing'} end
local waiting = redis.call('ZCARD', P .. 's:submitted:' .. q) + waiting_count(q)
  + redis.call('ZCARD', P .. 's:waiting:' .. q)  -- workflows: tasks waiting for parents
local scheduled = redis.call('ZCARD', P .. 's:scheduled:' .. q)
local running = redis.call('ZCARD', P .. 's:started:' .. q)
if waiting + scheduled + running > 0 then return {'busy', waiting, scheduled, running} end
if redis.call('HLEN', P .. 'roles') ~= n then return {'changed'} end
for i = 4, 3 + 3 * n, 3 do
  if redis.call('HGET', P .. 'roles', ARGV[i]) ~= ARGV[i + 1] then return {'changed'} end
end
for i = 4, 3 + 3 * n, 3 do
  if ARGV[i + 2] ~= '' then redis.call('HSET', P .. 'roles', ARGV[i], ARGV[i + 2]) end
end
redis.call('HDEL', P .. 'queues', q)
redis.call('DEL', P .. 'bell:' .. q)
-- The per-type waiting lists, holding only tombstones now, go with the queue (one per type).
for _, t in ipairs(redis.call('ZRANGE', P .. 'wt:' .. q, 0, -1)) do
  redis.call('DEL', P .. 'wl:' .. q .. ':' .. t, P .. 'bell:' .. q .. ':' .. t)
end
redis.call('DEL', P .. 'wt:' .. q)
redis.call('INCR', P .. 'cfgver')
redis.call('PUBLISH', P .. 'events', 'config')
return {'ok'}
