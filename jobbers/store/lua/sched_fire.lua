-- sched_fire: fire schedule ticks, each at most once however many schedulers run.
-- ARGV: prefix, then 13 per tick: name, definition JSON (as read), tick (the score read
--   from sched:next; '' for a trigger), action, overlap, task id, task name, version,
--   queue, fingerprint, params JSON, due (ms; 0 = now), next tick ('' = leave sched:next).
-- action: 'fire' (a due tick), 'missed' (a late tick the schedule skips), 'trigger' (run
--   once now, an operator's; ignores overlap and leaves the next tick), 'drop' (an
--   unreadable definition leaves sched:next so it is not read again).
-- Exactly once: a tick is fired only while sched:next still holds it for the definition
-- read (another scheduler that fired it first moved it on: 'stale'); and the task id is
-- derived from (schedule, tick), so even a replayed tick finds its task and writes none.
-- Nothing here fails after a write: every check comes first and only returns outcomes.
-- Returns {ms until the earliest next tick (-1 = none), then per tick: outcome, task id}
-- with outcome 'fired' | 'triggered' | 'exists' | 'skipped_overlap' | 'missed' |
-- 'no_queue' | 'stale' | 'changed' | 'dropped'.
-- uses: K_task, K_params, K_seen, K_status_index, K_status_name_index, K_all_index,
-- uses: K_waiting_list, K_waiting_types, K_bell, K_sched_bell, K_schedules, K_schedule_next,
-- uses: K_schedule_last, K_queues, K_minute_counts, K_event_stream, stream_event, joined,
-- uses: ring, bump
local TERMINAL = {completed = true, failed = true, cancelled = true, stalled = true,
  dropped = true}
local KEY = {schedules = K_schedules, schedule_next = K_schedule_next,
  schedule_last = K_schedule_last, sched_bell = K_sched_bell, queues = K_queues,
  all_index = K_all_index()}
local out = {0}
-- Checks first, for every tick of the call; the writes after. The new tasks' index
-- entries, events, doorbells and counts are then written once per queue, not per tick.
local fires = {}
local seen = {}
for i = 2, #ARGV, 13 do
  local name, def, tick, action, overlap, id, tname, version, queue, fp, params, due, nxt =
    unpack(ARGV, i, i + 12)
  due = tonumber(due)
  local outcome
  local score = redis.call('ZSCORE', KEY.schedule_next, name)
  local cur = redis.call('HGET', KEY.schedules, name)
  local f = nil
  if seen[name] then
    -- A name given twice: its first group decides (it moves sched:next on).
    outcome = 'stale'
  elseif action == 'drop' then
    -- '' stands for a definition that is gone (a member left behind must not spin).
    if (cur or '') == def and score and tonumber(score) == tonumber(tick) then
      f = {drop = true}
      outcome = 'dropped'
    else
      outcome = 'changed'
    end
  elseif cur ~= def then
    outcome = 'changed'
  elseif action ~= 'trigger' and (not score or tonumber(score) ~= tonumber(tick)) then
    outcome = 'stale'
  else
    local raw = redis.call('HGET', KEY.schedule_last, name)
    local last = raw and cjson.decode(raw) or {}
    if action == 'missed' then
      outcome = 'missed'
    elseif action == 'fire' and overlap == 'skip' and last.task and
        not TERMINAL[redis.call('HGET', K_task(last.task), 'status') or 'completed'] then
      outcome = 'skipped_overlap'
    elseif redis.call('HEXISTS', KEY.queues, queue) == 0 then
      outcome = 'no_queue'
    elseif redis.call('EXISTS', K_task(id), K_seen(id)) > 0 then
      outcome = 'exists'
    else
      outcome = action == 'trigger' and 'triggered' or 'fired'
    end
    if outcome == 'fired' or outcome == 'triggered' or outcome == 'exists' then
      last.task = id
      last.at = NOW
    end
    last.tick = action == 'trigger' and NOW or tonumber(tick)
    last.outcome = outcome
    f = {last = cjson.encode(last), nxt = nxt, submit = outcome == 'fired' or
      outcome == 'triggered', id = id, tname = tname, version = version, queue = queue,
      fp = fp, params = params, due = due}
  end
  seen[name] = true
  if f then
    f.name = name
    fires[#fires + 1] = f
  end
  out[#out + 1] = outcome
  out[#out + 1] = id
end

-- The writes. New tasks per queue and status: {ids, scores, names}.
local groups = {}
local all = {}
local lasts, nexts = {}, {}
for _, f in ipairs(fires) do
  if f.drop then
    redis.call('ZREM', KEY.schedule_next, f.name)
  else
    if f.submit then
      local t = K_task(f.id)
      local status = f.due > NOW and 'scheduled' or 'submitted'
      local score = f.due > NOW and f.due or NOW
      redis.call('HSET', t, 'name', f.tname, 'version', f.version, 'queue', f.queue,
        'attempt', 0, 'recoveries', 0, 'submitted_at', NOW, 'fp', f.fp, 'status', status)
      if f.due > NOW then redis.call('HSET', t, 'scheduled_for', f.due) end
      if f.params ~= '{}' then redis.call('SET', K_params(f.id), f.params) end
      all[#all + 1] = NOW
      all[#all + 1] = f.id
      local key = f.queue .. '\0' .. status
      local g = groups[key] or {queue = f.queue, status = status, ids = {}, zadd = {},
        allq = {}, names = {}, named = {}, listed = {}}
      groups[key] = g
      g.ids[#g.ids + 1] = f.id
      g.zadd[#g.zadd + 1] = score
      g.zadd[#g.zadd + 1] = f.id
      g.allq[#g.allq + 1] = NOW
      g.allq[#g.allq + 1] = f.id
      g.names[#g.names + 1] = f.tname
      -- Its waiting list (listed() in common.lua): the task carries no priority.
      local ttype = f.tname .. '@' .. f.version
      g.listed[ttype] = g.listed[ttype] or {}
      table.insert(g.listed[ttype], f.id)
      local n = g.named[f.tname] or {}
      g.named[f.tname] = n
      n[#n + 1] = score
      n[#n + 1] = f.id
    end
    lasts[#lasts + 1] = f.name
    lasts[#lasts + 1] = f.last
    if f.nxt ~= '' then
      nexts[#nexts + 1] = f.nxt
      nexts[#nexts + 1] = f.name
    end
  end
end
-- As move() writes a new task's entries (status indexes, waiting list, event from ''),
-- one variadic call per index; chunks of 1000 pairs stay under Lua's unpack limit.
local function zadd_chunks(key, pairs_)
  for i = 1, #pairs_, 2000 do
    redis.call('ZADD', key, unpack(pairs_, i, math.min(i + 1999, #pairs_)))
  end
end
for i = 1, #lasts, 2000 do
  redis.call('HSET', KEY.schedule_last, unpack(lasts, i, math.min(i + 1999, #lasts)))
end
zadd_chunks(KEY.schedule_next, nexts)
zadd_chunks(KEY.all_index, all)
for _, g in pairs(groups) do
  zadd_chunks(K_all_index(g.queue), g.allq)
  zadd_chunks(K_status_index(g.status), g.zadd)
  zadd_chunks(K_status_index(g.status, g.queue), g.zadd)
  for tname, n in pairs(g.named) do zadd_chunks(K_status_name_index(g.status, tname), n) end
  if g.status == 'submitted' then
    for ttype, ids in pairs(g.listed) do
      for i = 1, #ids, 1000 do
        redis.call('RPUSH', K_waiting_list(g.queue, ttype), unpack(ids, i, math.min(i + 999, #ids)))
      end
      redis.call('ZADD', K_waiting_types(g.queue), 'LT', NOW, ttype)
    end
    ring(g.queue)
  else
    redis.call('ZADD', KEY.sched_bell, 0, 'r')
  end
  if EVMAX > 0 then
    for i = 1, #g.ids, EVBATCH do
      local j = math.min(i + EVBATCH - 1, #g.ids)
      stream_event({g.ids, i, j}, joined(g.names, i, j), g.queue, nil,
        g.status, nil, 0)
    end
  end
  bump(g.queue, 'submitted', #g.ids)
end
local first = redis.call('ZRANGE', KEY.schedule_next, 0, 0, 'WITHSCORES')
out[1] = first[2] and math.max(0, tonumber(first[2]) - NOW) or -1
return out
