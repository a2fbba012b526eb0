-- queue_set: write one queue's config only if it is still what the caller read (compare
-- and set), so a pause and a limits update racing each other can never lose either one.
-- ARGV: prefix, name, expected config JSON ('' = the queue must not exist yet), new config
--   JSON, ring ('1' rings the queue's doorbell, for a resume)
-- Returns 1 when written (and the config version bumped), 0 when the stored config changed
-- since it was read: read it again and retry.
local name, expected, new = ARGV[2], ARGV[3], ARGV[4]
if (redis.call('HGET', P .. 'queues', name) or '') ~= expected then return 0 end
redis.call('HSET', P .. 'queues', name, new)
if ARGV[5] == '1' then ring(name) end
redis.call('INCR', P .. 'cfgver')
redis.call('PUBLISH', P .. 'events', 'config')
return 1
