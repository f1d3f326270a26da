"""The analysis on the example clinic finds exactly the planted patterns, and is stable."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from workbook.analysis.agenda import REASON_ORDER
from workbook.analysis.periods import parse_month
from workbook.analysis.pipeline import analyse, describe_rules
from workbook.data.config import Config
from workbook.data.example_data import PLANTED, generate_clinic, write_clinic
from workbook.data.ingest import load_ratings

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "examples" / "caseload.csv"
OCTOBER = parse_month("2026-10")


@pytest.fixture(scope="module")
def result():
    return analyse(load_ratings(EXAMPLE), Config(), OCTOBER)


def _kinds(result, client: str) -> list[str]:
    row = result.discussion[result.discussion["client_id"] == client]
    return row["kinds"].iat[0] if len(row) else []


def test_reliable_deterioration_tops_its_reasons(result):
    (client,) = PLANTED["reliable_deterioration"]
    assert _kinds(result, client)[0] == "deterioration"
    outcome = result.outcomes[(result.outcomes["client_id"] == client)
                              & (result.outcomes["measure"] == "phq9")]
    assert outcome["category"].iat[0] in ("deteriorated", "harmed")


def test_unrepaired_trust_rupture_is_found_and_labelled(result):
    (client,) = PLANTED["unrepaired_rupture"]
    episodes = result.ruptures[(result.ruptures["client_id"] == client)
                               & (result.ruptures["rater"] == "client")]
    assert episodes["sign"].tolist() == ["trust_safety"]
    assert episodes["status"].tolist() == ["unrepaired"]
    assert _kinds(result, client)[0] == "trust_rupture"
    text = " ".join(result.discussion.set_index("client_id").at[client, "reasons"])
    assert "Possible rupture on Trust & safety" in text and "not repaired" in text


def test_repaired_rupture_is_a_win_not_a_worry(result):
    (client,) = PLANTED["repaired_rupture"]
    episodes = result.ruptures[result.ruptures["client_id"] == client]
    assert episodes["status"].tolist() == ["repaired"]
    assert not {"trust_rupture", "rupture"} & set(_kinds(result, client))
    wins = result.wins[result.wins["client_id"] == client]
    assert wins["kind"].tolist() == ["repaired"]


def test_recovery_is_a_win(result):
    (client,) = PLANTED["recovery"]
    wins = result.wins[result.wins["client_id"] == client]
    assert "recovered" in wins["kind"].tolist()
    assert "deterioration" not in _kinds(result, client)


def test_perspective_gap_dropout_and_missing_ratings(result):
    (gap,) = PLANTED["perspective_gap"]
    assert "gap" in _kinds(result, gap)
    assert result.client_gaps.set_index("client_id").at[gap, "mean_gap"] >= 2
    (dropout,) = PLANTED["dropout_risk"]
    assert _kinds(result, dropout)[0] == "dropout"
    (missing,) = PLANTED["missing_ratings"]
    assert "missing" in _kinds(result, missing)


def test_steady_controls_are_flagged_for_nothing(result):
    controls = PLANTED["steady_control"]
    assert not set(controls) & set(result.discussion["client_id"])
    assert not set(controls) & set(result.ruptures["client_id"])
    assert set(controls) <= set(result.clients)


def test_discussion_order_follows_reason_weights(result):
    first_kind = result.discussion["kinds"].map(lambda kinds: REASON_ORDER.index(kinds[0]))
    assert first_kind.is_monotonic_increasing
    assert result.discussion["rank"].tolist() == list(range(1, len(result.discussion) + 1))


def test_select_keeps_only_one_therapists_clients(result):
    cut = result.select(therapist_id="T03")
    for name in ("signs", "ruptures", "attendance", "outcomes", "discussion", "wins"):
        assert set(getattr(cut, name)["therapist_id"]) <= {"T03"}
    assert cut.discussion["rank"].tolist() == list(range(1, len(cut.discussion) + 1))


def test_row_order_and_id_renaming_do_not_change_results(tmp_path):
    path = write_clinic(generate_clinic(therapists=3, clients_per_therapist=8, weeks=20,
                                        seed=5, plant=False), tmp_path / "clinic.csv")
    ratings = load_ratings(path)
    period = parse_month("2026-10")
    base = analyse(ratings, Config(), period)
    shuffled = ratings.sample(frac=1, random_state=1).reset_index(drop=True)
    again = analyse(shuffled, Config(), period)
    pd.testing.assert_frame_equal(base.discussion, again.discussion)
    pd.testing.assert_frame_equal(base.ruptures, again.ruptures)
    rename = {c: f"Z{c[::-1]}" for c in ratings["client_id"].unique()}
    renamed = analyse(ratings.assign(client_id=ratings["client_id"].map(rename)),
                      Config(), period)
    expected = base.discussion.assign(client_id=base.discussion["client_id"].map(rename))
    assert sorted(map(tuple, expected[["client_id", "top_reason"]].to_numpy())) == sorted(
        map(tuple, renamed.discussion[["client_id", "top_reason"]].to_numpy()))


def test_rules_are_described_with_the_configured_numbers():
    config = Config.model_validate({"rupture": {"min_drop_points": 3}})
    assert "max(3 points" in describe_rules(config)["rupture"]
