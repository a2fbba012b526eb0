#!lua flags=allow-oom
-- worker_exit: a worker leaves. With nothing in flight it is removed at once; if it
-- still holds tasks (a hurried exit) its lease is ended so recovery runs right away.
-- Allowed under OOM (the shebang): it only removes or shortens a lease.
-- ARGV: prefix, worker
-- Returns 'removed' | 'expired'
local worker = ARGV[2]
if redis.call('ZCARD', P .. 'inflight:' .. worker) == 0 then
  redis.call('ZREM', P .. 'workers', worker)
  redis.call('DEL', P .. 'worker:' .. worker, P .. 'cancel:' .. worker, P .. 'inflight:' .. worker,
    P .. 'wake:' .. worker)
  return 'removed'
end
redis.call('ZADD', P .. 'workers', 0, worker)
return 'expired'
