"""The case runner of the benchmark tooling's script tests (bench/test_scripts.py,
bench/trace/test_trace.py): each test is a named case, run one per meson test.

A case raises Fail (the test fails, with the message) or Skip (what it needs is
not there); main() runs the cases named on the command line ("all" or none:
every one) and exits 0, 1 when one failed, 77 (meson's skip) when all skipped,
2 for an unknown name.
"""


class Fail(Exception):
    pass


class Skip(Exception):
    pass


def expect(text, needle, what):
    """Fails unless needle is in text, showing the text's end."""
    if needle not in text:
        raise Fail("%s: %r not found in:\n%s" % (what, needle, text[-4000:]))


def main(cases, argv):
    names = argv or ["all"]
    if names == ["all"]:
        names = list(cases)
    failed = skipped = 0
    for n in names:
        if n not in cases:
            print("unknown case %s (known: %s)" % (n, ", ".join(cases)))
            return 2
        try:
            cases[n]()
            print("ok: " + n)
        except Skip as e:
            skipped += 1
            print("skip: %s: %s" % (n, e))
        except Fail as e:
            failed += 1
            print("FAIL: %s: %s" % (n, e))
    return 1 if failed else 77 if skipped == len(names) else 0
