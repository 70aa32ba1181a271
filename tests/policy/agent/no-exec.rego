# Our own test policy, in the shape of upstream's
# src/kata-opa/allow-all-except-exec-process.rego: every request allowed,
# ExecProcess only for the command `/bin/true`, SetPolicy allowed.
package agent_policy

import future.keywords.if

default AddARPNeighborsRequest := true
default AddSwapPathRequest := true
default CloseStdinRequest := true
default CopyFileRequest := true
default CreateContainerRequest := true
default CreateSandboxRequest := true
default DestroySandboxRequest := true
default GetMetricsRequest := true
default GetOOMEventRequest := true
default GuestDetailsRequest := true
default ListInterfacesRequest := true
default ListRoutesRequest := true
default MemHotplugByProbeRequest := true
default OnlineCPUMemRequest := true
default PauseContainerRequest := true
default ReadStreamRequest := true
default RemoveContainerRequest := true
default RemoveStaleVirtiofsShareMountsRequest := true
default ReseedRandomDevRequest := true
default ResumeContainerRequest := true
default SetGuestDateTimeRequest := true
default SetPolicyRequest := true
default SignalProcessRequest := true
default StartContainerRequest := true
default StatsContainerRequest := true
default TtyWinResizeRequest := true
default UpdateContainerRequest := true
default UpdateEphemeralMountsRequest := true
default UpdateInterfaceRequest := true
default UpdateRoutesRequest := true
default VolumeStatsRequest := true
default WaitProcessRequest := true
default WriteStreamRequest := true

default ExecProcessRequest := false

ExecProcessRequest if {
	input.process.Args == ["/bin/true"]
}

ExecProcessRequest if {
	print("exec of", input.process.Args, "into", input.container_id, "is not allowed")
	false
}
