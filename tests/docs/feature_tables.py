#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The two tables of method status say the same thing. TAP.

  tests/docs/feature_tables.py [TOP]

README.md's feature table (`| `Method` | status | notes |`, one row per
method of grpc.Health and grpc.AgentService) and doc/protocol.md's
"Methods" table (`| # | service | method | request | response | status |`,
whose status cell starts with the same word: done, partial, not yet) must
list the same methods with the same status, and protocol.md's must list
every method of protos/agent.proto's services, in declaration order. A
method marked done in one and "not yet" in the other misleads a reader
about what the agent answers (SetPolicy was "not yet" in protocol.md long
after it was built).
"""
import os
import re
import sys

STATUSES = ("done", "partial", "not yet")


def status_word(cell):
    c = cell.strip().strip("*")
    for s in STATUSES:
        if c.startswith(s):
            return s
    return None


def readme_table(text):
    rows = {}
    for line in text.splitlines():
        m = re.match(r"^\| `([A-Z][A-Za-z]+)` \| ([^|]+)\|", line)
        if m:
            rows.setdefault(m.group(1), []).append(status_word(m.group(2)))
    return rows


def protocol_table(text):
    rows = []
    for line in text.splitlines():
        m = re.match(r"^\| (\d+) \| (grpc\.[A-Za-z]+) \| ([A-Za-z]+) \|[^|]*\|[^|]*\| ([^|]+)", line)
        if m:
            rows.append((m.group(2), m.group(3), status_word(m.group(4))))
    return rows


def proto_methods(text):
    out, service = [], None
    for line in text.splitlines():
        m = re.match(r"^\s*service\s+(\w+)", line)
        if m:
            service = "grpc." + m.group(1)
        m = re.match(r"^\s*rpc\s+(\w+)\s*\(", line)
        if m and service:
            out.append((service, m.group(1)))
    return out


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    read = lambda p: open(os.path.join(top, p), encoding="utf-8").read()
    readme = readme_table(read("README.md"))
    proto = protocol_table(read("doc/protocol.md"))
    declared = []
    for f in sorted(os.listdir(os.path.join(top, "protos"))):
        if f.endswith(".proto"):
            declared += proto_methods(read(os.path.join("protos", f)))
    print("1..3")
    bad = [(s, m, st) for s, m, st in proto if st is None]
    bad += [(s, m, st) for s, m, st in proto if readme.get(m) is None or st not in readme[m]]
    if bad:
        print("not ok 1 - every method's status in doc/protocol.md is the README's")
        for s, m, st in bad:
            print("# %s/%s: protocol.md says %r, README.md %r" % (s, m, st, readme.get(m)))
    else:
        print("ok 1 - every method's status in doc/protocol.md is the README's (%d methods)" % len(proto))
    listed = {m for _, m, _ in proto}
    extra = sorted(m for m in readme if m not in listed and any(m == d for _, d in declared))
    if extra:
        print("not ok 2 - every method of the README's table is in doc/protocol.md")
        print("# missing from protocol.md: " + ", ".join(extra))
    else:
        print("ok 2 - every method of the README's table is in doc/protocol.md")
    want = [(s, m) for s, m in declared if s in ("grpc.AgentService", "grpc.Health")]
    got = [(s, m) for s, m, _ in proto]
    if got != want:
        print("not ok 3 - doc/protocol.md lists the protos' methods in declaration order")
        print("# protos: %d methods, protocol.md: %d" % (len(want), len(got)))
        for a, b in zip(want, got):
            if a != b:
                print("# first difference: protos %s/%s, protocol.md %s/%s" % (a + b))
                break
    else:
        print("ok 3 - doc/protocol.md lists the protos' methods in declaration order (%d)" % len(want))
    return 0


if __name__ == "__main__":
    sys.exit(main())
