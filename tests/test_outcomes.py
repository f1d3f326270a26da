"""Outcome summaries per client and measure, on small frames worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from workbook.analysis.outcomes import OUTCOME_COLUMNS, summarise_outcomes
from workbook.data import columns as C
from workbook.data.config import Config, parse_config
from workbook.data.signs import SIGN_KEYS

CONFIG = Config()
END = pd.Timestamp("2024-06-30")


def event(client: str, date: str, rater: str = "client", therapist: str = "T1",
          **scores: float) -> dict:
    """One rating event with measure totals given by key, e.g. phq9=12."""
    return {"client_id": client, "therapist_id": therapist, "session_date": date,
            "rater": rater, **scores}


def weekly(client: str, key: str, scores: list[float], start: str = "2024-03-04",
           therapist: str = "T1", rater: str = "client") -> list[dict]:
    """One session a week from `start`, each with a `rater` event carrying the measure."""
    dates = pd.date_range(start, periods=len(scores), freq="7D")
    return [event(client, f"{d:%Y-%m-%d}", rater, therapist, **{key: s})
            for d, s in zip(dates, scores, strict=True)]


def frame(events: list[dict], extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """A typed ratings frame as columns.py documents it, sorted by client, date, rater."""
    df = pd.DataFrame(events)
    df["session_date"] = pd.to_datetime(df["session_date"]).astype("datetime64[ns]")
    df["attendance"] = "attended"
    for key in SIGN_KEYS:
        df[key] = 8.0
    for key in (*C.BUILTIN_MEASURE_KEYS, *extra):
        df[key] = df[key].astype("float64") if key in df else np.nan
    for key in ("supervisor_id", "site", "note"):
        df[key] = None
    df["session_number"] = (
        df.groupby("client_id")["session_date"].rank(method="dense").astype("int64")
    )
    df = df.sort_values(list(C.KEY)).reset_index(drop=True)
    return df[[*C.BASE_ORDER, *extra]]


def row(out: pd.DataFrame, client: str, measure: str) -> dict:
    hit = out[(out["client_id"] == client) & (out["measure"] == measure)]
    assert len(hit) == 1, f"expected one row for {client}/{measure}, got {len(hit)}"
    return hit.iloc[0].to_dict()


CASELOAD = frame(
    weekly("A", "phq9", [16, 12, 8, 6])          # -10, case -> not: recovered
    + weekly("B", "phq9", [14, 13, 12, 12])      # -2 after 4 scores: unchanged, not on track
    + weekly("C", "phq9", [8, 10, 15])           # +7, not case -> case: harmed, 3 scores only
    + weekly("D", "phq9", [12, 20, 20, 21, 22])  # +10, case at both ends: deteriorated
    + weekly("E", "phq9", [15, 14, 13, 9])       # -6 exactly, out of caseness: recovered
    + weekly("F", "ors", [20, 24, 26, 30])       # +10, clinical (<25) -> not: recovered
    + weekly("F", "gad7", [12, 11, 10, 9])       # -3 < 4 after 4 scores: not on track
    + weekly("G", "phq9", [11])                  # one score: no change yet
)


def test_columns_and_sorting():
    out = summarise_outcomes(CASELOAD, CONFIG, END)
    assert list(out.columns) == list(OUTCOME_COLUMNS)
    assert list(zip(out["client_id"], out["measure"], strict=True)) == [
        ("A", "phq9"), ("B", "phq9"), ("C", "phq9"), ("D", "phq9"), ("E", "phq9"),
        ("F", "gad7"), ("F", "ors"), ("G", "phq9")]
    assert out.loc[out["measure"] == "ors", "label"].tolist() == ["ORS"]
    assert out["n_scores"].dtype == np.int64
    assert out["first_date"].dtype == "datetime64[ns]"


@pytest.mark.parametrize(("client", "measure", "category", "improved", "worse", "off_track"), [
    ("A", "phq9", "recovered", True, False, False),
    ("B", "phq9", "unchanged", False, False, True),
    ("C", "phq9", "harmed", False, True, False),
    ("D", "phq9", "deteriorated", False, True, True),
    ("E", "phq9", "recovered", True, False, False),
    ("F", "ors", "recovered", True, False, False),
    ("F", "gad7", "unchanged", False, False, True),
])
def test_categories_and_not_on_track(client, measure, category, improved, worse, off_track):
    r = row(summarise_outcomes(CASELOAD, CONFIG, END), client, measure)
    assert r["category"] == category
    assert bool(r["reliable_improvement"]) == improved
    assert bool(r["reliable_deterioration"]) == worse
    assert bool(r["not_on_track"]) == off_track


def test_first_latest_and_change_values():
    out = summarise_outcomes(CASELOAD, CONFIG, END)
    d = row(out, "D", "phq9")
    assert (d["first_score"], d["latest_score"], d["n_scores"]) == (12, 22, 5)
    assert d["first_date"] == pd.Timestamp("2024-03-04")
    assert d["latest_date"] == pd.Timestamp("2024-04-01")
    assert d["change"] == 10 and d["rci"] == pytest.approx(10 / 6)
    assert (bool(d["clinical_first"]), bool(d["clinical_latest"])) == (True, True)
    f = row(out, "F", "ors")
    assert (bool(f["clinical_first"]), bool(f["clinical_latest"])) == (True, False)
    assert f["rci"] == pytest.approx(10 / 5)


def test_single_score_has_no_change():
    g = row(summarise_outcomes(CASELOAD, CONFIG, END), "G", "phq9")
    assert g["n_scores"] == 1 and g["category"] is None
    assert math.isnan(g["change"]) and math.isnan(g["rci"])
    assert not g["reliable_improvement"] and not g["not_on_track"]
    assert bool(g["clinical_first"])  # 11 is a PHQ-9 case


def test_not_on_track_threshold_from_config():
    config = parse_config({"thresholds": {"not_on_track_sessions": 3}})
    out = summarise_outcomes(CASELOAD, config, END)
    # harmed after 3 scores, but the published fallback (a caseload far too small for the
    # expected-response model) judges only clients who started in the clinical range
    assert row(out, "C", "phq9")["track_rule"] == "few_courses"
    assert not row(out, "C", "phq9")["not_on_track"]
    both = frame(weekly("X", "phq9", [12, 12, 15]))
    assert bool(row(summarise_outcomes(both, config, END), "X", "phq9")["not_on_track"])
    config = parse_config({"thresholds": {"not_on_track_sessions": 5}})
    out = summarise_outcomes(CASELOAD, config, END)
    assert not row(out, "B", "phq9")["not_on_track"]  # only 4 scores
    assert bool(row(out, "D", "phq9")["not_on_track"])  # 5 scores, deteriorated


def test_end_date_cuts_scores_and_therapist():
    ratings = frame(
        weekly("A", "phq9", [16, 12, 8], start="2024-06-10")       # 06-10, 06-17, 06-24
        + weekly("A", "phq9", [20, 24], start="2024-07-01", therapist="T2")  # after END
        + weekly("H", "phq9", [14, 6], start="2024-07-01")         # only after END
    )
    out = summarise_outcomes(ratings, CONFIG, END)
    assert out["client_id"].tolist() == ["A"]
    a = row(out, "A", "phq9")
    assert (a["latest_score"], a["n_scores"], a["therapist_id"]) == (8, 3, "T1")
    assert a["category"] == "recovered"
    later = summarise_outcomes(ratings, CONFIG, pd.Timestamp("2024-07-31"))
    a = row(later, "A", "phq9")
    assert (a["latest_score"], a["n_scores"], a["therapist_id"]) == (24, 5, "T2")
    assert a["category"] == "deteriorated"  # 16 -> 24, a case at both ends
    assert row(later, "H", "phq9")["category"] == "recovered"


def test_on_the_end_date_counts():
    ratings = frame(weekly("A", "phq9", [16, 6], start="2024-06-23"))  # 06-23, 06-30
    assert row(summarise_outcomes(ratings, CONFIG, END), "A", "phq9")["n_scores"] == 2


def test_therapist_at_latest_session_of_any_kind():
    ratings = frame(weekly("A", "phq9", [16, 6])
                    + [event("A", "2024-04-01", "client", "T9")])  # no measure, new therapist
    assert row(summarise_outcomes(ratings, CONFIG, END), "A", "phq9")["therapist_id"] == "T9"


def test_one_value_per_session_from_either_rater_row():
    ratings = frame([
        event("A", "2024-03-04", "therapist", phq9=18),              # on the therapist row only
        event("A", "2024-03-04", "client"),
        event("A", "2024-03-11", "client", phq9=15),                 # both rows: client first
        event("A", "2024-03-11", "therapist", phq9=99),
        event("A", "2024-03-18", "observer", phq9=17),
        event("A", "2024-03-18", "supervisor", phq9=11),             # supervisor before observer
    ])
    a = row(summarise_outcomes(ratings, CONFIG, END), "A", "phq9")
    assert a["n_scores"] == 3
    assert (a["first_score"], a["latest_score"]) == (18, 11)
    assert a["category"] == "improved"  # -7, 11 is still a case


def test_input_row_order_does_not_matter():
    expected = summarise_outcomes(CASELOAD, CONFIG, END)
    for seed in range(5):
        shuffled = CASELOAD.sample(frac=1, random_state=seed)
        pd.testing.assert_frame_equal(summarise_outcomes(shuffled, CONFIG, END), expected)


def test_extra_measure_with_one_client_gets_no_category():
    # Jacobson & Truax needs the clinic's pre-treatment SD: one client's scores do not give one
    config = parse_config({"measures": {"goals": {"label": "Goals", "min": 0, "max": 10,
                                                  "higher_is_better": True, "cutoff": 5,
                                                  "reliability": 0.8}}})
    ratings = frame(weekly("A", "goals", [2, 2, 3, 2]) + weekly("A", "phq9", [12, 12, 12, 12]),
                    extra=("goals",))
    out = summarise_outcomes(ratings, config, END)
    assert out["measure"].tolist() == ["goals", "phq9"]
    goals = row(out, "A", "goals")
    assert goals["label"] == "Goals" and goals["category"] is None
    assert goals["method"].startswith("Jacobson & Truax: too few clients")
    assert not goals["not_on_track"]  # improvement cannot be judged without a threshold
    assert bool(goals["clinical_first"]) and bool(goals["clinical_latest"])  # below 5
    assert bool(row(out, "A", "phq9")["not_on_track"])


def test_no_measure_scores_gives_an_empty_typed_frame():
    ratings = frame([event("A", "2024-03-04"), event("B", "2024-03-04", "therapist")])
    out = summarise_outcomes(ratings, CONFIG, END)
    assert out.empty and list(out.columns) == list(OUTCOME_COLUMNS)
    assert out["not_on_track"].dtype == bool
    assert summarise_outcomes(CASELOAD, CONFIG, pd.Timestamp("2020-01-01")).empty
