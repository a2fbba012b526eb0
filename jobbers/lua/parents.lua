-- parents: a workflow child's parents, their status now and their results, read in one
-- round trip just before the child runs (what `task.parents` and `task.parent_results`
-- give it). One call instead of a HKEYS then a pipeline: the read is on the hand-off
-- between a parent's completion and its child's start. Read-only, O(parents).
-- ARGV: prefix, task id
-- Returns a flat list: parent id, status ('' when the parent is gone), results (false
-- when it has none), for each parent in the order of its id.
local parents = redis.call('HKEYS', tk(ARGV[2]) .. ':pa')
table.sort(parents)
local out = {}
for _, pid in ipairs(parents) do
  out[#out + 1] = pid
  out[#out + 1] = redis.call('HGET', tk(pid), 'status') or ''
  out[#out + 1] = redis.call('GET', tk(pid) .. ':r')
end
return out
