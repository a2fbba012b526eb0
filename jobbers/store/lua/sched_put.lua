-- sched_put: write a schedule's definition and its next tick together, over what the
-- caller read (compare and set), and ring the scheduler so it sleeps to the new tick.
-- ARGV: prefix, name, expect ('' = must not exist, '*' = anything, else the JSON read),
--   new definition JSON, next tick ms ('' = none: paused)
-- Returns 'ok' | 'exists' | 'missing' | 'changed'
local name, expect, def, nxt = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local cur = redis.call('HGET', P .. 'sched', name)
if expect == '' and cur then return 'exists' end
if expect ~= '' and expect ~= '*' then
  if not cur then return 'missing' end
  if cur ~= expect then return 'changed' end
end
redis.call('HSET', P .. 'sched', name, def)
if nxt == '' then
  redis.call('ZREM', P .. 'sched:next', name)
else
  redis.call('ZADD', P .. 'sched:next', nxt, name)
  redis.call('ZADD', P .. 'schedbell', 0, 'r')
end
return 'ok'
