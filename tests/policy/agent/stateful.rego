# Our own test policy: at most two execs in all, counted in data.pstate by
# the ops of ExecProcessRequest (as genpolicy's rules keep their state);
# SetPolicy allowed; everything else allowed.
package agent_policy

import future.keywords.if

default SetPolicyRequest := true
default AllowRequestsFailingPolicy := false

default ExecProcessRequest := {"allowed": false}

ExecProcessRequest := {"allowed": true, "ops": ops} if {
	count(data.pstate) < 2
	ops := [{"op": "add", "path": concat("/", ["/pstate", input.exec_id]), "value": input.process.Args}]
}

ExecProcessRequest := {"allowed": false} if {
	count(data.pstate) >= 2
	print("already", count(data.pstate), "execs:", object.keys(data.pstate))
}

CreateContainerRequest := true
StartContainerRequest := true
RemoveContainerRequest := true
SignalProcessRequest := true
WaitProcessRequest := true
ReadStreamRequest := true
WriteStreamRequest := true
CloseStdinRequest := true
TtyWinResizeRequest := true
StatsContainerRequest := true
GuestDetailsRequest := true
