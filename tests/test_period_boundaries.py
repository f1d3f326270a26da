"""Period boundaries: the same caseload analysed month by month. Every episode, change and
finding shows up in the months it belongs to (DESIGN.md: a finding belongs to every period in
which it is open, changes status or ends), and the months add up to the whole range."""

from __future__ import annotations

import pandas as pd
import pytest
from caseloads import session, typed, weekly

from workbook.analysis.periods import Period, parse_month
from workbook.analysis.pipeline import analyse
from workbook.data.config import Config
from workbook.data.example_data import generate_clinic
from workbook.data.measures import BUILTIN_MEASURES

MONTHS = ["2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]
CONFIG = Config()


@pytest.fixture(scope="module")
def clinic():
    frame = generate_clinic(therapists=7, clients_per_therapist=10, weeks=22, seed=11)
    frame = frame[frame["session_date"] <= pd.Timestamp("2026-10-31")]
    records = frame.to_dict("records")
    for r in records:
        r["session_date"] = f"{pd.Timestamp(r['session_date']):%Y-%m-%d}"
    # a dip on the last day of August, unrepaired through September; a dip on Sep 29
    # repaired on Oct 6
    records += weekly("B1", "2026-08-10", [9, 9, 9, 3, 4, 4, 4, 9], therapist="T01")
    records += weekly("B2", "2026-09-08", [9, 9, 9, 5, 9], therapist="T02")
    # a handover on Oct 1: T01 in September, T02 in October
    records += [session("H1", d, "T01" if d < "2026-10-01" else "T02", trust_safety=v, phq9=p)
                for d, v, p in (("2026-09-10", 9, 8), ("2026-09-24", 8, 9),
                                ("2026-10-01", 8, 15), ("2026-10-15", 9, 9))]
    ratings = typed(records)
    months = {m: analyse(ratings, CONFIG, parse_month(m)) for m in MONTHS}
    whole = analyse(ratings, CONFIG, Period(pd.Timestamp("2026-06-01"),
                                            pd.Timestamp("2026-10-31")))
    return ratings, months, whole


def _key(frame: pd.DataFrame, columns: list[str]) -> set[tuple]:
    return set(map(tuple, frame[columns].astype(str).to_numpy()))


def test_episodes_show_in_every_month_from_start_to_end(clinic):
    _, months, whole = clinic
    columns = ["client_id", "sign", "rater", "start_date"]
    seen: dict[tuple, list[str]] = {}
    for m, a in months.items():
        for key in _key(a.ruptures, columns):
            seen.setdefault(key, []).append(m)
    assert _key(whole.ruptures, columns) <= set(seen)  # nothing is lost between months
    final = whole.ruptures.set_index(columns)
    for key, found in seen.items():
        ep = final.loc[tuple(pd.Timestamp(k) if i == 3 else k for i, k in enumerate(key))]
        first = f"{pd.Timestamp(key[3]):%Y-%m}"
        last = (f"{ep['end_date']:%Y-%m}" if ep["status"] != "open" else MONTHS[-1])
        expected = [m for m in MONTHS if first <= m <= last]
        assert found == expected, (key, found, expected)


def test_a_dip_at_the_month_end_is_unrepaired_in_the_next_month(clinic):
    _, months, _ = clinic
    status = {m: list(a.ruptures.loc[a.ruptures["client_id"] == "B1", "status"])
              for m, a in months.items()}
    assert status["2026-08"] == ["open"] and status["2026-09"] == ["unrepaired"]
    assert status["2026-10"] == []  # ended in September
    assert "trust_rupture" in months["2026-09"].discussion.set_index("client_id").at["B1",
                                                                                       "kinds"]
    wins = {m: list(a.wins.loc[a.wins["client_id"] == "B2", "kind"]) for m, a in months.items()}
    assert wins["2026-09"] == [] and wins["2026-10"] == ["repaired"]


def test_concerns_sessions_and_completeness_add_up_over_the_months(clinic):
    _, months, whole = clinic
    concerns = pd.concat([a.concerns for a in months.values()])
    assert len(concerns) == len(whole.concerns)
    assert _key(concerns, ["client_id", "session_date", "sign", "rater"]) == \
        _key(whole.concerns, ["client_id", "session_date", "sign", "rater"])
    for frame, column in (("attendance", "sessions"), ("attendance", "no_show"),
                          ("completeness", "attended_sessions"),
                          ("completeness", "rated_by_client")):
        by_month = pd.concat([getattr(a.current(), frame) for a in months.values()])
        total = by_month.groupby("client_id")[column].sum()
        once = getattr(whole.current(), frame)  # one view per client: the current therapist's
        assert once["client_id"].is_unique
        assert total.to_dict() == once.set_index("client_id")[column].to_dict()


def test_each_months_previous_mean_is_the_month_before(clinic):
    _, months, _ = clinic
    key = ["client_id", "sign", "rater"]
    for before, after in zip(MONTHS, MONTHS[1:], strict=False):
        prev = months[before].signs.set_index(key)["mean_period"].dropna()
        now = months[after].signs.set_index(key)["previous_mean"].dropna()
        assert len(now) > 20
        common = now.index.intersection(prev.index)
        assert len(common) == len(now)  # a previous mean is always a month's own mean
        pd.testing.assert_series_equal(now.loc[common], prev.loc[common], check_names=False)


def test_a_reliable_worsening_shows_in_the_month_of_the_score(clinic):
    ratings, months, _ = clinic
    phq = BUILTIN_MEASURES["phq9"]
    for m, a in months.items():
        start = parse_month(m)
        for r in a.outcomes[a.outcomes["measure"] == "phq9"].itertuples():
            own = ratings[(ratings["client_id"] == r.client_id) & ratings["phq9"].notna()
                          & (ratings["session_date"] <= start.end)]
            own = own.drop_duplicates("session_date").sort_values("session_date")
            first = own["phq9"].iloc[0]
            month = own[own["session_date"] >= start.start]["phq9"]
            expected = bool(((month - first) >= phq.reliable_change).any())
            assert bool(r.worse_in_period) == expected, (m, r.client_id)


def test_a_handover_at_the_month_boundary(clinic):
    _, months, _ = clinic
    sep, octo = months["2026-09"], months["2026-10"]
    assert set(sep.attendance.loc[sep.attendance["client_id"] == "H1", "therapist_id"]) == {"T01"}
    # in October T01 had no session with H1: no former view; T02 sees the course from September
    assert set(octo.attendance.loc[octo.attendance["client_id"] == "H1", "therapist_id"]) == \
        {"T02"}
    h1 = octo.outcomes[octo.outcomes["client_id"] == "H1"].iloc[0]
    assert (h1.first_score, h1.latest_score, bool(h1.worse_in_period)) == (8, 9, True)
    note = octo.handovers.set_index("client_id").loc["H1"]
    assert (note["therapist_id"], note["role"], note["other_therapists"]) == ("T02", "current",
                                                                             "T01")
