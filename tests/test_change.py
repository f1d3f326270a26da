"""Reliable change: the published reference cases, direction, pairing, errors, thresholds."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbook.analysis.change import CATEGORIES, CHANGE_COLUMNS, jacobson_truax, published_change
from workbook.data.measures import BUILTIN_MEASURES, Measure

REFCASES = Path(__file__).resolve().parents[1].parent / "shared" / "refcases"
PHQ9, ORS = BUILTIN_MEASURES["phq9"], BUILTIN_MEASURES["ors"]


def read_refcase(name: str) -> pd.DataFrame:
    """A reference data set from ../shared/refcases/, or skip when that folder is absent."""
    path = REFCASES / name
    if not path.is_file():
        pytest.skip(f"reference case {name} not found: {REFCASES} is absent (a fresh clone); "
                    "CI has it")
    return pd.read_csv(path)


def claus(column: str) -> tuple[pd.Series, pd.Series]:
    wide = read_refcase("claus_2020.csv").pivot(index="id", columns="time", values=column)
    return wide[1], wide[4]


def jacobson_gds() -> tuple[pd.Series, pd.Series]:
    wide = read_refcase("jacobson_1989.csv").pivot(index="subject", columns="time", values="gds")
    return wide["pre"], wide["post"]


def counts(result: pd.DataFrame) -> dict[str, int]:
    """Every category with its count, zero included."""
    found = result["category"].value_counts()
    return {c: int(found.get(c, 0)) for c in CATEGORIES}


# --- published reference cases (../shared/refcases/README.md) ------------------------------

def test_c1_claus_hamd_no_cutoff():
    result = jacobson_truax(*claus("hamd"), reliability=0.80, higher_is_better=False)
    assert len(result) == 40
    assert counts(result) == {"recovered": 0, "improved": 29, "unchanged": 10,
                              "deteriorated": 1, "harmed": 0}
    assert result.attrs["mean"] == pytest.approx(24.85, abs=1e-6)
    assert result.attrs["sd"] == pytest.approx(3.340121, abs=1e-6)
    assert result.attrs["s_diff"] == pytest.approx(2.112478, abs=1e-6)
    assert result.attrs["cutoff"] is None


def test_c2_claus_hamd_cutoff_c():
    result = jacobson_truax(*claus("hamd"), reliability=0.80, higher_is_better=False,
                            cutoff="c", functional_mean=8, functional_sd=8)
    assert len(result) == 40
    assert round(result.attrs["cutoff"], 2) == 19.89
    assert counts(result) == {"recovered": 26, "improved": 3, "unchanged": 10,
                              "deteriorated": 1, "harmed": 0}
    assert result.attrs["s_diff"] == pytest.approx(2.112478, abs=1e-6)


def test_c3_claus_who_higher_is_better():
    result = jacobson_truax(*claus("who"), reliability=0.85, higher_is_better=True)
    assert len(result) == 40
    assert counts(result) == {"recovered": 0, "improved": 21, "unchanged": 18,
                              "deteriorated": 1, "harmed": 0}


def test_j1_jacobson_gds_cutoff_a():
    result = jacobson_truax(*jacobson_gds(), reliability=0.80, higher_is_better=False, cutoff="a")
    assert len(result) == 26
    assert round(result.attrs["cutoff"], 2) == 56.95
    assert counts(result) == {"recovered": 10, "improved": 4, "unchanged": 12,
                              "deteriorated": 0, "harmed": 0}
    assert result.attrs["mean"] == pytest.approx(69.153846, abs=1e-6)
    assert result.attrs["sd"] == pytest.approx(6.102080, abs=1e-6)
    assert result.attrs["s_diff"] == pytest.approx(3.859294, abs=1e-6)


def test_refcase_pairs_are_the_complete_cases():
    pre, post = claus("hamd")
    result = jacobson_truax(pre, post, reliability=0.80, higher_is_better=False)
    assert list(result.index) == list(pre.index[pre.notna() & post.notna()])
    assert (result["change"] == result["post"] - result["pre"]).all()


def test_antidepressants_structure():
    data = read_refcase("antidepressants.csv")
    wide = data.pivot(index="patient", columns="measurement", values="mom_di")
    result = jacobson_truax(wide["Before"], wide["After"], reliability=0.80,
                            higher_is_better=False, cutoff="a")
    both = data.groupby("patient")["mom_di"].count().eq(2).sum()
    assert len(result) == both == data["patient"].nunique()
    assert sum(counts(result).values()) == len(result)
    assert set(result["category"]) <= set(CATEGORIES)
    assert list(result.columns) == list(CHANGE_COLUMNS)
    assert result.attrs["sd"] == pytest.approx(wide["Before"].std(ddof=1))
    # recovered ones really cross the cutoff downwards; harmed ones end above it
    cutoff = result.attrs["cutoff"]
    rec = result[result["category"] == "recovered"]
    assert (rec["pre"] > cutoff).all() and (rec["post"] < cutoff).all()
    harmed = result[result["category"] == "harmed"]
    assert (harmed["pre"] <= cutoff).all() and (harmed["post"] >= cutoff).all()


# --- Jacobson & Truax on hand-made data -----------------------------------------------------
# pre 10, 20, 30, 40 -> M 25, SD sqrt(500/3) = 12.9099; r = 0.9: S_diff = sqrt(2*0.1)*SD = 5.7735;
# reliable beyond 1.959964 * 5.7735 = 11.316 points.

PRE = pd.Series([10.0, 20.0, 30.0, 40.0], index=["a", "b", "c", "d"])
POST = pd.Series([22.0, 31.0, 30.0, 28.0], index=["a", "b", "c", "d"])  # +12, +11, 0, -12


def test_hand_made_values():
    result = jacobson_truax(PRE, POST, reliability=0.9, higher_is_better=True)
    s_diff = math.sqrt(2) * math.sqrt(500 / 3) * math.sqrt(0.1)
    assert result.attrs["s_diff"] == pytest.approx(s_diff)
    assert result.attrs["mean"] == 25 and result.attrs["sd"] == pytest.approx(math.sqrt(500 / 3))
    assert result["rci"].tolist() == pytest.approx([12 / s_diff, 11 / s_diff, 0, -12 / s_diff])
    assert result.attrs["method"] == "Jacobson & Truax (1991)"


def test_direction_flips_categories():
    up = jacobson_truax(PRE, POST, reliability=0.9, higher_is_better=True)
    down = jacobson_truax(PRE, POST, reliability=0.9, higher_is_better=False)
    assert up["category"].tolist() == ["improved", "unchanged", "unchanged", "deteriorated"]
    assert down["category"].tolist() == ["deteriorated", "unchanged", "unchanged", "improved"]
    assert up["rci"].tolist() == down["rci"].tolist()  # rci keeps the sign of post - pre


def test_numeric_cutoff_recovered_and_harmed():
    # cutoff 25, higher is better: a 10 -> 22 stays below (improved only); d 40 -> 28 stays
    # above (deteriorated, not harmed). Cutoff 21: a crosses it upward, recovered.
    result = jacobson_truax(PRE, POST, reliability=0.9, higher_is_better=True, cutoff=21)
    assert result["category"].tolist() == ["recovered", "unchanged", "unchanged", "deteriorated"]
    result = jacobson_truax(PRE, POST, reliability=0.9, higher_is_better=True, cutoff=29)
    assert result["category"].tolist() == ["improved", "unchanged", "unchanged", "harmed"]
    assert result.attrs["cutoff"] == 29.0


def test_post_exactly_at_cutoff_is_not_recovered():
    result = jacobson_truax(PRE, POST, reliability=0.9, higher_is_better=True, cutoff=22)
    assert result.loc["a", "category"] == "improved"


def test_cutoff_a_and_b_direction():
    sd = math.sqrt(500 / 3)
    up = jacobson_truax(PRE, POST, reliability=0.9, higher_is_better=True, cutoff="a")
    assert up.attrs["cutoff"] == pytest.approx(25 + 2 * sd)
    down = jacobson_truax(PRE, POST, reliability=0.9, higher_is_better=False, cutoff="a")
    assert down.attrs["cutoff"] == pytest.approx(25 - 2 * sd)
    b_up = jacobson_truax(PRE, POST, reliability=0.9, higher_is_better=True, cutoff="b",
                          functional_mean=50, functional_sd=5)
    assert b_up.attrs["cutoff"] == pytest.approx(40)
    b_down = jacobson_truax(PRE, POST, reliability=0.9, higher_is_better=False, cutoff="b",
                            functional_mean=5, functional_sd=3)
    assert b_down.attrs["cutoff"] == pytest.approx(11)


def test_missing_pairs_dropped_and_index_kept():
    pre = pd.Series([10.0, np.nan, 30.0, 40.0, 20.0], index=[7, 3, 9, 1, 5])
    post = pd.Series([22.0, 31.0, np.nan, 28.0], index=[7, 3, 9, 1])  # 5 has no post at all
    result = jacobson_truax(pre, post, reliability=0.9, higher_is_better=True)
    assert sorted(result.index) == [1, 7]
    assert result.loc[7, "pre"] == 10 and result.loc[7, "post"] == 22
    assert result.attrs["mean"] == 25  # from the complete pairs only (10, 40)


def test_aligned_by_index_not_position():
    pre = pd.Series([10.0, 40.0, 20.0], index=["x", "y", "z"])
    post = pd.Series([28.0, 22.0, 20.0], index=["y", "x", "z"])
    result = jacobson_truax(pre, post, reliability=0.9, higher_is_better=True)
    assert result.loc["x", "change"] == 12 and result.loc["y", "change"] == -12


def test_array_likes_get_a_range_index():
    result = jacobson_truax([10, 20, None, 40], [22, 31, 5, 28], reliability=0.9,
                            higher_is_better=True)
    assert list(result.index) == [0, 1, 3]
    assert list(result.columns) == list(CHANGE_COLUMNS)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"reliability": 1.0}, "reliability"),
    ({"reliability": 0}, "reliability"),
    ({"reliability": -0.2}, "reliability"),
    ({"reliability": float("nan")}, "reliability"),
    ({"reliability": "0.8"}, "reliability"),
    ({"cutoff": "b"}, "functional"),
    ({"cutoff": "c", "functional_mean": 8}, "functional"),
    ({"cutoff": "c", "functional_mean": 8, "functional_sd": 0}, "functional"),
    ({"cutoff": "d"}, "cutoff"),
    ({"cutoff": float("inf")}, "cutoff"),
])
def test_bad_arguments(kwargs, message):
    args = {"reliability": 0.8, "higher_is_better": False, **kwargs}
    with pytest.raises(ValueError, match=message):
        jacobson_truax(PRE, POST, **args)


def test_too_few_pairs_and_no_spread():
    with pytest.raises(ValueError, match="at least 2"):
        jacobson_truax([10, np.nan], [12, 14], reliability=0.8, higher_is_better=False)
    with pytest.raises(ValueError, match="SD 0"):
        jacobson_truax([10, 10, 10], [12, 14, 3], reliability=0.8, higher_is_better=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 27), st.integers(0, 27)), min_size=3, max_size=30),
       st.randoms(use_true_random=False))
def test_row_order_does_not_change_categories(pairs, rnd):
    pre = pd.Series([float(p) for p, _ in pairs])
    post = pd.Series([float(q) for _, q in pairs])
    if pre.std() == 0:
        return
    order = list(pre.index)
    rnd.shuffle(order)
    kwargs = {"reliability": 0.8, "higher_is_better": False, "cutoff": "a"}
    plain = jacobson_truax(pre, post, **kwargs)
    shuffled = jacobson_truax(pre[order], post[order], **kwargs)
    assert shuffled.index.tolist() == order
    assert shuffled["category"].sort_index().tolist() == plain["category"].tolist()
    published = published_change(pre[order], post[order], BUILTIN_MEASURES["phq9"])
    assert published["category"].sort_index().tolist() == \
        published_change(pre, post, BUILTIN_MEASURES["phq9"])["category"].tolist()


# --- published thresholds --------------------------------------------------------------------

def test_published_phq9_by_hand():
    # PHQ-9: lower is better, caseness >= 10, reliable change 6 points.
    pre = pd.Series([16, 12, 5, 14, 16, 9, 10, 11], index=list("abcdefgh"), dtype=float)
    post = pd.Series([6, 20, 12, 10, 10, 3, 16, 17], index=list("abcdefgh"), dtype=float)
    result = published_change(pre, post, PHQ9)
    assert result["category"].to_dict() == {
        "a": "recovered",      # 16 -> 6: -10, case -> not case
        "b": "deteriorated",   # 12 -> 20: +8, a case at both ends
        "c": "harmed",         # 5 -> 12: +7, not a case -> case
        "d": "unchanged",      # 14 -> 10: -4 < 6
        "e": "improved",       # 16 -> 10: exactly -6 counts, but 10 is still a case
        "f": "improved",       # 9 -> 3: -6, never a case
        "g": "deteriorated",   # 10 -> 16: +6, already a case at 10
        "h": "deteriorated",   # 11 -> 17: +6, a case at both ends
    }
    assert result.loc["a", "rci"] == pytest.approx(-10 / 6)
    assert result.loc["b", "change"] == 8
    assert result.attrs == {"method": "published threshold", "threshold": 6.0, "cutoff": 10}


def test_published_ors_higher_is_better():
    # ORS: higher is better, clinical below 25, reliable change 5 points.
    pre = pd.Series([20.0, 30.0, 26.0, 20.0, 22.0])
    post = pd.Series([30.0, 24.0, 20.0, 24.0, 25.0])
    result = published_change(pre, post, ORS)
    assert result["category"].tolist() == [
        "recovered",     # 20 -> 30: +10, clinical -> not
        "harmed",        # 30 -> 24: -6, not clinical -> clinical
        "harmed",        # 26 -> 20: -6
        "unchanged",     # 20 -> 24: +4 < 5
        "unchanged",     # 22 -> 25: +3, although it crosses the cutoff
    ]


def test_published_decimal_scores_reach_threshold():
    assert 10.2 - 4.2 < 6  # float noise: the difference comes out as 5.999...
    result = published_change([10.2, 20.2], [4.2, 14.3], PHQ9)
    assert result["category"].tolist() == ["recovered", "unchanged"]


def test_published_drops_missing_pairs():
    result = published_change(pd.Series([16.0, np.nan, 12.0]), pd.Series([6.0, 5.0, np.nan]),
                              PHQ9)
    assert result.index.tolist() == [0]


def test_published_without_cutoff_has_no_recovery_or_harm():
    measure = Measure(label="Goals", min=0, max=10, higher_is_better=True, reliable_change=2)
    result = published_change([1.0, 9.0, 5.0], [8.0, 2.0, 6.0], measure)
    assert result["category"].tolist() == ["improved", "deteriorated", "unchanged"]


def test_published_needs_a_threshold():
    measure = Measure(label="Goals", min=0, max=10)
    with pytest.raises(ValueError, match="reliable-change"):
        published_change([1.0], [2.0], measure)
