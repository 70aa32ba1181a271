#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Read a guest's serial console log (tests/vm/run) and answer one question
about the agent's JSON log lines in it. Exit 0 if the answer is yes; else 1,
with the reason on stdout.

  console.py announce LOG KEY=VALUE...   the announce line's config has these
                                         (VALUE compared as JSON, or as text)
  console.py error LOG TEXT              an ERRO/CRIT line mentions TEXT
  console.py noerrors LOG                no ERRO/CRIT line at all
  console.py shutdown LOG                the agent logged that it powers off
  console.py has LOG KEY=VALUE...        some line has all these fields
                                         (VALUE compared as JSON, or as text)
"""
import json
import sys

ERROR_LEVELS = {"ERRO", "CRIT", "error", "critical", "fatal"}


def json_lines(path):
    with open(path, "rb") as f:
        data = f.read().decode("utf-8", "replace")
    for line in data.replace("\r", "").split("\n"):
        start, end = line.find("{"), line.rfind("}")
        if start < 0 or end <= start:
            continue
        try:
            obj = json.loads(line[start:end + 1])
        except ValueError:
            continue
        if isinstance(obj, dict):
            yield obj


def announce(path, pairs):
    lines = [o for o in json_lines(path) if o.get("msg") == "announce"]
    if not lines:
        print("no announce line on the console")
        return 1
    config = lines[0].get("config")
    if isinstance(config, str):  # tolerate a config rendered as text
        try:
            config = json.loads(config)
        except ValueError:
            pass
    if not isinstance(config, dict):
        print("announce has no config object: %s" % json.dumps(lines[0]))
        return 1
    bad = 0
    for pair in pairs:
        key, _, want = pair.partition("=")
        try:
            want_v = json.loads(want)
        except ValueError:
            want_v = want
        got = config.get(key, "<missing>")
        if got != want_v:
            print("config.%s is %s, expected %s" % (key, json.dumps(got), json.dumps(want_v)))
            bad += 1
    return 1 if bad else 0


def error(path, text):
    for o in json_lines(path):
        if str(o.get("level")) in ERROR_LEVELS and text in json.dumps(o):
            return 0
    print("no error line mentioning %s" % text)
    return 1


def noerrors(path):
    bad = [o for o in json_lines(path) if str(o.get("level")) in ERROR_LEVELS]
    for o in bad[:10]:
        print(json.dumps(o))
    return 1 if bad else 0


def shutdown(path):
    for o in json_lines(path):
        if str(o.get("msg", "")).startswith("kata-agent: powering off"):
            return 0
    print("no 'kata-agent: powering off' line")
    return 1


def has(path, pairs):
    want = []
    for pair in pairs:
        key, _, v = pair.partition("=")
        try:
            want.append((key, json.loads(v)))
        except ValueError:
            want.append((key, v))
    for o in json_lines(path):
        if all(o.get(k) == v or str(o.get(k)) == str(v) for k, v in want):
            return 0
    print("no line with %s" % ", ".join(pairs))
    return 1


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    cmd, path = argv[1], argv[2]
    if cmd == "announce":
        return announce(path, argv[3:])
    if cmd == "error" and len(argv) == 4:
        return error(path, argv[3])
    if cmd == "noerrors":
        return noerrors(path)
    if cmd == "shutdown":
        return shutdown(path)
    if cmd == "has":
        return has(path, argv[3:])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
