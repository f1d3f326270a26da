"""Not on track from the expected treatment response, pinned on small hand-made histories.

History: 20 clients who started PHQ-9 at 18, scored weekly for 7 sessions, ending at 10, 11,
12, 13 or 14 (four each). Their session-7 scores sorted: 10 x4, 11 x4, 12 x4, 13 x4, 14 x4; the
75th percentile (linear, n = 20: position 14.25) is 13. A new client who started at 18 and is
at 13 at session 7 is exactly on the expected band: on track; at 14 they are worse than 3 in 4
similar clients: not on track.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from caseloads import session, typed

from workbook.analysis.expected import band_sessions, session_band
from workbook.analysis.periods import Period
from workbook.analysis.pipeline import analyse, describe_rules
from workbook.data.config import parse_config
from workbook.data.signs import SIGN_KEYS

FIRST = pd.Timestamp("2026-06-01")
PERIOD = Period(pd.Timestamp("2026-07-01"), pd.Timestamp("2026-07-31"))
SMALL = {"expected_response": {"min_courses": 10, "min_similar": 10}}


def course(client: str, scores: list[float], key: str = "phq9", start: pd.Timestamp = FIRST,
           therapist: str = "T1") -> list[dict]:
    """Weekly sessions from `start` with the measure's total on the client row."""
    return [session(client, f"{start + pd.Timedelta(days=7 * i):%Y-%m-%d}", therapist,
                    **{key: float(s)}, **dict.fromkeys(SIGN_KEYS, 9.0))
            for i, s in enumerate(scores)]


def history(key: str = "phq9", intake: float = 18, ends=(10, 11, 12, 13, 14),
            direction: float = -1) -> list[dict]:
    """20 clients: intake, then a straight line to their end score at session 7."""
    records = []
    for k in range(20):
        end = ends[k % 5]
        path = np.rint(np.linspace(intake, end, 7))
        path[-1] = end
        records += course(f"H{k:02d}", list(path), key)
    return records


def outcome(analysis, client: str, key: str = "phq9") -> dict:
    o = analysis.outcomes
    hit = o[(o["client_id"] == client) & (o["measure"] == key)]
    assert len(hit) == 1
    return hit.iloc[0].to_dict()


def run(records, settings=SMALL):
    return analyse(typed(records), parse_config(settings), PERIOD)


@pytest.fixture(scope="module")
def clinic():
    # A and B are at session 7 on 2026-07-13; A on the band, B one point worse
    records = history()
    records += course("A", [18, 17, 16, 15, 14, 14, 13], start=pd.Timestamp("2026-06-01"))
    records += course("B", [18, 17, 16, 16, 15, 15, 14], start=pd.Timestamp("2026-06-01"))
    records += course("E", [18], start=pd.Timestamp("2026-07-13"))  # the intake: too early
    records += course("G", [18, 27], start=pd.Timestamp("2026-07-06"))  # session 2: judged
    records += course("F", [5, 9, 9, 9, 9, 9, 9])  # intake 5: no similar clients
    return run(records)


def test_a_client_exactly_on_the_expected_band_is_on_track(clinic):
    a = outcome(clinic, "A")
    assert a["track_rule"] == "expected" and a["session"] == 7
    assert a["expected"] == pytest.approx(13.0)
    assert a["n_similar"] == 21  # the 20 history clients and B, never A's own course
    assert (a["similar_from"], a["similar_to"]) == (16, 20)  # within 10% of 0-27: 2.7 points
    assert not a["not_on_track"]
    assert "A" not in set(clinic.discussion["client_id"])


def test_a_client_below_the_band_is_not_on_track_in_plain_words(clinic):
    b = outcome(clinic, "B")
    assert b["track_rule"] == "expected" and b["expected"] == pytest.approx(13.0)
    assert b["not_on_track"]
    listed = clinic.discussion.set_index("client_id").loc["B"]
    assert listed["kinds"] == ["not_on_track"]
    assert listed["reasons"][0] == (
        "Not on track on PHQ-9: 14 at session 7; clients who started near 18 (16–20) are "
        "usually at 13 or better by now (21 similar clients in this clinic)")


def test_the_clients_own_course_never_counts():
    # 10 history clients: with A's own course A would have 11 entries; without it, 10
    records = history()[:70]  # H00..H09, 7 sessions each
    records += course("A", [18, 17, 16, 15, 14, 14, 30])
    a = outcome(run(records), "A")
    assert a["n_similar"] == 10 and a["track_rule"] == "expected"
    assert a["expected"] == pytest.approx(np.quantile([10, 11, 12, 13, 14] * 2, 0.75))
    records = history()[:63] + course("A", [18, 17, 16, 15, 14, 14, 30])  # 9 others
    a = outcome(run(records), "A")
    assert a["track_rule"] == "few_similar" and a["n_similar"] == 9
    assert a["not_on_track"]  # published rule: clinical at intake, no reliable improvement


def test_too_early_and_dissimilar_clients(clinic):
    e = outcome(clinic, "E")
    assert e["track_rule"] == "too_early" and not e["not_on_track"]
    # judged from session 2 (first_session 2, as OQ-Analyst and the ORS tools do): every
    # other client who started at 18 was at 17 at session 2, so 27 is not on track
    g = outcome(clinic, "G")
    assert g["track_rule"] == "expected" and g["session"] == 2
    assert g["expected"] == pytest.approx(17.0) and g["n_similar"] == 22
    assert g["not_on_track"]
    f = outcome(clinic, "F")  # intake 5: below the clinical range, so no published flag either
    assert f["track_rule"] == "few_similar" and f["n_similar"] == 0
    assert not f["not_on_track"]


def test_higher_is_better_measures_use_the_25th_percentile():
    records = history("ors", intake=20, ends=(30, 29, 28, 27, 26))
    records += course("A", [20, 21, 22, 23, 24, 26, 27], "ors")  # at the band (27): on track
    records += course("B", [20, 21, 22, 23, 24, 26, 26], "ors")  # one point below: not
    out = run(records)
    a, b = outcome(out, "A", "ors"), outcome(out, "B", "ors")
    assert a["expected"] == pytest.approx(27.0) and not a["not_on_track"]
    assert b["expected"] == pytest.approx(27.0) and b["not_on_track"]


def test_too_little_history_falls_back_and_the_rules_say_so():
    # default min_courses 50: 22 courses are too few for PHQ-9
    records = history()
    records += course("B", [18, 17, 16, 16, 15, 15, 14])  # clinical at intake, -4: flagged
    records += course("C", [8, 8, 9, 8, 9, 8, 9])  # below the cutoff at intake: not flagged
    out = run(records, {})
    b, c = outcome(out, "B"), outcome(out, "C")
    assert b["track_rule"] == c["track_rule"] == "few_courses"
    assert b["not_on_track"] and not c["not_on_track"]
    assert "published rule" in out.discussion.set_index("client_id").loc["B", "reasons"][0]
    rule = describe_rules(out.config, out.outcomes)["not_on_track"]
    assert "PHQ-9: 22 courses, published rule (too few courses: 50 needed)" in rule
    rule = describe_rules(out.config.model_copy(update={"expected_response": out.config
                                                        .expected_response.model_copy(
                                                            update={"min_courses": 22})}),
                          out.outcomes)["not_on_track"]
    assert "PHQ-9: 22 courses, expected response." in rule


def test_the_model_uses_finished_courses_up_to_the_period_end_only():
    # the history finished in June (before the period) still counts; scores after the
    # period end do not exist for the model
    records = history()
    records += course("B", [18, 17, 16, 16, 15, 15, 14])
    late = [session(f"H{k:02d}", "2026-08-20", phq9=27.0) for k in range(20)]
    out = run(records + late)
    assert outcome(out, "B")["expected"] == pytest.approx(13.0)


def test_session_bands():
    sessions = np.arange(1, 40)
    bands = session_band(sessions)
    assert list(bands[:8]) == [0, 2, 3, 4, 4, 5, 5, 6]
    for b in set(bands):
        lo, hi = band_sessions(int(b))
        assert list(sessions[bands == b]) == list(range(lo, min(hi, 39) + 1))
