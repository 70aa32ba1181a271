/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runtime_requests.h - requests as the Kata runtime sends them, in the
 * proto3 JSON mapping (fuzz_pack_json packs them), and upstream's sample
 * config file, shared by the seed writers of the targets. Each names the runtime
 * function that fills it (kata-containers src/runtime/virtcontainers/
 * kata_agent.go unless said otherwise).
 */
#ifndef KATA_FUZZ_RUNTIME_REQUESTS_H
#define KATA_FUZZ_RUNTIME_REQUESTS_H

/* A containerd default spec (oci.WithDefaultSpec) for `sh`, as the Go
 * runtime's OCItoGRPC + constrainGRPCSpec leave it: no Hooks, Resources
 * without Devices, Pids, BlockIO, Network, and CPU without Cpus/Mems. */
#define SPEC_PROCESS                                                                          \
	"\"Process\": {\"Terminal\": false, \"User\": {\"UID\": 0, \"GID\": 0},"              \
	" \"Args\": [\"sh\"], \"Env\": [\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"     \
	"/usr/bin:/sbin:/bin\", \"HOSTNAME=pod\"], \"Cwd\": \"/\", \"Capabilities\": {"       \
	"\"Bounding\": [\"CAP_CHOWN\", \"CAP_DAC_OVERRIDE\", \"CAP_FSETID\", \"CAP_FOWNER\"," \
	" \"CAP_MKNOD\", \"CAP_NET_RAW\", \"CAP_SETGID\", \"CAP_SETUID\", \"CAP_SETFCAP\","   \
	" \"CAP_SETPCAP\", \"CAP_NET_BIND_SERVICE\", \"CAP_SYS_CHROOT\", \"CAP_KILL\","       \
	" \"CAP_AUDIT_WRITE\"], \"Effective\": [\"CAP_CHOWN\", \"CAP_KILL\"],"                \
	" \"Permitted\": [\"CAP_CHOWN\", \"CAP_KILL\"]}, \"Rlimits\": [{\"Type\":"            \
	" \"RLIMIT_NOFILE\", \"Hard\": \"1024\", \"Soft\": \"1024\"}],"                       \
	" \"NoNewPrivileges\": true, \"OOMScoreAdj\": \"-998\"}"
#define SPEC_MOUNTS                                                                           \
	"\"Mounts\": [{\"destination\": \"/proc\", \"source\": \"proc\", \"type\": \"proc\"," \
	" \"options\": [\"nosuid\", \"noexec\", \"nodev\"]}, {\"destination\": \"/dev\","     \
	" \"source\": \"tmpfs\", \"type\": \"tmpfs\", \"options\": [\"nosuid\","              \
	" \"strictatime\", \"mode=755\", \"size=65536k\"]}, {\"destination\": \"/dev/pts\","  \
	" \"source\": \"devpts\", \"type\": \"devpts\", \"options\": [\"nosuid\","            \
	" \"noexec\", \"newinstance\", \"ptmxmode=0666\", \"mode=0620\", \"gid=5\"]},"        \
	" {\"destination\": \"/dev/shm\", \"source\": \"shm\", \"type\": \"tmpfs\","          \
	" \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"mode=1777\", \"size=65536k\"]}," \
	" {\"destination\": \"/sys\", \"source\": \"sysfs\", \"type\": \"sysfs\","            \
	" \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"ro\"]}, {\"destination\":"       \
	" \"/etc/hostname\", \"source\": \"/run/kata-containers/shared/containers/"           \
	"c1-hostname\", \"type\": \"bind\", \"options\": [\"rbind\", \"ro\"]}]"
#define SPEC_LINUX_NS                                                                           \
	"\"Namespaces\": [{\"Type\": \"pid\"}, {\"Type\": \"ipc\"}, {\"Type\": \"uts\"},"       \
	" {\"Type\": \"mount\"}, {\"Type\": \"network\", \"Path\": \"/var/run/netns/cni-1\"}]," \
	" \"MaskedPaths\": [\"/proc/acpi\", \"/proc/kcore\", \"/proc/keys\","                   \
	" \"/proc/timer_list\", \"/sys/firmware\"], \"ReadonlyPaths\": [\"/proc/bus\","         \
	" \"/proc/fs\", \"/proc/irq\", \"/proc/sys\", \"/proc/sysrq-trigger\"]"

/* createContainer: rootfs shared over virtio-fs (no storage of its own). */
#define RT_CREATE_CONTAINER                                                                \
	"{\"containerId\": \"c1\", \"execId\": \"c1\", \"storages\": [], \"devices\": []," \
	" \"OCI\": {\"Version\": \"1.0.2-dev\", " SPEC_PROCESS ", \"Root\": {\"Path\":"    \
	" \"/run/kata-containers/shared/containers/c1/rootfs\", \"Readonly\": false},"     \
	" \"Hostname\": \"pod\", " SPEC_MOUNTS ", \"Annotations\": {\"io.kubernetes.cri"   \
	".container-type\": \"container\", \"io.kubernetes.cri.sandbox-id\": \"sb1\"},"    \
	" \"Linux\": {\"Resources\": {\"Memory\": {\"Limit\": \"268435456\"}, \"CPU\":"    \
	" {\"Shares\": \"1024\", \"Quota\": \"50000\", \"Period\": \"100000\"}},"          \
	" \"CgroupsPath\": \"/kubepods/besteffort/podx/c1\", " SPEC_LINUX_NS "}},"         \
	" \"sandboxPidns\": false}"

/* The same with what constrainGRPCSpec keeps when asked to (passSeccomp:
 * Linux.Seccomp), plus device rules and a device as runtime-rs amend_spec
 * leaves them. */
#define RT_CREATE_CONTAINER_DEVICES_SECCOMP                                                    \
	"{\"containerId\": \"c2\", \"OCI\": {" SPEC_PROCESS ", \"Root\": {\"Path\":"           \
	" \"/run/kata-containers/shared/containers/c2/rootfs\"}, \"Linux\": {"                 \
	" \"Resources\": {\"Devices\": [{\"Allow\": false, \"Access\": \"rwm\"},"              \
	" {\"Allow\": true, \"Type\": \"c\", \"Major\": \"10\", \"Minor\": \"229\","           \
	" \"Access\": \"rw\"}, {\"Allow\": true, \"Type\": \"b\", \"Major\": \"8\","           \
	" \"Minor\": \"-1\", \"Access\": \"r\"}, {\"Allow\": false, \"Type\": \"c\","          \
	" \"Major\": \"1\", \"Minor\": \"9\", \"Access\": \"w\"}], \"Pids\": {\"Limit\":"      \
	" \"100\"}}, \"Devices\": [{\"Path\": \"/dev/fuse\", \"Type\": \"c\", \"Major\":"      \
	" \"10\", \"Minor\": \"229\", \"FileMode\": 438}], \"Sysctl\": {"                      \
	"\"net.ipv4.ip_forward\": \"1\"}, \"Seccomp\": {\"DefaultAction\":"                    \
	" \"SCMP_ACT_ERRNO\", \"Architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\"],"   \
	" \"Flags\": [\"SECCOMP_FILTER_FLAG_LOG\"], \"Syscalls\": [{\"Names\": [\"read\","     \
	" \"write\", \"exit_group\", \"futex\"], \"Action\": \"SCMP_ACT_ALLOW\"}, {\"Names\":" \
	" [\"personality\"], \"Action\": \"SCMP_ACT_ALLOW\", \"Args\": [{\"Index\": 0,"        \
	" \"Value\": \"0\", \"Op\": \"SCMP_CMP_EQ\"}]}, {\"Names\": [\"mkdir\"], \"Action\":"  \
	" \"SCMP_ACT_ERRNO\", \"errnoret\": 1}]}, " SPEC_LINUX_NS "}}}"

/* exec: cmdToKataProcess of `kubectl exec -it ... sh -c id`. */
#define RT_EXEC_TTY                                                                            \
	"{\"containerId\": \"c1\", \"execId\": \"0e1d6d7b-3b0e-4e1c-9c55-1f2b3c4d5e6f\","      \
	" \"process\": {\"Terminal\": true, \"ConsoleSize\": {\"Height\": 24, \"Width\": 80}," \
	" \"User\": {\"UID\": 1000, \"GID\": 1000, \"AdditionalGids\": [10, 20]}, \"Args\":"   \
	" [\"sh\", \"-c\", \"id\"], \"Env\": [\"PATH=/bin\", \"TERM=xterm\"], \"Cwd\":"        \
	" \"/tmp\"}}"

/* exec with what a spec-derived process carries (runtime-rs exec_process). */
#define RT_EXEC_RLIMITS                                                                       \
	"{\"containerId\": \"c1\", \"execId\": \"e2\", \"process\": {\"User\": {\"UID\": 0}," \
	" \"Args\": [\"/bin/ls\", \"-l\"], \"Cwd\": \"/\", \"Capabilities\": {\"Bounding\":"  \
	" [\"CAP_KILL\"], \"Ambient\": [\"CAP_KILL\"]}, \"Rlimits\": [{\"Type\":"             \
	" \"RLIMIT_NPROC\", \"Hard\": \"64\", \"Soft\": \"32\"}], \"OOMScoreAdj\": \"100\","  \
	" \"NoNewPrivileges\": true}}"

/* startSandbox: hostname, DNS from the pod, the shared-fs storage
 * (setupStorages), kernel modules (setupKernelModules). */
#define RT_CREATE_SANDBOX                                                                    \
	"{\"hostname\": \"pod\", \"dns\": [\"nameserver 10.96.0.10\", \"search"              \
	" default.svc.cluster.local\", \"options ndots:5\"], \"storages\": [{\"driver\":"    \
	" \"virtio-fs\", \"source\": \"kataShared\", \"fstype\": \"virtiofs\", \"options\":" \
	" [], \"mountPoint\": \"/run/kata-containers/shared/containers/\"}],"                \
	" \"sandboxPidns\": false, \"sandboxId\": \"sb1\", \"kernelModules\": [{\"name\":"   \
	" \"e1000e\", \"parameters\": [\"InterruptThrottleRate=3000,3000,3000\"]}]}"

/* updateInterface, updateRoutes, addARPNeighbors (from the endpoints the
 * runtime found in the pod's network namespace). */
#define RT_UPDATE_INTERFACE                                                                     \
	"{\"interface\": {\"device\": \"eth0\", \"name\": \"eth0\", \"IPAddresses\": [{"        \
	"\"family\": \"v4\", \"address\": \"10.244.0.7\", \"mask\": \"24\"}, {\"family\":"      \
	" \"v6\", \"address\": \"fd00::7\", \"mask\": \"64\"}], \"mtu\": \"1450\", \"hwAddr\":" \
	" \"0a:58:0a:f4:00:07\", \"type\": \"veth\"}}"
#define RT_UPDATE_ROUTES                                                                      \
	"{\"routes\": {\"Routes\": [{\"dest\": \"10.244.0.0/24\", \"device\": \"eth0\","      \
	" \"source\": \"10.244.0.7\", \"scope\": 253}, {\"gateway\": \"10.244.0.1\","         \
	" \"device\": \"eth0\"}, {\"dest\": \"fd00::/64\", \"device\": \"eth0\", \"family\":" \
	" \"v6\"}]}}"
#define RT_ADD_ARP_NEIGHBORS                                                                   \
	"{\"neighbors\": {\"ARPNeighbors\": [{\"toIPAddress\": {\"address\": \"10.244.0.1\"}," \
	" \"device\": \"eth0\", \"lladdr\": \"0a:58:0a:f4:00:01\", \"state\": 128}]}}"

/* updateContainer: ResourcesOCItoGRPC of a CRI UpdateContainerResources. */
#define RT_UPDATE_CONTAINER                                                                \
	"{\"containerId\": \"c1\", \"resources\": {\"Memory\": {\"Limit\": \"536870912\"," \
	" \"Swap\": \"536870912\"}, \"CPU\": {\"Shares\": \"512\", \"Quota\": \"20000\","  \
	" \"Period\": \"100000\", \"Cpus\": \"0-1\"}, \"Pids\": {\"Limit\": \"1024\"}}}"

/* The per-process calls of the shim's stdio and lifecycle (readStdout with
 * a 32 KiB buffer, writeStdin, winsizeProcess, signalProcess, waitProcess,
 * closeStdin, removeContainer). */
#define RT_READ_STDOUT "{\"containerId\": \"c1\", \"execId\": \"c1\", \"len\": 32768}"
#define RT_WRITE_STDIN "{\"containerId\": \"c1\", \"execId\": \"e1\", \"data\": \"ZWNobyBoaQo=\"}"
#define RT_TTY_RESIZE "{\"containerId\": \"c1\", \"execId\": \"e1\", \"row\": 50, \"column\": 132}"
#define RT_SIGNAL "{\"containerId\": \"c1\", \"execId\": \"c1\", \"signal\": 15}"
#define RT_WAIT "{\"containerId\": \"c1\", \"execId\": \"e1\"}"
#define RT_CONTAINER "{\"containerId\": \"c1\"}"
#define RT_REMOVE "{\"containerId\": \"c1\"}"
/* runtime-rs copy_termination_log (container_manager/container.rs). */
#define RT_DIAGNOSTIC "{\"logType\": \"termination_log\", \"containerId\": \"c1\"}"

/* Guest-wide: getGuestDetails (both asked), onlineCPUMem (Wait: false),
 * memHotplugByProbe, setGuestDateTime (after a resume), reseedRNG, copyFile
 * (a container's hostname file), getVolumeStats (the shim's
 * GetVolumeStats), AddSwapPath (runtime-rs swap), UpdateEphemeralMounts
 * (a sandbox's emptyDir resized). */
#define RT_GUEST_DETAILS "{\"memBlockSize\": true, \"memHotplugProbe\": true}"
#define RT_ONLINE_CPU_MEM "{\"wait\": false, \"nbCpus\": 2, \"cpuOnly\": false}"
#define RT_MEM_PROBE "{\"memHotplugProbeAddr\": [\"4294967296\", \"4429185024\"]}"
#define RT_SET_TIME "{\"Sec\": \"1717171717\", \"Usec\": \"250000\"}"
#define RT_RESEED "{\"data\": \"3q2+7wABAgMEBQYHCAkKCwwNDg8=\"}"
#define RT_COPY_FILE                                                                              \
	"{\"path\": \"/run/kata-containers/shared/containers/c1-hostname\", \"fileSize\": \"4\"," \
	" \"fileMode\": 33188, \"dirMode\": 493, \"uid\": 0, \"gid\": 0, \"offset\": \"0\","      \
	" \"data\": \"cG9kCg==\"}"
#define RT_VOLUME_STATS "{\"volumeGuestPath\": \"/run/kata-containers/shared/direct-volumes/vol1\"}"
#define RT_SWAP_PATH "{\"path\": \"/run/kata-containers/shared/swap/swap0\"}"
#define RT_EPHEMERAL                                                                     \
	"{\"storages\": [{\"driver\": \"ephemeral\", \"source\": \"tmpfs\", \"fstype\":" \
	" \"tmpfs\", \"options\": [\"size=2097152k\"], \"mountPoint\":"                  \
	" \"/run/kata-containers/sandbox/ephemeral/cache\"}]}"

/* The agent's config file as upstream's sample has it
 * (src/agent/samples/configuration-all-endpoints.toml, shortened as in
 * doc/options.md). */
#define UPSTREAM_CONFIG_SAMPLE                           \
	"# All endpoints are allowed\n"                  \
	"dev_mode = false\n"                             \
	"server_addr = 'vsock://-1:1024'\n"              \
	"log_level = \"info\"\n"                         \
	"hotplug_timeout = { secs = 3, nanos = 0 }\n"    \
	"container_pipe_size = 0\n"                      \
	"unified_cgroup_hierarchy = false\n"             \
	"\n"                                             \
	"[endpoints]\n"                                  \
	"allowed = [\n"                                  \
	"  \"AddARPNeighborsRequest\",\n"                \
	"  \"CreateContainerRequest\",\n"                \
	"  \"ExecProcessRequest\",\n"                    \
	"  \"ReadStreamRequest\", # stdout and stderr\n" \
	"  \"WaitProcessRequest\",\n"                    \
	"]\n"

#endif
