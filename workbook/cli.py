"""The `workbook` command line: a safe front door to validation, example data and reports."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from workbook import __version__
from workbook.errors import ParameterError, WorkbookError

EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130

EXIT_CODES = """exit codes:
  0  success
  2  bad command-line usage
  3  invalid configuration file
  4  the data breaks the data contract (every problem is listed)
  5  an input file was not found or cannot be opened
  6  a bad parameter value
  7  one or more reports failed (the others were written)
 70  an internal error (please report it)
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code instead of raising."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except WorkbookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # the user must never see a traceback
        if args.debug:
            raise
        print(f"internal error: {type(exc).__name__}: {exc}\n"
              "Run again with --debug for details, and please report it.", file=sys.stderr)
        return EXIT_INTERNAL


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="workbook", description=__doc__, epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"workbook {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_validate(sub)
    _add_example_data(sub)
    return parser


def _command(sub: argparse._SubParsersAction, name: str, help_text: str,
             run: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
    cmd = sub.add_parser(name, help=help_text, description=help_text, epilog=EXIT_CODES,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    cmd.set_defaults(run=run, debug=False)
    cmd.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    return cmd


def _add_validate(sub: argparse._SubParsersAction) -> None:
    cmd = _command(sub, "validate", "Check a ratings file against the data contract.",
                   run_validate)
    cmd.add_argument("data", type=Path, help="ratings file (.csv, .tsv, .xlsx or .parquet)")
    cmd.add_argument("--config", type=Path, help="workbook.yml (default: built-in defaults)")


def run_validate(args: argparse.Namespace) -> int:
    """`workbook validate DATA`: print a summary, or every problem found."""
    from workbook.config import load_config
    from workbook.ingest import load_ratings
    from workbook.inspection import describe_ratings, format_description

    config = load_config(args.config)
    ratings = load_ratings(args.data, config)
    print(format_description(describe_ratings(ratings), str(args.data)))
    return 0


def _add_example_data(sub: argparse._SubParsersAction) -> None:
    cmd = _command(sub, "example-data", "Write a synthetic example clinic (seeded).",
                   run_example_data)
    cmd.add_argument("--out", type=Path, required=True, help="file to write (.csv/.xlsx/.parquet)")
    cmd.add_argument("--therapists", type=_positive, default=8)
    cmd.add_argument("--clients-per-therapist", type=_positive, default=10)
    cmd.add_argument("--weeks", type=_positive, default=39)
    cmd.add_argument("--seed", type=int, default=0)
    cmd.add_argument("--end", type=date.fromisoformat, default=date(2026, 10, 31),
                     help="last session date, YYYY-MM-DD (default 2026-10-31)")
    cmd.add_argument("--no-plant", dest="plant", action="store_false",
                     help="do not plant the documented example patterns")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text}")
    return value


def run_example_data(args: argparse.Namespace) -> int:
    """`workbook example-data --out FILE`: generate and write a synthetic clinic."""
    from workbook.example_data import generate_clinic, write_clinic

    if args.out.suffix.lower() not in (".csv", ".xlsx", ".parquet"):
        raise ParameterError(f"--out {args.out}: expected a .csv, .xlsx or .parquet file name")
    if not args.out.parent.is_dir():
        raise ParameterError(f"--out {args.out}: folder {args.out.parent} does not exist")
    frame = generate_clinic(therapists=args.therapists,
                            clients_per_therapist=args.clients_per_therapist,
                            weeks=args.weeks, seed=args.seed, end=args.end, plant=args.plant)
    write_clinic(frame, args.out)
    print(f"wrote {len(frame):,} rating rows to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
