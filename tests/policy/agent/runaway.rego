# Our own test policy: ExecProcess loops (a billion iterations), ReadStdout's
# rule is fine; everything else allowed.
package agent_policy

import future.keywords.if
import future.keywords.in

default SetPolicyRequest := true
default CreateSandboxRequest := true
default StartContainerRequest := true
default ReadStreamRequest := true
default WriteStreamRequest := true
default CloseStdinRequest := true
default TtyWinResizeRequest := true
default CreateContainerRequest := true
default StatsContainerRequest := true
default GuestDetailsRequest := true
default WaitProcessRequest := true
default SignalProcessRequest := true
default RemoveContainerRequest := true

ExecProcessRequest if {
	xs := numbers.range(1, 1000)
	some a in xs
	some b in xs
	some c in xs
	a + b + c < 0
}
