"""Outcome measures per client: first vs latest score, reliable change, not on track.

Readings where the design is silent or loose:

- A measure total may sit on any rater's row of a session; one value per client, measure and
  session date is used: the first non-blank in rater order client, therapist, supervisor,
  observer (so the input's row order never matters).
- `category` comes from `workbook.analysis.change.published_change` (the measure's published
  threshold in points). A measure without one gets category None and no reliable change: a
  per-client Jacobson & Truax RCI needs a sample SD, which one client's scores do not give.
- With a single score there is no change yet: change, rci are NaN and category None.
- Not on track (DESIGN.md: "after 4 or more sessions with the measure, no reliable improvement,
  or any reliable deterioration"): n_scores >= thresholds.not_on_track_sessions and, first vs
  latest score, no reliable improvement or a reliable deterioration (the second implies the
  first; deterioration is also shown by the category). It is False for a measure without a
  reliable-change threshold, where improvement cannot be judged.
- clinical_first / clinical_latest follow `Measure.is_clinical` (False without a cutoff).
- therapist_id is the client's therapist at their latest session up to `end`, any measure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbook.analysis.change import clinical_mask, published_change
from workbook.data.columns import RATERS
from workbook.data.config import Config

OUTCOME_COLUMNS = (
    "client_id", "therapist_id", "measure", "label", "first_date", "first_score",
    "latest_date", "latest_score", "n_scores", "change", "rci", "category",
    "reliable_improvement", "reliable_deterioration", "clinical_first", "clinical_latest",
    "not_on_track",
)


def _rater_rank(rater: pd.Series) -> np.ndarray:
    """Rater order for picking a session's measure value: client, therapist, supervisor,
    observer, then anything else."""
    codes, names = pd.factorize(rater)
    ranks = np.array([RATERS.index(n) if n in RATERS else len(RATERS) for n in names] + [0])
    return ranks[codes]  # code -1 (missing) takes the trailing 0; never there per the contract


def _stack_scores(frame: pd.DataFrame, keys: list[str], codes: np.ndarray,
                  days: np.ndarray, keep: np.ndarray) -> dict[str, np.ndarray]:
    """Every non-blank measure value in the kept rows as parallel arrays (client code, measure
    index, day, value), sorted by client, measure, day, rater rank, value."""
    values = {key: frame[key].to_numpy(dtype=float, na_value=np.nan) for key in keys}
    has = {key: keep & ~np.isnan(v) for key, v in values.items()}
    scored = np.flatnonzero(np.logical_or.reduce(list(has.values())))
    rank = np.zeros(len(frame), dtype=np.int64)
    rank[scored] = _rater_rank(frame["rater"].take(scored))  # only rows with a score
    parts = [(codes[has[key]], np.full(has[key].sum(), m), days[has[key]], rank[has[key]],
              values[key][has[key]]) for m, key in enumerate(keys)]
    client, measure, day, rank, value = (np.concatenate(p) for p in zip(*parts, strict=True))
    order = _order(client, measure, day, rank, value, n_measures=len(keys))
    return {"client": client[order], "measure": measure[order], "date": day[order],
            "value": value[order]}


def _order(client: np.ndarray, measure: np.ndarray, day: np.ndarray, rank: np.ndarray,
           value: np.ndarray, n_measures: int) -> np.ndarray:
    """Sort order by client, measure, day, rater rank, then value. The first four packed into
    one int64 are unique under the data contract, so a plain argsort is enough (10x faster than
    lexsort); duplicates, or a range too wide to pack, fall back to lexsort."""
    if len(day) == 0:
        return np.arange(0)
    span, width = int(day.max() - day.min()) + 1, len(RATERS) + 1
    if (int(client.max()) + 1) * n_measures * span * width < 2**62:
        packed = ((client * n_measures + measure) * span + (day - day.min())) * width + rank
        order = np.argsort(packed)
        ordered = packed[order]
        if not (ordered[1:] == ordered[:-1]).any():
            return order
    return np.lexsort((value, rank, day, measure, client))


def _first_last(scores: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per client and measure: first and latest date and score, number of sessions."""
    c, m, d = scores["client"], scores["measure"], scores["date"]
    new_session = np.ones(len(c), dtype=bool)
    new_session[1:] = (c[1:] != c[:-1]) | (m[1:] != m[:-1]) | (d[1:] != d[:-1])
    c, m, d, v = c[new_session], m[new_session], d[new_session], scores["value"][new_session]
    start = np.flatnonzero(np.r_[True, (c[1:] != c[:-1]) | (m[1:] != m[:-1])])
    end = np.r_[start[1:], len(c)] - 1
    return pd.DataFrame({
        "client": c[start], "measure": m[start],
        "first_date": d[start].astype("datetime64[D]").astype("datetime64[ns]"),
        "first_score": v[start],
        "latest_date": d[end].astype("datetime64[D]").astype("datetime64[ns]"),
        "latest_score": v[end],
        "n_scores": (end - start + 1).astype(np.int64),
    })


def _latest_therapists(frame: pd.DataFrame, codes: np.ndarray, days: np.ndarray,
                       keep: np.ndarray) -> pd.Series:
    """Per client code, the therapist of their latest kept session (ties: the last id)."""
    therapist_codes, therapists = pd.factorize(frame["therapist_id"], sort=True)
    n = max(len(therapists), 1)
    latest = pd.Series(days[keep] * n + therapist_codes[keep]).groupby(codes[keep]).max()
    return pd.Series(np.asarray(therapists, dtype=object)[latest.to_numpy() % n],
                     index=latest.index)


def _add_change(rows: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Change, rci, category and reliable-change flags per row, measure by measure."""
    rows["change"], rows["rci"], rows["category"] = np.nan, np.nan, None
    rows["clinical_first"] = rows["clinical_latest"] = False
    for key, measure in config.all_measures().items():
        mine = (rows["measure"] == key).to_numpy()
        if not mine.any():
            continue
        part = rows.loc[mine]
        rows.loc[mine, "clinical_first"] = clinical_mask(measure, part["first_score"].to_numpy())
        rows.loc[mine, "clinical_latest"] = clinical_mask(measure, part["latest_score"].to_numpy())
        paired = part[part["n_scores"] >= 2]
        if measure.reliable_change is None or paired.empty:
            continue
        result = published_change(paired["first_score"], paired["latest_score"], measure)
        rows.loc[result.index, ["change", "rci", "category"]] = result[["change", "rci",
                                                                         "category"]]
    rows["reliable_improvement"] = rows["category"].isin(["recovered", "improved"])
    rows["reliable_deterioration"] = rows["category"].isin(["deteriorated", "harmed"])
    return rows


def summarise_outcomes(ratings: pd.DataFrame, config: Config, end: pd.Timestamp) -> pd.DataFrame:
    """One row per client and measure scored on or before `end` (columns: OUTCOME_COLUMNS),
    sorted by client_id and measure key."""
    measures = config.all_measures()
    keys = sorted(k for k in measures if k in ratings.columns)
    keep = (ratings["session_date"] <= pd.Timestamp(end)).to_numpy()
    if not keys or not keep.any():
        return _empty()
    codes, clients = pd.factorize(ratings["client_id"], sort=True)
    days = ratings["session_date"].to_numpy("datetime64[D]").astype(np.int64)
    scores = _stack_scores(ratings, keys, codes, days, keep)
    if len(scores["client"]) == 0:
        return _empty()
    rows = _first_last(scores)
    therapists = _latest_therapists(ratings, codes, days, keep)
    rows.insert(0, "client_id", np.asarray(clients, dtype=object)[rows["client"]])
    rows.insert(1, "therapist_id", therapists.reindex(rows["client"]).to_numpy())
    rows["measure"] = np.asarray(keys, dtype=object)[rows["measure"]]
    rows["label"] = rows["measure"].map({k: m.label for k, m in measures.items()})
    rows = _add_change(rows, config)
    judged = rows["measure"].map({k: m.reliable_change is not None for k, m in measures.items()})
    rows["not_on_track"] = (judged.astype(bool)
                            & (rows["n_scores"] >= config.thresholds.not_on_track_sessions)
                            & (~rows["reliable_improvement"] | rows["reliable_deterioration"]))
    return rows[list(OUTCOME_COLUMNS)].reset_index(drop=True)


def _empty() -> pd.DataFrame:
    """The result with no rows, typed like a full one."""
    out = pd.DataFrame({c: pd.Series(dtype=object) for c in OUTCOME_COLUMNS})
    out = out.astype({"first_date": "datetime64[ns]", "latest_date": "datetime64[ns]",
                      "first_score": float, "latest_score": float, "n_scores": np.int64,
                      "change": float, "rci": float})
    bools = ["reliable_improvement", "reliable_deterioration", "clinical_first",
             "clinical_latest", "not_on_track"]
    return out.astype(dict.fromkeys(bools, bool))
