#!/usr/bin/env python3
"""Runs misuse_demo and checks what AddressSanitizer and valgrind say about it.

    check_reports.py --tool none     --source misuse_demo.c DEMO
    check_reports.py --tool asan     --source misuse_demo.c DEMO_ASAN
    check_reports.py --tool valgrind --source misuse_demo.c [--valgrind PATH]
                     [--no-client-requests] DEMO

The lines the reports must name are found in the source by their marker
comments (``/* LINE:<name> */``), never hard-coded.

--tool none: each misuse (overflow, use-after-free, leak) runs to a normal
    exit (status 0, its "unnoticed" line printed): without a tool nothing
    reports it, which is why the tools matter.
--tool asan: DEMO is built with -fsanitize=address against an ASan copy of
    the allocator. overflow and use-after-free end with a non-zero status
    and an ASan "use-after-poison" report (the allocator poisons the arena
    by hand, so ASan does not say heap-buffer-overflow; for the overflow
    with hardening off, "unknown-crash": see ASAN_KINDS) of a WRITE / READ
    of size 1 whose frame #0 is misuse_demo.c:<marker line>. leak runs clean
    (status 0, no ASan report): the allocator's own metadata accesses in a
    poisoned arena raise nothing.
--tool valgrind: DEMO is the plain build; memcheck sees arena blocks only
    through the allocator's mempool client requests. With
    --leak-check=full:
      overflow: "Invalid write of size 1" at misuse_demo.c:<overflow>, the
        address "0 bytes after a block of size 20" with the block's
        allocation stack naming misuse_demo.c:<overflow-alloc>;
      use-after-free: "Invalid read of size 1" at
        misuse_demo.c:<use-after-free>, the address inside a block of size
        20 "free'd", the free stack naming misuse_demo.c:<uaf-free> and the
        allocation stack misuse_demo.c:<uaf-alloc>;
      leak: "20 bytes in 1 blocks are definitely lost" with the allocation
        stack naming misuse_demo.c:<leak-alloc>.
    In every run the expected error is the only non-leak error (the
    allocator's own metadata accesses raise nothing) and memcheck's error
    exit status is seen. Skipped (status 77) when valgrind is not installed
    or the library was built without valgrind/memcheck.h.

Python 3 standard library only. Exit status: 0 pass, 1 fail, 77 skip.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys

SKIP = 77
DEMO_SOURCE = 'misuse_demo.c'
# The demo's request (misuse_demo.c BLOCK): 21 at the hardened levels, 20 at
# off; --block sets it (meson passes the library's level).
BLOCK = 20
MARKERS = ('overflow', 'overflow-alloc', 'use-after-free', 'uaf-alloc', 'uaf-free', 'leak-alloc')


def unnoticed():
    return {
        'overflow': 'overflow: wrote p[%d] unnoticed' % BLOCK,
        'use-after-free': 'use-after-free: read p[4] unnoticed',
        'leak': 'leak: one block of %d bytes never freed' % BLOCK,
    }
VALGRIND_EXIT = 42
TIMEOUT = 240


class Checker:
    def __init__(self):
        self.failures = []

    def check(self, ok, what, output=None):
        if ok:
            print('ok: ' + what)
        else:
            print('FAIL: ' + what)
            self.failures.append(what)
            if output is not None:
                print('---- output ----')
                print(output.rstrip())
                print('----------------')
        return ok


def marker_lines(source):
    """{marker name: line number} of the /* LINE:<name> */ comments."""
    found = {}
    with open(source, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            for name in re.findall(r'/\*\s*LINE:([\w-]+)\s*\*/', line):
                if name in found:
                    sys.exit('%s: marker LINE:%s on lines %d and %d' % (source, name, found[name], number))
                found[name] = number
    missing = [m for m in MARKERS if m not in found]
    if missing:
        sys.exit('%s: no marker for %s' % (source, ', '.join(missing)))
    return found


def child_env(extra=None):
    env = dict(os.environ)
    # Under the valgrind test setup this script itself may run under
    # memcheck (it should not: exclude the 'sanitizers' suite); its preload
    # must at least not leak into the demo.
    preload = [p for p in env.get('LD_PRELOAD', '').split() if 'vgpreload' not in p]
    if preload:
        env['LD_PRELOAD'] = ' '.join(preload)
    else:
        env.pop('LD_PRELOAD', None)
    env.update(extra or {})
    return env


def run(cmd, env):
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=env, timeout=TIMEOUT, universal_newlines=True)
    out = proc.stdout + proc.stderr
    print('$ ' + ' '.join(cmd) + '  -> status %d' % proc.returncode)
    return proc.returncode, proc.stdout, out


def names_line(text, line):
    """text (a stack frame) names misuse_demo.c:<line> (optionally :column)."""
    return re.search(r'(?:^|[\s(/])' + re.escape(DEMO_SOURCE) + ':' + str(line) + r'(?::\d+)?(?:\)|\s|$)',
                     text) is not None


# ---- no tool ----------------------------------------------------------------

def check_plain(demo, c):
    for mode, said in unnoticed().items():
        status, stdout, out = run([demo, mode], child_env())
        c.check(status == 0 and said in stdout,
                '%s without a tool exits 0 and goes unnoticed ("%s")' % (mode, said), out)


# ---- AddressSanitizer -------------------------------------------------------

ASAN_OPTIONS = 'halt_on_error=1:abort_on_error=0:detect_leaks=0:symbolize=1:color=never'

# The arena is poisoned by hand, so ASan names the bad access after the
# poison it finds, never heap-buffer-overflow. ASan classifies an access into
# a partly addressable 8-byte granule by the granule after it: with
# hardening off only the 4-byte header of the next chunk lies between two
# live blocks, the granule after the overflowed byte is the neighbour's
# payload (addressable), and ASan then says unknown-crash.
ASAN_KINDS = {
    'overflow': ('use-after-poison', 'unknown-crash'),
    'use-after-free': ('use-after-poison',),
}


def check_asan(demo, lines, c):
    env = child_env({'ASAN_OPTIONS': ASAN_OPTIONS})
    for mode, access, marker in (('overflow', 'WRITE', 'overflow'),
                                 ('use-after-free', 'READ', 'use-after-free')):
        status, stdout, out = run([demo, mode], env)
        line = lines[marker]
        c.check(status != 0, '%s under ASan exits non-zero (status %d)' % (mode, status), out)
        kind = re.search(r'ERROR: AddressSanitizer: ([\w-]+)', out)
        kinds = ASAN_KINDS[mode]
        c.check(kind is not None and kind.group(1) in kinds,
                '%s: ASan reports %s (got %s)' % (mode, ' or '.join(kinds),
                                                 kind.group(1) if kind else 'no ASan error'),
                out)
        c.check(re.search(r'^%s of size 1 at 0x[0-9a-fA-F]+' % access, out, re.M) is not None,
                '%s: ASan access is a %s of size 1' % (mode, access), out)
        frame0 = re.search(r'^\s*#0 0x[0-9a-fA-F]+ in .*$', out, re.M)
        c.check(frame0 is not None and names_line(frame0.group(0), line),
                '%s: ASan frame #0 is %s:%d (got: %s)' % (mode, DEMO_SOURCE, line,
                                                           frame0.group(0).strip() if frame0 else 'no frame #0'),
                out)
        c.check(unnoticed()[mode] not in stdout, '%s: ASan stops the demo at the misuse' % mode, out)
    status, stdout, out = run([demo, 'leak'], env)
    c.check(status == 0 and 'AddressSanitizer' not in out and unnoticed()['leak'] in stdout,
            'leak under ASan runs clean: the allocator itself raises nothing', out)


# ---- valgrind memcheck ------------------------------------------------------

FRAME = re.compile(r'^\s+(?:at|by) 0x[0-9A-Fa-f]+: ')


def valgrind_records(out):
    """memcheck's messages as lists of lines (the ==pid== prefix removed),
    one list per blank-line separated record."""
    records, current = [], []
    for raw in out.splitlines():
        m = re.match(r'^==\d+== ?(.*)$', raw)
        if m is None:
            continue  # the demo's own output
        text = m.group(1)
        if text.strip() == '':
            if current:
                records.append(current)
            current = []
        else:
            current.append(text)
    if current:
        records.append(current)
    return records


def split_record(record):
    """(headline, first stack, [(description, stack)]): the error's title, the
    stack of the access, then each address / block description line with the
    stack that follows it."""
    head, first, sections = record[0], [], []
    for text in record[1:]:
        if FRAME.match(text):
            (sections[-1][1] if sections else first).append(text)
        else:
            sections.append((text.strip(), []))
    return head, first, sections


def is_error(record):
    return any(FRAME.match(t) for t in record)


def is_leak(record):
    return 'in loss record' in record[0]


def check_valgrind(demo, valgrind, lines, c):
    cmd = [valgrind, '--tool=memcheck', '--leak-check=full', '--num-callers=40',
           '--error-exitcode=%d' % VALGRIND_EXIT]
    runs = {}
    for mode in ('overflow', 'use-after-free', 'leak'):
        status, stdout, out = run(cmd + [demo, mode], child_env())
        records = valgrind_records(out)
        runs[mode] = (status, out, records)
        if "I can't recover" in out or 'unhandled dwarf2' in out:
            c.check(False, '%s: valgrind cannot read the debug info of %s (DWARF 5 from clang with an old '
                    'valgrind? use a newer valgrind, or build with -gdwarf-4)' % (mode, demo), out)
            return
        c.check(status == VALGRIND_EXIT, '%s: memcheck reports errors (status %d, %d expected)'
                % (mode, status, VALGRIND_EXIT), out)
        c.check(unnoticed()[mode] in stdout, '%s: the demo ran to its end under memcheck' % mode, out)

    def access_error(mode, headline, marker):
        status, out, records = runs[mode]
        others = [r for r in records if is_error(r) and not is_leak(r) and r[0] != headline]
        c.check(not others, '%s: no error but "%s" (the allocator raises nothing): %s'
                % (mode, headline, '; '.join(r[0] for r in others) or 'none'), out)
        found = [r for r in records if r[0] == headline]
        if not c.check(len(found) == 1, '%s: exactly one "%s"' % (mode, headline), out):
            return None, out
        head, first, sections = split_record(found[0])
        line = lines[marker]
        c.check(bool(first) and names_line(first[0], line), '%s: "%s" at %s:%d (got: %s)'
                % (mode, headline, DEMO_SOURCE, line, first[0].strip() if first else 'no stack'), out)
        return sections, out

    def stack_after(sections, pattern):
        for desc, stack in sections:
            if re.search(pattern, desc):
                return desc, stack
        return None, []

    def check_address(mode, sections, pattern, what, out):
        """The access's "Address ... is ..." line matches pattern; returns
        whether it does and the stack that follows it."""
        desc, stack = stack_after(sections, r'^Address 0x[0-9A-Fa-f]+ is ')
        ok = desc is not None and re.match(pattern, desc) is not None
        c.check(ok, '%s: address is %s (got: %s)' % (mode, what, desc), out)
        return ok, stack

    def check_stack(mode, what, stack, marker, out):
        line = lines[marker]
        c.check(any(names_line(f, line) for f in stack), '%s: %s stack names %s:%d (got: %s)'
                % (mode, what, DEMO_SOURCE, line, ' | '.join(f.strip() for f in stack) or 'no stack'), out)

    # overflow: one byte after the block, which memcheck knows with its
    # allocation stack (a mempool chunk is "client-defined").
    sections, out = access_error('overflow', 'Invalid write of size 1', 'overflow')
    if sections is not None:
        after = r"^Address 0x[0-9A-Fa-f]+ is 0 bytes after a block of size %d (client-defined|alloc'd)$" % BLOCK
        ok, stack = check_address('overflow', sections, after,
                                  '"0 bytes after a block of size %d"' % BLOCK, out)
        if ok and not stack:
            desc, stack = stack_after(sections, r"^Block was alloc'd at$")
        check_stack('overflow', 'allocation', stack, 'overflow-alloc', out)

    # use after free: inside a freed block, with its free and alloc stacks.
    sections, out = access_error('use-after-free', 'Invalid read of size 1', 'use-after-free')
    if sections is not None:
        inside = r"^Address 0x[0-9A-Fa-f]+ is \d+ bytes inside a block of size %d free'd$" % BLOCK
        _, stack = check_address('use-after-free', sections, inside,
                                 "inside a block of size %d free'd" % BLOCK, out)
        check_stack('use-after-free', 'free', stack, 'uaf-free', out)
        desc, stack = stack_after(sections, r"^Block was alloc'd at$")
        check_stack('use-after-free', 'allocation', stack, 'uaf-alloc', out)

    # leak: the block is definitely lost, reported with its allocation stack.
    status, out, records = runs['leak']
    others = [r for r in records if is_error(r) and not is_leak(r)]
    c.check(not others, 'leak: no error but the leak: %s' % ('; '.join(r[0] for r in others) or 'none'), out)
    lost = [r for r in records if re.match(r'^%d bytes in 1 blocks are definitely lost in loss record' % BLOCK, r[0])]
    if c.check(len(lost) == 1, 'leak: "%d bytes in 1 blocks are definitely lost"' % BLOCK, out):
        head, stack, sections = split_record(lost[0])
        check_stack('leak', 'allocation', stack, 'leak-alloc', out)


def main():
    global BLOCK
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--tool', choices=('none', 'asan', 'valgrind'), required=True)
    ap.add_argument('--source', required=True, help='misuse_demo.c, scanned for LINE: markers')
    ap.add_argument('--valgrind', help='valgrind executable (default: from PATH)')
    ap.add_argument('--no-client-requests', action='store_true',
                    help='the library was built without valgrind/memcheck.h: skip')
    ap.add_argument('--block', type=int, default=20,
                    help="the demo's request size (misuse_demo.c BLOCK: 21 hardened, 20 at off)")
    ap.add_argument('demo')
    args = ap.parse_args()
    BLOCK = args.block

    lines = marker_lines(args.source)
    c = Checker()
    if args.tool == 'none':
        check_plain(args.demo, c)
    elif args.tool == 'asan':
        check_asan(args.demo, lines, c)
    else:
        valgrind = args.valgrind or shutil.which('valgrind')
        if valgrind is None:
            print('SKIP: valgrind is not installed (apt-get install valgrind): '
                  'the memcheck reports of arena blocks are not checked')
            return SKIP
        if args.no_client_requests:
            print('SKIP: the allocator was built without valgrind/memcheck.h (-Dvalgrind=disabled or '
                  'no header): memcheck cannot see arena blocks')
            return SKIP
        check_valgrind(args.demo, valgrind, lines, c)

    if c.failures:
        print('\n%d check(s) failed:' % len(c.failures))
        for f in c.failures:
            print('  - ' + f)
        return 1
    print('\nall checks passed')
    return 0


if __name__ == '__main__':
    sys.exit(main())
