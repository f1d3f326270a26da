"""The Excel capture sheet (`workbook template`): the data contract's columns, ready to fill in.

The first sheet, Ratings, has the contract's column names, data validation (each sign on the
configured scale, drop-downs for rater and attendance, date cells, the ID pattern, measure
ranges) and date-formatted date cells; the second, Instructions, says how to fill it in. Filled
in, it loads with `load_ratings` as it is (the first sheet is the one read).
"""

from __future__ import annotations

import io
from pathlib import Path

from workbook.data import columns as C
from workbook.data.config import DEFAULT_ID_PATTERN, Config
from workbook.data.files import write_atomic
from workbook.data.signs import SIGNS

ROWS = 5000  # rows the validation covers
ID_CHARACTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"


def template_columns(config: Config) -> list[str]:
    """The sheet's columns: who, when and who rated first, then the signs, then the rest."""
    return ["client_id", "therapist_id", "session_date", "rater", "attendance",
            *(s.key for s in SIGNS), "session_number", "supervisor_id", "site",
            *config.all_measures(), *C.ALLIANCE_TOTALS, "note"]


def write_template(path: str | Path, config: Config | None = None) -> Path:
    """Write the capture workbook to `path` (atomically: a temp file, then a rename; a full
    disk or a folder that cannot be written is the package's own error, nothing half-written)."""
    from openpyxl import Workbook

    config = config or Config()
    book = Workbook()
    sheet = book.active
    sheet.title = "Ratings"
    names = template_columns(config)
    sheet.append(names)
    _style_header(sheet, names)
    for index, name in enumerate(names, 1):
        _validate(sheet, index, name, config)
    _instructions(book.create_sheet("Instructions"), config)
    buffer = io.BytesIO()
    book.save(buffer)
    return write_atomic(path, buffer.getvalue())


def _style_header(sheet, names: list[str]) -> None:
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    for index, name in enumerate(names, 1):
        sheet.cell(row=1, column=index).font = Font(bold=True)
        width = 30 if name == "note" else max(10, len(name) + 2)
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"


def _validate(sheet, index: int, name: str, config: Config) -> None:
    """Data validation (and the date format) of one column's cells."""
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    letter = get_column_letter(index)
    rule = _rule(name, f"{letter}2", config)
    if rule is None:
        return
    kind, options, message = rule
    check = DataValidation(type=kind, allow_blank=name not in C.REQUIRED, showErrorMessage=True,
                           showInputMessage=True, errorTitle=name, error=message,
                           promptTitle=name, prompt=message[:255], **options)
    check.add(f"{letter}2:{letter}{ROWS + 1}")
    sheet.add_data_validation(check)
    if name == "session_date":  # the column's own format: no empty cells are made
        sheet.column_dimensions[letter].number_format = "yyyy-mm-dd"


def _rule(name: str, cell: str, config: Config) -> tuple[str, dict, str] | None:
    """(validation type, its options, the message) for a column, or None for free text."""
    lo, hi = config.scale.min, config.scale.max
    if name in C.SIGN_KEYS:
        return ("decimal", {"operator": "between", "formula1": f"{lo:g}", "formula2": f"{hi:g}"},
                f"A rating from {lo:g} to {hi:g}, or blank when not rated.")
    if name == "rater":
        return ("list", {"formula1": f'"{",".join(C.RATERS)}"'},
                f"Who rated: {', '.join(C.RATERS)} (blank means client).")
    if name == "attendance":
        return ("list", {"formula1": f'"{",".join(C.ATTENDANCE)}"'},
                f"{', '.join(C.ATTENDANCE)} (blank means attended).")
    if name == "session_date":
        return ("date", {"operator": "between", "formula1": "DATE(1900,1,1)",
                         "formula2": "TODAY()"},
                "The session's date (a date cell, shown as YYYY-MM-DD), not after today.")
    if name in C.ID_COLUMNS:
        return ("custom", {"formula1": _id_formula(cell, config)},
                "A pseudonymous code: letters, digits, '.', '_' or '-', at most 32 characters; "
                "never a name.")
    if name == "session_number":
        return ("whole", {"operator": "between", "formula1": "1", "formula2": "100000"},
                "The session's number (1 for the first), or blank to count by date.")
    measures = config.all_measures()
    if name in measures:
        m = measures[name]
        return ("decimal", {"operator": "between", "formula1": f"{m.min:g}",
                            "formula2": f"{m.max:g}"},
                f"The {m.label} total, {m.min:g} to {m.max:g}, or blank.")
    if name in C.ALLIANCE_TOTALS:
        lo_, hi_, label = C.ALLIANCE_TOTALS[name]
        return ("decimal", {"operator": "between", "formula1": f"{lo_:g}",
                            "formula2": f"{hi_:g}"},
                f"The {label} total, {lo_:g} to {hi_:g}, or blank.")
    return None


def _id_formula(cell: str, config: Config) -> str:
    """Excel's check of an ID: the default pattern exactly; another pattern by length and no
    space (the workbook checks the pattern itself when it loads the file)."""
    if config.privacy.id_pattern != DEFAULT_ID_PATTERN:
        return f'AND(LEN({cell})>=1,ISERROR(FIND(" ",{cell})))'
    return (f'AND(LEN({cell})>=1,LEN({cell})<=32,SUMPRODUCT(--ISERROR(FIND(MID({cell},'
            f'ROW(INDIRECT("1:"&LEN({cell}))),1),"{ID_CHARACTERS}")))=0)')


def _instructions(sheet, config: Config) -> None:
    from openpyxl.styles import Font

    lo, hi = config.scale.min, config.scale.max
    lines = [
        ("How to fill in the Ratings sheet", True),
        ("One row per rating: one rater's view of one session. A therapist's rating of the same "
         "session is a second row with rater 'therapist'.", False),
        ("client_id, therapist_id: pseudonymous codes only (letters, digits, '.', '_', '-'); "
         "never a name. Required.", False),
        ("session_date: the date of the session (a date cell). Required.", False),
        ("rater: client, therapist, supervisor or observer (blank means client).", False),
        ("attendance: attended, cancelled or no_show (blank means attended); the same on every "
         "row of one session.", False),
        ("", False),
        (f"The five signs, each rated from {lo:g} to {hi:g} (blank when not rated):", True),
        *((f"{s.key}: {s.label}. {s.description}", False) for s in SIGNS),
        ("", False),
        ("Optional: session_number, supervisor_id, site, outcome totals (phq9, gad7, ors, "
         "core10, oq45), srs (the Session Rating Scale total, 0-40) and note (never printed "
         "unless the clinic's config allows it).", False),
        ("Keep the column names as they are. Leave this sheet second: the Ratings sheet is read.",
         False),
        ("When it is filled in: workbook validate ratings.xlsx", True),
    ]
    for text, bold in lines:
        sheet.append([text])
        if bold:
            sheet.cell(row=sheet.max_row, column=1).font = Font(bold=True)
    sheet.column_dimensions["A"].width = 120
