"""load_ratings: the typed frame of the data contract from CSV, Excel and Parquet alike."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from workbook import DataError, load_ratings
from workbook.data.columns import BASE_ORDER
from workbook.data.config import parse_config
from workbook.data.ingest import _python_csv, read_table
from workbook.data.inspection import describe_ratings
from workbook.data.validate import check_rows
from workbook.runs.cli import main

HEADER = "client_id,therapist_id,session_date,rater,attendance,trust_safety,phq9,note"
ROWS = [
    "C2,T1,2025-03-05,client,no_show,,,",
    "C1,T1,2025-03-11,client,attended,7,10,ok",
    "C1,T1,2025-03-04,therapist,attended,8.5,,",
    "C1,T1,2025-03-04,client,attended,9,12,\"said, calmly\"",
]


def write(tmp_path: Path, text: str, name: str = "r.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_typed_frame_follows_the_contract(tmp_path):
    ratings = load_ratings(write(tmp_path, "\n".join([HEADER, *ROWS]) + "\n"))
    assert list(ratings.columns) == [*BASE_ORDER[:-1], "srs", "note"]
    assert ratings.index.equals(pd.RangeIndex(4))
    assert ratings["session_date"].dtype == "datetime64[ns]"
    assert ratings["session_number"].dtype == "int64"
    assert ratings["trust_safety"].dtype == "float64" and ratings["gad7"].isna().all()
    assert ratings[["client_id", "rater"]].values.tolist() == [
        ["C1", "client"], ["C1", "therapist"], ["C1", "client"], ["C2", "client"]]
    assert ratings["session_number"].tolist() == [1, 1, 2, 1]  # derived from date order
    assert ratings["trust_safety"].tolist()[:3] == [9.0, 8.5, 7.0]
    assert ratings["note"].tolist() == ["said, calmly", None, "ok", None]
    assert ratings["supervisor_id"].isna().all()
    assert ratings.attrs["source"] == str(tmp_path / "r.csv")
    assert all(isinstance(v, str) for v in ratings["client_id"])


def test_headers_match_case_insensitively_and_defaults_fill_in(tmp_path):
    text = (" Client_ID ;THERAPIST_ID; Session_Date ;Trust_Safety;Unrelated\n"
            "C1;T1;2025-01-02;7,5;x\n")
    ratings = load_ratings(write(tmp_path, text))
    assert ratings.loc[0, ["rater", "attendance"]].tolist() == ["client", "attended"]
    assert ratings.loc[0, "trust_safety"] == 7.5  # decimal comma in a semicolon file
    assert "unrelated" not in ratings.columns


def test_blank_lines_short_rows_and_trailing_empty_fields_are_fine(tmp_path):
    text = "\r\n".join([HEADER, ROWS[1], "", ROWS[2] + ",,", "C3,T1,2025-03-01", ""]) + "\r\n"
    ratings = load_ratings(write(tmp_path, "\ufeff" + text))
    assert sorted(ratings["client_id"]) == ["C1", "C1", "C3"]


def test_line_numbers_survive_blank_lines_on_the_fast_path(tmp_path):
    text = "\n".join([HEADER, ROWS[0], "", "", ROWS[1].replace(",7,", ",70,")]) + "\n"
    with pytest.raises(DataError) as info:
        load_ratings(write(tmp_path, text))
    [problem] = info.value.problems
    assert (problem.line, problem.column, problem.value) == (5, "trust_safety", "70")


def test_fast_and_slow_csv_paths_agree(tmp_path):
    note = ROWS[1].replace(",ok", ',"two\r\nlines"')
    rows = [*ROWS[:1], note, *ROWS[2:], "", ROWS[0].replace("C2", "C3")]
    path = write(tmp_path, "\r\n".join([HEADER, *rows]) + "\r\n")
    config = parse_config({})
    fast = read_table(path, config)
    slow = _python_csv(path.read_bytes(), path, HEADER.split(","), ",")
    assert isinstance(fast.frame.dtypes.iloc[0], pd.CategoricalDtype)  # really the fast path
    assert fast.lines.tolist() == slow.lines.tolist() == [2, 3, 5, 6, 7, 8]
    typed = [check_rows(t.frame, config, file="f", lines=t.lines) for t in (fast, slow)]
    pd.testing.assert_frame_equal(*typed)


def test_multi_line_quoted_note_keeps_later_line_numbers(tmp_path):
    text = "\n".join([HEADER, ROWS[3].replace("said, calmly", "said\nthen\nleft"),
                      ROWS[1].replace("C1", "Jane Doe")]) + "\n"
    with pytest.raises(DataError) as info:
        load_ratings(write(tmp_path, text))
    assert [(p.line, p.column) for p in info.value.problems] == [(5, "client_id")]


def test_every_problem_is_collected_and_sorted_by_line(tmp_path):
    rows = [ROWS[1].replace("7", "eleven"), ROWS[0].replace("no_show", "gone"),
            ROWS[2].replace("2025-03-04", "2025-13-01")]
    with pytest.raises(DataError) as info:
        load_ratings(write(tmp_path, "\n".join([HEADER, *rows])))
    assert [(p.line, p.column) for p in info.value.problems] == [
        (2, "trust_safety"), (3, "attendance"), (4, "session_date")]


def test_future_date_is_judged_against_the_run_date():
    raw = pd.DataFrame({"client_id": ["C1"], "therapist_id": ["T1"],
                        "session_date": ["2025-06-02"], "trust_safety": ["5"]})
    config = parse_config({})
    assert len(check_rows(raw, config, file="f", today=date(2025, 6, 2))) == 1
    with pytest.raises(DataError, match="not after today \\(2025-06-01\\)"):
        check_rows(raw, config, file="f", today=date(2025, 6, 1))


def test_config_date_format_reads_day_first(tmp_path):
    path = write(tmp_path, "client_id,therapist_id,session_date,trust_safety\n"
                           "C1,T1,03/04/2026,7\nC1,T1,2026-04-10,8\n")
    with pytest.raises(DataError, match="ambiguous"):
        load_ratings(path)
    ratings = load_ratings(path, parse_config({"date_format": "%d/%m/%Y"}))
    assert ratings["session_date"].tolist() == [pd.Timestamp("2026-04-03"),
                                                pd.Timestamp("2026-04-10")]
    bad = write(tmp_path, "client_id,therapist_id,session_date,trust_safety\nC1,T1,31/02/2026,7\n")
    with pytest.raises(DataError, match="configured format %d/%m/%Y"):
        load_ratings(bad, parse_config({"date_format": "%d/%m/%Y"}))


def test_config_column_renames(tmp_path):
    path = write(tmp_path, "Client,Clinician,Date,Trust\nC1,T1,2025-01-02,6\n")
    config = parse_config({"columns": {"Client": "client_id", "clinician ": "therapist_id",
                                       "DATE": "session_date", "Trust": "trust_safety"}})
    ratings = load_ratings(path, config)
    assert ratings.loc[0, ["client_id", "therapist_id", "trust_safety"]].tolist() == [
        "C1", "T1", 6.0]
    with pytest.raises(DataError, match="did you mean 'client_id'") as info:
        load_ratings(path)
    assert "required column 'therapist_id'" in str(info.value)
    assert "under 'columns:' in the config" in str(info.value)


def test_config_relaxed_id_pattern(tmp_path):
    path = write(tmp_path, "client_id,therapist_id,session_date,trust_safety\n"
                           "NHS/2024/0001,T1,2025-01-02,6\n")
    with pytest.raises(DataError, match="pseudonymous code"):
        load_ratings(path)
    config = parse_config({"privacy": {"id_pattern": r"^[A-Z0-9/]{1,40}$"}})
    assert load_ratings(path, config).loc[0, "client_id"] == "NHS/2024/0001"


def test_extra_measure_from_config_is_range_checked(tmp_path):
    measures = {"wai": {"label": "WAI-SR", "min": 12, "max": 60, "reliability": 0.9}}
    config = parse_config({"measures": measures})
    path = write(tmp_path, "client_id,therapist_id,session_date,trust_safety,wai\n"
                           "C1,T1,2025-01-02,6,40\nC1,T1,2025-01-09,6,61\n")
    with pytest.raises(DataError, match="WAI-SR total from 12 to 60") as info:
        load_ratings(path, config)
    assert info.value.problems[0].line == 3
    ratings = load_ratings(write(tmp_path, path.read_text().replace("61", "44")), config)
    assert list(ratings.columns)[-3:] == ["wai", "srs", "note"]


def _frame_for_round_trip() -> pd.DataFrame:
    return pd.DataFrame({
        "client_id": ["C1", "C1", "C2", "C2"],
        "therapist_id": ["T1", "T1", "T2", "T2"],
        "session_date": pd.to_datetime(["2025-01-02", "2025-01-09", "2025-01-03", "2025-01-03"]),
        "session_number": [1, 2, 1, 1],
        "rater": ["client", "client", "client", "therapist"],
        "trust_safety": [7.0, np.nan, 9.5, 8.0],
        "phq9": [12.0, 9.0, np.nan, np.nan],
        "note": ["first", None, None, "x"],
    })


def test_same_data_as_csv_xlsx_and_parquet_loads_equal(tmp_path):
    frame = _frame_for_round_trip()
    frame.assign(session_date=frame["session_date"].dt.strftime("%Y-%m-%d")).to_csv(
        tmp_path / "r.csv", index=False)
    frame.to_parquet(tmp_path / "r.parquet")
    book = openpyxl.Workbook()
    book.active.title = "Cover"
    book.active.append(["not the ratings"])
    sheet = book.create_sheet("Ratings")
    sheet.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        cells = [None if (isinstance(v, float) and np.isnan(v)) else v for v in row]
        cells[2] = datetime(cells[2].year, cells[2].month, cells[2].day)  # a real date cell
        sheet.append(cells)
    book.save(tmp_path / "r.xlsx")
    from_csv = load_ratings(tmp_path / "r.csv")
    from_xlsx = load_ratings(tmp_path / "r.xlsx", parse_config({"sheet": "Ratings"}))
    from_parquet = load_ratings(tmp_path / "r.parquet")
    pd.testing.assert_frame_equal(from_csv, from_xlsx)
    pd.testing.assert_frame_equal(from_csv, from_parquet)
    assert from_csv["session_date"].tolist()[0] == pd.Timestamp("2025-01-02")
    by_index = load_ratings(tmp_path / "r.xlsx", parse_config({"sheet": 1}))
    pd.testing.assert_frame_equal(from_csv, by_index)


def test_excel_datetime_with_time_reads_as_its_day(tmp_path):
    book = openpyxl.Workbook()
    book.active.append(["client_id", "therapist_id", "session_date", "trust_safety"])
    book.active.append(["C1", "T1", datetime(2025, 2, 3, 14, 30), 7])
    book.save(tmp_path / "r.xlsx")
    assert load_ratings(tmp_path / "r.xlsx").loc[0, "session_date"] == pd.Timestamp("2025-02-03")


def test_session_number_out_of_int_range_is_refused_not_crashed(tmp_path):
    text = "client_id,therapist_id,session_date,trust_safety,session_number\n"
    text += "C1,T1,2025-01-02,6,inf\nC1,T1,2025-01-03,6,1e30\n"
    with pytest.raises(DataError) as info:
        load_ratings(write(tmp_path, text))
    assert [p.line for p in info.value.problems] == [2, 3]


def test_bom_only_and_whitespace_only_files_are_empty(tmp_path):
    for text in ("\ufeff", "\n \n"):
        with pytest.raises(DataError, match="empty"):
            load_ratings(write(tmp_path, text))


def test_describe_ratings_counts(tmp_path):
    ratings = load_ratings(write(tmp_path, "\n".join([HEADER, *ROWS]) + "\n"))
    desc = describe_ratings(ratings)
    assert (desc["rows"], desc["clients"], desc["sessions"], desc["attended"]) == (4, 2, 3, 2)
    assert desc["raters"] == {"client": 3, "therapist": 1}
    assert desc["client_rated_share"] == 1.0
    assert (desc["first_date"], desc["last_date"]) == (date(2025, 3, 4), date(2025, 3, 11))


def test_validate_command_prints_a_summary(tmp_path, capsys):
    path = write(tmp_path, "\n".join([HEADER, *ROWS]) + "\n")
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{path}: OK" in out and "rows:        4" in out and "2025-03-04 to 2025-03-11" in out


def test_old_mac_line_endings_keep_line_numbers(tmp_path):
    text = "client_id,therapist_id,session_date,trust_safety\rC1,T1,2025-01-02,5\r"
    text += "C2,T1,2025-01-02,55\r"
    with pytest.raises(DataError) as info:
        load_ratings(write(tmp_path, text))
    assert [(p.line, p.value) for p in info.value.problems] == [(3, "55")]


def test_summary_with_no_attended_session_says_n_a(tmp_path, capsys):
    path = write(tmp_path, "client_id,therapist_id,session_date,attendance,trust_safety\n"
                           "C1,T1,2025-01-02,no_show,\n")
    assert main(["validate", str(path)]) == 0
    assert "client rating: n/a" in capsys.readouterr().out
