#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Docs that stay true: every file and C name a doc names must exist. TAP.

  tests/docs/doc_refs.py [TOP]
  tests/docs/doc_refs.py --self-test   (the checks on a made-up repository)

Reads README.md and doc/*.md (fenced code blocks left out) and checks:
  - backticked paths below the repository's top folders (`agentd/...`,
    `tests/...`, globs and `[ch]` / `{a,b}` forms too): a tracked file or
    folder, or a build output (an executable() that folder's meson.build
    declares);
  - backticked file names (`oom.c`, `agent.sh`): some tracked file has it;
  - backticked identifiers that look like ours (snake_case or UPPER_CASE
    with an underscore, or any `name()`; `struct x`, `X` in `on_X` as a
    placeholder): they occur in the code (C, headers, X-macro .def lists,
    protos, meson, shell, Python, Go; comments left out, so a comment naming
    a removed function does not keep a doc's mention of it alive);
  - relative Markdown links: the file exists (and the #anchor is a heading).
Names that are not ours (syscalls, upstream Rust/Go functions, Rego rules,
YAML keys, kernel files) are listed in doc_refs.allow, one group a comment.
One test point per document, then one for the allow-list itself (every
entry still used by a doc and still not one of our names).
"""
import fnmatch
import os
import re
import subprocess
import sys

TOP_FOLDERS = ('agentd', 'common', 'tests', 'doc', 'protos', 'scripts', 'bench',
               'containerd-shim-helper', '.ci')
CODE_EXT = ('.c', '.h', '.def', '.proto', '.build', '.sh', '.py', '.go')
HERE = os.path.dirname(os.path.abspath(__file__))
ALLOW_FILE = os.environ.get('DOC_REFS_ALLOW', os.path.join(HERE, 'doc_refs.allow'))
SELF = ('tests/docs/doc_refs.py', 'tests/docs/doc_refs.allow')


def tracked(top):
    out = subprocess.run(['git', '-C', top, 'ls-files'], capture_output=True, text=True,
                         check=True).stdout
    return [f for f in out.splitlines() if f]


def strip_comments(path, text):
    if path.endswith(('.c', '.h', '.def', '.go', '.proto')):
        # Comments out, strings kept (a string may name a function).
        pat = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
        return pat.sub(lambda m: m.group(0) if m.group(0)[0] in '"\'' else ' ', text)
    return re.sub(r'(?m)^\s*#.*$', '', text)


def is_code(f):
    return f.endswith(CODE_EXT) or f.startswith('scripts/') or (
        f.startswith(('tests/', 'bench/')) and '.' not in os.path.basename(f))


def load_identifiers(top, files):
    names = set()
    for f in files:
        if f in SELF or not is_code(f):
            continue
        try:
            with open(os.path.join(top, f), encoding='utf-8', errors='replace') as fh:
                text = fh.read()
        except (IsADirectoryError, FileNotFoundError):
            continue
        names.update(re.findall(r'[A-Za-z_][A-Za-z0-9_]*', strip_comments(f, text)))
    return names


def build_outputs(top, files):
    """What the build makes, by its path in the build tree: every
    executable() and configure_file() a meson.build declares, and the C
    protoc-c generates for each .proto."""
    outs = set()
    for f in files:
        folder = os.path.dirname(f)
        if f.endswith('.proto'):
            base = f[:-len('.proto')]
            outs.update({base + '.pb-c.c', base + '.pb-c.h'})
        if os.path.basename(f) != 'meson.build':
            continue
        with open(os.path.join(top, f)) as fh:
            text = fh.read()
        for m in re.finditer(r"(?:executable\(\s*|configure_file\([^)]*output\s*:\s*)'([^']+)'",
                             text):
            outs.add(f'{folder}/{m.group(1)}' if folder else m.group(1))
    return outs


def load_allow():
    entries = {}
    with open(ALLOW_FILE) as fh:
        for n, line in enumerate(fh, 1):
            line = line.split('#', 1)[0].strip()
            if line:
                entries[line] = n
    return entries


def expand_braces(p):
    m = re.search(r'\{([^{}]*,[^{}]*)\}', p)
    if not m:
        return [p]
    out = []
    for alt in m.group(1).split(','):
        out += expand_braces(p[:m.start()] + alt + p[m.end():])
    return out


class Repo:
    def __init__(self, top):
        self.top = top
        self.files = set(tracked(top))
        self.fileset = set(self.files)
        self.dirs = set()
        for f in self.files:
            while '/' in f:
                f = f.rsplit('/', 1)[0]
                self.dirs.add(f)
        self.outputs = build_outputs(top, self.files)
        self.basenames = {os.path.basename(f) for f in self.files | self.outputs}
        self.idents = load_identifiers(top, self.files)
        self.allow = load_allow()
        self.allow_used = set()

    def allowed(self, name):
        for a in self.allow:
            if a == name or fnmatch.fnmatchcase(name, a):
                self.allow_used.add(a)
                return True
        return False

    def path_exists(self, p):
        p = p.rstrip('/').replace('\u2026', '*')   # "agentd/executor/…"
        # placeholders: "regressions/<target>/", "tests/unit/test_X.c", "X.sh"
        p = re.sub(r'<[^<>/]+>', '*', p)
        p = re.sub(r'(?<=[/_])X(?=[._/]|$)', '*', p)
        for alt in expand_braces(p):
            if any(c in alt for c in '*?['):
                if any(fnmatch.fnmatchcase(f, alt) or fnmatch.fnmatchcase(f, alt + '/*')
                       for f in self.files) or any(fnmatch.fnmatchcase(d, alt) for d in self.dirs):
                    continue
                return False
            if alt not in self.fileset and alt not in self.dirs and alt not in self.outputs:
                return False
        return True

    def ident_exists(self, name):
        if '*' in name or re.search(r'(^|_)X(_|$)', name):
            rx = re.escape(name).replace(r'\*', '[A-Za-z0-9_]*')
            rx = re.sub(r'(^|_)X(?=_|$)', r'\1[A-Za-z0-9_]+', rx)
            r = re.compile(rx + r'\Z')
            return any(r.match(i) for i in self.idents)
        return name in self.idents


PATH_RX = re.compile(r'(?:\./)?((?:%s)/[^\s`:,;()"\']*|[A-Za-z0-9_.-]+\.(?:md|build))' %
                     '|'.join(re.escape(t) for t in TOP_FOLDERS))
FILE_RX = re.compile(r'[A-Za-z0-9_*\[\]-]+(?:\.[A-Za-z0-9_*\[\]-]+)*\.(?:c|h|sh|py|go|proto|rego|toml)')
IDENT_RX = re.compile(r'(?:(?:struct|enum|union)\s+)?([A-Za-z_*][A-Za-z0-9_*]*)(\(\))?')
CALL_RX = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\(')


def looks_ours(name, call):
    """snake_case / UPPER_CASE with an underscore, or a call."""
    if call:
        return True
    if '_' not in name.strip('_*'):
        return False
    return not re.search(r'[a-z][A-Z]', name)   # camelCase: Go/Rust, not ours


def check_token(repo, tok):
    """Problems with one backticked token: [(kind, name)]."""
    bad = []
    words = tok.split()
    # paths, anywhere in the token (commands: `tests/vm/run build`)
    found_path = False
    for w in words:
        m = PATH_RX.fullmatch(w.rstrip('.'))
        if m and not w.startswith(('/', 'http')):
            found_path = True
            p = m.group(1)
            if '/' in p or p.endswith('.build'):
                if not repo.path_exists(p) and not repo.allowed(p):
                    bad.append(('file', p))
    if found_path:
        return bad
    if len(words) == 1 and FILE_RX.fullmatch(tok) and '/' not in tok:
        ok = any(fnmatch.fnmatchcase(b, alt) for alt in expand_braces(tok) for b in repo.basenames)
        if not ok and not repo.allowed(tok):
            bad.append(('file', tok))
        return bad
    m = IDENT_RX.fullmatch(tok)
    if m:
        name, call = m.group(1), m.group(2)
        if looks_ours(name, call) and not repo.ident_exists(name) and not repo.allowed(name):
            bad.append(('name', name))
        return bad
    # `fn(args)`: the function named
    m = re.fullmatch(r'([A-Za-z_][A-Za-z0-9_]*)\([^()]*\)', tok)
    if m and not repo.ident_exists(m.group(1)) and not repo.allowed(m.group(1)):
        bad.append(('name', m.group(1)))
    return bad


def slug(heading):
    s = heading.strip().lower()
    s = re.sub(r'[^\w\- ]', '', s)
    return s.replace(' ', '-')


def anchors(path):
    with open(path) as fh:
        text = re.sub(r'```.*?```', '', fh.read(), flags=re.S)
    return {slug(h) for h in re.findall(r'(?m)^#+\s+(.*)$', text)}


def check_links(repo, doc, text):
    bad = []
    for m in re.finditer(r'\]\(([^)\s]+)\)', text):
        target = m.group(1)
        if re.match(r'[a-z]+:', target):
            continue
        path, _, anchor = target.partition('#')
        full = os.path.normpath(os.path.join(os.path.dirname(doc), path)) if path else doc
        rel = os.path.relpath(full, repo.top)
        if path and rel not in repo.fileset and rel not in repo.dirs:
            bad.append((m.start(), 'link', target))
        elif anchor and rel.endswith('.md') and anchor not in anchors(full):
            bad.append((m.start(), 'anchor', target))
    return bad


def check_doc(repo, path):
    with open(path) as fh:
        raw = fh.read()
    # Fenced blocks are examples (commands, output): blanked, lines kept.
    text = re.sub(r'```.*?```', lambda m: re.sub(r'[^\n]', ' ', m.group(0)), raw, flags=re.S)
    bad = []
    for m in re.finditer(r'`([^`\n]+)`', text):
        for kind, name in check_token(repo, m.group(1).strip()):
            bad.append((m.start(), kind, name))
    # `foo["bar"](x)` is code, not a link: code spans blanked for the links.
    bad += check_links(repo, path, re.sub(r'`[^`\n]+`', lambda m: ' ' * len(m.group(0)), text))
    return [(text.count('\n', 0, off) + 1, kind, name) for off, kind, name in sorted(bad)]


def check_repo(top, out):
    repo = Repo(top)
    docs = ['README.md'] + sorted(f for f in repo.files
                                  if f.startswith('doc/') and f.endswith('.md'))
    print(f'1..{len(docs) + 1}', file=out)
    failed = 0
    for i, d in enumerate(docs, 1):
        bad = check_doc(repo, os.path.join(top, d))
        print(f'{"not ok" if bad else "ok"} {i} - {d} names only what exists', file=out)
        for line, kind, name in bad:
            print(f'# {d}:{line}: no {kind} {name}', file=out)
        failed += bool(bad)
    ours = [(n, a) for a, n in repo.allow.items()
            if '*' not in a and '/' not in a and a in repo.idents]
    stale = [(n, a) for a, n in repo.allow.items()
             if a not in repo.allow_used and (n, a) not in ours]
    ok = not stale and not ours
    print(f'{"ok" if ok else "not ok"} {len(docs) + 1} - doc_refs.allow: every entry used, none ours',
          file=out)
    for n, a in sorted(stale):
        print(f'# doc_refs.allow:{n}: {a} is named by no doc (remove it)', file=out)
    for n, a in sorted(ours):
        print(f'# doc_refs.allow:{n}: {a} is in our code (remove it)', file=out)
    return 1 if failed or not ok else 0


# A made-up repository: what each check must accept and refuse.
SELF_FILES = {
    'meson.build': "project('x', 'c')\nsubdir('agentd')\n",
    'agentd/meson.build': "executable('kata-x', 'main.c')\n",
    'agentd/main.c': ('/* comment_only_fn() is named in a comment only */\n'
                      'int live_fn(void) { return LIVE_CONST; }\n'
                      'void on_ping(void) {}\nvoid on_pong(void) {}\n'),
    'agentd/proto.proto': 'message M {}\n',
    'README.md': ('`agentd/main.c` `live_fn()` `LIVE_CONST` `on_X` `main.c` `agentd/kata-x`\n'
                  '`agentd/proto.pb-c.h` `agentd/*.c` `agentd/{main,proto}.*` `upstream_fn`\n'
                  '`agentd/X.c` `agentd/<file>.c` `a["b"](nolink)`\n'
                  '`plain` `CamelCase` `camelCase_x` [doc](doc/good.md#a-heading)\n'
                  '```\n`gone_in_a_block()`\n```\n'),
    'doc/good.md': '# A heading\n',
    'doc/bad.md': ('`agentd/gone.c`\n`gone_fn()`\n`comment_only_fn`\n`GONE_CONST`\n'
                   '`gone.c`\n[x](missing.md)\n[y](good.md#no-such-heading)\n'
                   '`agentd/X.h` `agentd/<dir>/main.c`\n'),
}
SELF_ALLOW = 'upstream_fn\nunused_entry\nlive_fn\n'
SELF_WANT = [
    '1..4',
    'ok 1 - README.md names only what exists',
    'not ok 2 - doc/bad.md names only what exists',
    '# doc/bad.md:1: no file agentd/gone.c',
    '# doc/bad.md:2: no name gone_fn',
    '# doc/bad.md:3: no name comment_only_fn',
    '# doc/bad.md:4: no name GONE_CONST',
    '# doc/bad.md:5: no file gone.c',
    '# doc/bad.md:6: no link missing.md',
    '# doc/bad.md:7: no anchor good.md#no-such-heading',
    '# doc/bad.md:8: no file agentd/X.h',
    '# doc/bad.md:8: no file agentd/<dir>/main.c',
    'ok 3 - doc/good.md names only what exists',
    'not ok 4 - doc_refs.allow: every entry used, none ours',
    '# doc_refs.allow:2: unused_entry is named by no doc (remove it)',
    '# doc_refs.allow:3: live_fn is in our code (remove it)',
]


def self_test():
    import io
    import tempfile
    global ALLOW_FILE
    print('1..2')
    with tempfile.TemporaryDirectory() as top:
        for path, text in SELF_FILES.items():
            os.makedirs(os.path.join(top, os.path.dirname(path)), exist_ok=True)
            with open(os.path.join(top, path), 'w') as fh:
                fh.write(text)
        ALLOW_FILE = os.path.join(top, 'allow')
        with open(ALLOW_FILE, 'w') as fh:
            fh.write(SELF_ALLOW)
        subprocess.run(['git', 'init', '-q', top], check=True)
        subprocess.run(['git', '-C', top, 'add', '.'], check=True)
        buf = io.StringIO()
        rc = check_repo(top, buf)
    got = buf.getvalue().splitlines()
    print(f'{"ok" if got == SELF_WANT else "not ok"} 1 - the made-up repository\'s report')
    if got != SELF_WANT:
        for line in got:
            print(f'#   got: {line}')
        for line in SELF_WANT:
            print(f'#  want: {line}')
    print(f'{"ok" if rc == 1 else "not ok"} 2 - a failing report exits 1')
    return 0 if got == SELF_WANT and rc == 1 else 1


def main(argv):
    if argv[1:] == ['--self-test']:
        return self_test()
    top = os.path.abspath(argv[1] if len(argv) > 1 else os.path.join(HERE, '..', '..'))
    if subprocess.run(['git', '-C', top, 'rev-parse'], capture_output=True).returncode != 0:
        print(f'1..0 # SKIP {top} is not a git checkout (the tracked files are the list)')
        return 0
    return check_repo(top, sys.stdout)


if __name__ == '__main__':
    sys.exit(main(sys.argv))
