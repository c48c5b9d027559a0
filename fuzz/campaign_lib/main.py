"""main(argv): options, the artifacts directory, then one mode; exceptions become exit codes."""

import datetime
import sys
from pathlib import Path

from .cli import parse_args
from .common import REPO, Failure, Skipped, Usage, say
from .coverage import coverage
from .run import campaign, merge_only, throughput


def default_artifacts():
    return REPO / "fuzz-artifacts" / datetime.datetime.now().strftime("%Y%m%d-%H%M%S")


def main(argv):
    try:
        args = parse_args(argv)
        artifacts = Path(args.artifacts).absolute() if args.artifacts else default_artifacts()
        if artifacts.exists() and not artifacts.is_dir():
            raise Usage(f"--artifacts {args.artifacts}: not a directory")
        if args.sync_dir:
            args.sync_dir = str(Path(args.sync_dir).absolute())
        if args.json:
            args.json = str(Path(args.json).absolute())
        try:
            artifacts.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise Usage(f"--artifacts {artifacts}: {e.strerror}")
        if args.coverage:
            return coverage(args, artifacts)
        if args.merge_only:
            return merge_only(args, artifacts)
        if args.throughput is not None:
            return throughput(args, artifacts)
        return campaign(args, artifacts)
    except Usage as e:
        print(f"fuzz/campaign: {e} (see fuzz/campaign --help)", file=sys.stderr)
        return 2
    except Skipped as e:
        say(str(e))
        return 0
    except Failure as e:
        say(f"error: {e}")
        return 1
    except KeyboardInterrupt:
        say("interrupted")
        return 130
