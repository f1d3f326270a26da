"""The realistic generator: published base rates, early change predicting outcome, dropouts,
and each client's eventual outcome kept beside the ratings (workbook.data.courses)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from workbook.data.example_data import COLUMNS, generate_clinic, generate_clinic_and_truth
from workbook.data.measures import BUILTIN_MEASURES
from workbook.data.signs import SIGN_KEYS


@pytest.fixture(scope="module")
def clinic():
    return generate_clinic_and_truth(therapists=30, clients_per_therapist=30, weeks=26,
                                     seed=11, plant=False, courses="realistic")


def test_outcomes_follow_published_base_rates(clinic):
    _, truth = clinic
    ended = truth[(truth["measure"] == "phq9") & (truth["n_scores"] >= 2)]
    share = ended["outcome"].value_counts(normalize=True)
    assert 0.40 <= share["recovered"] + share["improved"] <= 0.60  # about half improve
    assert 0.30 <= share["recovered"] <= 0.45  # a third to 40% recover
    assert 0.04 <= share["deteriorated"] <= 0.11  # 5-10% deteriorate
    dropout = truth.drop_duplicates("client_id")["dropout"].mean()
    assert 0.15 <= dropout <= 0.25  # about 20% drop out


def test_the_outcome_is_recomputed_from_the_ratings_by_the_published_rule(clinic):
    frame, truth = clinic
    phq = BUILTIN_MEASURES["phq9"]
    scored = frame[frame["phq9"].notna()].sort_values(["client_id", "session_date"])
    first = scored.groupby("client_id")["phq9"].first().astype(float)
    last = scored.groupby("client_id")["phq9"].last().astype(float)
    mine = truth[truth["measure"] == "phq9"].set_index("client_id")
    assert (mine["first_score"] == first.reindex(mine.index)).all()
    assert (mine["last_score"] == last.reindex(mine.index)).all()
    better = first - last
    once = scored.groupby("client_id").size() == 1
    want = np.where(once, "single_score",
                    np.where((better >= 6) & (first >= phq.cutoff) & (last < phq.cutoff),
                             "recovered", np.where(better >= 6, "improved",
                                                   np.where(-better >= 6, "deteriorated",
                                                            "no_change"))))
    assert (mine["outcome"] == pd.Series(want, index=first.index).reindex(mine.index)).all()
    assert once.any() and not once.all()  # both kinds of course are checked


def test_early_change_predicts_the_outcome(clinic):
    frame, truth = clinic
    scored = frame[frame["phq9"].notna()].sort_values(["client_id", "session_date"])
    early = scored.groupby("client_id").apply(
        lambda g: g["phq9"].iloc[0] - g.loc[g["session_number"] <= g["session_number"].iloc[0]
                                            + 3, "phq9"].iloc[-1], include_groups=False)
    mine = truth[(truth["measure"] == "phq9") & (truth["n_scores"] >= 6)].set_index("client_id")
    fast = early.reindex(mine.index) >= 4
    recovered = mine["outcome"] == "recovered"
    assert recovered[fast].mean() > 2 * recovered[~fast].mean()


def test_client_rated_alliance_clusters_near_the_top_as_published(clinic):
    # the Session Rating Scale in routine practice (Duncan et al. 2003): about a quarter of the
    # sessions below 36 of 40, most at or above; on the five signs' 0-10 scale: a session's
    # mean below 9, most ratings 9 or 10, a long low tail; therapists a little higher
    frame, _ = clinic
    client = frame.loc[frame["rater"] == "client", list(SIGN_KEYS)].dropna(how="all")
    mean = client.mean(axis=1)
    assert 0.18 <= (mean < 9).mean() <= 0.32
    assert 0.75 <= client.stack().isin([9, 10]).mean() <= 0.90
    assert 0.02 <= (client.stack() <= 7).mean() <= 0.10  # the tail is there, and thin
    therapist = frame.loc[frame["rater"] == "therapist", list(SIGN_KEYS)].stack()
    assert 0.1 <= therapist.mean() - client.stack().mean() <= 0.6


def test_dropouts_end_with_no_shows_and_no_later_session(clinic):
    frame, truth = clinic
    gone = truth.loc[truth["dropout"], "client_id"].unique()
    assert len(gone) > 50
    last = frame.sort_values("session_date").groupby("client_id").tail(1).set_index("client_id")
    assert (last.loc[gone, "attendance"] == "no_show").all()


def test_the_truth_is_beside_the_ratings_never_in_them(clinic):
    frame, truth = clinic
    assert list(frame.columns) == list(COLUMNS)
    assert set(truth.columns) & set(frame.columns) == {"client_id"}
    again = generate_clinic_and_truth(therapists=30, clients_per_therapist=30, weeks=26,
                                      seed=11, plant=False, courses="realistic")
    pd.testing.assert_frame_equal(again[0], frame)
    pd.testing.assert_frame_equal(again[1], truth)
    assert generate_clinic(courses="simple").equals(generate_clinic())  # the example's texture


def test_the_cli_writes_the_truth_beside_the_data(tmp_path):
    out, truth = tmp_path / "clinic.csv", tmp_path / "truth.csv"
    subprocess.run([sys.executable, "-m", "workbook.runs.cli", "example-data", "--out", str(out),
                    "--courses", "realistic", "--truth", str(truth), "--therapists", "8"],
                   check=True, capture_output=True)
    ratings, outcome = pd.read_csv(out), pd.read_csv(truth)
    assert "outcome" not in ratings.columns and "course" not in ratings.columns
    assert set(outcome["client_id"]) <= set(ratings["client_id"])
    assert set(outcome.loc[outcome["course"] == "planted", "client_id"]) >= {"C0009", "C0028"}
