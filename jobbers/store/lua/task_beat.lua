#!lua flags=allow-oom
-- task_beat: a running task says it is alive, optionally with progress. One round trip.
-- Allowed under OOM (the shebang), like the worker's lease: a beat stores a few bytes.
-- ARGV: prefix, id, run_id, progress ('' = unchanged), message ('' = unchanged)
-- Returns 'ok' | 'cancelled' (a cancel is pending: the caller stops) | 'lost' (not our
-- run): TaskBeatReply in jobbers/store/protocol.py
-- uses: K_task, K_heartbeat_deadlines
local id, run = ARGV[2], ARGV[3]
local KEY = {task = K_task(id), heartbeat_deadlines = K_heartbeat_deadlines}
local t = KEY.task
local f = redis.call('HMGET', t, 'status', 'run_id', 'hbmax', 'cancel')
if f[1] ~= 'started' or f[2] ~= run then return 'lost' end
redis.call('HSET', t, 'heartbeat_at', NOW)
if ARGV[4] ~= '' then redis.call('HSET', t, 'progress', ARGV[4]) end
if ARGV[5] ~= '' then redis.call('HSET', t, 'pmsg', ARGV[5]) end
local hbmax = tonumber(f[3] or '0') or 0
if hbmax > 0 then redis.call('ZADD', KEY.heartbeat_deadlines, 'XX', NOW + hbmax, id) end
if f[4] == '1' then return 'cancelled' end
return 'ok'
