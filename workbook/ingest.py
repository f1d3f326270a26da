"""Read a ratings file (CSV, Excel .xlsx or Parquet) into the contract's typed frame."""

from __future__ import annotations

import csv
import difflib
import zipfile
from pathlib import Path

import pandas as pd

from workbook import columns as C
from workbook.config import Config
from workbook.errors import DataError, InputFileError, Problem
from workbook.validate import check_rows

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
PARQUET_SUFFIXES = (".parquet", ".pq")
DELIMITERS = (",", ";", "\t")


def load_ratings(source: str | Path, config: Config | None = None) -> pd.DataFrame:
    """Load and validate a ratings file; raise DataError listing every problem found."""
    config = config or Config()
    path = Path(source)
    if not path.is_file():
        raise InputFileError(f"{path}: data file not found")
    raw, first_line, unit = read_table(path, config)
    names = map_columns(raw.columns, path, config)
    raw.columns = names
    raw = raw.loc[:, [n for n in names if not n.startswith("?")]]
    ratings = check_rows(raw, config, file=str(path), first_line=first_line, unit=unit)
    ratings.attrs["source"] = str(path)
    return ratings


def read_table(path: Path, config: Config) -> tuple[pd.DataFrame, int, str]:
    """Read the file as a table of raw cells; return it, the line of its first row, the unit."""
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return _read_csv(path), 2, "line"
    if suffix in EXCEL_SUFFIXES:
        return _read_excel(path, config.sheet), 2, "row"
    if suffix in PARQUET_SUFFIXES:
        return _read_parquet(path), 1, "row"
    raise DataError([_file_problem(path, f"a .csv, .tsv, .xlsx or .parquet file, not '{suffix}'")])


def _file_problem(path: Path, expected: str, value: object = None) -> Problem:
    return Problem(str(path), None, None, value, expected)


def _read_csv(path: Path) -> pd.DataFrame:
    data = path.read_bytes()
    if not data.strip():
        raise DataError([_file_problem(path, "a header line and rating rows; the file is empty")])
    not_utf8 = DataError([_file_problem(path, "UTF-8 text (save the file as CSV UTF-8)")])
    try:
        head = data[:65536].decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # a cut in the middle of a multi-byte character at the sample's end is fine
        if exc.start < 65530:
            raise not_utf8 from None
        head = data[: exc.start].decode("utf-8-sig")
    if "\x00" in head:
        raise DataError([_file_problem(path, "a text table (CSV); this looks like a binary file")])
    delimiter = _detect_delimiter(head.splitlines()[0], path)
    try:
        return pd.read_csv(
            path, sep=delimiter, dtype=str, keep_default_na=False, na_filter=False,
            skip_blank_lines=False, encoding="utf-8-sig", quoting=csv.QUOTE_MINIMAL,
        )
    except UnicodeDecodeError:
        raise not_utf8 from None
    except pd.errors.ParserError as exc:
        raise DataError([_parser_problem(path, exc)]) from None


def _detect_delimiter(header: str, path: Path) -> str:
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        raise DataError([Problem(str(path), 1, None, header[:60],
                                 "a header line of column names separated by commas, "
                                 "semicolons or tabs; this is not a table")])
    return best


def _parser_problem(path: Path, exc: Exception) -> Problem:
    text = str(exc)
    line = None
    marker = " in line "
    if marker in text:
        digits = text.split(marker, 1)[1].split(",")[0].strip()
        line = int(digits) if digits.isdigit() else None
    detail = text.split(",", 1)[1].strip() if "," in text else text
    return Problem(str(path), line, None, None,
                   f"the same number of fields as the header line ({detail})")


def _read_excel(path: Path, sheet: str | int | None) -> pd.DataFrame:
    if not zipfile.is_zipfile(path):
        raise DataError([_file_problem(path, "an Excel .xlsx workbook; this file is not one")])
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except Exception as exc:  # openpyxl raises many kinds on a damaged workbook
        raise DataError([_file_problem(path, f"a readable Excel .xlsx workbook ({exc})")]) from None
    with book:
        wanted = 0 if sheet is None else sheet
        if isinstance(wanted, str) and wanted not in book.sheet_names:
            raise DataError([Problem(str(path), None, None, wanted,
                                     f"a sheet named one of {', '.join(book.sheet_names)}")])
        if isinstance(wanted, int) and not 0 <= wanted < len(book.sheet_names):
            raise DataError([Problem(str(path), None, None, wanted,
                                     f"a sheet index below {len(book.sheet_names)}")])
        frame = book.parse(wanted, dtype=object, keep_default_na=False, na_values=[])
    return _cells_to_text(frame)


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several kinds on a non-Parquet file
        raise DataError([_file_problem(path, f"a Parquet file ({type(exc).__name__})")]) from None
    return _cells_to_text(frame)


def _cells_to_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn typed cells into the strings a CSV would hold (dates as ISO, blanks as '')."""
    out = {}
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_datetime64_any_dtype(col):
            text = col.dt.strftime("%Y-%m-%d")
        else:
            text = col.map(_cell_text, na_action="ignore")
        out[str(name)] = text.fillna("").astype(object)
    return pd.DataFrame(out, index=frame.index)


def _cell_text(value: object) -> str:
    if isinstance(value, pd.Timestamp) or hasattr(value, "isoformat"):
        stamp = pd.Timestamp(value)
        return stamp.strftime("%Y-%m-%d") if stamp == stamp.normalize() else stamp.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def map_columns(headers: pd.Index, path: Path, config: Config) -> list[str]:
    """Match headers to contract names (case-insensitive, trimmed, config renames).

    Unknown headers are kept as '?name' and dropped; a near-miss of a known name is a problem.
    """
    renames = {k.strip().lower(): v.strip().lower() for k, v in config.columns.items()}
    known = [*C.BASE_ORDER, *config.measures]
    names, problems, seen = [], [], {}
    for i, header in enumerate(headers):
        norm = str(header).strip().lower()
        norm = renames.get(norm, norm)
        if norm in known:
            if norm in seen:
                problems.append(Problem(str(path), 1, str(header), None,
                                        f"each column once; '{norm}' also appears as column "
                                        f"{seen[norm] + 1}"))
            seen[norm] = i
            names.append(norm)
            continue
        close = difflib.get_close_matches(norm, known, n=1, cutoff=0.8)
        if close and close[0] not in [str(h).strip().lower() for h in headers]:
            problems.append(Problem(str(path), 1, str(header), None,
                                    f"a known column name; did you mean '{close[0]}'?"))
        names.append(f"?{norm}")
    problems += _missing_columns(names, headers, path)
    if problems:
        raise DataError(problems)
    return names


def _missing_columns(names: list[str], headers: pd.Index, path: Path) -> list[Problem]:
    problems = []
    present = [str(h).strip() for h in headers]
    for required in C.REQUIRED:
        if required not in names:
            close = difflib.get_close_matches(required, [p.lower() for p in present], n=1,
                                              cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            problems.append(Problem(str(path), 1, None, None,
                                    f"a required column '{required}'{hint}"))
    if not any(key in names for key in C.SIGN_KEYS):
        problems.append(Problem(str(path), 1, None, None,
                                f"at least one sign column ({', '.join(C.SIGN_KEYS)})"))
    return problems
