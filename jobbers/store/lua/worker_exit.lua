#!lua flags=allow-oom
-- worker_exit: a worker leaves. With nothing in flight it is removed at once; if it
-- still holds tasks (a hurried exit) its lease is ended so recovery runs right away.
-- Allowed under OOM (the shebang): it only removes or shortens a lease.
-- ARGV: prefix, worker
-- Returns 'removed' | 'expired'
-- uses: K_wake, K_workers, K_worker, K_inflight, K_cancel_box
local worker = ARGV[2]
local KEY = {workers = K_workers, worker = K_worker(worker), inflight = K_inflight(worker),
  cancel_box = K_cancel_box(worker), wake = K_wake(worker)}
if redis.call('ZCARD', KEY.inflight) == 0 then
  redis.call('ZREM', KEY.workers, worker)
  redis.call('DEL', KEY.worker, KEY.cancel_box, KEY.inflight, KEY.wake)
  return 'removed'
end
redis.call('ZADD', KEY.workers, 0, worker)
return 'expired'
