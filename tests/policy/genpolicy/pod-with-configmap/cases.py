# SPDX-License-Identifier: Apache-2.0
"""Requests for the pod of policy_data.json (a pause container and an httpd
container with a ConfigMap volume), in the order the runtime sends them, with
the verdict rules.rego must give.  Shapes as the Go runtime fills them:
CreateSandbox in kataAgent.startSandbox, CreateContainer in
kataAgent.createContainer (OCI spec from containerd's CRI; the rootfs already
at Root.Path, see HOST_SIDE), ExecProcess in kataAgent.exec
(src/runtime/virtcontainers/kata_agent.go; constrainGRPCSpec drops the
network namespace and empties the other namespaces' paths); fields left out
here get their serde defaults (serde_shape.py).

For the real agent (tests/policy/genpolicy-agent): HOST_SIDE lays out what
the runtime and the image would have put below /run/kata-containers before
the requests (KATA is the agent's /run/kata-containers, MKBUNDLE
scripts/make-busybox-bundle), and a case's "agent" is the status the agent
answers a request the policy allows (default OK), "timeout" the deadline
the request is sent with (for requests that block)."""
import base64
import copy

SID = "5f0c1b6f0e3e4d4b9b7f6a1c2d3e4f5061728394a5b6c7d8e9f00112233445566"[:64]
BID = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
NETNS = "/var/run/netns/cni-0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
SHARED = "/run/kata-containers/shared/containers/"
DEFAULT_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
                "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
                "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NAMESPACES = [{"Type": "ipc"}, {"Type": "uts"}, {"Type": "mount"}]
LINUX = {"Namespaces": NAMESPACES, "MaskedPaths": ["/proc/kcore", "/proc/keys", "/sys/firmware"],
         "ReadonlyPaths": ["/proc/bus", "/proc/sys"], "Resources": {}}


# The rootfs at Root.Path as a guest pull leaves it (our agent has no
# image_guest_pull storage driver, so the request carries none and the test
# lays the image out), busybox for both images: the pause image's /pause
# and httpd's /srv; the files kubelet shares (kata_agent.go's ShareFile
# names: <container id>-<16 hex>-<name>), the ConfigMap a directory.
HOST_SIDE = """
set -e
C=$KATA/shared/containers
"$MKBUNDLE" "$KATA/%(sid)s" >/dev/null
"$MKBUNDLE" "$KATA/%(bid)s" >/dev/null
printf '#!/bin/sh\\nexec sleep 100000\\n' >"$KATA/%(sid)s/rootfs/pause"
chmod 755 "$KATA/%(sid)s/rootfs/pause"
mkdir -p "$KATA/%(bid)s/rootfs/srv/config" "$C"
echo '<h1>web</h1>' >"$KATA/%(bid)s/rootfs/srv/index.html"
echo 'nameserver 10.96.0.10' >"$C/%(sid)s-0123456789abcdef-resolv.conf"
for f in hosts termination-log hostname resolv.conf; do
  echo "$f" >"$C/%(bid)s-0123456789abcdef-$f"
done
mkdir "$C/%(bid)s-0123456789abcdef-site-config"
echo 'listen 80' >"$C/%(bid)s-0123456789abcdef-site-config/site.conf"
""" % {"sid": SID, "bid": BID}


def caps(extra=()):
    c = DEFAULT_CAPS + list(extra)
    return {"Bounding": c, "Effective": c, "Permitted": c}


def shared(bundle, name):
    return SHARED + bundle + "-0123456789abcdef-" + name


PAUSE = {
    "container_id": SID, "exec_id": SID,
    "OCI": {
        "Version": "1.1.0",
        "Process": {"User": {"UID": 65535, "GID": 65535}, "Args": ["/pause"], "Env": [PATH_ENV],
                    "Cwd": "/", "Capabilities": caps(), "NoNewPrivileges": True},
        "Root": {"Path": "/run/kata-containers/%s/rootfs" % SID, "Readonly": True},
        "Mounts": [
            {"destination": "/dev/shm", "type_": "bind", "source": "/run/kata-containers/sandbox/shm",
             "options": ["rbind"]},
            {"destination": "/etc/resolv.conf", "type_": "bind", "source": shared(SID, "resolv.conf"),
             "options": ["rbind", "ro", "nosuid", "nodev", "noexec"]},
        ],
        "Annotations": {
            "io.katacontainers.pkg.oci.bundle_path": "/run/containerd/io.containerd.runtime.v2.task/k8s.io/" + SID,
            "io.katacontainers.pkg.oci.container_type": "pod_sandbox",
            "io.kubernetes.cri.container-type": "sandbox",
            "io.kubernetes.cri.sandbox-id": SID,
            "io.kubernetes.cri.sandbox-log-directory": "/var/log/pods/shop_web_6b7c8d9e-0f1a-2b3c-4d5e-6f708192a3b4",
            "io.kubernetes.cri.sandbox-name": "web",
            "io.kubernetes.cri.sandbox-namespace": "shop",
            "io.kubernetes.cri.sandbox-uid": "6b7c8d9e-0f1a-2b3c-4d5e-6f708192a3b4",
            "nerdctl/network-namespace": NETNS,
        },
        "Linux": copy.deepcopy(LINUX),
    },
}

HTTPD = {
    "container_id": BID, "exec_id": BID,
    "storages": [],
    "OCI": {
        "Version": "1.1.0",
        "Process": {"User": {"UID": 1000, "GID": 1000, "AdditionalGids": [1000]},
                    "Args": ["/bin/sh", "-c", "exec httpd -f -p 8080 -h /srv"],
                    "Env": [PATH_ENV, "HOSTNAME=web", "POD_NAME=web", "POD_NAMESPACE=shop",
                            "MODE=production"],
                    "Cwd": "/srv", "Capabilities": caps()},
        "Root": {"Path": "/run/kata-containers/%s/rootfs" % BID},
        "Mounts": [
            {"destination": "/etc/hosts", "type_": "bind", "source": shared(BID, "hosts"),
             "options": ["rbind", "rprivate", "rw"]},
            {"destination": "/dev/termination-log", "type_": "bind",
             "source": shared(BID, "termination-log"), "options": ["rbind", "rprivate", "rw"]},
            {"destination": "/etc/hostname", "type_": "bind", "source": shared(BID, "hostname"),
             "options": ["rbind", "rprivate", "rw"]},
            {"destination": "/etc/resolv.conf", "type_": "bind", "source": shared(BID, "resolv.conf"),
             "options": ["rbind", "rprivate", "rw"]},
            {"destination": "/dev/shm", "type_": "bind", "source": "/run/kata-containers/sandbox/shm",
             "options": ["rbind"]},
            {"destination": "/srv/config", "type_": "bind", "source": shared(BID, "site-config"),
             "options": ["rbind", "rprivate", "ro"]},
        ],
        "Annotations": {
            "io.katacontainers.pkg.oci.bundle_path": "/run/containerd/io.containerd.runtime.v2.task/k8s.io/" + BID,
            "io.katacontainers.pkg.oci.container_type": "pod_container",
            "io.kubernetes.cri.container-name": "httpd",
            "io.kubernetes.cri.container-type": "container",
            "io.kubernetes.cri.image-name": "example.org/httpd:1.0",
            "io.kubernetes.cri.sandbox-id": SID,
            "io.kubernetes.cri.sandbox-name": "web",
            "io.kubernetes.cri.sandbox-namespace": "shop",
            "io.kubernetes.container.terminationMessagePath": "/dev/termination-log",
        },
        "Linux": copy.deepcopy(LINUX),
    },
}


def httpd(cid, change):
    r = copy.deepcopy(HTTPD)
    r["container_id"] = r["exec_id"] = cid
    change(r)
    return r


def exec_req(eid, args, cid=BID, change=None):
    p = {"User": {"UID": 1000, "GID": 1000, "AdditionalGids": [1000]}, "Args": args,
         "Env": [PATH_ENV, "HOSTNAME=web", "POD_NAME=web", "POD_NAMESPACE=shop", "MODE=production"],
         "Cwd": "/srv"}
    r = {"container_id": cid, "exec_id": eid, "process": p}
    if change:
        change(r)
    return r


def copy_file(path, mode, data):
    return {"path": path, "file_mode": mode, "dir_mode": 0o755, "file_size": len(data),
            "data": base64.b64encode(data).decode()}


def other_id(n):
    return ("%02d" % n) * 32


def set_path(path, value):
    def change(r):
        d = r
        for k in path[:-1]:
            d = d[k]
        d[path[-1]] = value
    return change


def cases():
    c = []

    def add(desc, kind, req, allowed, **agent):
        c.append(dict({"description": desc, "kind": kind, "request": req, "allowed": allowed},
                      **agent))

    add("CreateSandbox with the shm storage", "CreateSandboxRequest",
        {"hostname": "web", "sandbox_id": SID, "storages": [{
            "driver": "ephemeral", "source": "shm", "fstype": "tmpfs",
            "options": ["noexec", "nosuid", "nodev", "mode=1777", "size=67108864"],
            "mount_point": "/run/kata-containers/sandbox/shm"}]}, True)
    add("CreateSandbox asking for a kernel module", "CreateSandboxRequest",
        {"sandbox_id": SID, "kernel_modules": [{"name": "evil"}]}, False)
    add("the pause container", "CreateContainerRequest", PAUSE, True)
    add("the pause container started", "StartContainerRequest", {"container_id": SID}, True)
    add("the httpd container with its ConfigMap volume", "CreateContainerRequest", HTTPD, True)
    add("the httpd container started", "StartContainerRequest", {"container_id": BID}, True)
    add("httpd again with one more capability (CAP_SYS_ADMIN)", "CreateContainerRequest",
        httpd(other_id(1), lambda r: r["OCI"]["Process"].update(Capabilities=caps(["CAP_SYS_ADMIN"]))),
        False)
    add("httpd with another command line", "CreateContainerRequest",
        httpd(other_id(2), set_path(["OCI", "Process", "Args"], ["/bin/sh", "-c", "nc -l -p 4444 -e /bin/sh"])),
        False)
    add("httpd with the host's root bind-mounted", "CreateContainerRequest",
        httpd(other_id(3), lambda r: r["OCI"]["Mounts"].append(
            {"destination": "/host", "type_": "bind", "source": "/", "options": ["rbind", "rw"]})),
        False)
    add("httpd with its ConfigMap volume writable", "CreateContainerRequest",
        httpd(other_id(4), set_path(["OCI", "Mounts", 5, "options"], ["rbind", "rprivate", "rw"])),
        False)
    add("httpd in another Kubernetes namespace", "CreateContainerRequest",
        httpd(other_id(5), set_path(["OCI", "Annotations", "io.kubernetes.cri.sandbox-namespace"], "kube-system")),
        False)
    add("httpd running as root", "CreateContainerRequest",
        httpd(other_id(6), set_path(["OCI", "Process", "User"], {"UID": 0, "GID": 0, "AdditionalGids": [0]})),
        False)
    add("httpd with OCI hooks", "CreateContainerRequest",
        httpd(other_id(7), set_path(["OCI", "Hooks"], {"Prestart": [{"Path": "/bin/sh"}]})),
        False)
    add("httpd with an unknown annotation", "CreateContainerRequest",
        httpd(other_id(8), set_path(["OCI", "Annotations", "io.katacontainers.config.hypervisor.kernel_params"], "init=/bin/sh")),
        False)
    add("httpd with an environment variable the pod does not set", "CreateContainerRequest",
        httpd(other_id(9), lambda r: r["OCI"]["Process"]["Env"].append("LD_PRELOAD=/tmp/x.so")),
        False)
    add("httpd with a service-link variable the settings allow", "CreateContainerRequest",
        httpd(other_id(10), lambda r: r["OCI"]["Process"]["Env"].append("DB_SERVICE_HOST=10.0.0.12")),
        True)
    add("that container started", "StartContainerRequest", {"container_id": other_id(10)}, True)
    add("exec of a command the pod spec lists", "ExecProcessRequest", exec_req("ls", ["/bin/ls", "/srv"]), True)
    add("exec of a shell", "ExecProcessRequest", exec_req("sh", ["/bin/sh"]), False)
    add("exec of a listed command with other arguments", "ExecProcessRequest",
        exec_req("ls-root", ["/bin/ls", "/"]), False)
    add("exec of a command the settings allow everywhere", "ExecProcessRequest",
        exec_req("date", ["/bin/date"]), True)
    add("exec matching the settings' regex", "ExecProcessRequest",
        exec_req("echo", ["/bin/echo", "hello", "world"]), True)
    add("exec not matching the settings' regex", "ExecProcessRequest",
        exec_req("echo-reboot", ["/bin/echo", "$(reboot)"]), False)
    add("exec of a listed command as root", "ExecProcessRequest",
        exec_req("ls-as-root", ["/bin/ls", "/srv"], change=set_path(["process", "User"], {"UID": 0, "GID": 0})), False)
    add("exec into a container the policy never created", "ExecProcessRequest",
        exec_req("ls-42", ["/bin/ls", "/srv"], cid=other_id(42)), False)
    # CopyFile as kataAgent.copyFile sends it: mode with the file type bits,
    # the content in data (base64 in proto3 JSON)
    add("CopyFile of a shared file", "CopyFileRequest",
        copy_file(shared(BID, "site-config/site.conf"), 0o100644, b"listen 8080\n"), True)
    add("CopyFile of a shared directory", "CopyFileRequest",
        copy_file(shared(BID, "site-config.d"), 0o040755, b""), True)
    add("CopyFile out of the shared directory", "CopyFileRequest",
        copy_file("/etc/passwd", 0o100644, b"root::0:0::/:/bin/sh\n"), False)
    add("CopyFile escaping with ..", "CopyFileRequest",
        copy_file(shared(BID, "x/../../../../etc/shadow"), 0o100600, b"x"), False)
    add("CopyFile of a symlink pointing out", "CopyFileRequest",
        copy_file(shared(BID, "d/link"), 0o120777, b"/etc/shadow"), False)
    add("CopyFile of a relative symlink inside", "CopyFileRequest",
        copy_file(shared(BID, "d/link2"), 0o120777, b"site.conf"), True)
    add("ReadStream of the date exec's output (allowed by the settings)", "ReadStreamRequest",
        {"container_id": BID, "exec_id": "date", "len": 1024}, True)
    add("WaitProcess of the date exec (allowed by default)", "WaitProcessRequest",
        {"container_id": BID, "exec_id": "date"}, True)
    add("WriteStream (denied by the settings)", "WriteStreamRequest",
        {"container_id": BID, "exec_id": BID, "data": "aGk="}, False)
    add("UpdateInterface of eth0", "UpdateInterfaceRequest",
        {"interface": {"device": "eth0", "name": "eth0", "hwAddr": "02:42:ac:11:00:02", "mtu": 1500}}, True,
        agent="NOT_FOUND")  # the agent's network namespace has no such link
    add("UpdateInterface of lo", "UpdateInterfaceRequest",
        {"interface": {"device": "lo", "name": "lo", "hwAddr": "02:42:ac:11:00:03"}}, False)
    add("UpdateRoutes with a loopback source", "UpdateRoutesRequest",
        {"routes": {"Routes": [{"dest": "10.0.0.0/8", "device": "eth0", "source": "127.0.0.1"}]}}, False)
    add("SetPolicy (not allowed by this policy)", "SetPolicyRequest", {"policy": "package x"}, False)
    add("GetOOMEvent (allowed by default)", "GetOOMEventRequest", {}, True,
        agent="DEADLINE_EXCEEDED", timeout=2)  # it waits for an OOM event
    # runtime-rs copy_termination_log (shared_fs none, policy "File"):
    # rules.rego's default GetDiagnosticDataRequest := false, and this
    # pod's request_defaults do not enable it
    add("GetDiagnosticData of httpd's termination log (denied by default)",
        "GetDiagnosticDataRequest", {"log_type": "termination_log", "container_id": BID}, False)
    add("RemoveContainer of httpd", "RemoveContainerRequest", {"container_id": BID}, True)
    add("exec into httpd after its removal", "ExecProcessRequest", exec_req("ls-after", ["/bin/ls", "/srv"]), False)
    return c
