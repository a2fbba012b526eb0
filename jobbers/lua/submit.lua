-- submit: store a new task and put it on its queue, idempotent on the id.
-- ARGV: prefix, id, name, version, queue, params_json, fingerprint
-- Returns {'new', submitted_at} | {'exists', status} | {'conflict', status}
--       | {'expired', same_content 0/1} | {'noqueue'}
local id, name, version, queue, params, fp = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local t = tk(id)
local existing = redis.call('HMGET', t, 'fp', 'status')
if existing[1] then
  if existing[1] == fp then return {'exists', existing[2]} end
  return {'conflict', existing[2]}
end
local seen = redis.call('GET', P .. 'seen:' .. id)
if seen then
  if seen == fp then return {'expired', '1'} end
  return {'expired', '0'}
end
if redis.call('HEXISTS', P .. 'queues', queue) == 0 then return {'noqueue'} end
redis.call('HSET', t, 'id', id, 'name', name, 'version', version, 'queue', queue,
  'attempt', 0, 'recoveries', 0, 'submitted_at', NOW, 'fp', fp)
redis.call('SET', t .. ':p', params)
redis.call('ZADD', P .. 'all', NOW, id)
redis.call('ZADD', P .. 'all:' .. queue, NOW, id)
move(id, queue, nil, 'submitted', NOW)
ring(queue)
bump(queue, 'submitted')
return {'new', tostring(NOW)}
