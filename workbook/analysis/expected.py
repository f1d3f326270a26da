"""Expected treatment response: is a client's latest score where similar clients usually are?

The model (per outcome measure, fitted on the clinic's own history, like MyOutcomes' expected
treatment response and OQ-Analyst's recovery curves, but with intake-binned percentiles rather
than a fitted curve, so every figure on the report is a count of real courses):

- A course is one client's scores on the measure up to the period end (their current view;
  `workbook.analysis.outcomes` picks one score per session). Its intake is the first score; a
  score's session is `session_number - session_number at intake + 1` (at least 1), so the
  intake session is session 1.
- Sessions are grouped in half-octave bands on a log scale (`session_band`: 1, 2, 3, 4-5, 6-7,
  8-11, 12-15, 16-22, 23-31, ...): expected change is fast early and slows later.
- Each course contributes one entry per band it reached: its latest score in that band.
- A client's latest score at session s (s >= `first_session`) is compared with the entries of
  the other clients (never the client's own) in the same band whose intake lies within
  `intake_window` x the measure's range of theirs. With `min_similar` or more of them, the lower
  band is the score that a share `band` of them did worse than (the 75th percentile of the
  scores when lower is better, the 25th when higher is better; linear interpolation), and the
  client is **not on track** when their latest score is worse than it.
- A measure with fewer than `min_courses` courses (clients with two or more scores), or a client
  with too few similar clients, falls back to the published-threshold rule, limited to clients
  who started in the clinical range (all clients for a measure without a clinical cutoff).

Limits, stated on the reports: the courses are the clinic's own (their mix of clients and
treatments), ongoing courses count with the scores they have so far, a course ended early
counts only in the bands it reached, and a flag is a prompt to look, not a prediction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbook.analysis.handover import SEPARATOR
from workbook.data.config import Config

TOLERANCE = 1e-9
EXPECTED = "expected"  # judged by the model
TOO_EARLY = "too_early"  # the model applies, but the session is before `first_session`
FEW_SIMILAR = "few_similar"  # published rule: too few similar clients for this client
FEW_COURSES = "few_courses"  # published rule: too few courses on the measure


def session_band(session: np.ndarray) -> np.ndarray:
    """Half-octave band of a session number (1 -> 0, 2 -> 2, 3 -> 3, 4-5 -> 4, 6-7 -> 5, ...)."""
    s = np.maximum(np.asarray(session, dtype=float), 1.0)
    return np.floor(2 * np.log2(s) + TOLERANCE).astype(np.int64)


def band_sessions(band: int) -> tuple[int, int]:
    """The first and last session number of a band."""
    lo = math.ceil(2 ** (band / 2) - TOLERANCE)
    hi = math.ceil(2 ** ((band + 1) / 2) - TOLERANCE) - 1
    return lo, max(lo, hi)


@dataclass(frozen=True, eq=False)
class ExpectedModel:
    """Per measure: the entries (client_id, intake, band, value: a course's latest score in each
    band it reached) and the number of courses (clients with two or more scores). Compared by
    identity (pandas compares frames' attrs when it concatenates them). Never changed once
    fitted, so a deep copy is the model itself: pandas deep-copies a frame's `attrs`, where the
    outcomes frame keeps its model, at every operation on the frame."""

    entries: dict[str, pd.DataFrame]
    courses: dict[str, int]

    def __deepcopy__(self, memo: dict) -> ExpectedModel:
        return self

    def counts_only(self) -> ExpectedModel:
        """The model without its entries: the course counts a report states, for a report's
        task (the entries are ~0.6 MB pickled at 100 therapists and only judge rows)."""
        return ExpectedModel({}, dict(self.courses))


def fit_expected(scores: pd.DataFrame) -> ExpectedModel:
    """The model from one row per client, measure and session (client_id, measure, date,
    session, value, intake), sorted by client, measure and date."""
    entries, courses = {}, {}
    frame = scores.assign(band=session_band(scores["session"].to_numpy()))
    for key, part in frame.groupby("measure", sort=True):
        n = part.groupby("client_id", sort=False).size()
        courses[key] = int((n >= 2).sum())
        last = part.drop_duplicates(["client_id", "band"], keep="last")
        entries[key] = last[["client_id", "intake", "band", "value"]].reset_index(drop=True)
    return ExpectedModel(entries, courses)


def judge_rows(rows: pd.DataFrame, model: ExpectedModel, config: Config) -> pd.DataFrame:
    """For outcome rows (client_id, measure, first_score, latest_score, session), the columns
    expected, n_similar, similar_from, similar_to, track_rule and off_track (worse than the
    expected band; False where the model does not judge)."""
    e = config.expected_response
    out = pd.DataFrame({"expected": np.nan, "n_similar": 0, "similar_from": np.nan,
                        "similar_to": np.nan, "track_rule": FEW_COURSES, "off_track": False},
                       index=rows.index)
    for key, measure in config.all_measures().items():
        mine = rows.index[(rows["measure"] == key).to_numpy()]
        if len(mine) == 0 or model.courses.get(key, 0) < e.min_courses:
            continue
        part = rows.loc[mine]
        early = part["session"].to_numpy() < e.first_session
        out.loc[mine[early], "track_rule"] = TOO_EARLY
        judged = part[~early]
        if judged.empty:
            continue
        width = e.intake_window * (measure.max - measure.min)
        q = e.band if measure.higher_is_better else 1 - e.band
        result = _quantiles(judged, model.entries[key], width, q)
        n_similar, expected = result
        enough = n_similar >= e.min_similar
        out.loc[judged.index, "n_similar"] = n_similar
        out.loc[judged.index, "track_rule"] = np.where(enough, EXPECTED, FEW_SIMILAR)
        expected = np.where(enough, expected, np.nan)
        out.loc[judged.index, "expected"] = expected
        intake = judged["first_score"].to_numpy()
        out.loc[judged.index, "similar_from"] = np.where(
            enough, np.ceil(intake - width - TOLERANCE), np.nan)
        out.loc[judged.index, "similar_to"] = np.where(
            enough, np.floor(intake + width + TOLERANCE), np.nan)
        latest = judged["latest_score"].to_numpy()
        with np.errstate(invalid="ignore"):
            worse = (latest < expected - TOLERANCE if measure.higher_is_better
                     else latest > expected + TOLERANCE)
        out.loc[judged.index, "off_track"] = enough & worse
    out["n_similar"] = out["n_similar"].astype(np.int64)
    out["off_track"] = out["off_track"].astype(bool)
    return out


def _quantiles(judged: pd.DataFrame, entries: pd.DataFrame, width: float,
               q: float) -> tuple[np.ndarray, np.ndarray]:
    """Per judged row: the number of other clients' entries in its band with an intake within
    `width` of its intake, and their q-quantile (the row's own entry left out)."""
    band = session_band(judged["session"].to_numpy())
    intake = judged["first_score"].to_numpy(dtype=float)
    own = pd.MultiIndex.from_arrays([entries["client_id"], entries["band"]])
    own_value = pd.Series(entries["value"].to_numpy(), index=own)
    client = judged["client_id"]
    if client.str.contains(SEPARATOR, regex=False).any():  # a former therapist's view
        client = client.str.split(SEPARATOR, n=1).str[0]
    mine = own_value.reindex(pd.MultiIndex.from_arrays([client, band])).to_numpy()
    n_out = np.zeros(len(judged), dtype=np.int64)
    q_out = np.full(len(judged), np.nan)
    by_band = {b: g.sort_values("intake", kind="stable") for b, g in entries.groupby("band")}
    keys = pd.DataFrame({"band": band, "intake": intake})
    for (b, x), idx in keys.groupby(["band", "intake"], sort=True).indices.items():
        pool = by_band.get(b)
        if pool is None:
            continue
        intakes = pool["intake"].to_numpy(dtype=float)
        lo = np.searchsorted(intakes, x - width - TOLERANCE, "left")
        hi = np.searchsorted(intakes, x + width + TOLERANCE, "right")
        window = np.sort(pool["value"].to_numpy(dtype=float)[lo:hi])
        n_out[idx], q_out[idx] = _leave_one_out(window, mine[idx], q)
    return n_out, q_out


def _leave_one_out(window: np.ndarray, own: np.ndarray, q: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(count, q-quantile) of the sorted `window` with one value equal to each `own` left out
    (NaN own: nothing left out); the quantile interpolates linearly between order statistics."""
    has = ~np.isnan(own) & (len(window) > 0)
    at = np.searchsorted(window, np.where(has, own, 0.0), "left")
    if len(window):
        has &= window[np.minimum(at, len(window) - 1)] == own
    n = len(window) - has.astype(np.int64)
    position = q * np.maximum(n - 1, 0)
    lo = np.floor(position + TOLERANCE).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
    frac = np.clip(position - lo, 0.0, 1.0)

    def pick(k: np.ndarray) -> np.ndarray:
        k = k + (has & (k >= at))
        return window[np.clip(k, 0, max(len(window) - 1, 0))] if len(window) else np.nan

    low, high = pick(lo), pick(hi)
    value = np.where(n > 0, low + frac * (high - low), np.nan)
    return n, value
