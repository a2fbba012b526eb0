-- stats: one page of a dashboard frame, O(page x minutes), no scans. The caller reads the
-- queue names (sorted) and sends them a page at a time, so no single call holds Redis for
-- long however many queues there are; the totals come with the first page.
-- ARGV: prefix, minutes of history (<= 120), 'head' (with totals) or 'page', queue names...
-- Returns JSON: {now, queues[{name, depth, running, scheduled, paused, completed_1m,
--   failed_1m, completed_1h, failed_1h, series_completed[], series_failed[], counts{}}]}
--   and, for 'head', workers, dlq, statuses{}. A queue deleted since its name was read
--   is left out.
-- uses: K_status_index, K_queue, K_waiting_counts, K_workers, K_dlq, K_queues,
-- uses: K_minute_counts
local minutes = tonumber(ARGV[2])
local KEY = {workers = K_workers, dlq = K_dlq(), waiting_counts = K_waiting_counts,
  queues = K_queues}
local cur = math.floor(NOW / 60000)
local res = {now = NOW, queues = {}}
local STATUSES = {'submitted', 'scheduled', 'started', 'completed', 'failed', 'cancelled', 'stalled', 'dropped', 'waiting'}
if ARGV[3] == 'head' then
  res.statuses = {}
  res.workers = redis.call('ZCOUNT', KEY.workers, NOW, '+inf')
  res.dlq = redis.call('ZCARD', KEY.dlq)
  for _, s in ipairs(STATUSES) do
    res.statuses[s] = redis.call('ZCARD', K_status_index(s))
  end
  -- Compact waiting tasks are counted per queue in `wq` (see common.lua).
  for _, c in ipairs(redis.call('HVALS', KEY.waiting_counts)) do
    res.statuses.submitted = res.statuses.submitted + (tonumber(c) or 0)
  end
end
for n = 4, #ARGV do
  local q = ARGV[n]
  local raw = redis.call('HGET', KEY.queues, q)
  if raw then
    local cfg = cjson.decode(raw)
    local compact = tonumber(redis.call('HGET', KEY.waiting_counts, q)) or 0
    local e = {name = q, paused = cfg.paused and true or false,
      depth = redis.call('ZCARD', K_queue(q)) + compact,
      running = redis.call('ZCARD', K_status_index('started', q)),
      scheduled = redis.call('ZCARD', K_status_index('scheduled', q)),
      dlq = redis.call('ZCARD', K_dlq(q)),
      completed_1h = 0, failed_1h = 0, series_completed = {}, series_failed = {}, counts = {}}
    for _, s in ipairs(STATUSES) do
      e.counts[s] = redis.call('ZCARD', K_status_index(s, q))
    end
    e.counts.submitted = e.counts.submitted + compact
    for i = minutes - 1, 0, -1 do
      local v = redis.call('HMGET', K_minute_counts(q, cur - i), 'completed', 'failed')
      local c, fl = tonumber(v[1]) or 0, tonumber(v[2]) or 0
      e.series_completed[#e.series_completed + 1] = c
      e.series_failed[#e.series_failed + 1] = fl
      if i < 60 then
        e.completed_1h = e.completed_1h + c
        e.failed_1h = e.failed_1h + fl
      end
    end
    local last = redis.call('HMGET', K_minute_counts(q, cur), 'completed', 'failed')
    local prev = redis.call('HMGET', K_minute_counts(q, cur - 1), 'completed', 'failed')
    -- "last minute": the current bucket plus the unexpired share of the previous one.
    local share = 1 - (NOW % 60000) / 60000
    e.completed_1m = (tonumber(last[1]) or 0) + math.floor((tonumber(prev[1]) or 0) * share + 0.5)
    e.failed_1m = (tonumber(last[2]) or 0) + math.floor((tonumber(prev[2]) or 0) * share + 0.5)
    res.queues[#res.queues + 1] = e
  end
end
return cjson.encode(res)
