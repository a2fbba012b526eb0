-- queue_set: write one queue's config only if it is still what the caller read (compare
-- and set), so a pause and a limits update racing each other can never lose either one.
-- ARGV: prefix, name, expected config JSON ('' = the queue must not exist yet), new config
--   JSON, ring ('1' rings the queue's doorbell, for a resume)
-- Returns 1 when written (and the config version bumped), 0 when the stored config changed
-- since it was read: read it again and retry.
-- uses: K_bell, K_queues, K_config_version, K_events, ring
local name, expected, new = ARGV[2], ARGV[3], ARGV[4]
local KEY = {queues = K_queues, config_version = K_config_version, events = K_events}
if (redis.call('HGET', KEY.queues, name) or '') ~= expected then return 0 end
redis.call('HSET', KEY.queues, name, new)
if ARGV[5] == '1' then ring(name) end
redis.call('INCR', KEY.config_version)
redis.call('PUBLISH', KEY.events, 'config')
return 1
