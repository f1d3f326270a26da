"""Read a ratings file (CSV, Excel .xlsx or Parquet) into the contract's typed frame.

A database URL goes to workbook.data.sources.database, and an instrument export (SRS, ORS,
WAI-SR) is mapped onto the signs by workbook.data.sources.bridge; both then meet the same checks.

CSV takes a fast path (pyarrow, every column read as dictionary-encoded text, so validation
works on distinct values) and falls back to Python's csv module for files the fast path cannot
place exactly: ragged rows, line breaks inside quoted fields, text that is not UTF-8. The
fallback also gives each record the editor line it starts on.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from workbook.data import columns as C
from workbook.data.config import Config
from workbook.data.errors import DataError, InputFileError, Problem
from workbook.data.sources.bridge import bridge_instruments
from workbook.data.sources.urls import is_database_url
from workbook.data.validate import check_rows

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
PARQUET_SUFFIXES = (".parquet", ".pq")
DELIMITERS = (",", ";", "\t")
BOM = b"\xef\xbb\xbf"
SNIFF_BYTES = 65536


@dataclass(frozen=True)
class RawTable:
    """A file's cells as text, the editor line (or sheet row) of each row, and that unit."""

    frame: pd.DataFrame
    lines: np.ndarray
    unit: str


def load_ratings(source: str | Path, config: Config | None = None) -> pd.DataFrame:
    """Load and validate a ratings file or database URL; raise DataError listing every problem."""
    config = config or Config()
    if is_database_url(source):
        from workbook.data.sources.database import load_database

        return load_database(str(source), config)
    path = Path(source)
    if not path.is_file():
        raise InputFileError(f"{path}: data file not found")
    return check_table(read_table(path, config), str(path), config)


def check_table(table: RawTable, where: str, config: Config) -> pd.DataFrame:
    """Map an instrument export onto the signs, match the header, check and type every row."""
    table = bridge_instruments(table, where, config)
    names = map_columns(table.frame.columns, where, config)
    frame = table.frame.set_axis(names, axis=1)
    frame = frame.loc[:, [n for n in names if not n.startswith("?")]]
    ratings = check_rows(frame, config, file=where, lines=table.lines, unit=table.unit)
    ratings.attrs["source"] = where
    ratings.attrs["instruments"] = table.frame.attrs.get("instruments", ())
    ratings.attrs["given"] = tuple(n for n in names if not n.startswith("?"))
    return ratings


def read_table(path: Path, config: Config) -> RawTable:
    """Read the file as a table of raw text cells, each row located in the file."""
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return _read_csv(path)
    if suffix in EXCEL_SUFFIXES:
        frame = _read_excel(path, config.sheet)
        return RawTable(frame, np.arange(len(frame)) + 2, "row")
    if suffix in PARQUET_SUFFIXES:
        frame = _read_parquet(path)
        return RawTable(frame, np.arange(len(frame)) + 1, "row")
    expected = "a .csv, .tsv, .xlsx or .parquet file"
    raise DataError([_file_problem(path, expected, suffix or path.name)])


def _file_problem(path: Path, expected: str, value: object = None) -> Problem:
    return Problem(str(path), None, None, value, expected)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _read_csv(path: Path) -> RawTable:
    """Sniff the file, then read it on the fast path or, when that cannot be exact, slowly."""
    data = _read_bytes(path)
    body = data[len(BOM):] if data.startswith(BOM) else data
    if b"\x00" in body[:SNIFF_BYTES]:
        raise DataError([_file_problem(path, "a text table (CSV); this looks like a binary file")])
    if not body.strip():
        raise DataError([_file_problem(path, "a header line and rating rows; the file is empty")])
    header_line = _decode(re.split(rb"\r\n|\r|\n", body, maxsplit=1)[0], path)
    delimiter = _detect_delimiter(header_line, path)
    header = next(csv.reader([header_line], delimiter=delimiter))
    _decode(body[:SNIFF_BYTES], path, (header, delimiter), partial=len(body) > SNIFF_BYTES)
    table = _arrow_csv(body, header, delimiter)
    if table is not None and (not len(table.lines) or table.lines[-1] == _physical_lines(body)):
        return table
    return _python_csv(body, path, header, delimiter)


def _decode(data: bytes, path: Path, fields: tuple[list[str], str] | None = None,
            partial: bool = False) -> str:
    """Decode UTF-8, or raise a problem naming the line, column and field that are not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if partial and exc.start >= len(data) - 4:  # a character cut at the sample's end
            return data[: exc.start].decode("utf-8")
        line = data.count(b"\n", 0, exc.start) + 1
        start = data.rfind(b"\n", 0, exc.start) + 1
        column, value = _field_at(data[start:], exc.start - start, fields)
        bad = data[exc.start: exc.end].hex(" ").upper()
        raise DataError([Problem(str(path), line, column, value,
                                 f"UTF-8 text; byte {bad} is not UTF-8 (the file looks like "
                                 "Latin-1 or Windows text: save it as 'CSV UTF-8')")]) from None


def _field_at(line: bytes, offset: int,
              fields: tuple[list[str], str] | None) -> tuple[str | None, str]:
    """The header name and text (bad bytes replaced) of the field holding byte `offset`."""
    end = line.find(b"\n")
    line = line[: end if end >= 0 else len(line)].rstrip(b"\r")
    if fields is None:
        return None, line.decode("utf-8", "replace")
    header, delimiter = fields
    sep = delimiter.encode()
    index = line.count(sep, 0, offset)
    value = line.split(sep)[index].decode("utf-8", "replace").strip('"')
    return (header[index] if index < len(header) else None), value


def _detect_delimiter(header: str, path: Path) -> str:
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        raise DataError([Problem(str(path), 1, None, header,
                                 "a header line of column names separated by commas, "
                                 "semicolons or tabs; this is not a table")])
    return best


def _physical_lines(body: bytes) -> int:
    return body.count(b"\n") + (0 if body.endswith(b"\n") else 1)


def _arrow_csv(body: bytes, header: list[str], delimiter: str) -> RawTable | None:
    """Every column as dictionary-encoded text (blank lines kept as blank rows), or None."""
    names = [f"c{i}" for i in range(len(header))]
    text = pa.dictionary(pa.int32(), pa.string())
    try:
        table = pacsv.read_csv(
            pa.py_buffer(body),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, ignore_empty_lines=False,
                                             newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, text), null_values=[],
                strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    frame = table.unify_dictionaries().to_pandas().set_axis(header, axis=1)
    return RawTable(frame, _record_lines(frame), "line")


def _record_lines(frame: pd.DataFrame) -> np.ndarray:
    """The line each record starts on, counting line breaks inside quoted values."""
    extra = np.zeros(len(frame), dtype=np.int64)
    for i in range(frame.shape[1]):
        col = frame.iloc[:, i]
        breaks = np.array([v.count("\n") for v in col.cat.categories], dtype=np.int64)
        if breaks.any():
            extra += breaks[col.cat.codes.to_numpy()]
    return np.arange(len(frame)) + 2 + np.cumsum(extra) - extra


def _python_csv(body: bytes, path: Path, header: list[str], delimiter: str) -> RawTable:
    """Read with the csv module: every ragged row is a problem; each record keeps its line."""
    text = _decode(body, path, (header, delimiter))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader)
    width = len(header)
    rows, lines, problems = [], [], []
    last = reader.line_num
    try:
        for record in reader:
            start, last = last + 1, reader.line_num
            if len(record) != width:
                if len(record) > width and any(f.strip() for f in record[width:]):
                    problems.append(Problem(str(path), start, None, delimiter.join(record),
                                            f"{width} fields like the header line; found "
                                            f"{len(record)} (a stray '{delimiter}' or quote?)"))
                record = record[:width] + [""] * (width - len(record))
            rows.append(record)
            lines.append(start)
    except csv.Error as exc:
        problems.append(Problem(str(path), last + 1, None, None,
                                f"a well-formed CSV record ({exc})"))
    if problems:
        raise DataError(problems)
    frame = pd.DataFrame(rows, columns=range(width), dtype=object).set_axis(header, axis=1)
    return RawTable(frame, np.asarray(lines, dtype=np.int64), "line")


def _read_excel(path: Path, sheet: str | int | None) -> pd.DataFrame:
    if not zipfile.is_zipfile(path):
        raise DataError([_file_problem(path, "an Excel .xlsx workbook; this file is not one")])
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except Exception as exc:  # openpyxl raises many kinds on a damaged workbook
        raise DataError([_file_problem(path, f"a readable Excel .xlsx workbook ({exc})")]) from None
    with book:
        wanted = 0 if sheet is None else sheet
        names = book.sheet_names
        if isinstance(wanted, str) and wanted not in names:
            raise DataError([Problem(str(path), None, "sheet", wanted,
                                     f"a sheet named one of {', '.join(map(repr, names))}")])
        if isinstance(wanted, int) and not 0 <= wanted < len(names):
            raise DataError([Problem(str(path), None, "sheet", wanted,
                                     f"a sheet index from 0 to {len(names) - 1}")])
        frame = book.parse(wanted, dtype=object, keep_default_na=False, na_values=[])
    if frame.columns.empty:
        raise DataError([_file_problem(path, f"a header row and rating rows; sheet {wanted!r} "
                                             "is empty")])
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
            codes, uniques = pd.factorize(col)
            text = pd.Series(np.array([_cell_text(u) for u in uniques] + [""], dtype=object)[codes],
                             index=col.index)
        out[str(name)] = text.fillna("").astype(object)
    return pd.DataFrame(out, index=frame.index)


def _cell_text(value: object) -> str:
    """A cell as text: dates (with or without a time) as YYYY-MM-DD, whole floats unpointed."""
    if isinstance(value, str):
        return value
    if hasattr(value, "isoformat") and hasattr(value, "year"):
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def map_columns(headers: pd.Index, path: str | Path, config: Config) -> list[str]:
    """Match headers to contract names (case-insensitive, trimmed, config renames).

    Unknown headers are kept as '?name' and dropped; a near-miss of a known name is a problem.
    """
    renames = {k.strip().lower(): v.strip().lower() for k, v in config.columns.items()}
    known = [*C.BASE_ORDER, *config.measures, *C.ALLIANCE_TOTALS]
    normed = [renames.get(str(h).strip().lower(), str(h).strip().lower()) for h in headers]
    names, problems, seen, suggested = [], [], {}, set()
    for i, (header, norm) in enumerate(zip(headers, normed, strict=True)):
        if norm in known:
            if norm in seen:
                problems.append(Problem(str(path), 1, str(header), None,
                                        f"each column once; '{norm}' is also column "
                                        f"{seen[norm] + 1}"))
            seen[norm] = i
            names.append(norm)
            continue
        close = difflib.get_close_matches(norm, known, n=1, cutoff=0.8)
        if close and close[0] not in normed:
            suggested.add(close[0])
            problems.append(Problem(str(path), 1, str(header), str(header).strip(),
                                    f"a known column name; did you mean '{close[0]}'?"))
        names.append(f"?{norm}")
    problems += _missing_columns(names, normed, path, suggested)
    if problems:
        raise DataError(problems)
    return names


def _missing_columns(names: list[str], normed: list[str], path: str | Path,
                     suggested: set[str]) -> list[Problem]:
    problems = []
    for required in C.REQUIRED:
        if required not in names and required not in suggested:
            close = difflib.get_close_matches(required, normed, n=1, cutoff=0.6)
            hint = (f"; did you mean '{close[0]}'?" if close else
                    "; or map your file's name for it under 'columns:' in the config")
            problems.append(Problem(str(path), 1, None, None,
                                    f"a required column '{required}' in the header line{hint}"))
    if not any(key in names for key in C.SIGN_KEYS):
        problems.append(Problem(str(path), 1, None, None,
                                f"at least one sign column ({', '.join(C.SIGN_KEYS)})"))
    return problems
