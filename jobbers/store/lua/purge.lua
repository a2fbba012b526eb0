-- purge: cancel (visibly, with a reason) up to `limit` waiting tasks of a queue: those on
-- its waiting lists (compact or full form, type by type, see common.lua), then any
-- full-form submitted one no list holds, then scheduled retries. Nothing is deleted.
-- ARGV: prefix, queue, limit
-- Returns {cancelled, more}: call again while more is 1. A call also drops at most 20
-- x limit tombstones from the head of each list, so it never runs long.
-- uses: K_task, K_params, K_history, K_parents, K_children, K_status_index,
-- uses: K_status_name_index, K_all_index, K_queue, K_waiting_records, K_waiting_list,
-- uses: K_waiting_types, K_waiting_counts, K_bell, K_minute_counts, K_workflow,
-- uses: K_event_stream, default_priority, ptype, listed, stream_event, move, unpack_record,
-- uses: full_fields, materialize, live_entries, ring, bump, history, wf_count, settled,
-- uses: finish_at
local queue, limit = ARGV[2], tonumber(ARGV[3])
local KEY = {waiting_types = K_waiting_types(queue)}
local n = 0
local done = {}  -- an id listed twice is purged once
local function purged(id, status, attempt)
  history(id, {attempt = attempt, kind = 'cancelled', message = 'queue ' .. queue .. ' purged'})
  finish_at(id, 'cancelled', queue, status)
  redis.call('HSET', K_task(id), 'last_error', 'queue ' .. queue .. ' purged')
  bump(queue, 'cancelled')
  n = n + 1
end
for _, ttype in ipairs(redis.call('ZRANGE', KEY.waiting_types, 0, -1)) do
  local key = K_waiting_list(queue, ttype)
  for _ = 1, 20 do
    local listed_ids = redis.call('LRANGE', key, 0, limit - 1)
    if #listed_ids == 0 then break end
    local live = live_entries(queue, listed_ids)
    local taken = 0
    for i, id in ipairs(listed_ids) do
      local e = live[i]
      if e and not done[id] then
        if n >= limit then break end
        done[id] = true
        if type(e) == 'table' then
          materialize(id, e)
          purged(id, 'submitted', 0)
        else
          purged(id, 'submitted', tonumber(redis.call('HGET', K_task(id), 'attempt')) or 0)
        end
      end
      taken = i
    end
    redis.call('LTRIM', key, taken, -1)
    if n >= limit then return {n, 1} end
  end
  if redis.call('LLEN', key) > 0 then return {n, 1} end
  redis.call('ZREM', KEY.waiting_types, ttype)
end
for _, status in ipairs({'submitted', 'scheduled', 'waiting'}) do
  if n < limit then
    for _, id in ipairs(redis.call('ZRANGE', K_status_index(status, queue), 0, limit - n - 1)) do
      purged(id, status, tonumber(redis.call('HGET', K_task(id), 'attempt')) or 0)
    end
  end
end
return {n, n >= limit and 1 or 0}
