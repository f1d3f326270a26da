"""The `workbook` command line: a safe front door to validation, example data and reports."""

from __future__ import annotations

import argparse
import errno
import gc
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from workbook._meta import EXAMPLE_DATA, __version__
from workbook.data.errors import OutputError, ParameterError, WorkbookError

EXIT_INTERNAL = 70
DEFAULT_DATA = EXAMPLE_DATA
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # as a shell reports a program stopped by SIGPIPE
# Errors in the user's input: a run refused for one of these keeps nothing it made.
INPUT_ERRORS = (3, 4, 5, 6)

EXIT_CODES = """exit codes:
  0  success
  2  bad command-line usage
  3  invalid configuration file
  4  the data breaks the data contract (every problem counted, 50 of each kind listed)
  5  an input file was not found or cannot be opened
  6  a bad parameter value
  7  one or more reports failed (the others were written)
  8  a notebook failed for an unforeseen reason (a partly executed copy is kept if any)
  9  records conflict with those already in the store (nothing was written)
 10  no space left on the disk for the output or store (nothing half-written is kept)
 11  an output folder, file or store cannot be written (read-only, no permission)
 12  monthly --scheduler: the Dask cluster cannot be reached, has no workers, or its workers
     run other versions of the rendering stack or other project templates (nothing written)
 70  an internal error (please report it)
130  interrupted (Ctrl-C)
141  the output was closed early (e.g. piped into head)
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code instead of raising."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        code = args.run(args)
        sys.stdout.flush()
        return code
    except WorkbookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _quiet_stdout()
        print("workbook: the output was closed before it was all written (broken pipe)",
              file=sys.stderr)
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        if args.debug or exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EACCES,
                                           errno.EPERM, errno.EROFS):
            return _internal(exc, args)
        from workbook.reports.render import output_error

        error = output_error(exc, Path(exc.filename or "output"))
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except Exception as exc:  # the user must never see a traceback
        return _internal(exc, args)


def _internal(exc: Exception, args: argparse.Namespace) -> int:
    if args.debug:
        raise exc
    print(f"internal error: {type(exc).__name__}: {exc}\n"
          "Run again with --debug for details, and please report it.", file=sys.stderr)
    return EXIT_INTERNAL


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so that Python's own flush at exit finds no broken pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="workbook", description=__doc__, epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"workbook {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_validate(sub)
    _add_report(sub)
    _add_monthly(sub)
    _add_example_data(sub)
    _add_import(sub)
    _add_template(sub)
    _add_card(sub)
    _add_review(sub)
    return parser


def _command(sub: argparse._SubParsersAction, name: str, help_text: str,
             run: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
    cmd = sub.add_parser(name, help=help_text, description=help_text, epilog=EXIT_CODES,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    cmd.set_defaults(run=run)
    cmd.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                     help="show tracebacks of internal errors")
    return cmd


def _add_validate(sub: argparse._SubParsersAction) -> None:
    cmd = _command(sub, "validate", "Check a ratings file against the data contract.",
                   run_validate)
    cmd.add_argument("data", type=_source,
                     help="ratings file (.csv, .tsv, .xlsx or .parquet) or database URL "
                          "(sqlite:///clinic.db?table=ratings)")
    cmd.add_argument("--config", type=Path, help="workbook.yml (default: built-in defaults)")


def run_validate(args: argparse.Namespace) -> int:
    """`workbook validate DATA`: print a summary, or every problem found."""
    from workbook.data.config import load_config
    from workbook.data.ingest import load_ratings
    from workbook.data.inspection import describe_ratings, format_description

    config = load_config(args.config)
    ratings = load_ratings(args.data, config)
    print(format_description(describe_ratings(ratings), ratings.attrs.get("source",
                                                                         str(args.data))))
    return 0


def _add_run_options(cmd: argparse.ArgumentParser, formats: str) -> None:
    cmd.add_argument("--data", type=_source, default=DEFAULT_DATA,
                     help="ratings file or database URL such as sqlite:///clinic.db?table=ratings "
                          "(default: the example clinic)")
    cmd.add_argument("--config", type=Path, help="workbook.yml (default: built-in defaults)")
    cmd.add_argument("--out", type=Path, default=Path("reports"),
                     help="output folder; reports go to OUT/YYYY-MM/ (default: reports)")
    cmd.add_argument("--month", help="YYYY-MM (default: the latest complete month in the data)")
    cmd.add_argument("--format", dest="formats", default=formats,
                     help=f"pdf, html or pdf,html (default: {formats})")


def _add_report(sub: argparse._SubParsersAction) -> None:
    cmd = _command(sub, "report", "Make one kind of report through its notebook.", run_report)
    cmd.add_argument("kind", choices=["therapist", "supervision", "clinic"])
    _add_run_options(cmd, "pdf,html")
    cmd.add_argument("--therapist", help="therapist (supervisee) ID")
    cmd.add_argument("--supervisor", help="supervisor ID: a report for each of their supervisees")
    cmd.add_argument("--since", help="supervision briefs: YYYY-MM-DD of the last meeting; the "
                                     "brief covers the sessions since then (instead of --month)")


def _add_monthly(sub: argparse._SubParsersAction) -> None:
    cmd = _command(sub, "monthly", "Make the month's clinic report and every therapist's.",
                   run_monthly)
    _add_run_options(cmd, "pdf")
    cmd.add_argument("--jobs", type=_positive,
                     help="worker processes (default and most: the CPU cores)")
    cmd.add_argument("--scheduler", metavar="tcp://HOST:8786",
                     help="send the reports to the workers of this Dask scheduler instead of "
                          "local processes (--jobs is then not used); the files are written "
                          "here")


def run_report(args: argparse.Namespace) -> int:
    """`workbook report KIND`: run the matching notebook; keep it beside the reports."""
    from workbook.runs.checks import file_part, inside
    from workbook.runs.execute import run_notebook

    setup = _prepare_run(args)
    therapists = _chosen_therapists(args, setup)
    folder, base = setup["folder"], setup["params"]
    with _kept_on_success(folder):
        if args.kind == "supervision":
            for therapist in therapists:
                params = {**base, "therapist_id": therapist, "month": setup["month"],
                          "since": setup["since"]}
                record = inside(folder, f"supervision_brief-{file_part(therapist)}.ipynb")
                run_notebook("supervision_brief", params, record)
        else:
            clinic = args.kind == "clinic"
            params = {**base, "month": setup["month"], "clinic": clinic,
                      "therapists": ",".join(therapists) or "none"}
            name = "clinic" if clinic else "therapist-" + "-".join(map(file_part, therapists))
            record = inside(folder, f"clinic_monthly-{name[:80]}.ipynb")
            run_notebook("clinic_monthly", params, record)
    print(f"reports are in {folder}")
    return 0


def run_monthly(args: argparse.Namespace) -> int:
    """`workbook monthly`: one notebook run renders the clinic's and every therapist's report."""
    from workbook.reports.render import rendering_stack
    from workbook.runs.batch import record_notebook
    from workbook.runs.checks import cap_jobs, say
    from workbook.runs.cluster import check_address, check_cluster, with_templates
    from workbook.runs.execute import run_notebook

    setup = _prepare_run(args)
    # the kernel loads the data again: this process, waiting for it, holds none (~60 MB at
    # 100 therapists, for the whole run)
    del setup["ratings"]
    gc.collect()
    if args.scheduler is not None:
        jobs, scheduler = None, check_address("--scheduler", args.scheduler)
        # before a kernel starts or a folder is made
        check_cluster(scheduler, with_templates(rendering_stack()))
    else:
        (jobs, note), scheduler = cap_jobs(args.jobs), None
        say(note)
    params = {**setup["params"], "month": setup["month"], "jobs": jobs, "scheduler": scheduler}
    record = setup["folder"] / "clinic_monthly.ipynb"
    with _kept_on_success(setup["folder"]):
        try:
            run_notebook("clinic_monthly", params, record)
        finally:
            record_notebook(setup["folder"], record)
    print(f"reports are in {setup['folder']}")
    return 0


class _kept_on_success:
    """A month folder this run makes is removed again when the run is refused for an input
    error and the folder holds nothing but the refused run's notebook record."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.existed = folder, folder.exists()

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, tb) -> bool:
        if isinstance(error, WorkbookError) and error.exit_code in INPUT_ERRORS and \
                not self.existed and self.folder.is_dir():
            if all(p.suffix == ".ipynb" for p in self.folder.iterdir()):
                shutil.rmtree(self.folder, ignore_errors=True)
        return False


def _prepare_run(args: argparse.Namespace) -> dict:
    """Validate the inputs here, before any kernel starts or any folder is made: the config,
    the output folder, IDs and dates given on the command line, the data, the period."""
    from workbook.analysis.periods import latest_complete_month, parse_month
    from workbook.data.config import load_config
    from workbook.data.ingest import load_ratings
    from workbook.data.parameters import formats
    from workbook.runs.checks import check_codes, check_out_dir, require_sessions

    config = load_config(args.config)
    out = check_out_dir(args.out, create=False)
    for option in ("therapist", "supervisor"):
        if getattr(args, option, None):
            check_codes(f"--{option}", [getattr(args, option)], config)
    since = getattr(args, "since", None)
    if since and (args.month or args.kind != "supervision"):
        raise ParameterError("--since is for supervision briefs, instead of --month")
    ratings = load_ratings(args.data, config)
    if since:
        period = _since_period(since, ratings)
    else:
        period = parse_month(args.month) if args.month else latest_complete_month(ratings)
    require_sessions(ratings, period)
    month = None if since else f"{period.start:%Y-%m}"
    params = {"data": _source_text(args.data),
              "config": str(args.config.resolve()) if args.config else None,
              "out_dir": str(out),
              "formats": ",".join(formats("--format", args.formats))}
    in_month = ratings[ratings["session_date"].between(period.start, period.end)]
    return {"params": params, "month": month, "since": since, "label": period.label,
            "folder": out / period.slug, "ratings": in_month}


def _since_period(since: str, ratings):
    """The period from --since to the latest session in the data."""
    from workbook.analysis.periods import parse_period

    try:
        start = date.fromisoformat(since)
    except ValueError:
        raise ParameterError(f"--since {since!r}: expected a date YYYY-MM-DD, e.g. "
                             "2026-10-05") from None
    last = ratings["session_date"].max().date()
    if start > last:
        raise ParameterError(f"--since {since}: after the latest session in the data "
                             f"({last.isoformat()})")
    return parse_period(start.isoformat(), last.isoformat())


def _chosen_therapists(args: argparse.Namespace, setup: dict) -> list[str]:
    """Therapists named by --therapist or supervised by --supervisor (none for clinic), each
    with a session in the period."""
    if args.kind == "clinic":
        return []
    ratings = setup["ratings"]
    if args.therapist:
        known = sorted(ratings["therapist_id"].unique())
        if args.therapist not in known:
            raise ParameterError(f"--therapist {args.therapist}: no session in "
                                 f"{setup['label']}; therapists: {', '.join(known)}")
        return [args.therapist]
    if args.supervisor:
        mine = ratings.loc[ratings["supervisor_id"] == args.supervisor, "therapist_id"]
        if mine.empty:
            raise ParameterError(f"--supervisor {args.supervisor}: no supervisee has a session "
                                 f"in {setup['label']}")
        return sorted(mine.unique())
    raise ParameterError(f"report {args.kind}: give --therapist ID or --supervisor ID")


def _add_example_data(sub: argparse._SubParsersAction) -> None:
    cmd = _command(sub, "example-data", "Write a synthetic example clinic (seeded).",
                   run_example_data)
    cmd.add_argument("--out", type=Path, required=True, help="file to write (.csv/.xlsx/.parquet)")
    cmd.add_argument("--therapists", type=_positive, default=8)
    cmd.add_argument("--clients-per-therapist", type=_positive, default=10)
    cmd.add_argument("--weeks", type=_positive, default=39)
    cmd.add_argument("--seed", type=_whole, default=0)
    cmd.add_argument("--end", type=_iso_date, default=date(2026, 10, 31),
                     help="last session date, YYYY-MM-DD (default 2026-10-31)")
    cmd.add_argument("--no-plant", dest="plant", action="store_false",
                     help="do not plant the documented example patterns")
    cmd.add_argument("--courses", choices=("simple", "realistic"), default="simple",
                     help="outcome courses: simple (the example clinic's texture) or realistic "
                          "(published base rates, dropouts)")
    cmd.add_argument("--truth", type=Path, help="also write each client's eventual outcome "
                     "per measure to this CSV (kept beside the ratings, never in them)")


def _source(text: str) -> str | Path:
    """A database URL as given, anything else as a file path."""
    from workbook.data.sources.urls import is_database_url

    return text.strip() if is_database_url(text) else Path(text)


def _source_text(source: str | Path) -> str:
    """What the notebooks are given: the file's absolute path, or the URL without its password
    (which goes to the kernel as PGPASSWORD, so the executed notebook kept as the run's record
    never holds it)."""
    if isinstance(source, Path):
        return str(source.resolve())
    from sqlalchemy.engine import URL, make_url

    url = make_url(source)
    if url.password is None or url.get_backend_name() != "postgresql":
        return source
    os.environ["PGPASSWORD"] = str(url.password)
    # URL.set(password=None) keeps the password (None there means "unchanged")
    bare = URL.create(url.drivername, username=url.username, host=url.host, port=url.port,
                      database=url.database, query=url.query)
    return bare.render_as_string(hide_password=False)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}")
    return value


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def run_example_data(args: argparse.Namespace) -> int:
    """`workbook example-data --out FILE`: generate and write a synthetic clinic."""
    from workbook.data.example_data import generate_clinic_and_truth, write_clinic, write_truth

    if args.out.suffix.lower() not in (".csv", ".xlsx", ".parquet"):
        raise ParameterError(f"--out {args.out}: expected a .csv, .xlsx or .parquet file name")
    for name, path in (("--out", args.out), ("--truth", args.truth)):
        if path is not None and not path.parent.is_dir():
            raise ParameterError(f"{name} {path}: folder {path.parent} does not exist")
        if path is not None and path.is_dir():
            raise OutputError(f"{name} {path}: is a folder; expected a file name")
    if args.truth is not None and args.truth.suffix.lower() != ".csv":
        raise ParameterError(f"--truth {args.truth}: expected a .csv file name")
    frame, truth = generate_clinic_and_truth(
        therapists=args.therapists, clients_per_therapist=args.clients_per_therapist,
        weeks=args.weeks, seed=args.seed, end=args.end, plant=args.plant, courses=args.courses)
    write_clinic(frame, args.out)
    print(f"wrote {len(frame):,} rating rows to {args.out}")
    if args.truth is not None:
        write_truth(truth, args.truth)
        print(f"wrote the eventual outcome of {len(truth):,} courses to {args.truth}")
    return 0


def _add_import(sub: argparse._SubParsersAction) -> None:
    cmd = _command(sub, "import", "Append a checked ratings file (or an SRS/ORS/WAI-SR export) "
                   "to a clinic's store, in one transaction.", run_import)
    cmd.add_argument("file", type=_source, help="ratings file or instrument export")
    cmd.add_argument("--into", required=True,
                     help="store URL: sqlite:///clinic.db (made if new) or "
                          "postgresql+psycopg://user@host/db; ?table=NAME (default ratings)")
    cmd.add_argument("--config", type=Path, help="workbook.yml (default: built-in defaults)")


def run_import(args: argparse.Namespace) -> int:
    """`workbook import FILE --into URL`: all records or none; conflicts listed."""
    from workbook.data.config import load_config
    from workbook.data.sources.store import import_ratings

    result = import_ratings(args.file, args.into, load_config(args.config))
    print(result.summary(str(args.file)))
    return 0


def _add_template(sub: argparse._SubParsersAction) -> None:
    cmd = _command(sub, "template", "Write an Excel capture sheet with the data contract's "
                   "columns, data validation and instructions.", run_template)
    cmd.add_argument("--out", type=Path, required=True, help="the .xlsx file to write")
    cmd.add_argument("--config", type=Path, help="workbook.yml (its scale and ID pattern)")


def run_template(args: argparse.Namespace) -> int:
    """`workbook template --out ratings.xlsx`."""
    from workbook.data.capture import write_template
    from workbook.data.config import load_config

    _check_out(args.out, (".xlsx",))
    write_template(args.out, load_config(args.config))
    print(f"wrote the capture sheet {args.out}; fill in the Ratings sheet, then "
          f"`workbook validate {args.out}`")
    return 0


def _add_card(sub: argparse._SubParsersAction) -> None:
    cmd = _command(sub, "card", "Write a printable one-page session rating card (PDF).",
                   run_card)
    cmd.add_argument("--out", type=Path, required=True, help="the .pdf file to write")
    cmd.add_argument("--config", type=Path, help="workbook.yml (clinic name and scale)")


def run_card(args: argparse.Namespace) -> int:
    """`workbook card --out card.pdf`."""
    from workbook.data.config import load_config
    from workbook.reports.card import write_card

    _check_out(args.out, (".pdf",))
    write_card(args.out, load_config(args.config))
    print(f"wrote the session rating card {args.out}")
    return 0


def _add_review(sub: argparse._SubParsersAction) -> None:
    cmd = _command(sub, "review", "Open the caseload review as an app in the browser (Voila, "
                   "on 127.0.0.1 with a token; Ctrl-C stops it).", run_review)
    reach = cmd.add_mutually_exclusive_group()
    reach.add_argument("--therapist", help="only this therapist's caseload is reachable")
    reach.add_argument("--supervisor", help="only this supervisor's supervisees are reachable")
    cmd.add_argument("--data", type=_source, default=DEFAULT_DATA,
                     help="ratings file or database URL (default: the example clinic)")
    cmd.add_argument("--config", type=Path, help="workbook.yml (default: built-in defaults)")
    cmd.add_argument("--month", help="YYYY-MM (default: the latest complete month in the data)")
    cmd.add_argument("--port", type=_positive, help="port on 127.0.0.1 (default: a free one)")
    cmd.add_argument("--no-browser", dest="browser", action="store_false",
                     help="print the address only; do not open a browser")


def run_review(args: argparse.Namespace) -> int:
    """`workbook review`: check the inputs, then serve the caseload review until stopped."""
    from workbook.runs.review import check_review_inputs, serve_review

    params = check_review_inputs(args.data, _source_text(args.data), args.config,
                                 therapist=args.therapist, supervisor=args.supervisor,
                                 month=args.month)
    return serve_review(params, port=args.port, open_browser=args.browser)


def _check_out(path: Path, suffixes: tuple[str, ...]) -> None:
    if path.suffix.lower() not in suffixes:
        raise ParameterError(f"--out {path}: expected a {' or '.join(suffixes)} file name")
    if not path.parent.is_dir():
        raise ParameterError(f"--out {path}: folder {path.parent} does not exist")
    if path.is_dir():
        raise OutputError(f"--out {path}: is a folder; expected a file name")


if __name__ == "__main__":
    sys.exit(main())
