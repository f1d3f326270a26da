"""Read a ratings file (CSV, Excel .xlsx or Parquet) into the contract's typed frame.

A database URL goes to workbook.data.sources.database, and an instrument export (SRS, ORS,
WAI-SR) is mapped onto the signs by workbook.data.sources.bridge; both then meet the same checks.

CSV takes a fast path (pyarrow, every column read as dictionary-encoded text, so validation
works on distinct values) and falls back to Python's csv module for files the fast path cannot
place exactly: ragged rows, line breaks inside quoted fields, text that is not UTF-8. The
fallback also gives each record the editor line it starts on, and reads on past bytes that are
not UTF-8 (each reported where it is), so that every problem of a file is found in one pass.
Excel sheets are read by workbook.data.excel; cells that hold no value (error cells, formulas
never calculated, Parquet lists) and quotes running over line ends are checked by
workbook.data.cells once the columns are known.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import re
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from workbook.data import columns as C
from workbook.data.cells import cell_text, check_line_breaks, check_marks
from workbook.data.config import Config
from workbook.data.errors import DataError, InputFileError, Problem
from workbook.data.excel import read_sheet
from workbook.data.sources.bridge import bridge_instruments
from workbook.data.sources.urls import is_database_url
from workbook.data.validate import MARK, REPORTED, check_rows

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
PARQUET_SUFFIXES = (".parquet", ".pq")
DELIMITERS = (",", ";", "\t")
BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
SNIFF_BYTES = 65536
LATIN1_HINT = "(the file looks like Latin-1 or Windows text: save it as 'CSV UTF-8')"


@dataclass(frozen=True)
class RawTable:
    """A file's cells as text, the editor line (or sheet row) of each row, and that unit; the
    problems found while reading (the rows were read on past them); how to place cells: the
    CSV delimiter, the sheet and each column's letter, the header's line (None: no header
    line, as in Parquet); `marks`: cells may hold marks (workbook.data.cells)."""

    frame: pd.DataFrame
    lines: np.ndarray
    unit: str
    problems: tuple[Problem, ...] = ()
    delimiter: str | None = None
    sheet: str | None = None
    letters: tuple[str, ...] = ()
    header_line: int | None = 1
    marks: bool = False


def load_ratings(source: str | Path, config: Config | None = None) -> pd.DataFrame:
    """Load and validate a ratings file or database URL; raise DataError listing every problem."""
    config = config or Config()
    if is_database_url(source):
        from workbook.data.sources.database import load_database

        return load_database(str(source), config)
    path = Path(source)
    _check_readable(path)
    return check_table(read_table(path, config), str(path), config)


def check_table(table: RawTable, where: str, config: Config) -> pd.DataFrame:
    """Map an instrument export onto the signs, match the header, check and type every row;
    every problem found (the reader's, the header's, the cells', the rows') in one DataError."""
    try:
        table = bridge_instruments(table, where, config)
    except DataError as exc:
        raise DataError([*table.problems, *exc.problems], exc.unlisted) from None
    names, header_problems = match_columns(table.frame.columns, where, config, table.header_line,
                                           table.unit)
    frame, cell_problems = _check_cells(table.frame.set_axis(names, axis=1), table, where, config)
    problems = [*table.problems, *header_problems, *cell_problems]
    letters = {n: letter for n, letter in zip(names, table.letters, strict=False)}
    try:
        ratings = check_rows(frame, config, file=where, lines=table.lines, unit=table.unit,
                             sheet=table.sheet, letters=letters, reported=bool(problems))
    except DataError as exc:
        raise DataError([*problems, *exc.problems], exc.unlisted) from None
    if problems:
        raise DataError(problems)
    ratings.attrs["source"] = where
    ratings.attrs["instruments"] = table.frame.attrs.get("instruments", ())
    ratings.attrs["given"] = tuple(n for n in names if not n.startswith("?"))
    return ratings


def _check_readable(path: Path) -> None:
    if path.is_dir():
        raise InputFileError(f"{path}: is a folder; expected a ratings file")
    if not path.is_file():
        raise InputFileError(f"{path}: data file not found")
    try:
        path.open("rb").close()
    except OSError as exc:
        raise InputFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _check_cells(frame: pd.DataFrame, table: RawTable, path: str | Path,
                 config: Config) -> tuple[pd.DataFrame, list[Problem]]:
    """Quoted values over line ends (CSV) and marked cells; keep the contract's columns."""
    problems: list[Problem] = []
    if table.delimiter is not None:
        frame, problems = check_line_breaks(frame, [str(h) for h in table.frame.columns],
                                            str(path), table.lines, table.delimiter,
                                            config.privacy.id_pattern)
    letters = dict(zip(frame.columns, table.letters, strict=False))
    frame = frame.loc[:, [n for n in frame.columns if not n.startswith("?")]]
    if table.marks:
        frame, marked = check_marks(frame, str(path), table.lines, table.unit,
                                    sheet=table.sheet, letters=letters)
        problems += marked
    return frame, problems


def read_table(path: Path, config: Config) -> RawTable:
    """Read the file as a table of raw text cells, each row located in the file."""
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return _read_csv(path)
    if suffix in EXCEL_SUFFIXES:
        sheet = read_sheet(path, config.sheet)
        return RawTable(sheet.frame, sheet.rows, "row", sheet=sheet.title,
                        letters=tuple(sheet.letters), header_line=sheet.header_row, marks=True)
    if suffix in PARQUET_SUFFIXES:
        frame = _read_parquet(path)
        return RawTable(frame, np.arange(len(frame)) + 1, "row", header_line=None, marks=True)
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
    if data.startswith(UTF16_BOMS):
        raise DataError([_file_problem(path, "UTF-8 text; this file is UTF-16 (Excel's "
                                             "'Unicode text'): save it as 'CSV UTF-8'")])
    body = data[len(BOM):] if data.startswith(BOM) else data
    if b"\x00" in body[:SNIFF_BYTES]:
        raise DataError([_file_problem(path, "a text table (CSV); this looks like a binary file")])
    if not body.strip():
        raise DataError([_file_problem(path, "a header line and rating rows; the file is empty")])
    header_line = re.split(rb"\r\n|\r|\n", body, maxsplit=1)[0].decode("utf-8", "replace")
    delimiter = _detect_delimiter(header_line, path)
    header = _header(body, header_line, delimiter, path)
    if _is_utf8(body[:SNIFF_BYTES], partial=len(body) > SNIFF_BYTES):
        table = _arrow_csv(body, header, delimiter)
        if table is not None and (not len(table.lines) or table.lines[-1] == _physical_lines(body)):
            return table
    return _python_csv(body, path, header, delimiter)


def _header(body: bytes, header_line: str, delimiter: str, path: Path) -> list[str]:
    """The column names on line 1; a quote there that runs past the line end is refused (it
    would make the rows below it part of a column name)."""
    sample = body[:SNIFF_BYTES].decode("utf-8", "replace")
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    with _no_field_limit():
        next(reader, None)
    if reader.line_num > 1:
        raise DataError([Problem(str(path), 1, None, header_line,
                                 "a header line of column names on one line; a quote opened "
                                 "on line 1 is not closed there")])
    return next(csv.reader([header_line], delimiter=delimiter))


def _is_utf8(data: bytes, partial: bool) -> bool:
    """Is this UTF-8 (a character cut at the end of a sample forgiven)?"""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return partial and exc.start >= len(data) - 4
    return True


_BAD_BYTES = threading.local()


def _note_bad_bytes(exc: UnicodeDecodeError) -> tuple[str, int]:
    _BAD_BYTES.found.append((exc.start, exc.object[exc.start:exc.end]))
    return "\ufffd", exc.end


codecs.register_error("workbook.note-bad-bytes", _note_bad_bytes)


def _decode_noting(body: bytes) -> tuple[str, dict[int, bytes]]:
    """Decode UTF-8, each byte that is not UTF-8 (or a NUL) read as U+FFFD; return the text
    and, for each line holding such bytes, the first of them."""
    _BAD_BYTES.found = []
    try:
        text = body.decode("utf-8", "workbook.note-bad-bytes")
        found = _BAD_BYTES.found
    finally:
        del _BAD_BYTES.found
    if "\x00" in text:
        found += [(m.start(), b"\x00") for m in re.finditer(rb"\x00", body)]
        text = text.replace("\x00", "\ufffd")
    if not found:
        return text, {}
    ends = np.array([m.end() for m in re.finditer(rb"\r\n|\r|\n", body)], dtype=np.int64)
    found.sort()
    where = np.searchsorted(ends, [offset for offset, _ in found], side="right") + 1
    lines: dict[int, bytes] = {}
    for (_, bad), line in zip(found, where.tolist(), strict=True):
        lines.setdefault(line, bad)
    return text, lines


def _bad_text(bad: bytes) -> str:
    if bad == b"\x00":
        return "text; a NUL byte (00) is not text (binary data?)"
    return f"UTF-8 text; byte {bad.hex(' ').upper()} is not UTF-8 {LATIN1_HINT}"


@contextmanager
def _no_field_limit():
    """Let the csv module read a field of any length (a quote left open swallows the rest of
    the file into one field, which must be read whole to be reported where it opened)."""
    saved = csv.field_size_limit()
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        yield
    finally:
        csv.field_size_limit(saved)


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
    if any(_odd_text(frame.iloc[:, i].cat.categories) for i in range(frame.shape[1])):
        return None  # NUL or MARK: the slow path reports them
    return RawTable(frame, _record_lines(frame), "line", delimiter=delimiter)


def _odd_text(values: pd.Index) -> bool:
    return any("\x00" in v or MARK in v for v in values)


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
    """Read with the csv module: every ragged row and every byte that is not UTF-8 is a problem
    (its cells are not checked again); each record keeps the line it starts on."""
    text, bad_lines = _decode_noting(body)
    reserved = MARK in text
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows, lines, problems = [], [], []
    with _no_field_limit():
        header = next(reader)
        if 1 in bad_lines:
            problems.append(Problem(str(path), 1, None, delimiter.join(header),
                                    "a header line in " + _bad_text(bad_lines[1])))
        width = len(header)
        last = reader.line_num
        try:
            for record in reader:
                start, last = last + 1, reader.line_num
                problems += _bad_fields(record, header, bad_lines, start, last, path)
                if reserved:
                    problems += _reserved_fields(record, header, start, path)
                if len(record) != width:
                    record = _fit(record, width, delimiter, start, path, problems)
                rows.append(record)
                lines.append(start)
        except csv.Error as exc:
            problems.append(Problem(str(path), last + 1, None, None,
                                    f"a well-formed CSV record ({exc})"))
    frame = pd.DataFrame(rows, columns=range(width), dtype=object).set_axis(header, axis=1)
    return RawTable(frame, np.asarray(lines, dtype=np.int64), "line", tuple(problems), delimiter)


def _bad_fields(record: list[str], header: list[str], bad_lines: dict[int, bytes], start: int,
                end: int, path: Path) -> list[Problem]:
    """A problem for each field holding bytes that are not UTF-8; the field is REPORTED unless
    it runs over several lines (a quote left open is then checked, and reported, too)."""
    here = [line for line in range(start, end + 1) if line in bad_lines] if bad_lines else []
    problems = []
    for i, value in enumerate(record if here else ()):
        if "\ufffd" in value:
            column = header[i] if i < len(header) else None
            problems.append(Problem(str(path), here[0], column, value,
                                    _bad_text(bad_lines[here[0]]), kind="text that is not UTF-8"))
            if "\n" not in value and "\r" not in value:
                record[i] = REPORTED
    return problems


def _reserved_fields(record: list[str], header: list[str], start: int,
                     path: Path) -> list[Problem]:
    """A problem for each field holding U+FDD0 (a noncharacter, which the package uses to mark
    cells); the field is REPORTED."""
    problems = []
    for i, value in enumerate(record):
        if MARK in value:
            problems.append(Problem(str(path), start, header[i] if i < len(header) else None,
                                    value.replace(MARK, "?"),
                                    "text without U+FDD0, a character reserved for programs' "
                                    "internal use"))
            record[i] = REPORTED
    return problems


def _fit(record: list[str], width: int, delimiter: str, start: int, path: Path,
         problems: list[Problem]) -> list[str]:
    """A short record padded with blanks; a long one with only blanks past the header's width
    cut; a long one with text there is a problem, and its cells are not checked again."""
    if len(record) > width and any(f.strip() for f in record[width:]):
        problems.append(Problem(str(path), start, None, delimiter.join(record),
                                f"{width} fields like the header line; found "
                                f"{len(record)} (a stray '{delimiter}' or quote?)",
                                kind="rows with more fields than the header"))
        return [REPORTED] * width
    return record[:width] + [""] * (width - len(record))


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several kinds on a non-Parquet file
        raise DataError([_file_problem(path, f"a readable Parquet file ({type(exc).__name__}: "
                                             f"{str(exc)[:80]})")]) from None
    try:
        frame = table.to_pandas()
    except (pa.ArrowException, ValueError, OverflowError):  # e.g. dates beyond 2262
        try:
            frame = table.to_pandas(timestamp_as_object=True, date_as_object=True)
        except (pa.ArrowException, ValueError, OverflowError, TypeError) as exc:
            raise DataError([_file_problem(path, "a Parquet table of plain values "
                                                 f"({type(exc).__name__}: {str(exc)[:80]})")]
                            ) from None
    if not isinstance(frame.index, pd.RangeIndex):  # columns pandas stored as the index
        frame = frame.reset_index()
    return _cells_to_text(frame, _nul_columns(table))


def _nul_columns(table: pa.Table) -> set[str]:
    """Text columns holding a NUL somewhere (pandas would hash such text only up to the NUL)."""
    import pyarrow.compute as pc

    found = set()
    for name, column in zip(table.column_names, table.columns, strict=True):
        kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind) or \
                pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            values = column.combine_chunks()
            if pa.types.is_dictionary(values.type):
                values = values.dictionary
            if len(values) and pc.any(pc.match_substring(values, "\x00")).as_py():
                found.add(name)
    return found


def _cells_to_text(frame: pd.DataFrame, slow: set[str] = frozenset()) -> pd.DataFrame:
    """Turn typed cells into the strings a CSV would hold (workbook.data.cells.cell_text);
    columns named in `slow` cell by cell, never through a hash of their text."""
    out = []
    for i in range(frame.shape[1]):
        col = frame.iloc[:, i]
        if pd.api.types.is_datetime64_any_dtype(col):
            text = col.dt.strftime("%Y-%m-%d")
        elif str(frame.columns[i]) in slow:
            text = col.map(cell_text)
        else:
            try:
                codes, uniques = pd.factorize(col)
            except TypeError:  # unhashable cells: lists, records
                text = col.map(cell_text)
            else:
                cells = np.array([cell_text(u) for u in uniques] + [""], dtype=object)
                text = pd.Series(cells[codes], index=col.index)
        out.append(text.fillna("").astype(object))
    names = [str(name) for name in frame.columns]
    return pd.DataFrame(dict(enumerate(out)), index=frame.index).set_axis(names, axis=1)


def map_columns(headers: pd.Index, path: str | Path, config: Config) -> list[str]:
    """Match headers to contract names; raise DataError on a header problem (match_columns)."""
    names, problems = match_columns(headers, path, config)
    if problems:
        raise DataError(problems)
    return names


def match_columns(headers: pd.Index, path: str | Path, config: Config, line: int | None = 1,
                  unit: str = "line") -> tuple[list[str], list[Problem]]:
    """Match headers to contract names (case-insensitive, trimmed, config renames); return the
    names and the header's problems (its `line`, in `unit`s; None when there is no header line).

    Unknown headers, and a repeated one, are kept as '?name' and dropped; a near-miss of a known
    name is a problem.
    """
    renames = {k.strip().lower(): v.strip().lower() for k, v in config.columns.items()}
    known = [*C.BASE_ORDER, *config.measures, *C.ALLIANCE_TOTALS]
    normed = [renames.get(str(h).strip().lower(), str(h).strip().lower()) for h in headers]
    names, problems, seen, suggested = [], [], {}, set()
    for i, (header, norm) in enumerate(zip(headers, normed, strict=True)):
        if norm in known:
            if norm in seen:
                problems.append(Problem(str(path), line, str(header), None,
                                        f"each column once; '{norm}' is also column "
                                        f"{seen[norm] + 1}", unit))
                names.append(f"?{norm}")
                continue
            seen[norm] = i
            names.append(norm)
            continue
        close = difflib.get_close_matches(norm, known, n=1, cutoff=0.8)
        if close and close[0] not in normed:
            suggested.add(close[0])
            problems.append(Problem(str(path), line, str(header), str(header).strip(),
                                    f"a known column name; did you mean '{close[0]}'?", unit))
        names.append(f"?{norm}")
    problems += _missing_columns(names, normed, path, suggested, line, unit)
    return names, problems


def _missing_columns(names: list[str], normed: list[str], path: str | Path,
                     suggested: set[str], line: int | None, unit: str) -> list[Problem]:
    where = "header line" if unit == "line" else "header row" if line else "columns"
    problems = []
    for required in C.REQUIRED:
        if required not in names and required not in suggested:
            close = difflib.get_close_matches(required, normed, n=1, cutoff=0.6)
            hint = (f"; did you mean '{close[0]}'?" if close else
                    "; or map your file's name for it under 'columns:' in the config")
            problems.append(Problem(str(path), line, None, None,
                                    f"a required column '{required}' in the {where}{hint}",
                                    unit))
    if not any(key in names for key in C.SIGN_KEYS):
        problems.append(Problem(str(path), line, None, None,
                                f"at least one sign column ({', '.join(C.SIGN_KEYS)})", unit))
    return problems
