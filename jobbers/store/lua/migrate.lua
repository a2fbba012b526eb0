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
-- uses: K_task, K_queue, K_waiting_records, K_waiting_list, K_waiting_types,
-- uses: K_legacy_waiting_list, K_layout, K_layout_marks, K_queues, default_priority, ptype,
-- uses: unpack_record
local KEY = {layout = K_layout, layout_marks = K_layout_marks, queues = K_queues}
if redis.call('GET', KEY.layout) == '2' then return 0 end
local budget = tonumber(ARGV[2])
local marks = KEY.layout_marks
for _, queue in ipairs(redis.call('HKEYS', KEY.queues)) do
  local legacy = K_legacy_waiting_list(queue)
  while true do
    local ids = redis.call('LRANGE', legacy, -math.max(1, math.min(budget, 1000)), -1)
    if #ids == 0 then break end
    local recs = redis.call('HMGET', K_waiting_records, unpack(ids))
    for i = #ids, 1, -1 do
      if recs[i] then
        local r = unpack_record(recs[i])
        local ttype = r.name .. '@' .. r.version
        redis.call('LPUSH', K_waiting_list(queue, ttype), ids[i])
        redis.call('ZADD', K_waiting_types(queue), 'LT', r.at, ttype)
      end
    end
    redis.call('LTRIM', legacy, 0, -(#ids + 1))
    budget = budget - #ids
    if budget <= 0 then return 1 end
  end
  if redis.call('HSETNX', marks, queue, '1') == 1 then
    local full = redis.call('ZRANGE', K_queue(queue), 0, -1, 'WITHSCORES')
    for i = #full - 1, 1, -2 do
      local id, score = full[i], tonumber(full[i + 1])
      local f = redis.call('HMGET', K_task(id), 'name', 'version')
      if f[1] and f[2] then
        local ttype = f[1] .. '@' .. f[2]
        redis.call('LPUSH', K_waiting_list(queue, ttype), id)
        redis.call('ZADD', K_waiting_types(queue), 'LT', score, ttype)
      end
    end
  end
end
redis.call('SET', KEY.layout, '2')
redis.call('DEL', marks)
return 0
