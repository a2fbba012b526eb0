-- stats: one dashboard frame, O(queues x 60 buckets), no scans.
-- ARGV: prefix, minutes of history (<= 120)
-- Returns JSON: {now, workers, dlq, statuses{}, queues[{name, depth, running, scheduled,
--   paused, completed_1m, failed_1m, completed_1h, failed_1h, series_completed[], series_failed[], series_depth?}]}
local minutes = tonumber(ARGV[2])
local cur = math.floor(NOW / 60000)
local res = {now = NOW, queues = {}, statuses = {}}
res.workers = redis.call('ZCOUNT', P .. 'workers', NOW, '+inf')
res.dlq = redis.call('ZCARD', P .. 'dlq')
for _, s in ipairs({'submitted', 'scheduled', 'started', 'completed', 'failed', 'cancelled', 'stalled', 'dropped'}) do
  res.statuses[s] = redis.call('ZCARD', P .. 's:' .. s)
end
-- Compact waiting tasks are counted per queue in `wq` (see common.lua).
local compact = {}
do
  local flat = redis.call('HGETALL', P .. 'wq')
  for i = 1, #flat, 2 do compact[flat[i]] = tonumber(flat[i + 1]) or 0 end
end
for _, c in pairs(compact) do res.statuses.submitted = res.statuses.submitted + c end
local names = redis.call('HKEYS', P .. 'queues')
table.sort(names)
for _, q in ipairs(names) do
  local cfg = cjson.decode(redis.call('HGET', P .. 'queues', q))
  local e = {name = q, paused = cfg.paused and true or false,
    depth = redis.call('ZCARD', P .. 's:submitted:' .. q) + (compact[q] or 0),
    running = redis.call('ZCARD', P .. 's:started:' .. q),
    scheduled = redis.call('ZCARD', P .. 's:scheduled:' .. q),
    dlq = redis.call('ZCARD', P .. 'dlq:q:' .. q),
    completed_1h = 0, failed_1h = 0, series_completed = {}, series_failed = {}, counts = {}}
  for _, s in ipairs({'submitted', 'scheduled', 'started', 'completed', 'failed', 'cancelled', 'stalled', 'dropped'}) do
    e.counts[s] = redis.call('ZCARD', P .. 's:' .. s .. ':' .. q)
  end
  e.counts.submitted = e.counts.submitted + (compact[q] or 0)
  for i = minutes - 1, 0, -1 do
    local v = redis.call('HMGET', P .. 'm:' .. q .. ':' .. (cur - i), 'completed', 'failed')
    local c, fl = tonumber(v[1]) or 0, tonumber(v[2]) or 0
    e.series_completed[#e.series_completed + 1] = c
    e.series_failed[#e.series_failed + 1] = fl
    if i < 60 then
      e.completed_1h = e.completed_1h + c
      e.failed_1h = e.failed_1h + fl
    end
  end
  local last = redis.call('HMGET', P .. 'm:' .. q .. ':' .. cur, 'completed', 'failed')
  local prev = redis.call('HMGET', P .. 'm:' .. q .. ':' .. (cur - 1), 'completed', 'failed')
  -- "last minute": the current bucket plus the unexpired share of the previous one.
  local share = 1 - (NOW % 60000) / 60000
  e.completed_1m = (tonumber(last[1]) or 0) + math.floor((tonumber(prev[1]) or 0) * share + 0.5)
  e.failed_1m = (tonumber(last[2]) or 0) + math.floor((tonumber(prev[2]) or 0) * share + 0.5)
  res.queues[#res.queues + 1] = e
end
return cjson.encode(res)
