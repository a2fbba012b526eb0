-- dlq_remove: take tasks out of the dead-letter queue without resubmitting them; the
-- tasks stay visible as failed/stalled until retention deletes them.
-- ARGV: prefix, id...
-- Returns the number removed.
-- uses: K_task, K_dlq, undead
local n = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  local f = redis.call('HMGET', K_task(id), 'queue', 'name', 'in_dlq')
  if f[3] == '1' then
    undead(id, f[1], f[2])
    n = n + 1
  end
end
return n
