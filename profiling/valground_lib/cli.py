"""The command line: profiling/valground [-q] [-c] [--json F] [--junit F] [--plot F] [--strict] [FILE...]"""

import argparse
import gc
import os
import sys

from . import core, report_json, report_junit, report_text
from .model import Analyzer

DESCRIPTION = """\
Reads a HAVE_MEMORY_PROFILING log (profiling/FORMAT.md) from the FILEs or stdin,
`==MP ` lines bare or behind any prefix (e.g. `seproxyhal: printf: `) among any
other output, split per pytest test (`path::name` lines), and reports per test
the leaks, double and invalid frees, faults the heap reported (`==MP! ` lines,
with the sites of their blocks), persistent blocks, heap usage and layout.
Exit status: 0 clean, 1 a leak, bad free or fault (or, with --strict, a
malformed line), 2 a usage error."""


# what matplotlib's savefig writes without extra packages
PLOT_EXTENSIONS = (".png", ".svg", ".svgz", ".pdf", ".ps", ".eps", ".jpg", ".jpeg", ".tif", ".tiff",
                   ".pgf", ".raw", ".rgba")


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def build_parser():
    p = Parser(prog="valground", description=DESCRIPTION,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-q", "--quiet", action="store_true", help="only errors and summaries")
    p.add_argument("-c", "--colors", action="store_true", help="ANSI colors")
    p.add_argument("--json", metavar="FILE", help="write every segment, finding and figure as JSON")
    p.add_argument("--junit", metavar="FILE", help="write a JUnit XML report (one test case per segment)")
    p.add_argument("--plot", metavar="FILE", help="plot live bytes per test (.svg, .png; needs matplotlib)")
    p.add_argument("--strict", action="store_true", help="malformed lines are errors (exit status 1)")
    p.add_argument("files", nargs="*", metavar="FILE", help="logs to read (default: stdin)")
    return p


def main(argv=None, stdin=None, stdout=None, stderr=None):
    # Nothing here makes reference cycles, and the cyclic collector, run
    # while the reports are built, would walk every segment again and
    # again: 8 s of the --json run on a transcript of 80,000 tests.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _main(argv, stdin, stdout, stderr)
    finally:
        if collecting:
            gc.enable()


def _main(argv, stdin, stdout, stderr):
    stdin = stdin if stdin is not None else sys.stdin.buffer
    stdout = stdout if stdout is not None else sys.stdout
    stderr = stderr if stderr is not None else sys.stderr
    try:
        args = build_parser().parse_args(argv)
    except UsageError as err:
        print(f"valground: {err} (see --help)", file=stderr)
        return 2
    if args.plot and os.path.splitext(args.plot)[1].lower() not in PLOT_EXTENSIONS:
        print(f"valground: --plot {args.plot}: unknown image format (the extension says which: "
              f"{', '.join(PLOT_EXTENSIONS)})", file=stderr)
        return 2
    # Open every input first: an unreadable file is a usage error, before any output.
    inputs = []
    try:
        for name in args.files:
            inputs.append((name, open(name, "rb")))
    except OSError as err:
        for _, f in inputs:
            f.close()
        print(f"valground: cannot read {err.filename}: {err.strerror}", file=stderr)
        return 2
    # -q without --json or --plot prints no site tables, gaps, persistent
    # blocks or warnings: the analyzer need not build them
    lean = args.quiet and not args.json
    sources = [(name if len(inputs) > 1 else None, f) for name, f in inputs] or [(None, stdin)]
    try:
        analyzer = None if args.plot else core.analyze(sources, lean, json=bool(args.json),
                                                            sites=not args.quiet,
                                                            quiet=args.colors if args.quiet else None)
        if analyzer is None:
            if core.last_problem and os.environ.get("VALGROUND_VERBOSE"):
                print(f"valground: the Python reader reads the log ({core.last_problem})", file=stderr)
            analyzer = Analyzer(plot=bool(args.plot), lean=lean)
            for source, f in sources:
                analyzer.feed(f, source)
            analyzer.finish()
    except OSError as err:
        print(f"valground: read error: {err.strerror or err}", file=stderr)
        return 2
    finally:
        for _, f in inputs:
            f.close()
    for line in report_text.warning_lines(analyzer, args.strict):
        print(line, file=stderr)
    # the core may have written the -q report (the same text: tests/analyzer/test_core.py)
    text = getattr(analyzer, "core_text", None)
    stdout.write(text if text is not None else report_text.render(analyzer, args.quiet, args.colors, args.strict))
    stdout.flush()
    for path, write in ((args.json, lambda p: report_json.write(analyzer, p, args.strict)),
                        (args.junit, lambda p: report_junit.write(analyzer, p))):
        if not path:
            continue
        try:
            write(path)
        except OSError as err:
            # err.filename is None for a failed write or close (a full disk)
            print(f"valground: cannot write {path}: {err.strerror or err}", file=stderr)
            return 2
    if args.plot:
        from . import plot
        try:
            message = plot.plot(analyzer, args.plot)
        except plot.CannotWrite as err:
            print(err, file=stderr)
            return 2
        if message:
            print(message, file=stderr)
    return analyzer.exit_status(args.strict)
