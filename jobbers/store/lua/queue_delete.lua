-- queue_delete: delete an empty queue and drop it from every role, in one step, so no
-- submit can land on the queue between the emptiness check and the delete, and no role
-- edit made meanwhile is overwritten. The caller reads every role and sends its new JSON;
-- if any role changed since, nothing is written and the caller reads again.
-- ARGV: prefix, name, role count, then per role: name, JSON as read, new JSON ('' = keep)
-- Returns {'ok'} | {'missing'} | {'busy', waiting, scheduled, running} | {'changed'}
-- uses: K_status_index, K_queue, K_waiting_list, K_waiting_types, K_waiting_counts, K_bell,
-- uses: K_queues, K_roles, K_config_version, K_events, waiting_count
local q, n = ARGV[2], tonumber(ARGV[3])
local KEY = {queues = K_queues, roles = K_roles, config_version = K_config_version,
  events = K_events, queue = K_queue(q), bell = K_bell(q), waiting_types = K_waiting_types(q),
  waiting = K_status_index('waiting', q), scheduled = K_status_index('scheduled', q),
  started = K_status_index('started', q)}
if redis.call('HEXISTS', KEY.queues, q) == 0 then return {'missing'} end
local waiting = redis.call('ZCARD', KEY.queue) + waiting_count(q)
  + redis.call('ZCARD', KEY.waiting)  -- workflows: tasks waiting for parents
local scheduled = redis.call('ZCARD', KEY.scheduled)
local running = redis.call('ZCARD', KEY.started)
if waiting + scheduled + running > 0 then return {'busy', waiting, scheduled, running} end
if redis.call('HLEN', KEY.roles) ~= n then return {'changed'} end
for i = 4, 3 + 3 * n, 3 do
  if redis.call('HGET', KEY.roles, ARGV[i]) ~= ARGV[i + 1] then return {'changed'} end
end
for i = 4, 3 + 3 * n, 3 do
  if ARGV[i + 2] ~= '' then redis.call('HSET', KEY.roles, ARGV[i], ARGV[i + 2]) end
end
redis.call('HDEL', KEY.queues, q)
redis.call('DEL', KEY.bell)
-- The per-type waiting lists, holding only tombstones now, go with the queue (one per type).
for _, t in ipairs(redis.call('ZRANGE', KEY.waiting_types, 0, -1)) do
  redis.call('DEL', K_waiting_list(q, t), K_bell(q, t))
end
redis.call('DEL', KEY.waiting_types)
redis.call('INCR', KEY.config_version)
redis.call('PUBLISH', KEY.events, 'config')
return {'ok'}
