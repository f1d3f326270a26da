"""What a cell holds, checked once the columns are known.

Readers of typed files (Excel, Parquet) turn each cell into the text a CSV would hold
(`cell_text`); what has no such text (an Excel error, a formula with no stored result, a list, a
NUL character, bytes that are not text) becomes a *mark* that `check_marks` reports for the
contract's columns. For CSV, `check_line_breaks` finds quoted values running over line ends: a
note may hold a line break, but a value that swallowed lines shaped like rating rows is an
unclosed quote that would drop (and leak into a note) the rows after it.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from workbook.data import columns as C
from workbook.data.errors import Problem
from workbook.data.validate import MARK, REPORTED

_DATE_LIKE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")

# mark kind -> (kind of problem, what was found; {} is the cell's content)
MARKS = {
    "excel-error": ("Excel error cells", "the Excel error {} where a value is expected: correct "
                                         "the formula or clear the cell"),
    "formula": ("formulas with no stored result",
                "the formula {} with no stored result (the file was saved without calculating "
                "it): open and save it in Excel or LibreOffice, or paste the values"),
    "nested": ("cells holding a list or a record", "{} where one value per cell is expected"),
    "nul": ("text with NUL characters", "text holding a NUL character (binary data?): {}"),
    "binary": ("bytes that are not text", "bytes that are not UTF-8 text: {}"),
    "reserved": ("text with a character reserved for programs (U+FDD0)",
                 "text holding U+FDD0, a character reserved for programs' internal use: {}"),
}


def mark(kind: str, content: str) -> str:
    """A cell that cannot be read as a value, for `check_marks` to report."""
    return f"{MARK}{kind}{MARK}{content[:60].replace(MARK, '?')}"


def cell_text(value: object) -> str:
    """A typed cell as the text a CSV would hold: dates (with or without a time) as YYYY-MM-DD,
    whole floats unpointed, blanks as ''; lists, NULs and undecodable bytes as marks."""
    if isinstance(value, str):
        if "\x00" in value:
            return mark("nul", value.replace("\x00", "\\0"))
        return mark("reserved", value.replace(MARK, "?")) if MARK in value else value
    if value is None or value is pd.NaT:
        return ""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, bytes | bytearray | memoryview):
        try:
            return cell_text(bytes(value).decode("utf-8"))
        except UnicodeDecodeError:
            return mark("binary", repr(bytes(value)))
    if isinstance(value, np.datetime64):
        return "" if np.isnat(value) else str(np.datetime_as_string(value, unit="D"))
    if isinstance(value, dt.date):  # datetime and pd.Timestamp too
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return ""
        return str(int(value)) if float(value).is_integer() else str(float(value))
    if isinstance(value, list | tuple | dict | set | np.ndarray):
        return mark("nested", _short(value))
    return str(value)


def _short(value: object) -> str:
    text = repr(value.tolist() if isinstance(value, np.ndarray) else value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_marks(frame: pd.DataFrame, file: str, lines: np.ndarray, unit: str, *,
                sheet: str | None = None, letters: dict[str, str] | None = None
                ) -> tuple[pd.DataFrame, list[Problem]]:
    """Report every marked cell of the contract's columns; those cells become REPORTED."""
    problems: list[Problem] = []
    out = {}
    for name in frame.columns:
        col = frame[name]
        codes, uniq = pd.factorize(col)
        is_mark = np.array([isinstance(v, str) and v.startswith(MARK) and v != REPORTED
                            for v in uniq] + [False], dtype=bool)
        marked = is_mark[codes]
        for pos in np.flatnonzero(marked):
            kind, content = col.iloc[pos][1:].split(MARK, 1)
            group, found = MARKS[kind]
            line = int(lines[pos])
            letter = (letters or {}).get(name)
            problems.append(Problem(file, line, name, None, found.format(content), unit,
                                    kind=group, sheet=sheet,
                                    cell=f"{letter}{line}" if letter else None))
        out[name] = col.where(~marked, REPORTED) if marked.any() else col
    return pd.DataFrame(out, index=frame.index), problems


def check_line_breaks(frame: pd.DataFrame, headers: Sequence[str], file: str,
                      lines: np.ndarray, delimiter: str, id_pattern: str
                      ) -> tuple[pd.DataFrame, list[Problem]]:
    """Quoted CSV values that run over line ends, in `frame` (every column of the file, in its
    order, named by the contract or '?name'). A note (or a column we do not read) may hold line
    breaks unless a line in it is shaped like a rating row; a contract value may hold none.
    Reported cells become REPORTED."""
    names = list(frame.columns)
    breaks = {i: _break_counts(frame.iloc[:, i]) for i in range(len(names))}
    multi = [i for i, counts in breaks.items() if counts is not None]
    if not multi:
        return frame, []
    none = np.zeros(len(frame), dtype=np.int64)
    breaks = {i: none if counts is None else counts for i, counts in breaks.items()}
    shaped = _record_shape(names, delimiter, re.compile(id_pattern))
    problems, frame = [], frame.copy()
    for i in multi:
        rows = np.flatnonzero(breaks[i])
        before = sum((breaks[j][rows] for j in range(i)), np.zeros(len(rows), dtype=np.int64))
        for pos, offset in zip(rows, before, strict=True):
            value = frame.iat[pos, i]
            opened = int(lines[pos]) + int(offset)
            parts = _LINE_BREAK.split(value)
            swallowed = sum(shaped(part) for part in parts[1:])
            free_text = names[i] == "note" or names[i].startswith("?")
            if free_text and not swallowed:
                continue
            problems.append(_quote_problem(file, headers[i], parts, opened, swallowed,
                                           free_text))
            _set_reported(frame, pos, i)
    return frame, problems


def _set_reported(frame: pd.DataFrame, pos: int, i: int) -> None:
    col = frame.iloc[:, i]
    if isinstance(col.dtype, pd.CategoricalDtype) and REPORTED not in col.cat.categories:
        frame.isetitem(i, col.cat.add_categories([REPORTED]))
    frame.iat[pos, i] = REPORTED


def _break_counts(col: pd.Series) -> np.ndarray | None:
    """Line breaks in each cell of a column (categorical or plain text); None when no cell
    holds one."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        counts = np.array([len(_LINE_BREAK.findall(v)) for v in col.cat.categories] + [0],
                          dtype=np.int64)
        return counts[col.cat.codes.to_numpy()] if counts.any() else None
    counts = col.map(lambda v: len(_LINE_BREAK.findall(v)) if isinstance(v, str) else 0) \
        .to_numpy(dtype=np.int64)
    return counts if counts.any() else None


def _record_shape(names: list[str], delimiter: str, pattern: re.Pattern):
    """A test: is this line shaped like a rating row of this file (its ID and date fields in
    their columns look like IDs and a date)?"""
    where = {name: i for i, name in enumerate(names) if name in C.REQUIRED}

    def shaped(text: str) -> bool:
        fields = next(csv.reader([text], delimiter=delimiter), [])
        if not where:
            return len(fields) >= max(len(names) - 1, 3)
        for name, i in where.items():
            value = fields[i].strip() if i < len(fields) else ""
            ok = _DATE_LIKE.fullmatch(value) if name == "session_date" else \
                pattern.fullmatch(value)
            if not ok:
                return False
        return True

    return shaped


def _quote_problem(file: str, header: str, parts: list[str], opened: int, swallowed: int,
                   free_text: bool) -> Problem:
    closed = opened + len(parts) - 1
    span = f"the quote opened on line {opened} is not closed until line {closed}"
    if swallowed:
        rows = (f"{swallowed} lines shaped like rating rows were" if swallowed != 1 else
                "1 line shaped like a rating row was")
        expected = (f"a quote closed before the next rating row: {span}, so {rows} read as "
                    f"part of this value (close the quote on line {opened})")
        kind = "quotes that swallow rating rows"
    else:
        expected = f"a value on one line: {span} (a stray quote?)"
        kind = "quoted values running over several lines"
    value = parts[0] if free_text else "\n".join(parts[:2])
    return Problem(file, opened, header, value, expected, kind=kind)
