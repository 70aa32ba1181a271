# SPDX-License-Identifier: Apache-2.0
"""The JSON shape upstream's agent feeds the policy for a request.

Upstream (src/agent/src/rpc.rs, is_allowed()) serializes the decoded request
with serde_json: the Rust structs that rust-protobuf generates from the same
.proto files, with every field present: "" / 0 / false for scalars, [] for
repeated and bytes, {} for maps, null for an unset message or proto3
optional, a real oneof as {"member": value} under its name, and Rust's
keyword escape (`type` -> `type_`).  agentd/policy/policy_input.c does the
same in C for decoded requests.  This module reads our protos/ and fills a
partial request (what a test writes) up to that shape, so test inputs are
written short and fed complete.
"""
import base64
import re
import sys

RUST_KEYWORDS = {"type", "in", "fn", "use", "mod", "ref", "self", "match", "move", "loop"}
SCALARS = {"string": "", "bool": False, "bytes": []}


def parse_protos(paths):
    """message name -> [(json_name, type, repeated, map, in_oneof)]"""
    msgs = {}
    for path in paths:
        text = re.sub(r"//[^\n]*", "", open(path).read())
        stack = []
        for tok in re.finditer(r"message\s+(\w+)\s*\{|enum\s+(\w+)\s*\{|oneof\s+\w+\s*\{|\}|"
                               r"(repeated\s+)?(map<\s*\w+\s*,\s*[\w.]+\s*>|[\w.]+)\s+(\w+)\s*=\s*\d+[^;]*;",
                               text):
            if tok.group(1):
                stack.append(("msg", tok.group(1)))
                msgs.setdefault(tok.group(1), [])
            elif tok.group(2):
                stack.append(("enum", tok.group(2)))
                msgs.setdefault("enum:" + tok.group(2), [])
            elif tok.group(0).startswith("oneof"):
                stack.append(("oneof", tok.group(0).split()[1]))
            elif tok.group(0) == "}":
                if stack:
                    stack.pop()
            elif stack:
                kinds = [s for s in stack if s[0] == "msg"]
                if not kinds or stack[-1][0] == "enum":
                    continue
                owner = kinds[-1][1]
                ftype, name = tok.group(4), tok.group(5)
                jname = name + "_" if name in RUST_KEYWORDS else name
                oneof = stack[-1][1] if stack[-1][0] == "oneof" else None
                if oneof and not oneof.startswith("_"):
                    # a real oneof: serde's externally tagged enum under its name
                    jname = "oneof:" + oneof + ":" + jname
                msgs[owner].append((jname, ftype.split(".")[-1], bool(tok.group(3)),
                                    ftype.startswith("map<"), oneof is not None))
    return msgs


def default(msgs, ftype, repeated, is_map):
    if repeated:
        return []
    if is_map:
        return {}
    if ftype in SCALARS:
        return SCALARS[ftype]
    if ftype in msgs:
        return None  # an unset message field
    if "enum:" + ftype in msgs:
        return 0
    return 0  # numbers


def fill(msgs, mtype, value):
    """value (a dict, possibly partial) completed to the serde shape of mtype."""
    if value is None:
        return None
    out = {}
    fields = msgs.get(mtype)
    if fields is None:
        raise KeyError("no message %s in the protos" % mtype)
    known = {f[0].split(":")[-1] for f in fields}
    for k in value:
        if k not in known:
            raise KeyError("%s has no field %s" % (mtype, k))
    for jname, ftype, repeated, is_map, in_oneof in fields:
        if jname.startswith("oneof:"):
            _, oneof, member = jname.split(":")
            out.setdefault(oneof, None)
            if member in value:
                out[oneof] = {member: value[member]}
            continue
        if jname not in value:
            # proto3 optional (a synthetic oneof) is Option<T>: null when unset
            out[jname] = None if in_oneof else default(msgs, ftype, repeated, is_map)
            continue
        v = value[jname]
        if ftype in msgs and not is_map:
            if repeated:
                out[jname] = [fill(msgs, ftype, x) for x in v]
            else:
                out[jname] = fill(msgs, ftype, v)
        elif ftype == "bytes" and isinstance(v, str):
            out[jname] = list(base64.b64decode(v))  # proto3 JSON base64 -> Vec<u8>
        else:
            out[jname] = v
    return out


if __name__ == "__main__":
    import json
    m = parse_protos(sys.argv[2:])
    print(json.dumps(fill(m, sys.argv[1], json.load(sys.stdin)), indent=1))
