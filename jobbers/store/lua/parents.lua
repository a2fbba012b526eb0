-- parents: a workflow child's parents, their status now and their results, in one round
-- trip (`Workflows.parent_outcomes`). A worker gets the same read in the claim's answer
-- (claim.lua), so nothing lies between a parent's completion and its child's start but
-- the finish and the claim. Read-only, O(parents).
-- ARGV: prefix, task id
-- Returns common.lua `parent_reads`: the count, then id, status, results per parent.
-- uses: K_task, K_results, K_parents, parent_reads
local out = {}
parent_reads(ARGV[2], out)
return out
