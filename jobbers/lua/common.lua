-- common.lua: prepended to every script. The contract of every script: ARGV[1] is the
-- key prefix; keys are built here exactly as jobbers/keys.py documents them. Times are
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

-- Move a task between status indexes and set its status: with move_many below, the only
-- way statuses change, so a task is in exactly one index and every count (ZCARD) matches
-- the indexes.
local function move(id, queue, old, new, score)
  if old then
    redis.call('ZREM', P .. 's:' .. old, id)
    redis.call('ZREM', P .. 's:' .. old .. ':' .. queue, id)
  end
  redis.call('ZADD', P .. 's:' .. new, score, id)
  redis.call('ZADD', P .. 's:' .. new .. ':' .. queue, score, id)
  redis.call('HSET', tk(id), 'status', new)
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
  end
end

local function ring(queue) redis.call('ZADD', P .. 'bell:' .. queue, 0, 'r') end

-- Per-minute counters for the dashboard; they expire on their own.
local function bump(queue, field, by)
  local k = P .. 'm:' .. queue .. ':' .. math.floor(NOW / 60000)
  -- The first count of a field (which includes the key's creation) sets the expiry; every
  -- later bump of the minute saves the call.
  if redis.call('HINCRBY', k, field, by or 1) == (by or 1) then redis.call('EXPIRE', k, 7200) end
end

local function history(id, entry)
  entry.at = NOW
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

local function finish_at(id, status, queue, old)
  move(id, queue, old, status, NOW)
  redis.call('HSET', tk(id), 'completed_at', NOW)
end
