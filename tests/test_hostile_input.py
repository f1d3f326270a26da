"""Issue 13, broken and hostile input files: an unclosed quote that swallows rows, Excel cells
with no value, Parquet cells that are lists, problems counted in full and reported in one pass,
and the wording of what is reported. Each test is named after the item of the issue it covers.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from workbook.data.config import parse_config
from workbook.data.errors import DataError
from workbook.data.ingest import _python_csv, load_ratings
from workbook.runs.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "examples" / "caseload.csv"
HEADER = "client_id,therapist_id,session_date,rater,trust_safety,note"


def validate(path: Path, capsys, *extra: str) -> tuple[int, str, str]:
    code = main(["validate", str(path), *extra])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "internal error" not in err, err
    return code, out, err


def file_records(text: str) -> int:
    """Reference count of the records in a CSV text (Python's csv module), blank ones left out."""
    rows = list(csv.reader(io.StringIO(text, newline="")))[1:]
    return sum(any(f.strip() for f in row) for row in rows)


# --- 1. an unclosed quote in a note swallows the rows after it ------------------------------

@pytest.fixture(scope="module")
def sorted_lines() -> list[str]:
    """The example clinic sorted by date, as CSV lines (header first)."""
    frame = pd.read_csv(EXAMPLE, dtype=str, keep_default_na=False)
    frame = frame.sort_values("session_date", kind="stable")
    return frame.to_csv(index=False, lineterminator="\n").splitlines()


def swallowing(lines: list[str], tmp_path: Path) -> tuple[Path, int]:
    """`"see next` in a T01 note and `done"` twelve rows later, as in the issue; return the file
    and the line the quote opens on."""
    lines = list(lines)
    opened = next(i for i, line in enumerate(lines) if i > 100 and ",T01," in line)
    for i, text in ((opened, '"see next'), (opened + 12, 'done"')):
        lines[i] = lines[i][: lines[i].rfind(",") + 1] + text
    path = tmp_path / "caseload.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, opened + 1


def test_unclosed_quote_in_a_note_is_refused_naming_the_line_it_opened(sorted_lines, tmp_path,
                                                                        capsys):
    path, opened = swallowing(sorted_lines, tmp_path)
    code, out, err = validate(path, capsys)
    assert code == 4 and out == ""
    assert f"line {opened}, column 'note'" in err
    assert f"the quote opened on line {opened} is not closed until line {opened + 12}" in err
    assert "12 lines shaped like rating rows" in err
    config = tmp_path / "workbook.yml"
    config.write_text("privacy: {include_notes: true}\n")
    assert validate(path, capsys, "--config", str(config))[0] == 4  # nothing to leak from


def test_unclosed_quote_is_refused_on_the_slow_path_too(sorted_lines, tmp_path):
    path, opened = swallowing(sorted_lines, tmp_path)
    text = path.read_bytes().replace(b"see next", b"see n\xe9xt")  # not UTF-8: the slow path
    path.write_bytes(text)
    with pytest.raises(DataError) as caught:
        load_ratings(path)
    quotes = [p for p in caught.value.problems if p.kind == "quotes that swallow rating rows"]
    assert [(p.line, p.column) for p in quotes] == [(opened, "note")], caught.value.format()
    assert any("byte E9 is not UTF-8" in str(p) for p in caught.value.problems)


def test_note_with_line_breaks_is_kept_and_rows_agree_with_the_file(tmp_path, capsys):
    text = "\n".join([HEADER, 'C1,T1,2025-03-04,client,7,"first line', "second, line",
                      'third line"', "C1,T1,2025-03-11,client,8,", "",
                      'C2,T1,2025-03-11,client,9,"a\r\nb"']) + "\n"
    path = tmp_path / "notes.csv"
    path.write_bytes(text.encode())
    ratings = load_ratings(path)
    assert len(ratings) == file_records(text) == 3
    assert ratings["note"].tolist()[0] == "first line\nsecond, line\nthird line"
    code, out, _ = validate(path, capsys)
    assert code == 0 and f"rows:        {file_records(text)}" in out


def test_unclosed_quote_in_an_id_is_reported_as_a_quote_not_an_id_pattern(tmp_path, capsys):
    path = tmp_path / "ids.csv"
    path.write_text("client_id,therapist_id,session_date,trust_safety\n"
                    '"C1,T1,2025-01-02,7\nC2,T1,2025-01-03,8\nC3",T1,2025-01-04,9\n'
                    "C4,T1,2025-01-05,9\n")
    code, _, err = validate(path, capsys)
    assert code == 4
    assert "line 2, column 'client_id'" in err and "the quote opened on line 2" in err
    assert "pseudonymous code" not in err
    quoted = tmp_path / "date.csv"  # a line break in a contract value, nothing swallowed
    quoted.write_text('client_id,therapist_id,session_date,trust_safety\nC1,T1,"2025-01-02\n",7\n')
    code, _, err = validate(quoted, capsys)
    assert code == 4 and "a value on one line" in err and "line 2, column 'session_date'" in err


# --- 2. Excel formula cells with no stored value, and error cells ---------------------------

def excel_with_formulas(path: Path) -> None:
    """A sheet whose D column holds: a formula never calculated (openpyxl stores none), an
    error cached by Excel, a formula with a good cached value, and a formula whose cached value
    is empty text; the XML is edited to hold what Excel would have saved."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Ratings"
    sheet.append(["client_id", "therapist_id", "session_date", "trust_safety"])
    for day, score in ((2, "=A1/0"), (3, "=1/0"), (4, "=3+4"), (5, '=IF(1,"","")')):
        sheet.append([f"C{day}", "T1", datetime(2025, 1, day), score])
    book.save(path)
    with zipfile.ZipFile(path) as zin:
        parts = {name: zin.read(name) for name in zin.namelist()}
    xml = parts["xl/worksheets/sheet1.xml"].decode()
    xml = xml.replace('<c r="D3"><f>1/0</f><v /></c>',
                      '<c r="D3" t="e"><f>1/0</f><v>#DIV/0!</v></c>')
    xml = xml.replace('<c r="D4"><f>3+4</f><v /></c>', '<c r="D4"><f>3+4</f><v>7</v></c>')
    xml = xml.replace('<c r="D5"><f>IF(1,"","")</f><v /></c>',
                      '<c r="D5" t="str"><f>IF(1,"","")</f><v></v></c>')
    assert "#DIV/0!" in xml and "<v>7</v>" in xml and 't="str"' in xml, xml
    parts["xl/worksheets/sheet1.xml"] = xml.encode()
    with zipfile.ZipFile(path, "w") as zout:
        for name, data in parts.items():
            zout.writestr(name, data)


def test_excel_formula_without_value_and_error_cells_are_refused_by_cell(tmp_path, capsys):
    path = tmp_path / "ratings.xlsx"
    excel_with_formulas(path)
    code, _, err = validate(path, capsys)
    assert code == 4
    assert "sheet 'Ratings', cell D2, row 2, column 'trust_safety': the formula =A1/0 with no " \
           "stored result" in err
    assert "sheet 'Ratings', cell D3, row 3, column 'trust_safety': the Excel error #DIV/0!" in err
    assert "2 problems found" in err  # D4 (7) and D5 (empty text) are fine
    with zipfile.ZipFile(path) as zin:
        parts = {name: zin.read(name) for name in zin.namelist()}
    xml = parts["xl/worksheets/sheet1.xml"].decode()
    xml = re.sub(r'<c r="D[23]"[^>]*>.*?</c>', "", xml)
    parts["xl/worksheets/sheet1.xml"] = xml.encode()
    with zipfile.ZipFile(path, "w") as zout:
        for name, data in parts.items():
            zout.writestr(name, data)
    ratings = load_ratings(path)  # cached values are accepted
    assert ratings.set_index("client_id")["trust_safety"].to_dict() == pytest.approx(
        {"C2": np.nan, "C3": np.nan, "C4": 7.0, "C5": np.nan}, nan_ok=True)


def test_excel_header_problems_say_row_and_cell_not_line(tmp_path, capsys):
    book = openpyxl.Workbook()
    book.active.append(["client_id", "therapist_id", "sesion_date", "trust_safety"])
    book.active.append(["C1", "T1", datetime(2025, 1, 2), 7])
    path = tmp_path / "r.xlsx"
    book.save(path)
    code, _, err = validate(path, capsys)
    assert code == 4
    assert "row 1, column 'sesion_date'" in err and "did you mean 'session_date'" in err
    assert "line" not in err.replace("header line", "")


def test_excel_rows_beyond_a_stale_dimension_are_read(tmp_path):
    """A sheet whose <dimension> tag claims fewer rows than it holds loses none of them."""
    book = openpyxl.Workbook()
    book.active.append(["client_id", "therapist_id", "session_date", "trust_safety"])
    for day in range(1, 6):
        book.active.append([f"C{day}", "T1", datetime(2025, 1, day), 7])
    path = tmp_path / "r.xlsx"
    book.save(path)
    with zipfile.ZipFile(path) as zin:
        parts = {name: zin.read(name) for name in zin.namelist()}
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"].replace(
        b'<dimension ref="A1:D6"', b'<dimension ref="A1:D2"')
    with zipfile.ZipFile(path, "w") as zout:
        for name, data in parts.items():
            zout.writestr(name, data)
    assert len(load_ratings(path)) == 5


# --- 9. a Parquet list column --------------------------------------------------------------

def test_parquet_list_column_is_refused_not_an_internal_error(tmp_path, capsys):
    path = tmp_path / "r.parquet"
    pd.DataFrame({"client_id": ["C1", "C2"], "therapist_id": ["T1", "T1"],
                  "session_date": ["2025-01-02", "2025-01-03"],
                  "trust_safety": [[1, 2], [3]], "extra": [[1], [2]]}).to_parquet(path)
    code, _, err = validate(path, capsys)
    assert code == 4
    assert "row 1, column 'trust_safety': [1, 2] where one value per cell is expected" in err
    assert "extra" not in err  # a column we do not read may hold what it likes
    assert "2 problems found" in err


def test_parquet_text_with_nul_is_never_merged_with_other_text(tmp_path, capsys):
    """pandas hashes text only up to a NUL: 'C1\\x00x' must not quietly read as 'C1'."""
    path = tmp_path / "r.parquet"
    pd.DataFrame({"client_id": ["C1", "C1\x00x"], "therapist_id": ["T1", "T1"],
                  "session_date": ["2025-01-02", "2025-01-02"],
                  "trust_safety": [7.0, 8.0]}).to_parquet(path)
    code, _, err = validate(path, capsys)
    assert code == 4 and "row 2, column 'client_id'" in err and "NUL" in err


def test_parquet_dates_beyond_pandas_range_and_index_columns_are_read(tmp_path, capsys):
    path = tmp_path / "r.parquet"
    frame = pd.DataFrame({"client_id": ["C1", "C2"], "therapist_id": ["T1", "T1"],
                          "trust_safety": [7.0, 8.0]})
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False).append_column(
        "session_date", pa.array([datetime(2025, 1, 2), datetime(3000, 1, 1)],
                                 pa.timestamp("us")))
    pq.write_table(table, path)
    code, _, err = validate(path, capsys)
    assert code == 4 and "row 2, column 'session_date': got '3000-01-01'" in err
    frame.assign(session_date=["2025-01-02", "2025-01-03"]).set_index("client_id").to_parquet(
        path)  # client_id saved as the index
    assert sorted(load_ratings(path)["client_id"]) == ["C1", "C2"]


# --- 12. every problem counted, the first 50 of each kind listed ----------------------------

def test_problem_count_is_not_capped_and_every_kind_is_listed(tmp_path):
    rows = [f"C{i},T1,2025-01-02,client,{11 + i % 3}," for i in range(1773)]
    rows += ["C9999,<script>alert(1)</script>,2025-01-02,client,5,"]
    path = tmp_path / "many.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    with pytest.raises(DataError) as caught:
        load_ratings(path)
    error = caught.value
    assert error.count == 1774
    text = error.format()
    assert text.startswith("1,774 problems found")
    assert "... and 1,723 more like this (column 'trust_safety'" in text
    assert "got '<script>alert(1)</script>'" in text
    assert text.count("column 'trust_safety'") == 51  # 50 listed, one count line


def test_duplicate_rows_are_all_counted(tmp_path):
    rows = [f"C{i % 700},T1,2025-01-02,client,5," for i in range(2100)]
    path = tmp_path / "dups.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    with pytest.raises(DataError) as caught:
        load_ratings(path)
    assert caught.value.count == 1400
    assert "... and 1,350 more like this (rows repeating a client, date and rater)" in \
        caught.value.format()


# --- 13. everything checkable is reported in one pass ---------------------------------------

def test_one_bad_byte_and_a_header_typo_do_not_hide_the_other_problems(tmp_path, capsys):
    text = ("client_id,therapist_id,sesion_date,trust_safety,note\n"
            "C1,T1,2025-01-02,70,caf\xe9\n"
            "Jane Doe,T1,2025-01-03,8,\n"
            "C3,T1,2025-01-04,5,cr\xe8me\n")
    path = tmp_path / "stages.csv"
    path.write_bytes(text.encode("latin-1"))
    code, _, err = validate(path, capsys)
    assert code == 4
    for fragment in ("line 1, column 'sesion_date'", "did you mean 'session_date'",
                     "line 2, column 'note': got 'caf\ufffd'", "byte E9 is not UTF-8",
                     "line 2, column 'trust_safety': got '70'",
                     "line 3, column 'client_id': got 'Jane Doe'",
                     "line 4, column 'note'", "byte E8 is not UTF-8"):
        assert fragment in err, fragment
    assert "5 problems found" in err


def test_ragged_rows_do_not_hide_the_other_rows_problems(tmp_path):
    text = "\n".join([HEADER, "C1,T1,2025-01-02,client,7,,extra", "C2,T1,2025-01-03,client,70,"])
    path = tmp_path / "r.csv"
    path.write_text(text + "\n")
    with pytest.raises(DataError) as caught:
        load_ratings(path)
    assert [(p.line, p.column) for p in caught.value.problems] == [(2, None),
                                                                   (3, "trust_safety")]


def test_slow_path_reports_bad_bytes_in_every_field(tmp_path):
    body = (HEADER + "\nC1,T\xe91,2025-01-02,client,7,\xff\n").encode("latin-1")
    table = _python_csv(body, tmp_path / "x.csv", HEADER.split(","), ",")
    assert [(p.line, p.column) for p in table.problems] == [(2, "therapist_id"), (2, "note")]


# --- 14. wording --------------------------------------------------------------------------

def test_custom_id_pattern_gets_no_default_hint(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("client_id,therapist_id,session_date,trust_safety\nc-1,T1,2025-01-02,5\n")
    config = parse_config({"privacy": {"id_pattern": r"^[A-Z0-9/]{1,40}$"}})
    with pytest.raises(DataError) as caught:
        load_ratings(path, config)
    assert "letters, digits" not in str(caught.value)
    assert "privacy.id_pattern" in str(caught.value)
    path.write_text("client_id,therapist_id,session_date,trust_safety\nJane Doe,T1,2025-01-02,5\n")
    with pytest.raises(DataError, match="letters, digits"):
        load_ratings(path)


def test_data_folder_and_utf16_file_are_named_for_what_they_are(tmp_path, capsys):
    assert main(["validate", str(tmp_path)]) == 5
    assert "is a folder" in capsys.readouterr().err
    shutil.copy(EXAMPLE, tmp_path / "c.csv")
    utf16 = tmp_path / "u.csv"
    utf16.write_bytes(EXAMPLE.read_text()[:500].encode("utf-16"))
    code, _, err = validate(utf16, capsys)
    assert code == 4 and "UTF-16" in err
