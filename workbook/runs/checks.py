"""Checks every run makes before it starts work: IDs from the command line or a notebook
parameter (the data's own pattern), the output folder (a folder we can write in), output file
names (made from IDs, they never leave the folder), a period with sessions in it, and a number of
worker processes the machine can run.
"""

from __future__ import annotations

import errno
import os
import re
import sys
import tempfile
from pathlib import Path

import pandas as pd

from workbook.analysis.periods import Period
from workbook.data.config import DEFAULT_ID_PATTERN, Config
from workbook.data.errors import OutputError, ParameterError
from workbook.reports.render import output_error

_SAFE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


def check_codes(name: str, codes: list[str], config: Config) -> list[str]:
    """IDs given as `name` (an option or parameter), each checked against the pattern the data's
    IDs must match (privacy.id_pattern); return them, trimmed."""
    pattern = re.compile(config.privacy.id_pattern)
    hint = (" (letters, digits, '.', '_' or '-')" if config.privacy.id_pattern ==
            DEFAULT_ID_PATTERN else " (the config's privacy.id_pattern)")
    out = []
    for code in codes:
        code = str(code).strip()
        if not pattern.fullmatch(code):
            raise ParameterError(f"{name} {code!r}: expected an ID matching "
                                 f"{pattern.pattern}{hint}, like the data's IDs")
        out.append(code)
    return out


def file_part(code: str) -> str:
    """An ID as part of a file name: kept as it is when made only of letters, digits, '_', '-'
    and '.' (not first); any other character as %XX, so no ID names a folder or a hidden file."""
    if _SAFE.fullmatch(code):
        return code
    return "".join(ch if re.fullmatch(r"[A-Za-z0-9_-]", ch) or (ch == "." and i) else
                   "".join(f"%{b:02X}" for b in ch.encode("utf-8"))
                   for i, ch in enumerate(code))


def inside(folder: Path, name: str) -> Path:
    """`folder / name`, refused unless it stays in `folder` (the last defence; file_part makes
    names that always do)."""
    path = Path(folder) / name
    if Path(os.path.normpath(path)).parent != Path(os.path.normpath(folder)):
        raise ParameterError(f"{name!r}: an output file name must stay inside {folder}")
    return path


def check_out_dir(out: Path, option: str = "--out", create: bool = True) -> Path:
    """The output folder, resolved; refused when it is a file, or when a file cannot be written
    in it (a read-only disk, no permission, no space). Made when missing and `create`; else
    the folder it would be made in is checked, and nothing is made."""
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise OutputError(f"{option} {out}: is a file; expected a folder for the reports")
    probe = out
    if not create:
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if not probe.is_dir():
            raise OutputError(f"{option} {out}: {probe} is a file; expected a folder")
    try:
        if create:
            out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=probe, prefix=".workbook-probe-"):
            pass
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise OutputError(f"{option} {out}: cannot write there "
                              f"({exc.strerror or exc})") from None
        raise output_error(exc, probe / ".workbook-probe") from None
    return out.resolve()


def require_sessions(ratings: pd.DataFrame, period: Period) -> None:
    """Refuse a period with no session in it: its reports would be empty."""
    dates = ratings["session_date"]
    if not dates.between(period.start, period.end).any():
        raise ParameterError(f"no session in {period.label} in the data, which runs from "
                             f"{dates.min():%Y-%m-%d} to {dates.max():%Y-%m-%d}")


def cap_jobs(jobs: int | None, name: str = "--jobs") -> tuple[int | None, str | None]:
    """Worker processes: at most one per CPU core this process may use; a note when capped."""
    cores = available_cores()
    if jobs is None or jobs <= cores:
        return jobs, None
    return cores, (f"note: {name} {jobs} is more than this machine's {cores} CPU core"
                   f"{'s' if cores != 1 else ''}; using {cores} worker process"
                   f"{'es' if cores != 1 else ''}")


def available_cores() -> int:
    """CPU cores this process may run on (a container's or taskset's limit counts)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def say(note: str | None) -> None:
    """Print a note for the user on stderr."""
    if note:
        print(note, file=sys.stderr)
