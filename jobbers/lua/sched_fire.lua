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
local TERMINAL = {completed = true, failed = true, cancelled = true, stalled = true,
  dropped = true}
local out = {0}
for i = 2, #ARGV, 13 do
  local name, def, tick, action, overlap, id, tname, version, queue, fp, params, due, nxt =
    unpack(ARGV, i, i + 12)
  due = tonumber(due)
  local outcome
  local score = redis.call('ZSCORE', P .. 'sched:next', name)
  local cur = redis.call('HGET', P .. 'sched', name)
  if action == 'drop' then
    -- '' stands for a definition that is gone (a member left behind must not spin).
    if (cur or '') == def and score and tonumber(score) == tonumber(tick) then
      redis.call('ZREM', P .. 'sched:next', name)
      outcome = 'dropped'
    else
      outcome = 'changed'
    end
  elseif cur ~= def then
    outcome = 'changed'
  elseif action ~= 'trigger' and (not score or tonumber(score) ~= tonumber(tick)) then
    outcome = 'stale'
  else
    local raw = redis.call('HGET', P .. 'sched:last', name)
    local last = raw and cjson.decode(raw) or {}
    if action == 'missed' then
      outcome = 'missed'
    elseif action == 'fire' and overlap == 'skip' and last.task and
        not TERMINAL[redis.call('HGET', tk(last.task), 'status') or 'completed'] then
      outcome = 'skipped_overlap'
    elseif redis.call('HEXISTS', P .. 'queues', queue) == 0 then
      outcome = 'no_queue'
    elseif redis.call('EXISTS', tk(id), P .. 'seen:' .. id) > 0 then
      outcome = 'exists'
    else
      outcome = action == 'trigger' and 'triggered' or 'fired'
      local t = tk(id)
      redis.call('HSET', t, 'name', tname, 'version', version, 'queue', queue, 'attempt', 0,
        'recoveries', 0, 'submitted_at', NOW, 'fp', fp)
      if params ~= '{}' then redis.call('SET', t .. ':p', params) end
      redis.call('ZADD', P .. 'all', NOW, id)
      redis.call('ZADD', P .. 'all:' .. queue, NOW, id)
      if due > NOW then
        redis.call('HSET', t, 'scheduled_for', due)
        move(id, queue, nil, 'scheduled', due)
        redis.call('ZADD', P .. 'schedbell', 0, 'r')
      else
        move(id, queue, nil, 'submitted', NOW)
        ring(queue)
      end
      bump(queue, 'submitted')
    end
    if outcome == 'fired' or outcome == 'triggered' or outcome == 'exists' then
      last.task = id
      last.at = NOW
    end
    last.tick = action == 'trigger' and NOW or tonumber(tick)
    last.outcome = outcome
    redis.call('HSET', P .. 'sched:last', name, cjson.encode(last))
    if nxt ~= '' then redis.call('ZADD', P .. 'sched:next', nxt, name) end
  end
  out[#out + 1] = outcome
  out[#out + 1] = id
end
local first = redis.call('ZRANGE', P .. 'sched:next', 0, 0, 'WITHSCORES')
out[1] = first[2] and math.max(0, tonumber(first[2]) - NOW) or -1
return out
