"""Attendance and completeness summaries, on small frames worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbook.analysis.attendance import (
    ATTENDANCE_COLUMNS,
    COMPLETENESS_COLUMNS,
    summarise_attendance,
    summarise_completeness,
)
from workbook.data import columns as C
from workbook.data.config import Config, parse_config
from workbook.data.signs import SIGN_KEYS

START, END = pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-31")
CONFIG = Config()


def rating(client, date, attendance="attended", rater="client", therapist="T1", score=7.0):
    """One rating event; `score` goes to every sign (None leaves them all blank)."""
    return {
        "client_id": client,
        "therapist_id": therapist,
        "session_date": date,
        "attendance": attendance,
        "rater": rater,
        "score": score,
    }


def frame(events: list[dict]) -> pd.DataFrame:
    """A typed ratings frame as columns.py documents it, sorted by client, date, rater."""
    df = pd.DataFrame(events)
    df["session_date"] = pd.to_datetime(df["session_date"]).astype("datetime64[ns]")
    scores = df.pop("score").astype("float64")
    for key in SIGN_KEYS:
        df[key] = scores
    for key in C.BUILTIN_MEASURE_KEYS:
        df[key] = np.nan
    for key in ("supervisor_id", "site", "note"):
        df[key] = None
    df["session_number"] = (
        df.groupby("client_id")["session_date"].rank(method="dense").astype("int64")
    )
    df = df.sort_values(list(C.KEY)).reset_index(drop=True)
    return df[list(C.BASE_ORDER)]


def session(client, date, attendance="attended", therapist="T1"):
    """A session with a client and a therapist rating (no rating unless attended)."""
    score = 7.0 if attendance == "attended" else None
    return [
        rating(client, date, attendance, rater, therapist, score)
        for rater in ("client", "therapist")
    ]


def by_client(out: pd.DataFrame) -> dict[str, dict]:
    return {row["client_id"]: row for row in out.to_dict("records")}


CASELOAD = frame(
    # A1: rates and gaps; the gap reference is the attended session before the period;
    # the therapist changes; a session after the period is ignored.
    session("A1", "2024-02-20")
    + session("A1", "2024-03-01")
    + session("A1", "2024-03-08", "no_show")
    + session("A1", "2024-03-15")
    + session("A1", "2024-03-22", "cancelled")
    + session("A1", "2024-03-29", therapist="T2")
    + session("A1", "2024-04-05", "no_show")
    # B1: two no-shows in a row, recent attendance.
    + session("B1", "2024-03-20")
    + session("B1", "2024-03-24", "no_show")
    + session("B1", "2024-03-28", "no_show")
    # C1: long gap, latest session cancelled.
    + session("C1", "2024-02-25")
    + session("C1", "2024-03-02")
    + session("C1", "2024-03-20", "cancelled")
    # D1: long gap but the course ended on an attended session (closed).
    + session("D1", "2024-03-01")
    + session("D1", "2024-03-05")
    # E1: a cancellation breaks the run of no-shows; never attended, but only 11 days ago.
    + session("E1", "2024-03-20", "no_show")
    + session("E1", "2024-03-22", "cancelled")
    + session("E1", "2024-03-27", "no_show")
    # F1: never attended, first scheduled long before the period.
    + session("F1", "2024-01-10", "cancelled")
    + session("F1", "2024-03-05", "cancelled")
    # G1: a run of no-shows that began before the period.
    + session("G1", "2024-02-20", "no_show")
    + session("G1", "2024-03-05", "no_show")
    # H1: only before the period; H2: only after it. Neither is summarised.
    + session("H1", "2024-02-01")
    + session("H2", "2024-04-01")
    # I1: sessions on the boundaries (2024 is a leap year: 29 Feb to 31 Mar is 31 days).
    + session("I1", "2024-02-29")
    + session("I1", "2024-03-31")
)


@pytest.fixture(scope="module")
def attendance() -> dict[str, dict]:
    return by_client(summarise_attendance(CASELOAD, CONFIG, START, END))


def test_columns_and_clients():
    out = summarise_attendance(CASELOAD, CONFIG, START, END)
    assert list(out.columns) == list(ATTENDANCE_COLUMNS)
    assert list(out["client_id"]) == ["A1", "B1", "C1", "D1", "E1", "F1", "G1", "I1"]
    assert out.dtypes.astype(str).to_dict() == ATTENDANCE_COLUMNS


def test_counts_rates_and_gaps(attendance):
    a = attendance["A1"]
    # In March: attended 1, 15, 29; no-show 8; cancelled 22. April 5 is after the period.
    assert (a["sessions"], a["attended"], a["cancelled"], a["no_show"]) == (5, 3, 1, 1)
    assert a["attendance_rate"] == pytest.approx(0.6)
    assert a["no_show_rate"] == pytest.approx(0.2)
    assert a["cancellation_rate"] == pytest.approx(0.2)
    # Gaps 20 Feb -> 1 Mar -> 15 Mar -> 29 Mar: 10, 14, 14 days.
    # Median 14; quartiles (linear) 12 and 14, so IQR 2; longest 14.
    assert a["gap_median_days"] == 14
    assert a["gap_iqr_days"] == 2
    assert a["longest_gap_days"] == 14
    assert a["last_attended"] == pd.Timestamp("2024-03-29")
    assert a["days_since_attended"] == 2
    assert a["consecutive_no_shows"] == 0
    assert a["therapist_id"] == "T2"
    assert not a["dropout_risk"] and a["dropout_reason"] is None


def test_two_no_shows_in_a_row(attendance):
    b = attendance["B1"]
    assert b["consecutive_no_shows"] == 2
    assert b["days_since_attended"] == 11
    assert b["dropout_risk"]
    assert b["dropout_reason"] == "2 no-shows in a row"
    # Only one attended session and none before it: no gap to measure.
    assert math.isnan(b["gap_median_days"]) and math.isnan(b["longest_gap_days"])


def test_long_gap_without_closing(attendance):
    c = attendance["C1"]
    # Last attended 2 Mar; 31 Mar - 2 Mar = 29 days > 21; the latest session was cancelled.
    assert c["days_since_attended"] == 29
    assert c["consecutive_no_shows"] == 0
    assert c["dropout_risk"]
    assert c["dropout_reason"] == "no attended session for 29 days"
    # One gap, 25 Feb -> 2 Mar (2024): 6 days.
    assert (c["gap_median_days"], c["gap_iqr_days"], c["longest_gap_days"]) == (6, 0, 6)


def test_course_closed_on_an_attended_session_is_no_risk(attendance):
    d = attendance["D1"]
    assert d["days_since_attended"] == 26
    assert not d["dropout_risk"] and d["dropout_reason"] is None


def test_cancellation_ends_the_run_of_no_shows(attendance):
    e = attendance["E1"]
    assert e["consecutive_no_shows"] == 1
    assert pd.isna(e["last_attended"]) and math.isnan(e["days_since_attended"])
    # Never attended, first scheduled 20 Mar: 11 days, not over 21.
    assert not e["dropout_risk"]


def test_never_attended_is_measured_from_first_session(attendance):
    f = attendance["F1"]
    assert f["sessions"] == 1 and f["cancelled"] == 1
    assert f["attendance_rate"] == 0
    assert f["dropout_risk"]
    # 10 Jan -> 31 Mar 2024: 21 + 29 + 31 = 81 days.
    assert f["dropout_reason"] == "no attended session in the 81 days since the first scheduled one"


def test_run_of_no_shows_may_start_before_the_period(attendance):
    g = attendance["G1"]
    assert g["sessions"] == 1 and g["no_show"] == 1
    assert g["consecutive_no_shows"] == 2
    # Both rules: 20 Feb -> 31 Mar 2024 is 40 days with no attended session.
    assert g["dropout_reason"] == (
        "2 no-shows in a row; no attended session in the 40 days since the first scheduled one"
    )


def test_period_boundaries_are_inclusive(attendance):
    i = attendance["I1"]
    assert i["sessions"] == 1 and i["attended"] == 1
    assert i["longest_gap_days"] == 31
    assert i["days_since_attended"] == 0


def test_thresholds_come_from_config():
    config = parse_config({"thresholds": {"dropout_no_shows": 3, "dropout_gap_days": 30}})
    out = by_client(summarise_attendance(CASELOAD, config, START, END))
    assert not out["B1"]["dropout_risk"]  # 2 no-shows < 3
    assert not out["C1"]["dropout_risk"]  # 29 days, not over 30
    assert out["F1"]["dropout_risk"]  # 81 days


def test_empty_period_gives_typed_empty_frames():
    start, end = pd.Timestamp("2030-01-01"), pd.Timestamp("2030-01-31")
    out = summarise_attendance(CASELOAD, CONFIG, start, end)
    assert out.empty and out.dtypes.astype(str).to_dict() == ATTENDANCE_COLUMNS
    out = summarise_completeness(CASELOAD, CONFIG, start, end)
    assert out.empty and out.dtypes.astype(str).to_dict() == COMPLETENESS_COLUMNS


COMPLETENESS = frame(
    [
        # K1, attended 1, 15, 29 Mar: rated by the client; rated by the therapist only;
        # rows from both raters with every sign blank. No-show and cancellation not counted.
        rating("K1", "2024-03-01", rater="client"),
        rating("K1", "2024-03-01", rater="therapist"),
        rating("K1", "2024-03-08", "no_show", score=None),
        rating("K1", "2024-03-15", rater="client", score=None),
        rating("K1", "2024-03-15", rater="therapist", score=6.0),
        rating("K1", "2024-03-22", "cancelled", score=None),
        rating("K1", "2024-03-29", rater="client", score=None),
        rating("K1", "2024-03-29", rater="therapist", score=None),
        # L1: only a cancellation in the period; a rated session before it is out of scope.
        rating("L1", "2024-02-20"),
        rating("L1", "2024-03-10", "cancelled", score=None),
        # M1: both sessions rated by the client, one on the last day of the period.
        rating("M1", "2024-03-03", rater="client"),
        rating("M1", "2024-03-31", rater="client", therapist="T2"),
        rating("M1", "2024-03-31", rater="observer"),
        rating("M1", "2024-04-01", rater="therapist", score=None),
    ]
)


def test_completeness():
    out = summarise_completeness(COMPLETENESS, CONFIG, START, END)
    assert list(out.columns) == list(COMPLETENESS_COLUMNS)
    assert out.dtypes.astype(str).to_dict() == COMPLETENESS_COLUMNS
    rows = by_client(out)
    assert list(rows) == ["K1", "L1", "M1"]
    k = rows["K1"]
    assert (k["attended_sessions"], k["rated_by_client"], k["unrated_sessions"]) == (3, 1, 1)
    assert k["completeness"] == pytest.approx(1 / 3)
    assert k["low"]
    ell = rows["L1"]
    assert (ell["attended_sessions"], ell["rated_by_client"], ell["unrated_sessions"]) == (0, 0, 0)
    assert math.isnan(ell["completeness"]) and not ell["low"]
    m = rows["M1"]
    assert (m["attended_sessions"], m["rated_by_client"], m["unrated_sessions"]) == (2, 2, 0)
    assert m["completeness"] == 1 and not m["low"]
    assert m["therapist_id"] == "T2"


def test_completeness_threshold_from_config():
    config = parse_config({"thresholds": {"completeness_min": 0.3}})
    rows = by_client(summarise_completeness(COMPLETENESS, config, START, END))
    assert not rows["K1"]["low"]  # 1/3 is not below 0.3


ATTENDANCES = st.sampled_from(C.ATTENDANCE)


@st.composite
def caseloads(draw):
    """A random small caseload and a permutation of its rows."""
    sessions = draw(
        st.dictionaries(
            st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 90)),
            st.tuples(ATTENDANCES, st.sampled_from(["T1", "T2"])),
            min_size=1,
            max_size=25,
        )
    )
    events = []
    for (client, day), (attendance, therapist) in sessions.items():
        date = pd.Timestamp("2024-01-01") + pd.Timedelta(days=day)
        raters = draw(st.sets(st.sampled_from(C.RATERS), min_size=1, max_size=3))
        for rater in sorted(raters):
            score = draw(st.one_of(st.none(), st.floats(0, 10)))
            events.append(rating(client, date, attendance, rater, therapist, score))
    df = frame(events)
    order = draw(st.permutations(list(range(len(df)))))
    return df, df.iloc[order].reset_index(drop=True)


@settings(max_examples=60, deadline=None)
@given(caseloads())
def test_row_order_does_not_change_the_output(pair):
    df, shuffled = pair
    start, end = pd.Timestamp("2024-02-01"), pd.Timestamp("2024-03-15")
    for summarise in (summarise_attendance, summarise_completeness):
        pd.testing.assert_frame_equal(
            summarise(df, CONFIG, start, end), summarise(shuffled, CONFIG, start, end)
        )
