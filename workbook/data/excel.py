"""Read one sheet of an Excel .xlsx workbook as text cells, each with its row and column letter.

Nothing is turned into a blank without a word: an error cell (#DIV/0!) and a formula whose result
was never stored (files written by scripts, or saved without calculating) come back as marks
(workbook.data.cells) that load_ratings reports with the sheet and cell; a formula with a stored
result reads as that result.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import openpyxl
import pandas as pd
from openpyxl.utils import get_column_letter

from workbook.data.cells import cell_text, mark
from workbook.data.errors import DataError, Problem

# A workbook that unpacks to more than this is refused before it is read (a zip bomb, or not
# a ratings file: a million rating rows take about 150 MB).
MAX_UNPACKED_BYTES = 2 << 30
_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s/>]")
_CELL_REF = re.compile(r"([A-Z]+)(\d+)")


@dataclass(frozen=True)
class Sheet:
    """A sheet's header row and the rows below it, as text; where each sits in the sheet
    (`rows`: each data row's number; `letters`: each column's letter)."""

    title: str
    header: list[str]
    header_row: int
    frame: pd.DataFrame
    rows: np.ndarray
    letters: list[str]


def read_sheet(path: Path, sheet: str | int | None) -> Sheet:
    """The chosen sheet (default: the first) of an .xlsx workbook, every cell as text."""
    _check_archive(path)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # openpyxl raises many kinds on a damaged workbook
        raise DataError([_problem(path, f"a readable Excel .xlsx workbook ({exc})")]) from None
    try:
        ws = _pick(book, sheet, path)
        formulas = _unstored_formulas(book, ws)
        grid = _grid(ws, path)
    finally:
        book.close()
    return _to_sheet(path, ws.title, grid, formulas)


def _problem(path: Path, expected: str, column: str | None = None,
             value: object = None) -> Problem:
    return Problem(str(path), None, column, value, expected)


def _check_archive(path: Path) -> None:
    if not zipfile.is_zipfile(path):
        raise DataError([_problem(path, "an Excel .xlsx workbook; this file is not one")])
    try:
        with zipfile.ZipFile(path) as archive:
            size = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DataError([_problem(path, f"a readable Excel .xlsx workbook ({exc})")]) from None
    if size > MAX_UNPACKED_BYTES:
        raise DataError([_problem(path, f"an Excel workbook of a ratings table; this one unpacks "
                                        f"to {size / 2**30:.1f} GB")])


def _pick(book: openpyxl.Workbook, sheet: str | int | None, path: Path):
    """The worksheet asked for, or a problem naming the sheets there are."""
    names = book.sheetnames
    wanted = 0 if sheet is None else sheet
    if isinstance(wanted, str) and wanted not in names:
        raise DataError([_problem(path, f"a sheet named one of {', '.join(map(repr, names))}",
                                  "sheet", wanted)])
    if isinstance(wanted, int) and not 0 <= wanted < len(names):
        raise DataError([_problem(path, f"a sheet index from 0 to {len(names) - 1}", "sheet",
                                  wanted)])
    ws = book[wanted] if isinstance(wanted, str) else book[names[wanted]]
    if not hasattr(ws, "iter_rows"):
        raise DataError([_problem(path, "a sheet holding a table; this one is a chart", "sheet",
                                  ws.title)])
    return ws


def _grid(ws, path: Path) -> list[list[str]]:
    """Every row of the sheet from row 1, each cell as text (error cells marked)."""
    ws.reset_dimensions()  # a stale <dimension> tag must not cut rows off
    grid = []
    try:
        for row in ws.iter_rows():
            grid.append([_text(cell) for cell in row])
    except Exception as exc:  # a damaged sheet part
        raise DataError([_problem(path, f"a readable sheet {ws.title!r} ({exc})")]) from None
    return grid


def _text(cell) -> str:
    value = cell.value
    if value is None:
        return ""
    if getattr(cell, "data_type", None) == "e":
        return mark("excel-error", str(value))
    return cell_text(value)


def _unstored_formulas(book, ws) -> dict[tuple[int, int], str]:
    """(row, column) -> formula, for each formula cell of the sheet with no stored result.

    openpyxl reads a formula's stored result and cannot tell a formula with none from an empty
    cell, so the sheet's XML is looked at (only when it holds a formula at all)."""
    part = getattr(ws, "_worksheet_path", None)
    archive = getattr(book, "_archive", None)
    if part is None or archive is None:
        return {}
    data = archive.read(part)
    if not _FORMULA_TAG.search(data):
        return {}
    found, row, col = {}, 0, 0
    for _, elem in ElementTree.iterparse(io.BytesIO(data)):
        tag = elem.tag.rsplit("}", 1)[-1]
        if tag == "row":
            elem.clear()
            continue
        if tag != "c":
            continue
        row, col = _place(elem.get("r"), row, col)
        formula = _child(elem, "f")
        if formula is not None and not _stored(elem):
            found[(row, col)] = "=" + (formula.text or "(a shared formula)")
        elem.clear()
    return found


def _place(ref: str | None, row: int, col: int) -> tuple[int, int]:
    """A cell's row and column from its reference, or the next column of the row when the
    reference is left out (the format allows that)."""
    match = _CELL_REF.fullmatch(ref or "")
    if not match:
        return max(row, 1), col + 1
    letters, number = match.groups()
    index = 0
    for ch in letters:
        index = index * 26 + ord(ch) - 64
    return int(number), index


def _child(elem, name: str):
    for child in elem:
        if child.tag.rsplit("}", 1)[-1] == name:
            return child
    return None


def _stored(elem) -> bool:
    """Has the formula cell a stored result? A text result may be empty (t="str")."""
    value = _child(elem, "v")
    if value is None:
        return False
    return bool(value.text) or elem.get("t") == "str"


def _to_sheet(path: Path, title: str, grid: list[list[str]],
              formulas: dict[tuple[int, int], str]) -> Sheet:
    """The first non-empty row is the header; the rows below it are data."""
    for (row, col), formula in formulas.items():
        if row <= len(grid):
            cells = grid[row - 1]
            cells.extend([""] * (col - len(cells)))
            if cells[col - 1] == "":
                cells[col - 1] = mark("formula", formula)
    start = next((i for i, cells in enumerate(grid) if any(c != "" for c in cells)), None)
    if start is None:
        raise DataError([_problem(path, f"a header row and rating rows; sheet {title!r} is "
                                        "empty")])
    header = list(grid[start])
    while header and header[-1] == "":
        header.pop()
    width = max(len(header), max(len(cells) for cells in grid[start:]))
    header += [f"(column {get_column_letter(i + 1)})" for i in range(len(header), width)]
    body = [cells + [""] * (width - len(cells)) for cells in grid[start + 1:]]
    frame = pd.DataFrame(body, columns=range(width), dtype=object).set_axis(header, axis=1)
    letters = [get_column_letter(i + 1) for i in range(width)]
    return Sheet(title, header, start + 1, frame, np.arange(len(body)) + start + 2, letters)
