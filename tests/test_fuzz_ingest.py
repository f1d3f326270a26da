"""Fuzzing load_ratings (issue 13): hypothesis-made CSV, Excel and Parquet files, valid ones
broken at random. Whatever the bytes, reading them (as `workbook validate` does) either gives
the typed frame or raises one of the package's own errors (never another exception, which the
CLI would turn into exit 70), and never drops a row silently.

The oracle for dropped rows is independent of the readers: every physical line of a CSV that,
read on its own, is exactly one of the rows the test wrote must be in the frame (so an unclosed
quote that swallows rows is caught), and the frame holds as many rows as the file has records.
For Excel and Parquet every row written must come back. Examples: CSV_EXAMPLES + XLSX_EXAMPLES +
PARQUET_EXAMPLES inputs per run, derandomized so CI sees the same inputs every time.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
import warnings
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.utils.exceptions import IllegalCharacterError

from workbook.data.errors import WorkbookError
from workbook.data.ingest import load_ratings
from workbook.data.inspection import describe_ratings, format_description

CSV_EXAMPLES = 400
XLSX_EXAMPLES = 60
PARQUET_EXAMPLES = 150
FUZZ = settings(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
COLUMNS = ["client_id", "therapist_id", "session_date", "rater", "trust_safety", "phq9", "note"]
RATERS = ["client", "therapist"]

codes = st.text("ABCXYZ0123456789_.-", min_size=1, max_size=6)
days = st.dates(date(2020, 1, 1), date(2025, 12, 31))
notes = st.one_of(st.just(""), st.text(st.characters(blacklist_categories=["Cs"],
                                                     blacklist_characters="\x00\ufdd0"),
                                       max_size=20))
rows = st.lists(st.tuples(codes, codes, days, st.sampled_from(RATERS),
                          st.one_of(st.just(""), st.integers(0, 10).map(str)),
                          st.one_of(st.just(""), st.integers(0, 27).map(str)), notes),
                min_size=1, max_size=25,
                unique_by=lambda r: (r[0], r[2], r[3]))
NASTY = [b'"', b",", b";", b"\t", b"\n", b"\r", b"\r\n", b"\x00", b"\xe9", b"\xff", b"\xef\xbb\xbf",
         b" ", b"=", b"'", b'""', b"\xc3", b"\xef\xb7\x90"]  # the last is U+FDD0
# An edit: at a share of the way through the file, insert, delete or replace bytes; or put a
# quote at the start of the field nearest that point (where CSV quoting begins), the edit
# that makes a field swallow the lines after it.
mutations = st.lists(st.tuples(st.floats(0, 1),
                               st.sampled_from(["insert", "delete", "replace", "open-quote",
                                                "open-quote"]),
                               st.one_of(st.sampled_from(NASTY), st.binary(min_size=1,
                                                                           max_size=3))),
                     max_size=3)


def read_like_validate(path: Path):
    """What `workbook validate` does with a file: the frame and its summary, or None when the
    file was refused with one of the package's errors. Anything else fails the test."""
    try:
        ratings = load_ratings(path)
    except WorkbookError:
        return None
    format_description(describe_ratings(ratings), str(path))
    return ratings


def to_csv(table: list[tuple], delimiter: str, newline: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
    writer.writerow(COLUMNS)
    for row in table:
        writer.writerow([*row[:2], row[2].isoformat(), *row[3:]])
    return out.getvalue().encode("utf-8")


def mutate(data: bytes, edits: list[tuple], delimiter: bytes = b",") -> bytes:
    for where, how, piece in edits:
        i = int(where * len(data))
        if how == "open-quote":
            starts = [m.end() for m in re.finditer(re.escape(delimiter) + rb"|\n", data)]
            i = min(starts, key=lambda s: abs(s - i), default=0)
            data = data[:i] + b'"' + data[i:]
        elif how == "insert":
            data = data[:i] + piece + data[i:]
        elif how == "delete":
            data = data[:i] + data[i + len(piece):]
        else:
            data = data[:i] + piece + data[i + len(piece):]
    return data


def rows_standing_alone(data: bytes, table: list[tuple], delimiter: str) -> set[tuple]:
    """Keys of the written rows that some physical line of the file still is, exactly."""
    wanted = {(r[0], r[1], r[2].isoformat(), r[3], r[4], r[5], r[6]): (r[0], r[2], r[3])
              for r in table if "\n" not in r[6] and "\r" not in r[6]}
    found = set()
    for line in data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"):
        try:
            fields = next(csv.reader([line.decode("utf-8")], delimiter=delimiter), [])
        except (UnicodeDecodeError, csv.Error):
            continue
        key = wanted.get(tuple(fields))
        if key is not None:
            found.add(key)
    return found


def file_records(data: bytes) -> int:
    """Records of the file by Python's csv module, blank ones left out (the header too)."""
    text = data.decode("utf-8-sig")
    delimiter = max(",;\t", key=text.split("\n", 1)[0].count)
    parsed = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    return sum(any(f.strip() for f in row) for row in parsed[1:])


@settings(FUZZ, max_examples=CSV_EXAMPLES)
@given(table=rows, delimiter=st.sampled_from([",", ";", "\t"]),
       newline=st.sampled_from(["\n", "\r\n"]), bom=st.booleans(), edits=mutations)
def test_fuzzed_csv_never_crashes_and_never_drops_a_row(table, delimiter, newline, bom, edits):
    data = mutate((b"\xef\xbb\xbf" if bom else b"") + to_csv(table, delimiter, newline), edits,
                  delimiter.encode())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ratings.csv"
        path.write_bytes(data)
        ratings = read_like_validate(path)
    if ratings is None:
        return
    loaded = set(zip(ratings["client_id"], ratings["session_date"].dt.strftime("%Y-%m-%d"),
                     ratings["rater"], strict=True))
    standing = {(c, d.isoformat(), r) for c, d, r in rows_standing_alone(data, table, delimiter)}
    assert standing <= loaded, f"rows dropped silently: {sorted(standing - loaded)}"
    assert len(ratings) == file_records(data)
    if not edits:
        assert len(ratings) == len(table)


excel_cells = st.one_of(
    st.none(), codes, st.integers(-5, 30), st.floats(-1e6, 1e6, allow_nan=False),
    st.booleans(), st.datetimes(datetime(1990, 1, 1), datetime(2025, 12, 31)),
    st.sampled_from(["=1/0", "=A1", '=IF(1,"","")', "#DIV/0!", "", " ", "Jane Doe"]),
    st.text(max_size=8))


@settings(FUZZ, max_examples=XLSX_EXAMPLES)
@given(table=rows, odd=st.lists(st.tuples(st.integers(0, 24), st.integers(0, 6), excel_cells),
                                max_size=4),
       formulas=st.lists(st.tuples(st.integers(0, 24), st.integers(0, 6),
                                   st.sampled_from(["=1/0", "=A1", '=IF(1,"","")', "=2+3"])),
                         max_size=2),
       corrupt=st.one_of(st.none(), st.tuples(st.floats(0, 1), st.binary(min_size=1,
                                                                          max_size=4))))
def test_fuzzed_xlsx_never_crashes_and_never_drops_a_row(table, odd, formulas, corrupt):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(COLUMNS)
    try:
        for row in table:
            sheet.append([row[0], row[1], datetime.combine(row[2], datetime.min.time()), row[3],
                          int(row[4]) if row[4] else None, int(row[5]) if row[5] else None,
                          row[6] or None])
        for r, c, value in [*odd, *formulas]:  # any row of the table
            sheet.cell(row=r % len(table) + 2, column=c + 1, value=value)
    except IllegalCharacterError:  # control characters: Excel files cannot hold them
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ratings.xlsx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                book.save(path)
            except (ValueError, TypeError):  # openpyxl refuses some cells (control characters)
                return
        if corrupt is not None:
            data = path.read_bytes()
            data = mutate(data, [(corrupt[0], "replace", corrupt[1])])
            path.write_bytes(data)
        ratings = read_like_validate(path)
        placed = [v for _, _, v in [*odd, *formulas] if isinstance(v, str) and v.startswith("=")]
    if ratings is None:
        return
    assert corrupt is not None or not placed, "a formula with no stored value was accepted"
    if corrupt is None:
        assert len(ratings) == len(table)


def parquet_column(kind: str, n: int) -> st.SearchStrategy:
    values = {
        "text": st.text(max_size=6),
        "nasty": st.sampled_from(["C1", "C1\x00x", "\ufdd0x", "", "é", "1e400", "nan"]),
        "int": st.integers(-2**40, 2**40),
        "float": st.floats(allow_nan=True, allow_infinity=True),
        "bool": st.booleans(),
        "date": st.dates(date(1, 1, 1), date(9999, 12, 31)),
        "timestamp": st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31)),
        "list": st.lists(st.integers(0, 10), max_size=3),
        "struct": st.fixed_dictionaries({"a": st.integers(0, 3)}),
        "binary": st.binary(max_size=4),
        "decimal": st.decimals(-100, 100, places=2, allow_nan=False),
        "duration": st.timedeltas(timedelta(0), timedelta(days=3)),
    }[kind]
    return st.lists(st.one_of(st.none(), values), min_size=n, max_size=n)


@st.composite
def parquet_tables(draw):
    n = draw(st.integers(1, 12))
    columns = {"client_id": pa.array([f"C{i}" for i in range(n)])}
    for name in COLUMNS[1:] + ["extra"]:
        kind = draw(st.sampled_from(["good", "text", "nasty", "int", "float", "bool", "date",
                                     "timestamp", "list", "struct", "binary", "decimal",
                                     "duration", "absent"]))
        if kind == "absent":
            continue
        if kind == "good":
            good = {"therapist_id": "T1", "session_date": "2025-01-02", "rater": "client",
                    "trust_safety": "7", "phq9": "12", "note": "ok", "extra": "x"}[name]
            columns[name] = pa.array([good] * n)
            continue
        cells = draw(parquet_column(kind, n))
        if kind == "decimal":
            cells = [None if c is None else Decimal(c) for c in cells]
        try:
            columns[name] = pa.array(cells)
        except (pa.ArrowException, OverflowError, TypeError, ValueError):
            continue
    return n, pa.table(columns)


@settings(FUZZ, max_examples=PARQUET_EXAMPLES)
@given(drawn=parquet_tables(), corrupt=st.one_of(st.none(), st.tuples(
    st.floats(0, 1), st.binary(min_size=1, max_size=4))))
def test_fuzzed_parquet_never_crashes_and_never_drops_a_row(drawn, corrupt):
    n, table = drawn
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ratings.parquet"
        pq.write_table(table, path)
        if corrupt is not None:
            path.write_bytes(mutate(path.read_bytes(), [(corrupt[0], "replace", corrupt[1])]))
        ratings = read_like_validate(path)
    if ratings is not None:
        assert len(ratings) == n  # client_id is never blank: no row may go
