-- migrate: move waiting tasks from the layout before per-type waiting lists (one list
-- `q:{queue}` of compact ids per queue; full-form waiting tasks only in
-- `s:submitted:{queue}`) onto the lists of common.lua. Run at start by workers and the
-- manager (StateManager.ensure_defaults) until it answers 0; `layout` = 2 marks it done,
-- so later starts pay one GET. Idempotent and bounded: `limit` ids a call.
-- Order: the old list is moved from its tail, each id pushed in front of its type's list,
-- so the lists stay oldest first ahead of anything submitted since the upgrade. Full-form
-- waiting tasks go in front of their type's list: a claim orders what it reads by score,
-- so they still start in their turn among the tasks it reads with them.
-- ARGV: prefix, limit
-- Returns 1 while more remains, 0 when done.
if redis.call('GET', P .. 'layout') == '2' then return 0 end
local budget = tonumber(ARGV[2])
local marks = P .. 'layout:full'
for _, queue in ipairs(redis.call('HKEYS', P .. 'queues')) do
  local legacy = P .. 'q:' .. queue
  while true do
    local ids = redis.call('LRANGE', legacy, -math.max(1, math.min(budget, 1000)), -1)
    if #ids == 0 then break end
    local recs = redis.call('HMGET', wk(), unpack(ids))
    for i = #ids, 1, -1 do
      if recs[i] then
        local r = unpack_record(recs[i])
        local ttype = r.name .. '@' .. r.version
        redis.call('LPUSH', wl(queue, ttype), ids[i])
        redis.call('ZADD', wt(queue), 'LT', r.at, ttype)
      end
    end
    redis.call('LTRIM', legacy, 0, -(#ids + 1))
    budget = budget - #ids
    if budget <= 0 then return 1 end
  end
  if redis.call('HSETNX', marks, queue, '1') == 1 then
    local full = redis.call('ZRANGE', P .. 's:submitted:' .. queue, 0, -1, 'WITHSCORES')
    for i = #full - 1, 1, -2 do
      local id, score = full[i], tonumber(full[i + 1])
      local f = redis.call('HMGET', tk(id), 'name', 'version')
      if f[1] and f[2] then
        local ttype = f[1] .. '@' .. f[2]
        redis.call('LPUSH', wl(queue, ttype), id)
        redis.call('ZADD', wt(queue), 'LT', score, ttype)
      end
    end
  end
end
redis.call('SET', P .. 'layout', '2')
redis.call('DEL', marks)
return 0
