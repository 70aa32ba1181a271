#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The host's hand in the "devices" VM boot (tests/vm/devices-boot.sh).

    devices-qmp.py QMP_SOCKET CONSOLE_FILE IMAGE_DIR

Follows the guest's console; each line "VMREQ <json>" (one QMP command, or a
list of them) is sent to qemu over QMP, "@DIR@" in it replaced by
IMAGE_DIR. Every command and answer is logged on stdout with the time, for
the report's diagnostics. Ends when qemu closes the socket.
"""
import json
import select
import socket
import sys
import time


def log(*a):
    print("%.3f" % time.monotonic(), *a, flush=True)


def connect(path):
    for _ in range(600):
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            return s
        except OSError:
            time.sleep(0.1)
    sys.exit("no QMP socket at %s" % path)


class Qmp:
    def __init__(self, sock):
        self.s = sock
        self.buf = b""
        log("greeting", self.read())
        log("capabilities", self.cmd({"execute": "qmp_capabilities"}))

    def read(self, timeout=None):
        """The next message; None if none came within timeout."""
        while b"\n" not in self.buf:
            r, _, _ = select.select([self.s], [], [], timeout)
            if not r:
                return None
            data = self.s.recv(65536)
            if not data:
                raise EOFError
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, c):
        self.s.sendall((json.dumps(c) + "\n").encode())
        while True:
            m = self.read()
            if "event" in m:
                log("event", json.dumps(m))
                continue
            return m


def main():
    sock, console, imgdir = sys.argv[1:4]
    q = Qmp(connect(sock))
    seen = 0
    pending = b""
    while True:
        try:
            with open(console, "rb") as f:
                f.seek(seen)
                data = f.read()
        except OSError:
            data = b""
        seen += len(data)
        pending += data
        *lines, pending = pending.split(b"\n")
        try:
            for raw in lines:
                line = raw.decode("utf-8", "replace").strip("\r")
                if not line.startswith("VMREQ "):
                    continue
                try:
                    req = json.loads(line[6:].replace("@DIR@", imgdir))
                except ValueError as e:
                    log("bad request", line, e)
                    continue
                for c in req if isinstance(req, list) else [req]:
                    log("->", json.dumps(c))
                    log("<-", json.dumps(q.cmd(c)))
            m = q.read(0.05)
            if m is not None:
                log("event", json.dumps(m))
        except (EOFError, OSError):
            log("qemu is gone")
            return


if __name__ == "__main__":
    main()
