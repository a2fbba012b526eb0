-- workflow: tasks that wait for other tasks (jobbers/store/workflows.py). Keys and fields:
-- common.lua (`settled`, `rearm`) and jobbers/store/keys.py.
-- ARGV: prefix, mode, ...
-- mode 'submit': wf_id ('' = none), wf_fp, graph_json, then one argument per task, in an
--   order where every parent of the batch comes before its children: id, name, version,
--   queue, fingerprint, params_json, on_parent_failure, parent ids (comma-separated),
--   priority (0-9), joined by the unit separator (\31). All or nothing: every check runs before the first
--   write. A task whose parents have all completed is `submitted` at once; one whose
--   parent already ended otherwise is `cancelled` at once under the `cancel` policy;
--   every other task is `waiting` (common.lua `settled` moves it on).
--   Returns {'ok', status...} (one per task) | {'exists'} (same workflow again) |
--   {'wfconflict'} (the workflow id holds another graph) | {'same', status} (a single
--   task already stored with this content) | {'rejected', index, kind, value}: kind
--   'conflict' (value: status) | 'expired' | 'noqueue' (queue) | 'unknown' (parent ids)
-- mode 'cancel': wf_id. Cancels every node not yet terminal (a running one gets a cancel
--   request, as cancel.lua). Returns {'ok', cancelled, requested} | {'notfound'}
-- uses: K_task, K_params, K_history, K_parents, K_children, K_seen, K_status_index,
-- uses: K_status_name_index, K_all_index, K_waiting_records, K_waiting_list,
-- uses: K_waiting_types, K_bell, K_cancel_box, K_queues, K_minute_counts, K_workflow,
-- uses: K_workflows, K_events, K_event_stream, default_priority, ptype, listed,
-- uses: stream_event, move, unpack_record, ring, bump, history, wf_count, settled,
-- uses: finish_at
local mode = ARGV[2]
local KEY = {events = K_events, queues = K_queues, all_index = K_all_index(),
  workflows = K_workflows}
local TERMINAL = {completed = true, failed = true, cancelled = true, stalled = true, dropped = true}

if mode == 'cancel' then
  local wk_ = K_workflow(ARGV[3])
  local graph = redis.call('HGET', wk_, 'graph')
  if not graph then return {'notfound'} end
  local ok, nodes = pcall(cjson.decode, graph)
  if not ok or type(nodes) ~= 'table' then return {'notfound'} end
  local cancelled, requested = 0, 0
  local before = {}  -- the nodes waiting to run when the call began (a cascade may end them)
  for i, node in ipairs(nodes) do
    local s = redis.call('HGET', K_task(node.id), 'status')
    before[i] = s == 'waiting' or s == 'submitted' or s == 'scheduled'
  end
  for _, node in ipairs(nodes) do
    local id = node.id
    local t = K_task(id)
    local f = redis.call('HMGET', t, 'status', 'queue', 'worker', 'attempt')
    if f[2] and (f[1] == 'waiting' or f[1] == 'submitted' or f[1] == 'scheduled') then
      history(id, {attempt = tonumber(f[4]) or 0, kind = 'cancelled', message = 'workflow ' .. ARGV[3] .. ' cancelled'})
      finish_at(id, 'cancelled', f[2], f[1])
      redis.call('HDEL', t, 'scheduled_for')
      bump(f[2], 'cancelled')
    elseif f[1] == 'started' and f[3] then
      redis.call('HSET', t, 'cancel', '1')
      redis.call('SADD', K_cancel_box(f[3]), id)
      redis.call('PUBLISH', KEY.events, 'cancel:' .. id)
      requested = requested + 1
    end
  end
  for i, node in ipairs(nodes) do
    if before[i] and redis.call('HGET', K_task(node.id), 'status') == 'cancelled' then
      cancelled = cancelled + 1
    end
  end
  return {'ok', cancelled, requested}
end

-- mode 'submit': read and check everything first.
local wf, wf_fp, graph = ARGV[3], ARGV[4], ARGV[5]
if wf == '' then wf = nil end
if wf then
  local stored = redis.call('HGET', K_workflow(wf), 'fp')
  if stored then return stored == wf_fp and {'exists'} or {'wfconflict'} end
end
local tasks, index_of = {}, {}
for i = 6, #ARGV do
  local f = {string.match(ARGV[i], '^([^\31]*)\31([^\31]*)\31([^\31]*)\31([^\31]*)\31([^\31]*)\31(.*)\31([^\31]*)\31([^\31]*)\31([^\31]*)$')}
  local parents = {}
  for pid in string.gmatch(f[8], '[^,]+') do parents[#parents + 1] = pid end
  tasks[#tasks + 1] = {id = f[1], name = f[2], version = f[3], queue = f[4], fp = f[5],
    params = f[6], opf = f[7], parents = parents, prio = f[9]}
  index_of[f[1]] = #tasks
end
local queues = {}
local unknown, unknown_seen = {}, {}
for index, task in ipairs(tasks) do
  local id = task.id
  local existing = redis.call('HMGET', K_task(id), 'fp', 'status')
  if not existing[1] then
    local rec = redis.call('HGET', K_waiting_records, id)
    if rec then existing = {unpack_record(rec).fp, 'submitted'} end
  end
  if existing[1] then
    if #tasks == 1 and not wf and existing[1] == task.fp then return {'same', existing[2]} end
    return {'rejected', index, 'conflict', existing[2] or ''}
  end
  if redis.call('EXISTS', K_seen(id)) == 1 then return {'rejected', index, 'expired', ''} end
  if queues[task.queue] == nil then
    queues[task.queue] = redis.call('HEXISTS', KEY.queues, task.queue) == 1
  end
  if not queues[task.queue] then return {'rejected', index, 'noqueue', task.queue} end
  -- Each parent's outcome as this task counts it now: '' while it may still run.
  task.outcomes = {}
  for j, pid in ipairs(task.parents) do
    local k = index_of[pid]
    local outcome
    if k and k < index then
      outcome = tasks[k].state == 'cancelled' and 'cancelled' or ''
    elseif not k then
      local s = redis.call('HGET', K_task(pid), 'status')
      if not s and redis.call('HEXISTS', K_waiting_records, pid) == 1 then s = 'submitted' end
      if s then
        outcome = TERMINAL[s] and s or ''
      elseif not unknown_seen[pid] then
        unknown_seen[pid] = true
        unknown[#unknown + 1] = pid
      end
    else
      return {'rejected', index, 'order', pid}  -- the caller orders parents first
    end
    task.outcomes[j] = outcome or ''
  end
  local pending, blocker = 0, nil
  for j, outcome in ipairs(task.outcomes) do
    if outcome == '' then
      pending = pending + 1
    elseif outcome ~= 'completed' and task.opf ~= 'run' and not blocker then
      blocker = {task.parents[j], outcome}
    end
  end
  task.pending, task.blocker = pending, blocker
  task.state = blocker and 'cancelled' or (pending == 0 and 'submitted' or 'waiting')
end
if #unknown > 0 then return {'rejected', 0, 'unknown', table.concat(unknown, ',')} end

-- Write: the workflow first (its counters), then each task in order.
if wf then
  redis.call('HSET', K_workflow(wf), 'fp', wf_fp, 'at', NOW, 'n', #tasks, 'graph', graph,
    'c', 0, 'f', 0, 'x', 0)
  redis.call('ZADD', KEY.workflows, NOW, wf)
end
local out = {'ok'}
local rung = {}
for _, task in ipairs(tasks) do
  local id, queue = task.id, task.queue
  local t = K_task(id)
  redis.call('HSET', t, 'name', task.name, 'version', task.version, 'queue', queue,
    'attempt', 0, 'recoveries', 0, 'submitted_at', NOW, 'fp', task.fp, 'status', 'waiting')
  if #task.parents > 0 then redis.call('HSET', t, 'deps', task.pending, 'opf', task.opf) end
  -- Its priority (issue 15), read by `listed` when the task joins its waiting list.
  if task.prio and task.prio ~= '' and not default_priority(task.prio) then
    redis.call('HSET', t, 'prio', task.prio)
  end
  if wf then redis.call('HSET', t, 'wf', wf) end
  if task.params ~= '{}' then redis.call('SET', K_params(id), task.params) end
  redis.call('ZADD', KEY.all_index, NOW, id)
  redis.call('ZADD', K_all_index(queue), NOW, id)
  for j, pid in ipairs(task.parents) do
    redis.call('HSET', K_parents(id), pid, task.outcomes[j])
    redis.call('SADD', K_children(pid), id)
  end
  if task.state == 'cancelled' then
    local msg = 'parent ' .. task.blocker[1] .. ' ended ' .. task.blocker[2]
    history(id, {attempt = 0, kind = 'cancelled', message = msg})
    move(id, queue, nil, 'cancelled', NOW)
    redis.call('HSET', t, 'completed_at', NOW, 'last_error', msg, 'pcx', task.blocker[1])
    bump(queue, 'cancelled')
    if wf then wf_count(wf, 'cancelled', 1) end
  else
    move(id, queue, nil, task.state, NOW)
    if task.state == 'submitted' then rung[queue] = true end
  end
  bump(queue, 'submitted')
  out[#out + 1] = task.state
end
for queue in pairs(rung) do ring(queue) end
return out
