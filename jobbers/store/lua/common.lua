-- common.lua: the scripts' helpers. ARGV[1] is the key prefix; times are ms of the Redis
-- clock. A helper runs from its `-- helper: <name>` line to the next (blank lines and all);
-- a script gets the text above the first helper, then the helpers its `-- uses:` lines
-- name, in this order (jobbers/store/scripts.py): a prelude runs on every call.
local P = ARGV[1]
local NOW
do
  local t = redis.call('TIME')
  NOW = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- helper: K_task
-- K_<name>: every key, built exactly as jobbers/store/keys.py names and documents it (a
-- method there is a function here, a property a string; tests/test_lane.py compares
-- them), one helper each so that a script carries only the keys it uses. Plain locals,
-- not fields of a table `K`, which cost every prelude one table insert per key. A script
-- builds the keys of its arguments once, in a table `KEY` at its top; the keys of the ids
-- it meets (tasks, parents, workers) come from these helpers. jobbers targets standalone
-- Redis/Valkey (or Sentinel): scripts derive keys, which Redis Cluster would not allow.
local function K_task(id) return P .. 'task:' .. id end
-- helper: K_params
local function K_params(id) return P .. 'task:' .. id .. ':p' end
-- helper: K_results
local function K_results(id) return P .. 'task:' .. id .. ':r' end
-- helper: K_history
local function K_history(id) return P .. 'task:' .. id .. ':h' end
-- helper: K_parents
local function K_parents(id) return P .. 'task:' .. id .. ':pa' end
-- helper: K_children
local function K_children(id) return P .. 'task:' .. id .. ':c' end
-- helper: K_seen
local function K_seen(id) return P .. 'seen:' .. id end
-- helper: K_status_index
local function K_status_index(status, queue)
  if queue then return P .. 's:' .. status .. ':' .. queue end
  return P .. 's:' .. status
end
-- helper: K_status_name_index
local function K_status_name_index(status, name) return P .. 's:' .. status .. ':n:' .. name end
-- The status without per-name indexes (see `move`): every script that writes them has it.
local NAMELESS = 'started'
-- helper: K_all_index
local function K_all_index(queue)
  if queue then return P .. 'all:' .. queue end
  return P .. 'all'
end
-- helper: K_queue
local function K_queue(queue) return P .. 's:submitted:' .. queue end
-- helper: K_waiting_records
local K_waiting_records = P .. 'wait'
-- helper: K_waiting_list
local function K_waiting_list(queue, ttype) return P .. 'wl:' .. queue .. ':' .. ttype end
-- helper: K_waiting_types
local function K_waiting_types(queue) return P .. 'wt:' .. queue end
-- helper: K_legacy_waiting_list
local function K_legacy_waiting_list(queue) return P .. 'q:' .. queue end
-- helper: K_layout
local K_layout = P .. 'layout'
-- helper: K_layout_marks
local K_layout_marks = P .. 'layout:full'
-- helper: K_waiting_counts
local K_waiting_counts = P .. 'wq'
-- helper: K_bell
local function K_bell(queue, ttype)
  if ttype then return P .. 'bell:' .. queue .. ':' .. ttype end
  return P .. 'bell:' .. queue
end
-- helper: K_wake
local function K_wake(worker) return P .. 'wake:' .. worker end
-- helper: K_sched_bell
local K_sched_bell = P .. 'schedbell'
-- helper: K_schedules
local K_schedules = P .. 'sched'
-- helper: K_schedule_next
local K_schedule_next = P .. 'sched:next'
-- helper: K_schedule_last
local K_schedule_last = P .. 'sched:last'
-- helper: K_workers
local K_workers = P .. 'workers'
-- helper: K_worker
local function K_worker(worker) return P .. 'worker:' .. worker end
-- helper: K_inflight
local function K_inflight(worker) return P .. 'inflight:' .. worker end
-- helper: K_cancel_box
local function K_cancel_box(worker) return P .. 'cancel:' .. worker end
-- helper: K_heartbeat_deadlines
local K_heartbeat_deadlines = P .. 'hb'
-- helper: K_stall_pass
local K_stall_pass = P .. 'stallpass'
-- helper: K_dlq
local function K_dlq(queue, name)
  if queue then return P .. 'dlq:q:' .. queue end
  if name then return P .. 'dlq:n:' .. name end
  return P .. 'dlq'
end
-- helper: K_queues
local K_queues = P .. 'queues'
-- helper: K_roles
local K_roles = P .. 'roles'
-- helper: K_config_version
local K_config_version = P .. 'cfgver'
-- helper: K_run_sequence
local K_run_sequence = P .. 'runseq'
-- helper: K_rate_log
local function K_rate_log(queue) return P .. 'rl:' .. queue end
-- helper: K_minute_counts
local function K_minute_counts(queue, minute) return P .. 'm:' .. queue .. ':' .. minute end
-- helper: K_workflow
local function K_workflow(id) return P .. 'wf:' .. id end
-- helper: K_workflows
local K_workflows = P .. 'wfs'
-- helper: K_events
local K_events = P .. 'events'
-- helper: K_event_stream
local K_event_stream = P .. 'ev'

-- helper: default_priority
-- Waiting lists. Every waiting task (compact or full form) has its id on the list of its
-- queue and type, `wl:{queue}:{name@version}`, oldest first; `wt:{queue}` holds the types
-- with a list, scored with a lower bound of their oldest task's time (0 = a recovered
-- task at the front). A claim reads only the types it may start, so a capped type never
-- hides the tasks behind it. An id that is neither compact (a record in `wait`) nor a
-- full-form `submitted` task of the queue is a tombstone, dropped when reached; an id may
-- be listed twice (a task re-queued while its old entry is still listed), the first entry
-- counts.

-- Priorities (0-9, higher first; 5 when the submit names none). Each priority of a type
-- has its own list: the member of `wt:{queue}` (and the list's key suffix) is
-- `name@version` at the default priority, so the default path is unchanged, and
-- `name@version:{p}` at another. Names and versions hold no ':', so both split back.
-- A claim reads the members by priority, then by time (claim.lua).
local DEFAULT_PRIORITY = '5'
local function default_priority(prio)
  return not prio or prio == '' or prio == DEFAULT_PRIORITY
end
-- helper: ptype
local function ptype(ttype, prio)
  if default_priority(prio) then return ttype end
  return ttype .. ':' .. prio
end
-- helper: split_ptype
local function split_ptype(member)
  local ttype, prio = string.match(member, '^([^:]*):(%d)$')
  if ttype then return ttype, tonumber(prio) end
  return member, tonumber(DEFAULT_PRIORITY)
end

-- helper: listed
-- A full-form task entering `submitted` goes on its type's list: at the front when it
-- goes back to the front of the queue (score 0), else at the tail.
local function listed(id, queue, score)
  local f = redis.call('HMGET', K_task(id), 'name', 'version', 'prio')
  if not f[1] or not f[2] then return end
  local ttype = ptype(f[1] .. '@' .. f[2], f[3])  -- a retry keeps its priority
  redis.call(score == 0 and 'LPUSH' or 'RPUSH', K_waiting_list(queue, ttype), id)
  redis.call('ZADD', K_waiting_types(queue), 'LT', score, ttype)
end

-- helper: stream_event
-- The event stream `ev`: every status change is in an entry, added by move() and
-- move_many() below (and submit.lua for new tasks) in the script that makes the change, so
-- none is invented or lost. Fields: id, name, queue, from ('' for a new task), to, worker
-- ('' before a first claim), attempt (the task's retry count); the entry id's
-- milliseconds are the time. A batch (move_many, a submit) is one entry per EVBATCH
-- changes: its id, name, worker and attempt fields hold one value per change joined by ','
-- (which no id or name holds), or one value shared by all. Capped near EVMAX entries (XADD
-- MAXLEN ~), so between EVMAX and EVMAX x EVBATCH changes; 0 writes none. scripts.py sets
-- EVMAX from JOBBERS_EVENTS_MAXLEN when it loads the script.
-- A batch's ids (`id` given as {ids, i, j}: ids[i..j]) share their first characters (a
-- ULID starts with its time, 10 characters, the same within a millisecond): the entry
-- stores them once in `idp` and the rest of each id in `ids`, joined by ',', instead of
-- `id` (a third less stream memory per queued task). An entry without `id` is skipped
-- by the readers of the release before, never misread. Only the entries of new tasks
-- (submit, a schedule's fire) take this form: they are what the stream holds per queued
-- task, and a claim or finish batch would pay the cut for nothing a queue keeps.
local EVMAX = 10000
local EVBATCH = 100
local function stream_event(id, name, queue, old, new, worker, attempt)
  if EVMAX <= 0 then return end
  local idf, idv, pf, pv = 'id', id, nil, nil
  if type(id) == 'table' then
    local ids, i, j = id[1], id[2], id[3]
    local n = math.min(10, #ids[i])
    local pre = string.sub(ids[i], 1, n)
    for k = i + 1, j do
      while n > 0 and string.sub(ids[k], 1, n) ~= pre do
        n = n - 1
        pre = string.sub(pre, 1, n)
      end
    end
    if n == 0 or i == j then
      idv = table.concat(ids, ',', i, j)
    else
      local rest = {}
      for k = i, j do rest[#rest + 1] = string.sub(ids[k], n + 1) end
      idf, idv, pf, pv = 'ids', table.concat(rest, ','), 'idp', pre
    end
  end
  if pf then
    redis.call('XADD', K_event_stream, 'MAXLEN', '~', EVMAX, '*', pf, pv, idf, idv, 'name', name or '',
      'queue', queue, 'from', old or '', 'to', new, 'worker', worker or '', 'attempt', attempt or 0)
  else
    redis.call('XADD', K_event_stream, 'MAXLEN', '~', EVMAX, '*', 'id', idv, 'name', name or '',
      'queue', queue, 'from', old or '', 'to', new, 'worker', worker or '', 'attempt', attempt or 0)
  end
end

-- helper: joined
-- One field of a batch's entry, for values[i..j]: the value all share, or all joined by ','.
local function joined(values, i, j)
  for k = i + 1, j do
    if values[k] ~= values[i] then return table.concat(values, ',', i, j) end
  end
  return values[i] or ''
end

-- helper: move
-- Move a task between status indexes and set its status: with move_many below, the only
-- way statuses change, so a task is in exactly one index and every count (ZCARD) matches
-- the indexes. Entering `submitted` also puts the task on its waiting list (`listed`).
-- Both also keep the per-name indexes `s:{status}:n:{name}` (full-form tasks only), which
-- the listings filtered by task name read, for every status but `started` (NAMELESS): the
-- running tasks are few (at most the workers' slots), so a listing by name filters
-- `s:started` instead, and a run costs two index writes less.
local function move(id, queue, old, new, score)
  local t = K_task(id)
  local name, worker, attempt = unpack(redis.call('HMGET', t, 'name', 'worker', 'attempt'))
  if old then
    redis.call('ZREM', K_status_index(old), id)
    redis.call('ZREM', K_status_index(old, queue), id)
    if name and old ~= NAMELESS then redis.call('ZREM', K_status_name_index(old, name), id) end
  end
  redis.call('ZADD', K_status_index(new), score, id)
  redis.call('ZADD', K_status_index(new, queue), score, id)
  if name and new ~= NAMELESS then redis.call('ZADD', K_status_name_index(new, name), score, id) end
  redis.call('HSET', t, 'status', new)
  if new == 'submitted' then listed(id, queue, score) end
  stream_event(id, name, queue, old, new, worker, attempt)
end

-- helper: move_many
-- `move` for many tasks of one queue in one call per index (claim and finish batches:
-- one variadic ZREM/ZADD per index instead of four commands per task). The caller sets
-- each task's status field in the same HSET as its other fields. `scores` is one score
-- for all, or one per id. Chunks of 1000 stay under Lua's unpack limit. `known`, when the
-- caller has read them already (claim, finish), gives each task's name, worker, attempt
-- and whether it was compact (in no per-name index) as `known.names[j]`, `.workers[j]`,
-- `.attempts[j]` and `.compact[j]`: no HMGET per task.
local function move_many(ids, queue, old, new, scores, known)
  if #ids == 0 then return end
  for i = 1, #ids, 1000 do
    local last = math.min(i + 999, #ids)
    if old then
      redis.call('ZREM', K_status_index(old), unpack(ids, i, last))
      redis.call('ZREM', K_status_index(old, queue), unpack(ids, i, last))
    end
    local pairs_ = {}
    for j = i, last do
      pairs_[#pairs_ + 1] = type(scores) == 'table' and scores[j] or scores
      pairs_[#pairs_ + 1] = ids[j]
    end
    redis.call('ZADD', K_status_index(new), unpack(pairs_))
    redis.call('ZADD', K_status_index(new, queue), unpack(pairs_))
    if new == 'submitted' then
      for j = i, last do listed(ids[j], queue, type(scores) == 'table' and scores[j] or scores) end
    end
  end
  -- The per-name indexes, one variadic call per name. A claim passes no `old`: its
  -- full-form tasks leave `submitted` here (its compact ones were in no index, and ZREM
  -- of an absent member does nothing).
  local named = {}
  local ev = {names = {}, workers = {}, attempts = {}}
  for j, id in ipairs(ids) do
    local name, worker, attempt
    if known then
      name, worker, attempt = known.names[j], known.workers[j], known.attempts[j]
    else
      name, worker, attempt = unpack(redis.call('HMGET', K_task(id), 'name', 'worker', 'attempt'))
    end
    ev.names[j], ev.workers[j], ev.attempts[j] = name or '', worker or '', attempt or '0'
    if name then
      local g = named[name] or {ids = {}, zadd = {}, out = {}}
      named[name] = g
      g.ids[#g.ids + 1] = id
      if not (known and known.compact[j]) then g.out[#g.out + 1] = id end
      g.zadd[#g.zadd + 1] = type(scores) == 'table' and scores[j] or scores
      g.zadd[#g.zadd + 1] = id
    end
  end
  for name, g in pairs(named) do
    for i = 1, old ~= NAMELESS and #g.out or 0, 1000 do
      redis.call('ZREM', K_status_name_index(old or 'submitted', name), unpack(g.out, i, math.min(i + 999, #g.out)))
    end
    for i = 1, new ~= NAMELESS and #g.ids or 0, 1000 do
      local last = math.min(i + 999, #g.ids)
      redis.call('ZADD', K_status_name_index(new, name), unpack(g.zadd, 2 * i - 1, 2 * last))
    end
  end
  if EVMAX > 0 then
    for i = 1, #ids, EVBATCH do
      local j = math.min(i + EVBATCH - 1, #ids)
      stream_event(table.concat(ids, ',', i, j), joined(ev.names, i, j), queue,
        old or 'submitted', new, joined(ev.workers, i, j), joined(ev.attempts, i, j))
    end
  end
end

-- helper: pack_record
-- Compact waiting tasks. A fresh submit stores only a record in the `wait` hash (id ->
-- record) and the id at the tail of its waiting list (above), with the queue's count in
-- `wq`: ~150 bytes a task instead of a hash, a parameters key and four index entries.
-- The full form (task hash, parameters key, `all` entries) is written when a worker
-- claims the task or an operator cancels or purges it; retries and re-queued tasks wait
-- in full form in `s:submitted:{queue}` and on the same lists.
-- A record removed from `wait` leaves its id in the list as a tombstone, skipped later.
-- Record: queue, name, version, fingerprint, submitted_at, parameters ('' for {}),
-- joined by the unit separator (\31), then the priority as a seventh field only when it
-- is not the default (a default task's record costs no byte more). These two helpers are
-- its only readers and writers in Lua; jobbers/store/codec.py `split_record` in Python.
local function pack_record(queue, name, version, fp, at, params, prio)
  if params == '{}' then params = '' end
  local fields = {queue, name, version, fp, at, params}
  if not default_priority(prio) then fields[7] = prio end
  return table.concat(fields, '\31')
end

-- helper: unpack_record
local function unpack_record(rec)
  local queue, name, version, fp, at, params, prio = string.match(rec,
    '^([^\31]*)\31([^\31]*)\31([^\31]*)\31([^\31]*)\31([^\31]*)\31([^\31]*)\31?(.*)$')
  if params == '' then params = '{}' end
  if default_priority(prio) then prio = nil end
  return {queue = queue, name = name, version = version, fp = fp, at = tonumber(at),
    params = params, prio = prio, ttype = ptype(name .. '@' .. version, prio)}
end

-- helper: full_fields
-- The HSET arguments of a compact task's full form, as it stood waiting; `extra` field
-- and value pairs are appended (a claim sets the started fields in the same call).
local function full_fields(r, extra)
  local args = {'name', r.name, 'version', r.version, 'queue', r.queue, 'attempt', 0,
    'recoveries', 0, 'submitted_at', r.at, 'fp', r.fp, 'status', 'submitted'}
  if r.prio then  -- kept for its retries (`listed`)
    args[#args + 1] = 'prio'
    args[#args + 1] = r.prio
  end
  for _, v in ipairs(extra or {}) do args[#args + 1] = v end
  return args
end

-- helper: materialize
-- Write one compact task's full form (hash, parameters, `all` entries) and drop its
-- record; the caller then moves it from `submitted` like any waiting task.
local function materialize(id, r)
  redis.call('HSET', K_task(id), unpack(full_fields(r)))
  if r.params ~= '{}' then redis.call('SET', K_params(id), r.params) end
  redis.call('ZADD', K_all_index(), r.at, id)
  redis.call('ZADD', K_all_index(r.queue), r.at, id)
  redis.call('HDEL', K_waiting_records, id)
  redis.call('HINCRBY', K_waiting_counts, r.queue, -1)
end

-- helper: live_entries
-- Which of `ids` (entries of one of `queue`'s waiting lists) are live: a table of
-- position -> the unpacked record (compact) or the score (full form, `submitted`).
local function live_entries(queue, ids)
  local live = {}
  if #ids == 0 then return live end
  local recs = redis.call('HMGET', K_waiting_records, unpack(ids))
  local qk = K_queue(queue)
  for i, id in ipairs(ids) do
    if recs[i] then
      live[i] = unpack_record(recs[i])
    else
      local score = redis.call('ZSCORE', qk, id)
      if score then live[i] = tonumber(score) end
    end
  end
  return live
end

-- helper: drop_tombstones
-- Drop the tombstones at one end of a waiting list (at most 20 x 64 per call), so that
-- claims, which read from the head, and newest-first listings, which read from the tail,
-- do not wade through them. A list left empty leaves the queue's type index.
local function drop_tombstones(queue, ttype, tail)
  local key = K_waiting_list(queue, ttype)
  for _ = 1, 20 do
    local ids = redis.call('LRANGE', key, tail and -64 or 0, tail and -1 or 63)
    if #ids == 0 then
      redis.call('ZREM', K_waiting_types(queue), ttype)
      return
    end
    local live = live_entries(queue, ids)
    local k = 0
    if tail then
      while k < #ids and not live[#ids - k] do k = k + 1 end
      if k > 0 then redis.call('LTRIM', key, 0, -(k + 1)) end
    else
      while k < #ids and not live[k + 1] do k = k + 1 end
      if k > 0 then redis.call('LTRIM', key, k, -1) end
    end
    if k < #ids then return end
  end
end

-- helper: waiting_count
-- A queue's compact tasks still waiting (tombstones excluded).
local function waiting_count(queue)
  return tonumber(redis.call('HGET', K_waiting_counts, queue) or '0') or 0
end

-- helper: ring
local function ring(queue) redis.call('ZADD', K_bell(queue), 0, 'r') end

-- helper: bump
-- Per-minute counters for the dashboard; they expire on their own.
local function bump(queue, field, by)
  local k = K_minute_counts(queue, math.floor(NOW / 60000))
  -- The first count of a field (which includes the key's creation) sets the expiry; every
  -- later bump of the minute saves the call.
  if redis.call('HINCRBY', k, field, by or 1) == (by or 1) then redis.call('EXPIRE', k, 7200) end
end

-- helper: history
-- `entry.attempt` comes in as the task's retry count (HASH field `attempt`); the history
-- numbers attempts over the task's whole life, so it adds `abase`, the attempts before the
-- last operator requeue (which may reset that count: requeue.lua).
local function history(id, entry)
  entry.at = NOW
  entry.attempt = (tonumber(entry.attempt) or 0) + (tonumber(redis.call('HGET', K_task(id), 'abase')) or 0)
  local k = K_history(id)
  redis.call('RPUSH', k, cjson.encode(entry))
  redis.call('LTRIM', k, -50, -1)
end

-- helper: dead_letter
local function dead_letter(id, queue, name)
  redis.call('ZADD', K_dlq(), NOW, id)
  redis.call('ZADD', K_dlq(queue), NOW, id)
  redis.call('ZADD', K_dlq(nil, name), NOW, id)
  redis.call('HSET', K_task(id), 'in_dlq', '1')
end

-- helper: undead
local function undead(id, queue, name)
  redis.call('ZREM', K_dlq(), id)
  redis.call('ZREM', K_dlq(queue), id)
  redis.call('ZREM', K_dlq(nil, name), id)
  redis.call('HSET', K_task(id), 'in_dlq', '0')
end

-- helper: release
-- Forget the worker-side bookkeeping of a task that leaves `started`.
local function release(id, worker)
  redis.call('ZREM', K_inflight(worker), id)
  redis.call('ZREM', K_heartbeat_deadlines, id)
end

-- helper: parent_reads
-- Workflows: what task `id`'s parents did, appended to `out` as the parents' count, then
-- parent id, status ('' when gone) and results (false when none), by parent id. Read as
-- the child is claimed (claim.lua) or on demand (parents.lua). O(parents).
local function parent_reads(id, out)
  local parents = redis.call('HKEYS', K_parents(id))
  table.sort(parents)
  out[#out + 1] = #parents
  for _, pid in ipairs(parents) do
    out[#out + 1] = pid
    local f = redis.call('HMGET', K_task(pid), 'status', 'res')
    out[#out + 1] = f[1] or ''
    out[#out + 1] = f[2] or redis.call('GET', K_results(pid))  -- short results inline (finish.lua)
  end
end

-- helper: wf_count
-- Workflows (see workflow.lua and jobbers/store/keys.py): `task:{id}:pa` maps each parent of
-- a task to its outcome as the child counted it ('' = not yet), `task:{id}:c` holds its
-- children, the HASH field `deps` counts the parents not yet counted, `opf` is the
-- on_parent_failure policy ('run' or cancel), `wf` the workflow and `pcx` the parent
-- whose failure cancelled it. `wf:{id}` counts its nodes per outcome (c, f, x).
local function wf_count(wf, status, by)
  local field = status == 'completed' and 'c' or status == 'cancelled' and 'x' or 'f'
  redis.call('HINCRBY', K_workflow(wf), field, by)
end
-- helper: settled
-- A task reached a terminal status: its waiting children count it. A completed parent
-- brings a child one step nearer `submitted`; any other outcome cancels a child under
-- the `cancel` policy (and so on down the graph) and counts like a completion under
-- `run`. Iterative, so a long chain never deepens the Lua stack. O(children reached).
-- `wf` is the task's workflow when the caller read it already (false: none); `childless`
-- says the caller knows the task has no children (finish.lua checks a batch at once).
local function settled(id, status, wf, childless)
  if wf == nil then wf = redis.call('HGET', K_task(id), 'wf') end
  if wf then wf_count(wf, status, 1) end
  if childless then return end
  local stack = {{id, status}}
  while #stack > 0 do
    local top = table.remove(stack)
    local pid, pstatus = top[1], top[2]
    for _, cid in ipairs(redis.call('SMEMBERS', K_children(pid))) do
      local c, cpa = K_task(cid), K_parents(cid)
      local prev = redis.call('HGET', cpa, pid)
      local cf = redis.call('HMGET', c, 'status', 'queue', 'opf', 'wf')
      if prev and cf[2] then
        redis.call('HSET', cpa, pid, pstatus)
        if cf[1] == 'waiting' and prev == '' then
          if pstatus ~= 'completed' and cf[3] ~= 'run' then
            local msg = 'parent ' .. pid .. ' ended ' .. pstatus
            history(cid, {attempt = 0, kind = 'cancelled', message = msg})
            move(cid, cf[2], 'waiting', 'cancelled', NOW)
            redis.call('HSET', c, 'completed_at', NOW, 'last_error', msg, 'pcx', pid)
            bump(cf[2], 'cancelled')
            if cf[4] then wf_count(cf[4], 'cancelled', 1) end
            stack[#stack + 1] = {cid, 'cancelled'}
          elseif redis.call('HINCRBY', c, 'deps', -1) <= 0 then
            move(cid, cf[2], 'waiting', 'submitted', NOW)
            ring(cf[2])
          end
        end
      end
    end
  end
end
-- helper: rearm
-- An operator put terminal task `id` (was `old`) back on its queue: it leaves its
-- workflow's counts, and its children count it again. A waiting child waits for it once
-- more; a child its failure cancelled (`pcx`) waits again unless another parent still
-- blocks it, and so on down the graph. A child that already ran is left alone.
local function rearm(id, old)
  local wf = redis.call('HGET', K_task(id), 'wf')
  if wf then wf_count(wf, old, -1) end
  local stack = {id}
  while #stack > 0 do
    local pid = table.remove(stack)
    for _, cid in ipairs(redis.call('SMEMBERS', K_children(pid))) do
      local c, cpa = K_task(cid), K_parents(cid)
      local prev = redis.call('HGET', cpa, pid)
      local cf = redis.call('HMGET', c, 'status', 'queue', 'opf', 'wf', 'pcx')
      if prev and prev ~= '' and cf[2] then
        if cf[1] == 'waiting' then
          redis.call('HSET', cpa, pid, '')
          redis.call('HINCRBY', c, 'deps', 1)
        elseif cf[1] == 'cancelled' and cf[5] then
          redis.call('HSET', cpa, pid, '')
          local pa = redis.call('HGETALL', cpa)
          local pending, blocked = 0, false
          for i = 2, #pa, 2 do
            if pa[i] == '' then pending = pending + 1
            elseif pa[i] ~= 'completed' and cf[3] ~= 'run' then blocked = true end
          end
          if not blocked then
            redis.call('HDEL', c, 'pcx', 'completed_at', 'last_error')
            redis.call('HSET', c, 'deps', pending)
            move(cid, cf[2], 'cancelled', 'waiting', NOW)
            if cf[4] then wf_count(cf[4], 'cancelled', -1) end
            stack[#stack + 1] = cid
          end
        end
      end
    end
  end
end

-- helper: finish_at
local function finish_at(id, status, queue, old)
  move(id, queue, old, status, NOW)
  redis.call('HSET', K_task(id), 'completed_at', NOW)
  settled(id, status)  -- workflows: the children waiting for this task count it
end
