-- sched_put: write a schedule's definition and its next tick together, over what the
-- caller read (compare and set), and ring the scheduler so it sleeps to the new tick.
-- ARGV: prefix, name, expect ('' = must not exist, '*' = anything, else the JSON read),
--   new definition JSON, next tick ms ('' = none: paused)
-- Returns 'ok' | 'exists' | 'missing' | 'changed'
-- uses: K_sched_bell, K_schedules, K_schedule_next
local name, expect, def, nxt = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local KEY = {schedules = K_schedules, schedule_next = K_schedule_next, sched_bell = K_sched_bell}
local cur = redis.call('HGET', KEY.schedules, name)
if expect == '' and cur then return 'exists' end
if expect ~= '' and expect ~= '*' then
  if not cur then return 'missing' end
  if cur ~= expect then return 'changed' end
end
redis.call('HSET', KEY.schedules, name, def)
if nxt == '' then
  redis.call('ZREM', KEY.schedule_next, name)
else
  redis.call('ZADD', KEY.schedule_next, nxt, name)
  redis.call('ZADD', KEY.sched_bell, 0, 'r')
end
return 'ok'
