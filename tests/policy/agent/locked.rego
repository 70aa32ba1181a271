# Our own test policy: the host may not replace it (SetPolicyRequest is
# false, genpolicy's default), may not wait for or write to processes
# (answered by the monitors), and its output is redacted.
package agent_policy

default SetPolicyRequest := false
default CreateContainerRequest := true
default StartContainerRequest := true
default RemoveContainerRequest := true
default SignalProcessRequest := true
default ExecProcessRequest := true
default StatsContainerRequest := true
default GuestDetailsRequest := true
default ReadStreamRequest := false
default WriteStreamRequest := false
default CloseStdinRequest := false
default WaitProcessRequest := false
default TtyWinResizeRequest := false
