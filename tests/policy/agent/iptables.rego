# Our own test policy for the packet filter RPCs: GetIPTables denied (as
# genpolicy's rules.rego default), SetIPTables allowed for IPv4 only (the
# policy reads the request's fields), SetPolicy allowed so the suite can
# go on.
package agent_policy

import future.keywords.if

default SetPolicyRequest := true
default GetIPTablesRequest := false
default SetIPTablesRequest := false

SetIPTablesRequest if {
	not input.is_ipv6
}
