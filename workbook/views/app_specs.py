"""The caseload app's chart specs for a filter state, by view key: which builder draws each
view, with which rows, and which clients a sign chart picks out.

A view key is a sign key, "heatmap", "gap", "attendance" or "outcome:<measure>"; a course key is
"course:signs", "course:gap", "course:attendance" or "course:outcome:<measure>".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from workbook.analysis.pipeline import Analysis
from workbook.data.config import Config
from workbook.data.signs import SIGN_KEYS
from workbook.views import app_charts as ac
from workbook.views.app_rows import latest_ratings
from workbook.views.course import course_specs
from workbook.views.filters import OUTCOME_PREFIX, FilterState

HIGHLIGHT_CHOSEN = 12  # a choice of up to this many clients is drawn client by client
LIVE = ("unrepaired", "open")


def course_keys(config: Config) -> list[str]:
    """Every course view the app may show, in order."""
    return ["course:signs", "course:gap", "course:attendance",
            *(f"course:outcome:{key}" for key in config.all_measures())]


def build_view_specs(mine: Analysis, state: FilterState,
                     keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The specs of these views for a caseload analysis (cut to the therapist and clients)."""
    span = {"start": state.start, "end": state.end}
    rows, config = mine.ratings, mine.config
    specs: dict[str, dict[str, Any]] = {}
    for key in keys:
        if key in SIGN_KEYS:
            specs[key] = ac.spec_caseload_sign(
                rows, key, config=config, rater=state.rater, highlight=_highlight(mine, key,
                                                                                  state),
                ruptures=mine.ruptures, **span)
        elif key == "heatmap":
            latest = latest_ratings(rows, rater=state.rater, signs=state.signs, **span)
            specs[key] = ac.spec_latest_heatmap(latest, config=config, rater=state.rater,
                                                signs=state.signs)
        elif key == "gap":
            specs[key] = ac.spec_gap_app(rows, config=config, signs=state.signs, **span)
        elif key == "attendance":
            specs[key] = ac.spec_attendance_app(rows, **span)
        elif key.startswith(OUTCOME_PREFIX):
            specs[key] = ac.spec_outcome_app(rows, key.removeprefix(OUTCOME_PREFIX),
                                             config=config, **span)
    return specs


def _highlight(mine: Analysis, sign: str, state: FilterState) -> list[str]:
    """The clients a sign chart draws one by one: a small choice of clients as chosen, else
    those whose latest or mean rating by the rater is below the concern threshold, or with a
    possible rupture on the sign not repaired."""
    if state.clients is not None and len(state.clients) <= HIGHLIGHT_CHOSEN:
        return sorted(state.clients)
    below = mine.config.thresholds.concern_below
    s = mine.signs
    s = s[(s["sign"] == sign) & (s["rater"] == state.rater) & (s["n_period"] > 0)]
    low = s.loc[(s["latest"] < below) | (s["mean_period"] < below), "client_id"]
    r = mine.ruptures
    live = r.loc[(r["sign"] == sign) & (r["rater"] == state.rater) & r["status"].isin(LIVE),
                 "client_id"]
    return sorted(set(low) | set(live))


def build_course_specs(mine: Analysis, client_id: str,
                       state: FilterState) -> dict[str, dict[str, Any]]:
    """One client's course: their whole record up to the period's end (the period shaded by
    the builders), from the caseload's rows only."""
    rows = mine.ratings[mine.ratings["client_id"] == client_id]
    ruptures = mine.ruptures[mine.ruptures["client_id"] == client_id]
    return course_specs(rows, ruptures, config=mine.config, client_id=client_id,
                        start=None, end=state.end)
