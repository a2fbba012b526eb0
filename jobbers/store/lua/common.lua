-- common.lua: prepended to every script. The contract of every script: ARGV[1] is the
-- key prefix; keys are built here exactly as jobbers/store/keys.py documents them. Times are
-- milliseconds of the Redis clock, so no host clock ever decides a lease or a due time.
-- jobbers targets standalone Redis/Valkey (or Sentinel): scripts derive keys, which
-- Redis Cluster would not allow.
local P = ARGV[1]
local NOW
do
  local t = redis.call('TIME')
  NOW = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function tk(id) return P .. 'task:' .. id end

-- Waiting lists. Every waiting task (compact or full form) has its id on the list of its
-- queue and type, `wl:{queue}:{name@version}`, oldest first; `wt:{queue}` holds the types
-- with a list, scored with a lower bound of their oldest task's time (0 = a recovered
-- task at the front). A claim reads only the types it may start, so a capped type never
-- hides the tasks behind it. An id that is neither compact (a record in `wait`) nor a
-- full-form `submitted` task of the queue is a tombstone, dropped when reached; an id may
-- be listed twice (a task re-queued while its old entry is still listed), the first entry
-- counts.
local function wl(queue, ttype) return P .. 'wl:' .. queue .. ':' .. ttype end
local function wt(queue) return P .. 'wt:' .. queue end

-- Priorities (0-9, higher first; 5 when the submit names none). Each priority of a type
-- has its own list: the member of `wt:{queue}` (and the list's key suffix) is
-- `name@version` at the default priority, so the default path is unchanged, and
-- `name@version:{p}` at another. Names and versions hold no ':', so both split back.
-- A claim reads the members by priority, then by time (claim.lua).
local DEFAULT_PRIORITY = '5'
local function default_priority(prio)
  return not prio or prio == '' or prio == DEFAULT_PRIORITY
end
local function ptype(ttype, prio)
  if default_priority(prio) then return ttype end
  return ttype .. ':' .. prio
end
local function split_ptype(member)
  local ttype, prio = string.match(member, '^([^:]*):(%d)$')
  if ttype then return ttype, tonumber(prio) end
  return member, tonumber(DEFAULT_PRIORITY)
end

-- A full-form task entering `submitted` goes on its type's list: at the front when it
-- goes back to the front of the queue (score 0), else at the tail.
local function listed(id, queue, score)
  local f = redis.call('HMGET', P .. 'task:' .. id, 'name', 'version', 'prio')
  if not f[1] or not f[2] then return end
  local ttype = ptype(f[1] .. '@' .. f[2], f[3])  -- a retry keeps its priority
  redis.call(score == 0 and 'LPUSH' or 'RPUSH', wl(queue, ttype), id)
  redis.call('ZADD', wt(queue), 'LT', score, ttype)
end

-- The event stream `ev`: every status change is in an entry, added by move() and
-- move_many() below (and submit.lua for new tasks) in the script that makes the change, so
-- none is invented or lost. Fields: id, name, queue, from ('' for a new task), to, worker
-- ('' before a first claim), attempt (the task's retry count); the entry id's
-- milliseconds are the time. A batch (move_many, a submit) is one entry per EVBATCH
-- changes: its id, name, worker and attempt fields hold one value per change joined by ','
-- (which no id or name holds), or one value shared by all. Capped near EVMAX entries (XADD
-- MAXLEN ~), so between EVMAX and EVMAX x EVBATCH changes; 0 writes none. scripts.py sets
-- EVMAX from JOBBERS_EVENTS_MAXLEN when it loads the script.
local EVMAX = 10000
local EVBATCH = 100
local function stream_event(id, name, queue, old, new, worker, attempt)
  if EVMAX > 0 then
    redis.call('XADD', P .. 'ev', 'MAXLEN', '~', EVMAX, '*', 'id', id, 'name', name or '',
      'queue', queue, 'from', old or '', 'to', new, 'worker', worker or '', 'attempt', attempt or 0)
  end
end

-- One field of a batch's entry, for values[i..j]: the value all share, or all joined by ','.
local function joined(values, i, j)
  for k = i + 1, j do
    if values[k] ~= values[i] then return table.concat(values, ',', i, j) end
  end
  return values[i] or ''
end

-- Move a task between status indexes and set its status: with move_many below, the only
-- way statuses change, so a task is in exactly one index and every count (ZCARD) matches
-- the indexes. Entering `submitted` also puts the task on its waiting list (`listed`).
-- Both also keep the per-name indexes `s:{status}:n:{name}` (full-form tasks only), which
-- the listings filtered by task name read.
local function sn(status, name) return P .. 's:' .. status .. ':n:' .. name end
local function move(id, queue, old, new, score)
  local name, worker, attempt = unpack(redis.call('HMGET', tk(id), 'name', 'worker', 'attempt'))
  if old then
    redis.call('ZREM', P .. 's:' .. old, id)
    redis.call('ZREM', P .. 's:' .. old .. ':' .. queue, id)
    if name then redis.call('ZREM', sn(old, name), id) end
  end
  redis.call('ZADD', P .. 's:' .. new, score, id)
  redis.call('ZADD', P .. 's:' .. new .. ':' .. queue, score, id)
  if name then redis.call('ZADD', sn(new, name), score, id) end
  redis.call('HSET', tk(id), 'status', new)
  if new == 'submitted' then listed(id, queue, score) end
  stream_event(id, name, queue, old, new, worker, attempt)
end

-- `move` for many tasks of one queue in one call per index (claim and finish batches:
-- one variadic ZREM/ZADD per index instead of four commands per task). The caller sets
-- each task's status field in the same HSET as its other fields. `scores` is one score
-- for all, or one per id. Chunks of 1000 stay under Lua's unpack limit.
local function move_many(ids, queue, old, new, scores)
  if #ids == 0 then return end
  for i = 1, #ids, 1000 do
    local last = math.min(i + 999, #ids)
    if old then
      redis.call('ZREM', P .. 's:' .. old, unpack(ids, i, last))
      redis.call('ZREM', P .. 's:' .. old .. ':' .. queue, unpack(ids, i, last))
    end
    local pairs_ = {}
    for j = i, last do
      pairs_[#pairs_ + 1] = type(scores) == 'table' and scores[j] or scores
      pairs_[#pairs_ + 1] = ids[j]
    end
    redis.call('ZADD', P .. 's:' .. new, unpack(pairs_))
    redis.call('ZADD', P .. 's:' .. new .. ':' .. queue, unpack(pairs_))
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
    local name, worker, attempt = unpack(redis.call('HMGET', tk(id), 'name', 'worker', 'attempt'))
    ev.names[j], ev.workers[j], ev.attempts[j] = name or '', worker or '', attempt or '0'
    if name then
      local g = named[name] or {ids = {}, zadd = {}}
      named[name] = g
      g.ids[#g.ids + 1] = id
      g.zadd[#g.zadd + 1] = type(scores) == 'table' and scores[j] or scores
      g.zadd[#g.zadd + 1] = id
    end
  end
  for name, g in pairs(named) do
    for i = 1, #g.ids, 1000 do
      local last = math.min(i + 999, #g.ids)
      redis.call('ZREM', sn(old or 'submitted', name), unpack(g.ids, i, last))
      redis.call('ZADD', sn(new, name), unpack(g.zadd, 2 * i - 1, 2 * last))
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

-- Compact waiting tasks. A fresh submit stores only a record in the `wait` hash (id ->
-- record) and the id at the tail of its waiting list (above), with the queue's count in
-- `wq`: ~150 bytes a task instead of a hash, a parameters key and four index entries.
-- The full form (task hash, parameters key, `all` entries) is written when a worker
-- claims the task or an operator cancels or purges it; retries and re-queued tasks wait
-- in full form in `s:submitted:{queue}` and on the same lists.
-- A record removed from `wait` leaves its id in the list as a tombstone, skipped later.
-- Record: queue, name, version, fingerprint, submitted_at, parameters ('' for {}),
-- joined by the unit separator (\31), then the priority as a seventh field only when it
-- is not the default (a default task's record costs no byte more).
local function wk() return P .. 'wait' end

local function pack_record(queue, name, version, fp, at, params, prio)
  if params == '{}' then params = '' end
  local fields = {queue, name, version, fp, at, params}
  if not default_priority(prio) then fields[7] = prio end
  return table.concat(fields, '\31')
end

local function unpack_record(rec)
  local queue, name, version, fp, at, params, prio = string.match(rec,
    '^([^\31]*)\31([^\31]*)\31([^\31]*)\31([^\31]*)\31([^\31]*)\31([^\31]*)\31?(.*)$')
  if params == '' then params = '{}' end
  if default_priority(prio) then prio = nil end
  return {queue = queue, name = name, version = version, fp = fp, at = tonumber(at),
    params = params, prio = prio, ttype = ptype(name .. '@' .. version, prio)}
end

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

-- Write one compact task's full form (hash, parameters, `all` entries) and drop its
-- record; the caller then moves it from `submitted` like any waiting task.
local function materialize(id, r)
  local t = tk(id)
  redis.call('HSET', t, unpack(full_fields(r)))
  if r.params ~= '{}' then redis.call('SET', t .. ':p', r.params) end
  redis.call('ZADD', P .. 'all', r.at, id)
  redis.call('ZADD', P .. 'all:' .. r.queue, r.at, id)
  redis.call('HDEL', wk(), id)
  redis.call('HINCRBY', P .. 'wq', r.queue, -1)
end

-- Which of `ids` (entries of one of `queue`'s waiting lists) are live: a table of
-- position -> the unpacked record (compact) or the score (full form, `submitted`).
local function live_entries(queue, ids)
  local live = {}
  if #ids == 0 then return live end
  local recs = redis.call('HMGET', wk(), unpack(ids))
  for i, id in ipairs(ids) do
    if recs[i] then
      live[i] = unpack_record(recs[i])
    else
      local score = redis.call('ZSCORE', P .. 's:submitted:' .. queue, id)
      if score then live[i] = tonumber(score) end
    end
  end
  return live
end

-- Drop the tombstones at one end of a waiting list (at most 20 x 64 per call), so that
-- claims, which read from the head, and newest-first listings, which read from the tail,
-- do not wade through them. A list left empty leaves the queue's type index.
local function drop_tombstones(queue, ttype, tail)
  local key = wl(queue, ttype)
  for _ = 1, 20 do
    local ids = redis.call('LRANGE', key, tail and -64 or 0, tail and -1 or 63)
    if #ids == 0 then
      redis.call('ZREM', wt(queue), ttype)
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

-- A queue's compact tasks still waiting (tombstones excluded).
local function waiting_count(queue)
  return tonumber(redis.call('HGET', P .. 'wq', queue) or '0') or 0
end

local function ring(queue) redis.call('ZADD', P .. 'bell:' .. queue, 0, 'r') end

-- Per-minute counters for the dashboard; they expire on their own.
local function bump(queue, field, by)
  local k = P .. 'm:' .. queue .. ':' .. math.floor(NOW / 60000)
  -- The first count of a field (which includes the key's creation) sets the expiry; every
  -- later bump of the minute saves the call.
  if redis.call('HINCRBY', k, field, by or 1) == (by or 1) then redis.call('EXPIRE', k, 7200) end
end

-- `entry.attempt` comes in as the task's retry count (HASH field `attempt`); the history
-- numbers attempts over the task's whole life, so it adds `abase`, the attempts before the
-- last operator requeue (which may reset that count: requeue.lua).
local function history(id, entry)
  entry.at = NOW
  entry.attempt = (tonumber(entry.attempt) or 0) + (tonumber(redis.call('HGET', tk(id), 'abase')) or 0)
  local k = tk(id) .. ':h'
  redis.call('RPUSH', k, cjson.encode(entry))
  redis.call('LTRIM', k, -50, -1)
end

local function dead_letter(id, queue, name)
  redis.call('ZADD', P .. 'dlq', NOW, id)
  redis.call('ZADD', P .. 'dlq:q:' .. queue, NOW, id)
  redis.call('ZADD', P .. 'dlq:n:' .. name, NOW, id)
  redis.call('HSET', tk(id), 'in_dlq', '1')
end

local function undead(id, queue, name)
  redis.call('ZREM', P .. 'dlq', id)
  redis.call('ZREM', P .. 'dlq:q:' .. queue, id)
  redis.call('ZREM', P .. 'dlq:n:' .. name, id)
  redis.call('HSET', tk(id), 'in_dlq', '0')
end

-- Forget the worker-side bookkeeping of a task that leaves `started`.
local function release(id, worker)
  redis.call('ZREM', P .. 'inflight:' .. worker, id)
  redis.call('ZREM', P .. 'hb', id)
end

-- Workflows: what task `id`'s parents did, appended to `out` as the parents' count, then
-- parent id, status ('' when gone) and results (false when none), by parent id. Read as
-- the child is claimed (claim.lua) or on demand (parents.lua). O(parents).
local function parent_reads(id, out)
  local parents = redis.call('HKEYS', tk(id) .. ':pa')
  table.sort(parents)
  out[#out + 1] = #parents
  for _, pid in ipairs(parents) do
    out[#out + 1] = pid
    out[#out + 1] = redis.call('HGET', tk(pid), 'status') or ''
    out[#out + 1] = redis.call('GET', tk(pid) .. ':r')
  end
end

-- Workflows (see workflow.lua and jobbers/store/keys.py): `task:{id}:pa` maps each parent of
-- a task to its outcome as the child counted it ('' = not yet), `task:{id}:c` holds its
-- children, the HASH field `deps` counts the parents not yet counted, `opf` is the
-- on_parent_failure policy ('run' or cancel), `wf` the workflow and `pcx` the parent
-- whose failure cancelled it. `wf:{id}` counts its nodes per outcome (c, f, x).
local function wf_count(wf, status, by)
  local field = status == 'completed' and 'c' or status == 'cancelled' and 'x' or 'f'
  redis.call('HINCRBY', P .. 'wf:' .. wf, field, by)
end
-- A task reached a terminal status: its waiting children count it. A completed parent
-- brings a child one step nearer `submitted`; any other outcome cancels a child under
-- the `cancel` policy (and so on down the graph) and counts like a completion under
-- `run`. Iterative, so a long chain never deepens the Lua stack. O(children reached).
local function settled(id, status)
  local wf = redis.call('HGET', tk(id), 'wf')
  if wf then wf_count(wf, status, 1) end
  local stack = {{id, status}}
  while #stack > 0 do
    local top = table.remove(stack)
    local pid, pstatus = top[1], top[2]
    for _, cid in ipairs(redis.call('SMEMBERS', tk(pid) .. ':c')) do
      local c = tk(cid)
      local prev = redis.call('HGET', c .. ':pa', pid)
      local cf = redis.call('HMGET', c, 'status', 'queue', 'opf', 'wf')
      if prev and cf[2] then
        redis.call('HSET', c .. ':pa', pid, pstatus)
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
-- An operator put terminal task `id` (was `old`) back on its queue: it leaves its
-- workflow's counts, and its children count it again. A waiting child waits for it once
-- more; a child its failure cancelled (`pcx`) waits again unless another parent still
-- blocks it, and so on down the graph. A child that already ran is left alone.
local function rearm(id, old)
  local wf = redis.call('HGET', tk(id), 'wf')
  if wf then wf_count(wf, old, -1) end
  local stack = {id}
  while #stack > 0 do
    local pid = table.remove(stack)
    for _, cid in ipairs(redis.call('SMEMBERS', tk(pid) .. ':c')) do
      local c = tk(cid)
      local prev = redis.call('HGET', c .. ':pa', pid)
      local cf = redis.call('HMGET', c, 'status', 'queue', 'opf', 'wf', 'pcx')
      if prev and prev ~= '' and cf[2] then
        if cf[1] == 'waiting' then
          redis.call('HSET', c .. ':pa', pid, '')
          redis.call('HINCRBY', c, 'deps', 1)
        elseif cf[1] == 'cancelled' and cf[5] then
          redis.call('HSET', c .. ':pa', pid, '')
          local pa = redis.call('HGETALL', c .. ':pa')
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

local function finish_at(id, status, queue, old)
  move(id, queue, old, status, NOW)
  redis.call('HSET', tk(id), 'completed_at', NOW)
  settled(id, status)  -- workflows: the children waiting for this task count it
end
