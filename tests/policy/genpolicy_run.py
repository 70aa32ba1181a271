# SPDX-License-Identifier: Apache-2.0
"""What genpolicy-check and genpolicy-agent share: the scenarios of
tests/policy/genpolicy/*/, the policy as genpolicy writes it, and the
evaluator-only verdict of each request (upstream's agent reading of a
policy result: src/agent/src/rpc.rs is_allowed ->
src/agent/policy/src/policy.rs AgentPolicy::allow_request)."""
import base64
import glob
import importlib.util
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import serde_shape  # noqa: E402


def copy_file_input(req):
    """upstream policy.rs PolicyCopyFileRequest::try_from(&CopyFileRequest)"""
    mode = req.get("file_mode", 0)
    ftype = {0o100000: "Regular", 0o040000: "Directory", 0o120000: "Symlink"}.get(mode & 0o170000, "Unknown")
    data = base64.b64decode(req.get("data", ""))
    return {"path": req.get("path", ""), "file_type": ftype,
            "symlink_target": data.decode() if ftype == "Symlink" else None,
            "file_size": req.get("file_size", 0), "file_mode": mode, "dir_mode": req.get("dir_mode", 0),
            "uid": req.get("uid", 0), "gid": req.get("gid", 0), "offset": req.get("offset", 0)}


def proto_names(v):
    """the cases write Rust's `type_`; the .proto (and pbjson) say `type`"""
    if isinstance(v, dict):
        return {("type" if k == "type_" else k): proto_names(x) for k, x in v.items()}
    if isinstance(v, list):
        return [proto_names(x) for x in v]
    return v


def shaper(build):
    """(how, shape(kind, request)): the policy input for a request, made by
    our C serializer (decoding the request first, as the front-end does:
    BUILD/tests/policy/policy-input) when built and PY_SHAPE is not set,
    else by serde_shape.py."""
    tool = os.path.join(build, "tests/policy/policy-input")
    if os.access(tool, os.X_OK) and not os.environ.get("PY_SHAPE"):
        def shape(kind, req):
            p = subprocess.run([tool, kind], input=json.dumps(proto_names(req)),
                               capture_output=True, text=True)
            if p.returncode:
                raise RuntimeError("policy-input %s: %s" % (kind, p.stderr.strip()))
            return json.loads(p.stdout)
        return "agentd/policy/policy_input.c (policy-input)", shape
    msgs = serde_shape.parse_protos([os.path.join(HERE, "../../protos", p) for p in
                                     ("agent.proto", "oci.proto", "types.proto", "csi.proto")])

    def py_shape(kind, req):
        if kind == "CopyFileRequest":
            return copy_file_input(req)
        return serde_shape.fill(msgs, kind, req)
    return "tests/policy/serde_shape.py", py_shape


def apply_patch(doc, ops):
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent = doc
        for p in parts[:-1]:
            parent = parent[p]
        if op["op"] in ("add", "replace"):
            parent[parts[-1]] = op["value"]
        elif op["op"] == "remove":
            del parent[parts[-1]]
        else:
            raise ValueError("unsupported patch op %s" % op["op"])


def decide(value):
    """upstream allow_request: (allowed, ops)"""
    if value is None:
        return False, None
    if isinstance(value, bool):
        return value, None
    if isinstance(value, dict):
        return bool(value.get("allowed")), value.get("ops")
    return False, None


def scenarios():
    """[(name, dir, module)] of tests/policy/genpolicy/*/ (cases.py each)"""
    out = []
    for sc in sorted(glob.glob(os.path.join(HERE, "genpolicy/*/"))):
        spec = importlib.util.spec_from_file_location("cases", os.path.join(sc, "cases.py"))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        out.append((os.path.basename(os.path.dirname(sc)), sc, mod))
    return out


def policy_text(kata_checkout, scenario_dir):
    """rules.rego unchanged, then `policy_data := ...`, as genpolicy writes it"""
    rules = os.path.join(kata_checkout, "src/tools/genpolicy/rules.rego")
    with open(rules) as r, open(os.path.join(scenario_dir, "policy_data.json")) as d:
        return r.read() + "\npolicy_data := " + d.read()


class Evaluator:
    """One scenario's requests, in order, through rego-eval alone, keeping
    data.pstate across them as the agent does."""

    def __init__(self, build, policy_file, tmp, shape):
        self.rego_eval = os.path.join(build, "agentd/policy/rego/rego-eval")
        self.policy, self.tmp, self.shape = policy_file, tmp, shape
        self.data = {"pstate": {}}

    def verdict(self, kind, request):
        """(allowed, note, stderr)"""
        inp, dat = os.path.join(self.tmp, "input.json"), os.path.join(self.tmp, "data.json")
        with open(inp, "w") as f:
            json.dump(self.shape(kind, request), f)
        with open(dat, "w") as f:
            json.dump(self.data, f)
        p = subprocess.run([self.rego_eval, "-m", self.policy, "-d", dat, "-i", inp,
                            "data.agent_policy." + kind], capture_output=True, text=True)
        if p.returncode != 0:
            allowed, ops, note = False, None, "error: " + p.stderr.strip().splitlines()[-1]
        else:
            out = p.stdout.strip()
            allowed, ops = decide(None if out == "undefined" else json.loads(out))
            note = out[:120]
        if allowed and ops:
            apply_patch(self.data, ops)
        return allowed, note, p.stderr
