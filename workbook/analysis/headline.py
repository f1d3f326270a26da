"""The headline figures of one caseload: clients, sessions, attendance, ratings, ruptures, and
clients to discuss, shown first in the therapist report and in the caseload app."""

from __future__ import annotations

import pandas as pd

from workbook.analysis.pipeline import Analysis
from workbook.data.signs import SIGN_KEYS


def headline_figures(analysis: Analysis, rater: str = "client") -> list[tuple[str, str]]:
    """(label, value) pairs for an analysis already cut to one caseload; "rated by" counts the
    attended sessions in the period that `rater` rated on at least one sign."""
    att = analysis.attendance
    sessions, attended = att["sessions"].sum(), att["attended"].sum()
    rated = (analysis.completeness["rated_by_client"].sum() if rater == "client"
             else _rated_sessions(analysis, rater))
    live = analysis.ruptures["status"].isin(["unrepaired", "open"]).sum()
    return [
        ("clients seen", str(len(att))),
        ("sessions attended", str(int(attended))),
        ("attendance", f"{attended / sessions:.0%}" if sessions else "–"),
        (f"rated by the {rater}", f"{rated / attended:.0%}" if attended else "–"),
        ("possible ruptures not repaired", str(int(live))),
        ("clients to discuss", str(len(analysis.discussion))),
    ]


def _rated_sessions(analysis: Analysis, rater: str) -> int:
    """Attended sessions in the period with a rating by `rater` on some sign."""
    rows = analysis.ratings
    period = analysis.period
    day = rows["session_date"].dt.normalize()
    keep = ((rows["rater"] == rater) & (rows["attendance"] == "attended")
            & (day >= period.start) & (day <= period.end)
            & rows[list(SIGN_KEYS)].notna().any(axis=1))
    keys = rows.loc[keep, ["client_id", "therapist_id", "session_date"]]
    return int(len(pd.MultiIndex.from_frame(keys).unique()))
