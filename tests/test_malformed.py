"""`workbook validate` on a corpus of malformed inputs: the right exit code, every problem
located (file, line, column, value), no traceback, and nothing written.

Static inputs live in tests/malformed/; the few that must be built (Excel, Parquet) are made here.
Each case copies its input into an empty temporary folder and checks that afterwards the folder
holds nothing but the input (and its config).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from workbook.runs.cli import main

CORPUS = Path(__file__).parent / "malformed"
WORKBOOK_EXE = Path(sys.executable).parent / "workbook"


@dataclass(frozen=True)
class Case:
    """A malformed input and what the error output must contain."""

    file: str
    expect: tuple[str, ...]
    code: int = 4
    config: str | None = None
    absent: tuple[str, ...] = field(default_factory=tuple)


CASES = [
    Case("score_out_of_range.csv", ("line 3, column 'trust_safety'", "got '11'", "from 0 to 10")),
    Case("score_not_numeric.csv", ("line 4, column 'trust_safety'", "got 'high'")),
    Case("date_impossible.csv", ("line 4, column 'session_date'", "got '2025-02-30'",
                                 "a real calendar date")),
    Case("date_ambiguous.csv", ("line 4, column 'session_date'", "got '03/04/2025'", "ambiguous",
                                "date_format")),
    Case("date_future.csv", ("line 5, column 'session_date'", "got '2999-01-01'",
                             "not after today")),
    Case("duplicate_rating.csv", ("line 6, column 'client_id, session_date, rater'",
                                  "got 'C001, 2025-03-04, client'", "repeats line 2")),
    Case("attendance_disagrees.csv", ("line 3, column 'attendance'", "got 'cancelled'",
                                      "'attended' on line 2")),
    Case("therapist_disagrees.csv", ("line 3, column 'therapist_id'", "got 'T02'",
                                     "'T01' on line 2")),
    Case("unknown_rater.csv", ("line 4, column 'rater'", "got 'parent'",
                               "client, therapist, supervisor, observer")),
    Case("unknown_attendance.csv", ("line 5, column 'attendance'", "got 'late'",
                                    "attended, cancelled, no_show")),
    Case("outcome_out_of_range.csv", ("line 4, column 'phq9'", "got '28'",
                                      "PHQ-9 total from 0 to 27")),
    Case("id_is_a_name.csv", ("line 5, column 'client_id'", "got 'Jane Doe'", "pseudonymous")),
    Case("id_is_a_formula.csv", ("line 5, column 'client_id'",
                                 "got '=HYPERLINK(\"http://x.example\",\"C2\")'")),
    Case("empty.csv", ("the file is empty",)),
    Case("header_only.csv", ("at least one rating row", "found none")),
    Case("not_a_table.csv", ("line 1", "got 'Dear clinic team'", "not a table")),
    Case("semicolon.csv", ("line 4, column 'empathy_understanding'", "got '12'"),
         absent=("trust_safety",)),  # '7.5' on the same line is a fine score
    Case("tab.tsv", ("line 5, column 'client_id'", "got 'C 002'")),
    Case("bom_crlf.csv", ("line 6, column 'trust_safety'", "got '-1'"),
         absent=("rater", "\ufeff")),  # 'Supervisor ' is forgiven its case and blank
    Case("blank_lines.csv", ("line 7, column 'empathy_understanding'", "got '60'")),
    Case("quoted_fields.csv", ("line 6, column 'phq9'", "got '99'")),
    Case("ragged_row.csv", ("line 3:", "8 fields like the header line; found 9", ",8,8,,extra'",
                            "line 5:", "found 10", "2 problems")),
    Case("misspelt_header.csv", ("line 1, column 'sesion_date'", "did you mean 'session_date'?")),
    Case("missing_required.csv", ("line 1", "required column 'therapist_id'")),
    Case("no_sign_column.csv", ("line 1", "at least one sign column", "trust_safety")),
    Case("binary.csv", ("binary file",)),
    Case("latin1.csv", ("line 3, column 'note'", "byte E9 is not UTF-8", "au lait'")),
    Case("not_a_zip.xlsx", ("an Excel .xlsx workbook; this file is not one",)),
    Case("ratings.json", ("got '.json'", "a .csv, .tsv, .xlsx or .parquet file")),
    Case("session_number_zero.csv", ("line 4, column 'session_number'", "got '0'",
                                     "a whole number from 1")),
    Case("session_number_fraction.csv", ("line 4, column 'session_number'", "got '1.5'")),
    Case("many_problems.csv", ("60 problems found", "line 51, column 'trust_safety'",
                               "... and 10 more"), absent=("line 52,",)),
    Case("many_kinds.csv", ("6 problems found", "line 2, column 'client_id'",
                            "line 3, column 'phq9'", "line 3, column 'session_date'",
                            "line 4, column 'attendance'", "line 4, column 'rater'",
                            "line 4, column 'trust_safety'", "got 'ten'")),
    Case("score_out_of_range.csv", ("got '11'", "from 0 to 5"),
         config="scale: {min: 0, max: 5}\n"),
    Case("id_is_a_name.csv", ("line 5, column 'client_id'", "got 'Jane Doe'"),
         config="privacy: {id_pattern: '^[A-Z0-9/]{1,40}$'}\n"),
]


def run_case(tmp_path: Path, source: Path, config: str | None = None,
             capsys: pytest.CaptureFixture | None = None) -> tuple[int, str, str]:
    """Copy `source` into an empty folder, validate it in-process; return code, out, err."""
    data = tmp_path / source.name
    if source != data:
        shutil.copyfile(source, data)
    argv = ["validate", str(data)]
    if config is not None:
        (tmp_path / "workbook.yml").write_text(config)
        argv += ["--config", str(tmp_path / "workbook.yml")]
    before = sorted(p.name for p in tmp_path.iterdir())
    code = main(argv)
    out, err = capsys.readouterr() if capsys else ("", "")
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "validate wrote a file"
    return code, out, err


def assert_reported(case: Case, path: Path, code: int, out: str, err: str) -> None:
    """The exit code, the file name, each expected fragment; no traceback, nothing on stdout."""
    assert code == case.code, err
    assert "Traceback" not in err and "internal error" not in err
    assert out == ""
    assert str(path) in err
    for fragment in case.expect:
        assert fragment in err, f"{fragment!r} not in:\n{err}"
    for fragment in case.absent:
        assert fragment not in err, f"{fragment!r} should not be in:\n{err}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.file + (" +config" if c.config else ""))
def test_malformed_file_is_refused_with_every_problem_located(case, tmp_path, capsys):
    code, out, err = run_case(tmp_path, CORPUS / case.file, case.config, capsys)
    assert_reported(case, tmp_path / case.file, code, out, err)


def test_corpus_has_every_static_file_under_test():
    used = {case.file for case in CASES}
    assert used == {p.name for p in CORPUS.iterdir()}
    assert len(used) >= 25


def _ratings_sheet(path: Path, title: str = "Ratings", bad_score: object = 7) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = title
    sheet.append(["client_id", "therapist_id", "session_date", "trust_safety"])
    sheet.append(["C001", "T01", datetime(2025, 3, 4), 9])
    sheet.append([])  # a blank row still counts in Excel's row numbers
    sheet.append(["C001", "T01", datetime(2025, 3, 11), bad_score])
    book.save(path)


def test_excel_problem_names_the_sheet_row(tmp_path, capsys):
    path = tmp_path / "ratings.xlsx"
    _ratings_sheet(path, bad_score=12)
    case = Case("ratings.xlsx", ("row 4, column 'trust_safety'", "got '12'"))
    assert_reported(case, path, *run_case(tmp_path, path, None, capsys))


def test_excel_wrong_sheet_name_lists_the_sheets(tmp_path, capsys):
    path = tmp_path / "ratings.xlsx"
    _ratings_sheet(path)
    case = Case("ratings.xlsx", ("column 'sheet'", "got 'Ratings2'", "one of 'Ratings'"))
    code, out, err = run_case(tmp_path, path, "sheet: Ratings2\n", capsys)
    assert_reported(case, path, code, out, err)


def test_parquet_problem_names_the_row(tmp_path, capsys):
    path = tmp_path / "ratings.parquet"
    pd.DataFrame({"client_id": ["C1", "C2"], "therapist_id": ["T1", "T1"],
                  "session_date": pd.to_datetime(["2025-01-02", "2025-01-03"]),
                  "trust_safety": [7.0, 10.5]}).to_parquet(path)
    case = Case("ratings.parquet", ("row 2, column 'trust_safety'", "got '10.5'"))
    assert_reported(case, path, *run_case(tmp_path, path, None, capsys))


def test_missing_file_exits_5(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.csv")]) == 5
    err = capsys.readouterr().err
    assert "nope.csv: data file not found" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_bad_config_exits_3(tmp_path, capsys):
    case = Case("score_out_of_range.csv", ("scale.maxx", "did you mean 'max'"), code=3)
    code, out, err = run_case(tmp_path, CORPUS / case.file, "scale: {maxx: 5}\n", capsys)
    assert_reported(case, tmp_path / "workbook.yml", code, out, err)


@pytest.mark.parametrize("command", [
    [str(WORKBOOK_EXE)],
    [sys.executable, "-m", "workbook.runs.cli"],
], ids=["console-script", "python-m"])
@pytest.mark.parametrize("name", ["latin1.csv", "ragged_row.csv", "many_kinds.csv"])
def test_end_to_end_no_traceback(command, name, tmp_path):
    if not Path(command[0]).exists():
        pytest.skip(f"{command[0]} is not installed")
    shutil.copyfile(CORPUS / name, tmp_path / name)
    done = subprocess.run([*command, "validate", name], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 4, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{name}, line " in done.stderr
    assert [p.name for p in tmp_path.iterdir()] == [name]
