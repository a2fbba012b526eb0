-- sched_due: the schedules whose next tick is due, for the scheduler to fire (sched_fire).
-- Reads only: the ticks are computed in Python (cron), the firing is sched_fire's.
-- ARGV: prefix, limit, spread (0 <= spread < 1)
-- Several schedulers spread over a long due set: each starts at its own random offset
-- (spread x the due ones beyond one batch), so they fire different ticks side by side
-- instead of all computing the same batch, which only one of them can fire.
-- Returns {NOW, ms until the earliest tick (-1 when none), then per due schedule: name,
--   tick, definition JSON (false if gone), last-outcome JSON (false if none)}
-- uses: K_schedules, K_schedule_next, K_schedule_last
local limit = tonumber(ARGV[2])
local KEY = {schedules = K_schedules, schedule_next = K_schedule_next,
  schedule_last = K_schedule_last}
local offset = 0
local spread = tonumber(ARGV[3] or '0') or 0
if spread > 0 then
  local n = redis.call('ZCOUNT', KEY.schedule_next, '-inf', NOW)
  offset = math.floor(spread * math.max(0, n - limit))
end
local due = redis.call('ZRANGEBYSCORE', KEY.schedule_next, '-inf', NOW, 'WITHSCORES', 'LIMIT',
  offset, limit)
local first = redis.call('ZRANGE', KEY.schedule_next, 0, 0, 'WITHSCORES')
local out = {NOW, first[2] and math.max(0, tonumber(first[2]) - NOW) or -1}
for i = 1, #due, 2 do
  out[#out + 1] = due[i]
  out[#out + 1] = due[i + 1]
  out[#out + 1] = redis.call('HGET', KEY.schedules, due[i])
  out[#out + 1] = redis.call('HGET', KEY.schedule_last, due[i])
end
return out
