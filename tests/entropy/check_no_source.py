#!/usr/bin/env python3
"""A platform with neither getrandom/getentropy nor the entropy hook must not
build: heap_secret.c stops with an error that names the hook (mem_alloc.h,
hardalloc_entropy), instead of falling back to a constant.

usage: check_no_source.py ALLOCATOR_DIR CC [CC_ARG...]
Compiles allocator/heap_secret.c with the host compiler, the platform macros
that select getrandom/getentropy undefined and no -DHARDALLOC_ENTROPY_HOOK;
then once more with the hook defined, which must compile.
Exit status 0 when both hold, 1 otherwise. Python 3 standard library only.
"""

import subprocess
import sys

PLATFORM_MACROS = ['__linux__', '__APPLE__', '__FreeBSD__', '__OpenBSD__', '__NetBSD__']


def compile_secret(cc, allocator, extra):
    cmd = cc + ['-std=c11', '-fsyntax-only', '-I' + allocator]
    cmd += ['-U' + m for m in PLATFORM_MACROS] + extra + [allocator + '/heap_secret.c']
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)


def main():
    if len(sys.argv) < 3:
        print('usage: check_no_source.py ALLOCATOR_DIR CC [CC_ARG...]', file=sys.stderr)
        return 2
    allocator, cc = sys.argv[1], sys.argv[2:]
    failures = 0
    r = compile_secret(cc, allocator, [])
    if r.returncode != 0 and 'HARDALLOC_ENTROPY_HOOK' in r.stdout and 'hardalloc_entropy' in r.stdout:
        print('ok: no entropy source: the build stops and names the hook')
    else:
        print('FAIL: no entropy source: expected a compile error naming the hook, got status %d:\n%s'
              % (r.returncode, r.stdout))
        failures += 1
    r = compile_secret(cc, allocator, ['-DHARDALLOC_ENTROPY_HOOK'])
    if r.returncode == 0:
        print('ok: with -DHARDALLOC_ENTROPY_HOOK it compiles')
    else:
        print('FAIL: with the hook it does not compile:\n' + r.stdout)
        failures += 1
    print('%d passed, %d failed' % (2 - failures, failures))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
