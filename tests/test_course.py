"""One client's course (workbook.views.course): only that client's rows, the window as x domain,
the reliable-change band from the client's first score ever, rupture episodes, messages."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from caseloads import typed, weekly
from hypothesis import given
from hypothesis import strategies as st
from test_app_charts import SETTINGS, START, caseload, check_renders

from workbook.analysis.pipeline import analyse
from workbook.data.config import Config
from workbook.data.signs import SIGN_KEYS, SIGN_LABELS
from workbook.views import app_rows as R
from workbook.views.app_charts import WINDOW
from workbook.views.course import course_specs, session_gaps

CONFIG = Config()
END = START + pd.Timedelta(days=7 * 12 - 1)


def _window(spec: dict) -> list[int]:
    return {p["name"]: p["value"] for p in spec["params"]}[WINDOW]


def _ms(day: str | pd.Timestamp) -> int:
    return pd.Timestamp(day).value // 10**6


def _rows_with(spec: dict, field: str) -> list[dict]:
    return [r for rows in spec["datasets"].values() for r in rows if field in r]


def _ruptures(ratings: pd.DataFrame) -> pd.DataFrame:
    return analyse(ratings, CONFIG).ruptures


def test_course_keys_and_only_that_clients_rows(capfd):
    ratings = caseload(8, 12)
    ratings.loc[ratings["client_id"] == "C0003", "gad7"] = 9.0
    specs = course_specs(ratings, _ruptures(ratings), config=CONFIG, client_id="C0003")
    assert list(specs) == ["course:signs", "course:gap", "course:attendance",
                           "course:outcome:phq9", "course:outcome:gad7"]
    others = set(ratings["client_id"]) - {"C0003"}
    for key, spec in specs.items():
        assert {r["client_id"] for r in _rows_with(spec, "client_id")} == {"C0003"}, key
        for rows in spec["datasets"].values():  # every mark of the client carries its id
            assert "client_id" in rows[0] or set(rows[0]) in ({"lo", "hi"}, {"cutoff"}), key
        text = json.dumps(spec)
        assert not any(other in text for other in others), key
        check_renders(spec, capfd)


def test_course_without_start_runs_from_the_first_session_to_end():
    ratings = caseload(3, 12)
    first = ratings.loc[ratings["client_id"] == "C0002", "session_date"].min()
    end = START + pd.Timedelta(weeks=8)
    specs = course_specs(ratings, None, config=CONFIG, client_id="C0002", end=end)
    for spec in specs.values():
        assert _window(spec) == [_ms(first), _ms(end)]
        dates = [r["session_date"] for r in _rows_with(spec, "session_date")]
        assert dates and max(dates) <= f"{end:%Y-%m-%d}"
    later = course_specs(ratings, None, config=CONFIG, client_id="C0002",
                         start="2026-02-01", end="2026-03-01")
    assert _window(later["course:attendance"]) == [_ms("2026-02-01"), _ms("2026-03-01")]
    dates = [r["session_date"] for r in _rows_with(later["course:attendance"], "session_date")]
    assert min(dates) >= "2026-02-01" and max(dates) <= "2026-03-01"


@SETTINGS
@given(scores=st.lists(st.one_of(st.none(), st.integers(0, 27)), min_size=1, max_size=14),
       start_week=st.integers(0, 13), end_week=st.integers(0, 13))
def test_course_band_is_from_the_first_score_ever(scores, start_week, end_week):
    """first score ever (up to end) +/- reliable change, clipped to the range, whatever the
    window's start."""
    records = weekly("C1", "2026-01-05", [None] * len(scores))
    for record, score in zip(records, scores, strict=True):
        record["phq9"] = score
        record["trust_safety"] = 8.0
    records += weekly("C2", "2026-01-05", [9.0] * 5)  # another client: never in the course
    for record in records[len(scores):]:
        record["phq9"] = 3.0
    ratings = typed(records)
    start = pd.Timestamp("2026-01-05") + pd.Timedelta(weeks=start_week)
    end = max(start, pd.Timestamp("2026-01-05") + pd.Timedelta(weeks=end_week))
    specs = course_specs(ratings, None, config=CONFIG, client_id="C1", start=start, end=end)
    mine = ratings[(ratings["client_id"] == "C1") & ratings["phq9"].notna()
                   & (ratings["session_date"] <= end)]
    if mine.empty:
        assert "course:outcome:phq9" not in specs
        return
    spec = specs["course:outcome:phq9"]
    shown = mine[mine["session_date"] >= start]
    bands = _rows_with(spec, "low")
    if shown.empty:
        assert not bands and _rows_with(spec, "message")
        return
    first = mine.sort_values("session_date")["phq9"].iloc[0]
    assert [(b["client_id"], b["first"], b["low"], b["high"]) for b in bands] == [
        ("C1", first, max(first - 6, 0), min(first + 6, 27))]
    scores_drawn = [r["score"] for r in _rows_with(spec, "score") if "label_y" not in r]
    assert scores_drawn == list(shown.sort_values("session_date")["phq9"])


def test_course_signs_both_raters_and_rupture_episodes(capfd):
    dip = [9, 9, 9, 9, 3, 3, 3, 3, 3, 9]
    records = (weekly("C1", "2026-01-05", dip) + weekly("C1", "2026-01-05", [9] * 10,
                                                       rater="therapist")
               + weekly("C2", "2026-01-05", dip))
    ratings = typed(records)
    ruptures = _ruptures(ratings)
    assert (ruptures["client_id"] == "C1").any()
    spec = course_specs(ratings, ruptures, config=CONFIG, client_id="C1")["course:signs"]
    assert spec["title"]["text"] == "C1: the five signs, rated by the client and the therapist"
    panels = spec["vconcat"]
    assert [p["title"]["text"] for p in panels] == [SIGN_LABELS["trust_safety"]]
    raters = {r["rater"] for r in _rows_with(spec, "score") if "status" not in r}
    assert raters == {"Client", "Therapist"}
    episodes = _rows_with(spec, "span_from")
    expected = ruptures[ruptures["client_id"] == "C1"]
    assert len(episodes) == len(expected)
    assert {e["status"] for e in episodes} <= {"repaired", "not repaired", "open"}
    assert [e["start_date"] for e in episodes] == [f"{d:%Y-%m-%d}" for d in
                                                   expected["start_date"]]
    check_renders(spec, capfd)


def test_course_gap_is_therapist_minus_client_per_session():
    ratings = caseload(3, 5)
    table = R.take(ratings, ["client_id", "session_date", "rater", *SIGN_KEYS],
                   clients=["C0001"])
    gaps = pd.DataFrame(session_gaps(table))
    both = ratings[ratings["client_id"] == "C0001"].pivot_table(
        index="session_date", columns="rater", values="trust_safety").dropna()
    mine = gaps[gaps["sign"] == SIGN_LABELS["trust_safety"]].set_index("session_date")["gap"]
    assert mine.to_dict() == pytest.approx((both["therapist"] - both["client"]).to_dict())
    spec = course_specs(ratings, None, config=CONFIG, client_id="C0001")["course:gap"]
    assert len(_rows_with(spec, "gap")) == len(gaps)
    assert {r["sign"] for r in _rows_with(spec, "gap")} == {SIGN_LABELS[k] for k in SIGN_KEYS}


def test_course_with_nothing_to_draw_gives_messages(capfd):
    ratings = caseload(3, 4, raters=("client",), phq9=False)
    ratings.loc[ratings["client_id"] == "C0001", list(SIGN_KEYS)] = np.nan
    specs = course_specs(ratings, None, config=CONFIG, client_id="C0001")
    for key in ("course:signs", "course:gap"):
        assert "C0001" in _rows_with(specs[key], "message")[0]["message"], key
        check_renders(specs[key], capfd)
    assert not _rows_with(specs["course:attendance"], "message")
    unknown = course_specs(ratings, None, config=CONFIG, client_id="C9999")
    assert list(unknown) == ["course:signs", "course:gap", "course:attendance"]
    assert all(_rows_with(s, "message") for s in unknown.values())
