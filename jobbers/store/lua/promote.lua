-- promote: move due scheduled tasks onto their queues. Atomic, so several schedulers can
-- run at once without promoting a task twice.
-- ARGV: prefix, limit
-- Returns {promoted, ms_until_next_due (-1 when nothing is scheduled)}
-- uses: K_task, K_status_index, K_status_name_index, K_waiting_list, K_waiting_types,
-- uses: K_bell, K_event_stream, default_priority, ptype, listed, stream_event, move, ring
local KEY = {status_index = K_status_index('scheduled')}
local ids = redis.call('ZRANGEBYSCORE', KEY.status_index, '-inf', NOW, 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  local f = redis.call('HMGET', K_task(id), 'status', 'queue')
  if f[1] == 'scheduled' then
    move(id, f[2], 'scheduled', 'submitted', NOW)
    redis.call('HDEL', K_task(id), 'scheduled_for')
    ring(f[2])
  else
    redis.call('ZREM', KEY.status_index, id)
  end
end
local nxt = redis.call('ZRANGE', KEY.status_index, 0, 0, 'WITHSCORES')
if nxt[2] then return {#ids, math.max(0, tonumber(nxt[2]) - NOW)} end
return {#ids, -1}
