"""The SRS alliance alert against a plain reference on generated SRS courses, and its place on
the discussion list (after possible ruptures, before dropout risk)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from workbook.analysis.agenda import REASON_ORDER, rank_discussion
from workbook.analysis.alliance_alert import find_alliance_alerts
from workbook.data.config import parse_config

START, END = pd.Timestamp("2026-10-01"), pd.Timestamp("2026-10-31")


def frame_of(courses: list[list[float | None]]) -> pd.DataFrame:
    rows = []
    for c, course in enumerate(courses):
        for w, srs in enumerate(course):
            rows.append({"client_id": f"C{c}", "therapist_id": "T1", "rater": "client",
                         "session_date": pd.Timestamp("2026-09-01") + pd.Timedelta(days=7 * w),
                         "srs": np.nan if srs is None else srs})
    return pd.DataFrame(rows)


def reference(courses, cutoff=36.0, fall=1.0) -> set[tuple[str, str, bool]]:
    """(client, date, open) of each alerting SRS in the period or a client's open latest one."""
    out = set()
    for c, course in enumerate(courses):
        scored = [(pd.Timestamp("2026-09-01") + pd.Timedelta(days=7 * w), s)
                  for w, s in enumerate(course) if s is not None]
        scored = [(d, s) for d, s in scored if d <= END]
        for i, (day, srs) in enumerate(scored):
            fell = i > 0 and scored[i - 1][1] - srs >= fall
            latest = i == len(scored) - 1
            if (srs < cutoff or fell) and (day >= START or latest):
                out.add((f"C{c}", f"{day:%Y-%m-%d}", latest))
    return out


totals = st.one_of(st.none(), st.integers(56, 80).map(lambda x: x / 2))  # 28 to 40 by halves


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(totals, min_size=1, max_size=12), min_size=1, max_size=6),
       st.sampled_from([(36, 1), (35, 2.5)]))
def test_alerts_match_the_reference(courses, rule):
    cutoff, fall = rule
    config = parse_config({"instruments": {"srs_alert_below": cutoff, "srs_alert_fall": fall}})
    alerts = find_alliance_alerts(frame_of(courses), config, START, END)
    got = {(r.client_id, f"{r.session_date:%Y-%m-%d}", bool(r.open))
           for r in alerts.itertuples()}
    assert got == reference(courses, cutoff, fall)


def test_therapist_ratings_and_missing_totals_raise_no_alert():
    frame = frame_of([[30.0, 30.0]]).assign(rater="therapist")
    assert find_alliance_alerts(frame, parse_config({}), START, END).empty
    assert find_alliance_alerts(frame.drop(columns="srs"), parse_config({}), START, END).empty


def test_the_alert_ranks_after_ruptures_and_before_dropout():
    assert REASON_ORDER.index("rupture") < REASON_ORDER.index("alliance") < REASON_ORDER.index(
        "dropout")
    alerts = find_alliance_alerts(frame_of([[39.0, 39.0, 39.0, 39.0, 39.0, 34.5]]),
                                  parse_config({}), START, END)
    empty = pd.DataFrame(columns=["client_id", "therapist_id"])
    attendance = pd.DataFrame({"client_id": ["C9"], "therapist_id": ["T1"],
                               "dropout_risk": [True], "dropout_reason": ["2 no-shows"]})
    table = rank_discussion(
        outcomes=empty.assign(category=[], not_on_track=[], worse_in_period=[]),
        ruptures=empty.assign(status=[], sign=[]), attendance=attendance,
        signs=empty.assign(rater=[], sign=[], n_period=[], latest=[], mean_period=[]),
        gaps=empty.assign(flagged=[]),
        completeness=empty.assign(low=[]), concern_below=8, alliance_alerts=alerts)
    assert table["client_id"].tolist() == ["C0", "C9"]
    assert table.loc[0, "top_reason"] == "Alliance alert (SRS)"
    assert table.loc[0, "reasons"] == [
        "Alliance alert: SRS 34.5 on 2026-10-06, below 36 and down 4.5 from 39 at the previous "
        "SRS; still the latest SRS"]
