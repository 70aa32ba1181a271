#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""scripts/tap-summary on crafted inputs: meson's testlog.json and
intro-tests.json in a fake build directory, TAP files of the suites outside
meson, a fake source tree. Each case runs the real script and checks its
exit status, its closing line and the failure it names. Prints TAP.

  test_tap_summary.py TAP_SUMMARY
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

SUMMARY = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '..', '..', 'scripts', 'tap-summary')

GOOD_TAP = '1..2\nok 1 - a\nok 2 - b\n'

# The external suites as tap-summary lists them (each adds GOOD_TAP's two
# passes to every expected count below).
EXTERNAL = {
    'fuzz': 'tests/fuzz/run.sh',
    'fuzz-rego': 'tests/fuzz/run-rego.sh',
    'interop': 'tests/interop/run.sh',
    'leaks': 'tests/leaks/check.sh',
    'sanitizer': 'tests/sanitizer/reports.sh',
    'vm': 'tests/vm/run',
}


class Tree:
    """A fake source tree with the external suites' scripts, a build dir
    and a results dir."""

    def __init__(self, top):
        self.top = top
        self.src = os.path.join(top, 'src')
        self.build = os.path.join(self.src, 'build')
        self.results = os.path.join(top, 'results')
        os.makedirs(os.path.join(self.build, 'meson-info'))
        os.makedirs(os.path.join(self.build, 'meson-logs'))
        os.makedirs(self.results)
        for name, s in EXTERNAL.items():
            self.script(s)
            self.tap(name, GOOD_TAP)

    def script(self, rel, mode=0o755):
        p = os.path.join(self.src, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, 'w') as fh:
            fh.write('#!/bin/sh\n')
        os.chmod(p, mode)
        return p

    def tap(self, name, text, rc=0):
        with open(os.path.join(self.results, name + '.tap'), 'w') as fh:
            fh.write(text)
        with open(os.path.join(self.results, name + '.rc'), 'w') as fh:
            fh.write(f'{rc}\n')

    def meson(self, tests, known=None, cmds=None, suites=None, build=None):
        """tests: [(name, result, stdout)]; known: the names meson lists
        (default: the same); cmds: name -> the command meson runs (default:
        a program of the build tree named after the test); suites: name ->
        its meson suites besides the project's; build: another build
        directory than the tree's."""
        names = known if known is not None else [t[0] for t in tests]
        cmds, suites, build = cmds or {}, suites or {}, build or self.build
        os.makedirs(os.path.join(build, 'meson-info'), exist_ok=True)
        os.makedirs(os.path.join(build, 'meson-logs'), exist_ok=True)
        for n in names:
            prog = os.path.join(build, n)
            with open(prog, 'w') as fh:
                fh.write('#!/bin/sh\n')
            os.chmod(prog, 0o755)
        # a test given suites leaves the project's ('p'); meson logs
        # "p:SUITE / NAME" and "p / NAME" once there is more than one suite
        suite_of = {n: ['p:' + x for x in suites[n]] if n in suites else ['p'] for n in names}
        several = len({x for v in suite_of.values() for x in v}) > 1

        def logged(n):
            if not several:
                return n
            tail = '+'.join(x.split(':', 1)[1] if ':' in x else '' for x in suite_of[n])
            return 'p' + (':' + tail if tail else '') + ' / ' + n
        with open(os.path.join(build, 'meson-info', 'intro-tests.json'), 'w') as fh:
            json.dump([{'name': n, 'cmd': cmds.get(n, [os.path.join(build, n)]),
                        'suite': suite_of[n]} for n in names], fh)
        with open(os.path.join(build, 'meson-logs', 'testlog.json'), 'w') as fh:
            for n, result, out in tests:
                fh.write(json.dumps({'name': logged(n), 'result': result, 'stdout': out,
                                     'returncode': 0 if result in ('OK', 'SKIP') else 1}) + '\n')

    def run(self, ci=False, extra=()):
        env = dict(os.environ)
        env.pop('CI', None)
        if ci:
            env['CI'] = 'true'
        p = subprocess.run([SUMMARY, '--source', self.src, '--meson', self.build,
                            '--results', self.results, *extra],
                           capture_output=True, text=True, env=env)
        return p.returncode, p.stdout


CASES = []


def case(desc):
    def reg(fn):
        CASES.append((desc, fn))
        return fn
    return reg


def expect(rc, out, want_rc, want_last, want_text=None):
    lines = out.strip().splitlines()
    last = lines[-1] if lines else ''
    problems = []
    if rc != want_rc:
        problems.append(f'exit status {rc}, expected {want_rc}')
    if last != want_last:
        problems.append(f'last line "{last}", expected "{want_last}"')
    if want_text and want_text not in out:
        problems.append(f'no "{want_text}" in the output')
    return problems, out


@case('all suites good: every check counted, exit 0')
def _(t):
    t.meson([('unit', 'OK', GOOD_TAP), ('containers-x', 'OK', GOOD_TAP)])
    return expect(*t.run(), 0, '16 passed, 0 failed, 0 skipped')


@case('meson SKIP with a 1..0 plan skipped for a kernel feature counts one skip, in CI too')
def _(t):
    t.meson([('unit', 'OK', GOOD_TAP), ('cg', 'SKIP', '1..0 # SKIP kernel: no cgroup2\n')])
    a = expect(*t.run(), 0, '14 passed, 0 failed, 1 skipped', 'SKIPPED cg: the whole suite # SKIP kernel: no cgroup2')
    b = expect(*t.run(ci=True), 0, '14 passed, 0 failed, 1 skipped')
    return a[0] + b[0], a[1] + b[1]


@case('a 1..0 plan skipped for want of root: a skip outside CI, a failure in CI')
def _(t):
    t.meson([('unit', 'OK', GOOD_TAP), ('root', 'SKIP', '1..0 # SKIP needs root\n')])
    a = expect(*t.run(), 0, '14 passed, 0 failed, 1 skipped')
    b = expect(*t.run(ci=True), 1, '14 passed, 1 failed, 0 skipped', 'skipped in CI')
    return a[0] + b[0], a[1] + b[1]


@case('a check skipped for a missing tool fails in CI, one skipped for a kernel feature does not')
def _(t):
    t.meson([('s', 'OK', '1..3\nok 1 - a\nok 2 - b # SKIP jq is missing\nok 3 - c # SKIP kernel: no BFQ\n')])
    a = expect(*t.run(), 0, '13 passed, 0 failed, 2 skipped')
    b = expect(*t.run(ci=True), 1, '13 passed, 1 failed, 1 skipped', 'jq is missing')
    return a[0] + b[0], a[1] + b[1]


@case('a program that prints nothing (meson: SKIP) has no plan: a failure')
def _(t):
    t.meson([('ipc', 'SKIP', ''), ('unit', 'OK', GOOD_TAP)])
    return expect(*t.run(), 1, '14 passed, 1 failed, 0 skipped', 'FAILED ipc: no TAP plan')


@case('a plan printed after the checks: a failure')
def _(t):
    t.meson([('late', 'OK', 'ok 1 - a\nok 2 - b\n1..2\n')])
    return expect(*t.run(), 1, '14 passed, 1 failed, 0 skipped', 'declared after 2 checks ran')


@case('fewer checks than planned (meson: ERROR): one failure for the suite')
def _(t):
    t.meson([('short', 'ERROR', '1..5\nok 1 - a\nok 2 - b\n')])
    return expect(*t.run(), 1, '14 passed, 1 failed, 0 skipped', 'planned 5 checks, 2 reported')


@case('a crash after a clean plan and checks (meson: FAIL, no "not ok"): a failure')
def _(t):
    t.meson([('crash', 'FAIL', GOOD_TAP)])
    return expect(*t.run(), 1, '14 passed, 1 failed, 0 skipped', 'without a failing check')


@case('"not ok" lines count one each, a TODO one none')
def _(t):
    t.meson([('s', 'FAIL', '1..4\nok 1 - a\nnot ok 2 - b\nnot ok 3 - c\nnot ok 4 - d # TODO later\n')])
    return expect(*t.run(), 1, '13 passed, 2 failed, 0 skipped', 'FAILED s: not ok 2 - b')


@case('container output on the TAP stream: a failure naming the line')
def _(t):
    t.meson([('c', 'OK', '1..1\nhello from a container\nok 1 - a\n')])
    return expect(*t.run(), 1, '13 passed, 1 failed, 0 skipped', "'hello from a container'")


@case('a suite meson lists but that has no result: a failure')
def _(t):
    t.meson([('unit', 'OK', GOOD_TAP)], known=['unit', 'containers-gone'])
    return expect(*t.run(), 1, '14 passed, 1 failed, 0 skipped',
                  'FAILED containers-gone: meson knows this suite but it has no result')


@case('no testlog.json (meson test did not run): a failure per suite')
def _(t):
    t.meson([('unit', 'OK', GOOD_TAP)])
    os.unlink(os.path.join(t.build, 'meson-logs', 'testlog.json'))
    return expect(*t.run(), 1, '12 passed, 2 failed, 0 skipped', 'no meson results')


@case('an external suite that is not executable: a failure, even with no TAP file')
def _(t):
    t.meson([('unit', 'OK', GOOD_TAP)])
    os.chmod(os.path.join(t.src, 'tests/interop/run.sh'), 0o644)
    os.unlink(os.path.join(t.results, 'interop.tap'))
    return expect(*t.run(), 1, '12 passed, 1 failed, 0 skipped',
                  'FAILED interop: ' + os.path.join(t.src, 'tests/interop/run.sh') + ' is not executable')


@case('a meson test running a script of the source tree: the script must be executable, its data arguments need not')
def _(t):
    replay = t.script('tests/runtime/replay.sh')
    scenario = t.script('tests/runtime/pod.json', 0o644)
    old = t.script('tests/old.sh', 0o644)
    golden = os.path.join(t.src, 'tests/unit/golden')
    os.makedirs(golden)
    t.meson([('runtime-pod', 'OK', GOOD_TAP), ('old', 'OK', GOOD_TAP), ('golden', 'OK', GOOD_TAP)],
            cmds={'runtime-pod': [replay, os.path.join(t.build, 'agent'), scenario],
                  'old': ['/usr/bin/env', 'sh', old, scenario],
                  'golden': [os.path.join(t.build, 'golden'), golden, scenario]})
    return expect(*t.run(), 1, '18 passed, 1 failed, 0 skipped', 'FAILED old: ' + old + ' is not executable')


@case('a second build run with --except-suite: that suite is not expected there, the others are (names logged as p:SUITE / NAME)')
def _(t):
    known = ['unit', 'churn', 'gone']
    suites = {'churn': ['plain-only']}
    t.meson([('unit', 'OK', GOOD_TAP), ('churn', 'OK', GOOD_TAP), ('gone', 'OK', GOOD_TAP)],
            known=known, suites=suites)
    asan = os.path.join(t.src, 'build-asan')
    t.meson([('unit', 'OK', GOOD_TAP)], known=known, suites=suites, build=asan)
    return expect(*t.run(extra=('--meson', asan, '--except-suite', 'plain-only')), 1,
                  '20 passed, 1 failed, 0 skipped', 'FAILED build-asan:gone: meson knows this suite')


@case('an external suite with no TAP file (it did not run): a failure')
def _(t):
    t.meson([('unit', 'OK', GOOD_TAP)])
    os.unlink(os.path.join(t.results, 'vm.tap'))
    return expect(*t.run(), 1, '12 passed, 1 failed, 0 skipped', 'FAILED vm: no TAP output')


@case('an external suite that exits 1 with only "ok" lines: a failure')
def _(t):
    t.meson([('unit', 'OK', GOOD_TAP)])
    t.tap('fuzz', GOOD_TAP, rc=1)
    return expect(*t.run(), 1, '14 passed, 1 failed, 0 skipped', 'FAILED fuzz: the suite failed (exit status 1)')


@case('a suite file no meson test runs (tests/unit/test_x.c, tests/security/y.sh): a failure each')
def _(t):
    t.meson([('unit', 'OK', GOOD_TAP)])
    t.script('tests/unit/test_x.c', 0o644)
    t.script('tests/security/y.sh')
    return expect(*t.run(), 1, '14 passed, 2 failed, 0 skipped', 'expected a test named security-y')


@case('"Bail out!" and a second plan: failures')
def _(t):
    t.meson([('b', 'ERROR', '1..2\nok 1 - a\nBail out! no rootfs\n'), ('p', 'OK', '1..1\nok 1 - a\n1..1\n')])
    return expect(*t.run(), 1, '14 passed, 3 failed, 0 skipped', 'Bail out! no rootfs')


def main():
    # (no '#' in a description: TAP would read what follows as a directive)
    print(f'1..{len(CASES)}')
    bad = 0
    for i, (desc, fn) in enumerate(CASES, 1):
        top = tempfile.mkdtemp(prefix='tap-summary-test.')
        try:
            problems, out = fn(Tree(top))
        except Exception as e:  # a broken case is a failure, not a crash
            problems, out = [f'{type(e).__name__}: {e}'], ''
        finally:
            shutil.rmtree(top, ignore_errors=True)
        if problems:
            bad += 1
            print(f'not ok {i} - {desc}')
            for p in problems:
                print(f'# {p}')
            for line in out.splitlines():
                print(f'#   {line}')
        else:
            print(f'ok {i} - {desc}')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
