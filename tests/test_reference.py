"""Every frame of `analyse` equals the plain reference implementation (tests/reference.py) on
hypothesis-generated caseloads: several therapists, handovers, missing ratings, rater mixes,
no-shows and cancellations, sessions on both sides of month boundaries, other rating scales,
monthly periods and date ranges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from caseloads import typed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import reference

from workbook.analysis.periods import Period
from workbook.analysis.pipeline import analyse
from workbook.data.config import parse_config
from workbook.data.signs import SIGN_KEYS

EXAMPLES = 80
FIRST_DAY = pd.Timestamp("2026-08-20")  # sessions run from late August into November
EXTRA = {"wsas": {"label": "WSAS", "min": 0, "max": 40, "cutoff": 10, "reliability": 0.8}}

KEYS = {  # frame -> the columns that identify a row
    "signs": ["client_id", "therapist_id", "sign", "rater"],
    "concerns": ["client_id", "therapist_id", "session_date", "sign", "rater"],
    "ruptures": ["client_id", "therapist_id", "sign", "rater", "start_date"],
    "gaps": ["client_id", "therapist_id", "sign"],
    "client_gaps": ["client_id", "therapist_id"],
    "attendance": ["client_id", "therapist_id"],
    "completeness": ["client_id", "therapist_id"],
    "outcomes": ["client_id", "therapist_id", "measure"],
    "discussion": ["client_id", "therapist_id"],
    "wins": ["client_id", "therapist_id", "kind"],
    "handovers": ["client_id", "therapist_id"],
}
SKIP = {  # free text, compared through the structured columns it is made of
    "attendance": ["dropout_reason"], "outcomes": ["label", "method", "rci"],
    "discussion": ["reasons", "top_reason"], "wins": ["text"],
}


@st.composite
def caseloads(draw):
    """(records, config, period): a small clinic drawn session by session."""
    scale = draw(st.sampled_from([(0, 10), (1, 7), (0, 100)]))
    n_therapists = draw(st.integers(1, 3))
    records = []
    for c in range(draw(st.integers(1, 6))):
        therapist = draw(st.integers(1, n_therapists))
        switch = draw(st.integers(1, 9))  # a handover at that session (if there is one)
        day = FIRST_DAY + pd.Timedelta(days=draw(st.integers(0, 40)))
        base = draw(st.integers(scale[0], scale[1]))
        for s in range(draw(st.integers(1, 14))):
            if s == switch:
                therapist = therapist % n_therapists + 1
            day += pd.Timedelta(days=draw(st.sampled_from([1, 5, 7, 7, 7, 14, 25])))
            attendance = draw(st.sampled_from(["attended"] * 6 + ["cancelled", "no_show"]))
            for rater in draw(st.sets(st.sampled_from(["client", "therapist", "supervisor"]),
                                      min_size=1)):
                row = {"client_id": f"C{c}", "therapist_id": f"T{therapist}",
                       "session_date": f"{day:%Y-%m-%d}", "rater": rater,
                       "attendance": attendance}
                if attendance == "attended":
                    for sign in SIGN_KEYS:
                        if draw(st.booleans()) or draw(st.booleans()):
                            step = draw(st.integers(-4, 2)) * max(1, (scale[1] - scale[0]) // 10)
                            row[sign] = float(min(scale[1], max(scale[0], base + step)))
                    if draw(st.booleans()):
                        row["phq9"] = float(draw(st.integers(0, 27)))
                    if draw(st.integers(0, 3)) == 0:
                        row["wsas"] = float(draw(st.integers(0, 40)))
                records.append(row)
    month = draw(st.sampled_from(["2026-09", "2026-10", "2026-11", "range"]))
    if month == "range":
        period = Period(pd.Timestamp("2026-09-20"), pd.Timestamp("2026-10-12"))
    else:
        start = pd.Timestamp(f"{month}-01")
        period = Period(start, start + pd.offsets.MonthEnd(0))
    settings = {"scale": {"min": scale[0], "max": scale[1]}, "measures": EXTRA}
    if draw(st.booleans()):  # the expected-response model on a small clinic
        settings["expected_response"] = {
            "min_courses": draw(st.integers(2, 4)), "min_similar": draw(st.integers(2, 3)),
            "intake_window": draw(st.sampled_from([0.05, 0.2, 1.0])),
            "first_session": draw(st.integers(2, 4)), "band": draw(st.sampled_from([0.25, 0.4]))}
    return records, parse_config(settings), period


def canonical(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """The frame's compared columns, rows in key order, plain dtypes."""
    columns = [c for c in frame.columns if c not in SKIP.get(name, [])]
    out = frame[columns].copy()
    for col in out.columns:
        if out[col].dtype == bool or col in ("flagged", "low", "dropout_risk"):
            out[col] = out[col].astype(bool)
        elif col == "kinds":
            out[col] = out[col].map(tuple)
        elif pd.api.types.is_numeric_dtype(out[col]) and col not in ("rank",):
            out[col] = out[col].astype(float)
    return out.sort_values(KEYS[name], kind="stable").reset_index(drop=True)


def assert_same(got: pd.DataFrame, want: pd.DataFrame, name: str) -> None:
    if want.empty:
        assert got.empty, f"{name}: the reference has no rows, analyse has {len(got)}"
        return
    got, want = canonical(got, name), canonical(want, name)
    want = want[[c for c in got.columns if c in want.columns]]
    missing = set(got.columns) - set(want.columns)
    assert not missing, f"{name}: the reference lacks {missing}"
    if name == "discussion":  # ranks compared as the order of the list
        got, want = got.drop(columns="rank"), want.drop(columns=["rank"])
    pd.testing.assert_frame_equal(got, want[got.columns], check_dtype=False, atol=1e-9,
                                  obj=name)


def check(records, config, period) -> None:
    ratings = typed(records, extra_measures=["wsas"])
    got = analyse(ratings, config, period)
    want = reference(ratings, config, period.start, period.end)
    for name in KEYS:
        assert_same(getattr(got, name), want[name], name)
    order = [(r.client_id, r.therapist_id) for r in got.discussion.itertuples()]
    assert order == [(r["client_id"], r["therapist_id"])
                     for r in want["discussion"].to_dict("records")]


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(caseloads())
def test_every_frame_equals_the_reference(case):
    check(*case)


def test_the_example_clinic_equals_the_reference(example):
    frame = example.ratings
    keep = frame["client_id"].isin(sorted(frame["client_id"].unique())[:40])
    records = frame[keep].to_dict("records")
    check(records, example.config, example.period)


@pytest.mark.parametrize("month", ["2026-09", "2026-10"])
def test_a_handover_across_the_month_boundary_equals_the_reference(month):
    rows = []
    for i, day in enumerate(pd.date_range("2026-09-02", "2026-10-28", freq="7D")):
        therapist = "T1" if day < pd.Timestamp("2026-10-01") else "T2"
        rows.append({"client_id": "X", "therapist_id": therapist,
                     "session_date": f"{day:%Y-%m-%d}", "rater": "client",
                     "trust_safety": float([9, 9, 9, 4, 5, 9, 9, 3, 4][i]),
                     "phq9": float(10 + 2 * i)})
    start = pd.Timestamp(f"{month}-01")
    check(rows, parse_config({"measures": EXTRA}), Period(start, start + pd.offsets.MonthEnd(0)))
    assert np.isfinite(reference(typed(rows, ["wsas"]), parse_config({"measures": EXTRA}),
                                 start, start + pd.offsets.MonthEnd(0))["signs"]["latest"]).any()
