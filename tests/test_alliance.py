"""Tests for workbook.analysis.alliance: summaries, concerns, possible ruptures and
perspective gaps.

Expected values are worked out by hand in the comments. Defaults (workbook.data.config): concern
below 8; trend over the last 6 ratings; rupture baseline = mean of the previous 3 ratings (2
needed), dip when baseline - score >= max(2 points, 1 within-client SD); repair within 3 later
ratings at or above baseline - 1; perspective gap flagged at |mean| >= 2.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbook.analysis.alliance import (
    CLIENT_GAP_COLUMNS,
    CONCERN_COLUMNS,
    GAP_COLUMNS,
    RUPTURE_COLUMNS,
    SUMMARY_COLUMNS,
    analyse_alliance,
    find_concerns,
    find_perspective_gaps,
    find_ruptures,
    summarise_gaps_by_client,
    summarise_signs,
)
from workbook.analysis.periods import Period
from workbook.analysis.pipeline import analyse
from workbook.data.columns import BASE_ORDER, BUILTIN_MEASURE_KEYS
from workbook.data.config import Config, RuptureRule
from workbook.data.errors import ParameterError
from workbook.data.signs import SIGN_KEYS

TS = "trust_safety"
EU = "empathy_understanding"
CONFIG = Config()
EVER = (pd.Timestamp("2000-01-01"), pd.Timestamp("2030-12-31"))
FIRST = pd.Timestamp("2024-01-01")


def series(client, scores, sign=TS, rater="client", therapist="T1", first=FIRST, step=7):
    """Records of one rater's weekly ratings of one client on one sign (None = blank)."""
    return [
        {"client_id": client, "therapist_id": therapist, "rater": rater,
         "session_date": first + pd.Timedelta(days=step * i), sign: score}
        for i, score in enumerate(scores)
    ]


def frame(*groups):
    """The typed ratings frame of columns.py from lists of records (merged per rating event)."""
    records = [r for group in groups for r in group]
    df = pd.DataFrame(records)
    df = df.groupby(["client_id", "session_date", "rater"], as_index=False).first()
    df["session_date"] = pd.to_datetime(df["session_date"]).astype("datetime64[ns]")
    for name, default in (("supervisor_id", None), ("site", None), ("note", None),
                          ("attendance", "attended"), ("therapist_id", "T1")):
        if name not in df:
            df[name] = default
    for name in (*SIGN_KEYS, *BUILTIN_MEASURE_KEYS):
        df[name] = df[name].astype(np.float64) if name in df else np.nan
    df["session_number"] = (
        df.groupby("client_id")["session_date"].rank(method="dense").astype(np.int64)
    )
    df = df.sort_values(["client_id", "session_date", "rater"]).reset_index(drop=True)
    return df[list(BASE_ORDER)]


def day(i):
    """Date of weekly session number i (1-based) in `series`."""
    return FIRST + pd.Timedelta(days=7 * (i - 1))


def ruptures(df, config=CONFIG, period=EVER):
    return find_ruptures(df, config, *period)


# --- possible ruptures -------------------------------------------------------------------------


def test_clean_repaired_episode():
    # SD of 9,9,9,6,7,8.5,9 is 1.22 < 2, so the 2-point rule applies. Session 4: baseline 9,
    # drop 3 -> dip. Repair target 9 - 1 = 8: session 5 (7) no, session 6 (8.5) yes.
    out = ruptures(frame(series("A", [9, 9, 9, 6, 7, 8.5, 9])))
    assert list(out.columns) == list(RUPTURE_COLUMNS)
    assert len(out) == 1
    ep = out.iloc[0]
    assert (ep.client_id, ep.therapist_id, ep.sign, ep.rater) == ("A", "T1", TS, "client")
    assert ep.start_date == day(4) and ep.start_session == 4
    assert ep.baseline == 9 and ep.score == 6 and ep.depth == 3
    assert ep.length == 3  # sessions 4, 5, 6
    assert ep.repair_date == day(6)
    assert ep.status == "repaired"


def test_unrepaired_episode():
    # SD of 9,9,9,5,6,6,6,6 is 1.69. Session 4: drop 4 -> dip; sessions 5-7 all 6 < 8: the
    # window of 3 passes. Later baselines (7.67, 6.67, 6) never give a drop of 2.
    ep = ruptures(frame(series("A", [9, 9, 9, 5, 6, 6, 6, 6]))).iloc[0]
    assert ep.status == "unrepaired"
    assert ep.length == 4  # the dip and its 3-rating window
    assert pd.isna(ep.repair_date)
    assert ep.depth == 4


def test_open_episode_at_end():
    # SD of 9,9,9,5,6 is 1.95. Dip at session 4; only one later rating (6 < 8) so far.
    out = ruptures(frame(series("A", [9, 9, 9, 5, 6])))
    assert len(out) == 1
    assert out.iloc[0].status == "open"
    assert out.iloc[0].length == 2
    assert pd.isna(out.iloc[0].repair_date)


def test_dip_of_exactly_the_threshold_counts():
    # Baseline 8 from two ratings; 8 - 6 = 2 = max(2, SD 1.15) -> a dip (open, nothing after).
    out = ruptures(frame(series("A", [8, 8, 6])))
    assert len(out) == 1
    assert out.iloc[0].depth == 2
    assert out.iloc[0].status == "open" and out.iloc[0].length == 1


def test_dip_of_exactly_the_threshold_counts_despite_rounding():
    # 7.3 - 5.3 is 1.9999999999999996 in floating point; it is still a 2-point drop.
    assert len(ruptures(frame(series("A", [7.3, 7.3, 5.3])))) == 1


def test_dip_just_under_the_threshold_does_not_count():
    assert ruptures(frame(series("A", [8, 8, 6.1]))).empty  # drop 1.9


def test_fewer_than_two_previous_ratings_no_episode():
    # Session 2 falls 4 below session 1, but a baseline needs 2 ratings; at session 3 the
    # baseline is (9 + 5) / 2 = 7 and 9 is no drop.
    assert ruptures(frame(series("A", [9, 5, 9]))).empty


def test_sd_rule_beats_the_point_rule():
    # Ratings 10,10,10,7.5,1,10,10: mean 8.357, sample SD 3.375. Session 4 drops 2.5 from 10:
    # enough for 2 points but not for 1 SD. Session 5: baseline (10+10+7.5)/3 = 9.167, drop
    # 8.167 >= 3.375 -> the only episode; repaired at session 6 (10 >= 8.167).
    df = frame(series("A", [10, 10, 10, 7.5, 1, 10, 10]))
    ep = ruptures(df).iloc[0]
    assert len(ruptures(df)) == 1
    assert ep.start_session == 5
    assert ep.baseline == pytest.approx(27.5 / 3)
    assert (ep.status, ep.length) == ("repaired", 2)
    # With the SD rule switched off, session 4 starts the episode (repaired at 6 where
    # 10 >= 10 - 1) and session 5, inside it, starts none.
    points_only = Config(rupture=RuptureRule(min_drop_sd=0))
    ep = ruptures(df, points_only)
    assert list(ep.start_session) == [4]
    assert (ep.iloc[0].status, ep.iloc[0].length) == ("repaired", 3)


def test_no_second_episode_inside_a_running_one():
    # SD of 9,9,9,6,4,4,9 is 2.41. Session 4: drop 3 -> dip. Session 5: baseline 8, drop 4
    # would be a dip, but the episode runs until its repair at session 7 (9 >= 8).
    out = ruptures(frame(series("A", [9, 9, 9, 6, 4, 4, 9])))
    assert list(out.start_session) == [4]
    assert (out.iloc[0].status, out.iloc[0].length) == ("repaired", 4)


def test_new_episode_after_a_repair():
    # SD of 9,9,9,6,9,9,9,6 is 1.93 -> 2 points. Dip at 4, repaired at 5; dip at 8, open.
    out = ruptures(frame(series("A", [9, 9, 9, 6, 9, 9, 9, 6])))
    assert list(out.start_session) == [4, 8]
    assert list(out.status) == ["repaired", "open"]


def test_a_series_that_never_drops_has_no_episode():
    assert ruptures(frame(series("A", [7, 8, 9, 10, 10, 10]))).empty


def test_series_are_per_rater_and_per_sign():
    # The client's 5 follows the therapist's 9s, not the client's own: no baseline mixing.
    df = frame(series("A", [9, 9, 9], rater="therapist"), series("A", [5, 5, 5], rater="client"),
               series("A", [9, 9, 9], sign=EU), series("A", [5], sign=TS, rater="observer",
                                                        first=day(4)))
    assert ruptures(df).empty


def test_ratings_after_end_are_ignored():
    df = frame(series("A", [9, 9, 9, 5, 9, 2, 2]))
    # Up to session 4: SD of 9,9,9,5 is 2 -> dip of 4, open with no later rating.
    ep = ruptures(df, period=(EVER[0], day(4))).iloc[0]
    assert (ep.status, ep.length, ep.start_session) == ("open", 1, 4)
    # Up to session 5 it is repaired; the later 2s would not change that either way.
    ep = ruptures(df, period=(EVER[0], day(5))).iloc[0]
    assert (ep.status, ep.repair_date) == ("repaired", day(5))


def test_episodes_returned_in_every_period_they_are_open_or_end_in():
    df = frame(series("A", [9, 9, 9, 6, 9, 9, 9, 6]))  # dips at sessions 4 and 8
    # the first is repaired at session 5: it belongs to a period holding session 4 or 5
    assert list(ruptures(df, period=(day(5), day(8))).start_session) == [4, 8]
    assert list(ruptures(df, period=(day(6), day(8))).start_session) == [8]
    assert list(ruptures(df, period=(day(4), day(4))).start_session) == [4]


def test_rupture_output_sorted_and_therapist_of_the_dip_session():
    df = frame(series("B", [9, 9, 9, 6], therapist="T2"), series("A", [9, 9, 9, 6], sign=EU),
               series("A", [9, 9, 9, 6]))
    out = ruptures(df)
    assert list(zip(out.client_id, out.sign, strict=True)) == [("A", TS), ("A", EU), ("B", TS)]
    assert list(out.therapist_id) == ["T1", "T1", "T2"]


# --- per-sign summary --------------------------------------------------------------------------


def test_trend_slope_of_a_known_line():
    # Last 6 ratings (sessions 3-8) lie on score = 1 + 0.5 * session; the first two do not.
    scores = [10, 10] + [1 + 0.5 * s for s in range(3, 9)]
    out = summarise_signs(frame(series("A", scores)), CONFIG, *EVER)
    assert out.iloc[0].trend == pytest.approx(0.5)


def test_trend_needs_two_ratings():
    out = summarise_signs(frame(series("A", [9])), CONFIG, *EVER)
    assert math.isnan(out.iloc[0].trend)


def test_summary_figures_for_a_period():
    # Weekly sessions 1-6: 9, 8, 7 | 6, 7.5, 8. Period = sessions 4-6 (15 days); the previous
    # 15 days hold sessions 2 and 3 (day 7 and 14 before the period start on day 21).
    df = frame(series("A", [9, 8, 7, 6, 7.5, 8]), series("A", [9, 9], rater="therapist",
                                                          first=day(5)))
    out = summarise_signs(df, CONFIG, day(4), day(6))
    assert list(out.columns) == list(SUMMARY_COLUMNS)
    row = out[out.rater == "client"].iloc[0]
    assert row.n_period == 3
    assert row.latest == 8 and row.latest_date == day(6)
    assert row.mean_period == pytest.approx(21.5 / 3)
    assert row.previous_mean == pytest.approx(7.5)
    assert row.change == pytest.approx(21.5 / 3 - 7.5)
    assert row.concern_n == 2  # 6 and 7.5; 8 is not a concern
    assert row.min_period == 6
    # trend over all 6 ratings: x = 1..6 (mean 3.5), y = 9,8,7,6,7.5,8:
    # Sxy = -2.5*9 - 1.5*8 - 0.5*7 + 0.5*6 + 1.5*7.5 + 2.5*8 = -3.75, Sxx = 17.5
    assert row.trend == pytest.approx(-3.75 / 17.5)
    assert list(out.rater) == ["client", "therapist"]
    assert out.iloc[1].n_period == 2 and math.isnan(out.iloc[1].previous_mean)


def test_summary_series_without_ratings_in_the_period():
    # Client A seen in the period (a therapist rating), client-rated only before it.
    df = frame(series("A", [9, 8]), series("A", [9], rater="therapist", first=day(3)),
               series("B", [7, 7]))
    # Period: the 7 days after session 2 up to session 3; the previous 7 days end on session 2.
    out = summarise_signs(df, CONFIG, day(2) + pd.Timedelta(days=1), day(3))
    assert list(zip(out.client_id, out.rater, strict=True)) == [("A", "client"), ("A", "therapist")]
    row = out.iloc[0]
    assert row.n_period == 0 and row.concern_n == 0
    assert math.isnan(row.latest) and pd.isna(row.latest_date) and math.isnan(row.min_period)
    assert math.isnan(row.mean_period) and row.previous_mean == 8 and math.isnan(row.change)


def test_summary_ignores_ratings_after_end_and_uses_current_therapist():
    df = frame(series("A", [9, 6], therapist="T1"), series("A", [5], therapist="T2", first=day(3)),
               series("A", [2], therapist="T3", first=day(4)))
    row = summarise_signs(df, CONFIG, day(2), day(3)).iloc[0]
    assert (row.therapist_id, row.n_period, row.latest, row.min_period) == ("T2", 2, 5, 5)


# --- concern ratings ---------------------------------------------------------------------------


def test_concern_threshold_boundary():
    df = frame(series("A", [8, 7.5, 9, 3]), series("A", [8.0, 7.9], sign=EU, rater="therapist"))
    out = find_concerns(df, CONFIG, day(1), day(3))
    assert list(out.columns) == list(CONCERN_COLUMNS)
    assert list(zip(out.session_number, out.sign, out.rater, out.score, strict=True)) == [
        (2, TS, "client", 7.5), (2, EU, "therapist", 7.9)]
    assert list(out.session_date) == [day(2), day(2)]
    assert out.iloc[0].therapist_id == "T1"


def test_a_concern_puts_a_client_on_the_discussion_list_only_while_it_is_current():
    # A dips to 7 and comes back (a repaired possible rupture: a win); D dips by a point and
    # comes back (mean 8); B's latest rating is 7; C's latest is 8 but the period mean 7.33.
    # Every one of those ratings below 8 stays in the concerns (the sign sections).
    df = frame(series("A", [9, 9, 9, 7, 9]), series("B", [8, 8, 8, 7]), series("C", [7, 7, 8]),
               series("D", [8, 7, 8, 9]), series("E", [9, 9, 9, 9]))
    result = analyse(df, CONFIG, Period(*EVER))
    assert sorted(result.concerns["client_id"]) == ["A", "B", "C", "C", "D"]
    listed = result.discussion.set_index("client_id")
    assert sorted(listed.index) == ["B", "C"]
    assert listed.at["B", "kinds"] == ["concern"]
    assert listed.at["B", "reasons"] == ["Client ratings below 8 still current: Trust & safety "
                                         "(latest 7, mean 7.8)"]
    assert listed.at["C", "reasons"] == ["Client ratings below 8 still current: Trust & safety "
                                         "(latest 8, mean 7.3)"]
    assert result.wins.set_index("client_id").at["A", "kind"] == "repaired"


def test_a_concern_counts_per_sign_and_only_for_the_clients_own_ratings():
    # the therapist's 6 is no concern for the list; the client's 7 on empathy is current
    # although trust & safety came back
    df = frame(series("A", [9, 7, 9]), series("A", [8, 8, 7], sign=EU),
               series("A", [6, 6, 6], sign=EU, rater="therapist"),
               series("B", [9, 9, 9]), series("B", [6, 6, 6], sign=EU, rater="therapist"))
    listed = analyse(df, CONFIG, Period(*EVER)).discussion.set_index("client_id")
    assert "concern" in listed.at["A", "kinds"]
    assert listed.at["A", "reasons"][listed.at["A", "kinds"].index("concern")] == (
        "Client ratings below 8 still current: Empathy & understanding (latest 7, mean 7.7)")
    assert "concern" not in listed["kinds"].get("B", [])


def test_empty_outputs_keep_their_columns():
    df = frame(series("A", [9, 9, 9]))
    late = (pd.Timestamp("2029-01-01"), pd.Timestamp("2029-12-31"))
    assert list(find_concerns(df, CONFIG, *late).columns) == list(CONCERN_COLUMNS)
    assert list(summarise_signs(df, CONFIG, *late).columns) == list(SUMMARY_COLUMNS)
    assert summarise_signs(df, CONFIG, *late).empty
    assert list(find_perspective_gaps(df, CONFIG, *late).columns) == list(GAP_COLUMNS)
    assert list(summarise_gaps_by_client(df, CONFIG, *late).columns) == list(CLIENT_GAP_COLUMNS)
    assert ruptures(df.iloc[0:0]).empty


def test_start_after_end_is_refused():
    with pytest.raises(ParameterError):
        find_concerns(frame(series("A", [9])), CONFIG, day(2), day(1))


# --- perspective gaps --------------------------------------------------------------------------


def test_perspective_gap_sign_and_flag():
    df = frame(
        series("A", [7, 7, 6]), series("A", [9.5, 9, 8], rater="therapist"),  # +2.5, +2, +2
        series("A", [9, 9], sign=EU), series("A", [8, 8], sign=EU, rater="therapist"),  # -1, -1
        series("A", [5], sign=EU, rater="therapist", first=day(4)),  # no client rating: unpaired
        series("B", [6, 6], sign=EU), series("B", [9, 9], sign=EU, rater="therapist",
                                              first=day(2)),  # one pair only: +3
    )
    out = find_perspective_gaps(df, CONFIG, *EVER)
    assert list(out.columns) == list(GAP_COLUMNS)
    pairs = list(zip(out.client_id, out.sign, out.n_pairs, strict=True))
    assert pairs == [("A", TS, 3), ("A", EU, 2), ("B", EU, 1)]
    assert list(out.mean_gap) == pytest.approx([6.5 / 3, -1, 3])
    assert list(out.flagged) == [True, False, True]
    by_client = summarise_gaps_by_client(df, CONFIG, *EVER)
    assert list(by_client.client_id) == ["A", "B"]
    assert list(by_client.n_pairs) == [5, 1]
    assert list(by_client.mean_gap) == pytest.approx([(6.5 - 2) / 5, 3])
    assert list(by_client.flagged) == [True, True]  # A's trust gap counts: never pooled


def test_perspective_gap_of_minus_two_is_flagged_and_period_applies():
    df = frame(series("A", [9, 9, 2]), series("A", [7, 7, 9], rater="therapist"))
    out = find_perspective_gaps(df, CONFIG, day(1), day(2))
    assert out.iloc[0].mean_gap == -2 and out.iloc[0].flagged
    assert out.iloc[0].n_pairs == 2


def test_analyse_alliance_matches_the_separate_functions():
    df = frame(series("A", [9, 9, 9, 6, 9]), series("A", [9, 8, 9, 9, 9], rater="therapist"))
    both = analyse_alliance(df, CONFIG, day(2), day(5))
    pd.testing.assert_frame_equal(both["summary"], summarise_signs(df, CONFIG, day(2), day(5)))
    pd.testing.assert_frame_equal(both["ruptures"], find_ruptures(df, CONFIG, day(2), day(5)))
    pd.testing.assert_frame_equal(
        both["gaps_by_client"], summarise_gaps_by_client(df, CONFIG, day(2), day(5)))


# --- properties --------------------------------------------------------------------------------

SCORES = st.one_of(st.none(), st.sampled_from([x / 2 for x in range(0, 21)]))


@st.composite
def clinics(draw):
    """A small random clinic: 1-4 clients, client and therapist ratings on two signs."""
    groups = []
    for client in draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=4,
                                unique=True)):
        n = draw(st.integers(1, 10))
        for rater in ("client", "therapist"):
            for sign in (TS, EU):
                scores = draw(st.lists(SCORES, min_size=n, max_size=n))
                groups.append(series(client, scores, sign=sign, rater=rater,
                                     therapist=f"T{client}"))
    return frame(*groups)


def _all_outputs(df):
    start, end = day(3), day(8)
    out = analyse_alliance(df, CONFIG, start, end)
    out["gaps_separate"] = find_perspective_gaps(df, CONFIG, start, end)
    return out


@settings(max_examples=60, deadline=None)
@given(clinics(), st.randoms(use_true_random=False))
def test_row_order_does_not_change_any_output(df, rnd):
    order = list(range(len(df)))
    rnd.shuffle(order)
    shuffled = df.iloc[order].reset_index(drop=True)
    expected, got = _all_outputs(df), _all_outputs(shuffled)
    for key in expected:
        pd.testing.assert_frame_equal(expected[key], got[key])


@settings(max_examples=60, deadline=None)
@given(clinics())
def test_renaming_clients_only_renames(df):
    rename = {"a": "z9", "b": "m1", "c": "A0", "d": "k"}  # a bijection that reorders IDs
    renamed = df.assign(client_id=df["client_id"].map(rename))
    expected, got = _all_outputs(df), _all_outputs(renamed)
    for key in expected:
        want = expected[key].assign(client_id=expected[key]["client_id"].map(rename))
        sort = [c for c in ("client_id", "session_date", "start_date") if c in want]
        sort += [c for c in ("sign", "rater") if c in want]
        want = want.sort_values(sort, kind="stable").reset_index(drop=True)
        have = got[key].sort_values(sort, kind="stable").reset_index(drop=True)
        pd.testing.assert_frame_equal(want, have)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([x / 2 for x in range(0, 21)]), min_size=1, max_size=15),
       st.integers(1, 4), st.floats(0.5, 3))
def test_non_decreasing_series_never_has_an_episode(scores, baseline_n, points):
    config = Config(rupture=RuptureRule(baseline_ratings=baseline_n, min_baseline_ratings=1,
                                        min_drop_points=points, min_drop_sd=0))
    assert ruptures(frame(series("a", sorted(scores))), config).empty


def _reference_episodes(scores, rule):
    """A plain loop over one series, straight from the design's wording."""
    sd = float(np.std(scores, ddof=1)) if len(scores) > 1 else math.nan
    need = rule.min_drop_points if math.isnan(sd) else max(rule.min_drop_points,
                                                            rule.min_drop_sd * sd)
    episodes, blocked = [], -1
    for i, score in enumerate(scores):
        previous = scores[max(0, i - rule.baseline_ratings):i]
        if i <= blocked or len(previous) < rule.min_baseline_ratings:
            continue
        baseline = sum(previous) / len(previous)
        if baseline - score < need - 1e-9:
            continue
        later = scores[i + 1:i + 1 + rule.repair_window]
        back = [d for d, v in enumerate(later, 1) if v >= baseline - rule.repair_tolerance - 1e-9]
        if back:
            status, span = "repaired", back[0]
        else:
            status = "unrepaired" if len(later) == rule.repair_window else "open"
            span = len(later)
        episodes.append((i + 1, baseline, score, span + 1, status))
        blocked = i + span
    return episodes


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from([x / 2 for x in range(0, 21)]), min_size=1, max_size=25),
       st.integers(1, 4), st.integers(1, 4), st.sampled_from([1.0, 2.0, 2.5]),
       st.sampled_from([0.0, 0.5, 1.0]), st.integers(1, 4), st.sampled_from([0.0, 1.0]))
def test_ruptures_match_a_plain_loop(scores, base, need, points, sds, window, tol):
    rule = RuptureRule(baseline_ratings=base, min_baseline_ratings=need, min_drop_points=points,
                       min_drop_sd=sds, repair_window=window, repair_tolerance=tol)
    out = ruptures(frame(series("a", scores)), Config(rupture=rule))
    got = [(r.start_session, pytest.approx(r.baseline), r.score, r.length, r.status)
           for r in out.itertuples()]
    assert got == _reference_episodes(scores, rule)
