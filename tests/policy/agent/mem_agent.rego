# Our own test policy for the mem-agent's RPCs: MemAgentMemcgSet denied,
# MemAgentCompactSet allowed only to disable compaction (the policy reads
# the request's fields: a set proto3 optional field is in the input even
# when false), SetPolicy allowed so the suite can go on.
package agent_policy

import future.keywords.if

default SetPolicyRequest := true
default MemAgentMemcgConfig := false
default MemAgentCompactConfig := false

MemAgentCompactConfig if {
	input.disabled
}
