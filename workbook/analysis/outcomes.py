"""Outcome measures per client: first vs latest score, reliable change, not on track.

Readings where the design is silent or loose:

- A measure total may sit on any rater's row of a session; one value per client, measure and
  session date is used: the first non-blank in rater order client, therapist, supervisor,
  observer (so the input's row order never matters).
- `category` comes from `workbook.analysis.change.published_change` (the measure's published
  threshold in points, `method` "published threshold"). A measure without one (an extra measure
  of the config) uses Jacobson & Truax (1991) with the clinic's own pre-treatment SD: the sample
  SD (n-1) of the first scores of every client with two or more scores on it (the complete
  pre/post pairs, as in ../shared/refcases/), and its reliability (`Measure.reliability`, else
  `thresholds.reliability`); a change is reliable when |RCI| > 1.959964, so `threshold` is
  1.959964 * S_diff points. With fewer than 2 such clients, or no spread, it gets no category and
  `method` says why. The SD comes from the clinic-wide data given (`spread` passes it on, so a
  former therapist's view uses the same).
- Any-time deterioration: `worst_score`/`worst_date` are the score dated in the period
  (`start`..`end`) furthest from the first score in the worse direction (the earliest on ties),
  and `worse_in_period` says whether it is a reliable worsening from the first score by the
  measure's rule, even when the latest score is back.
- With a single score there is no change yet: change, rci are NaN and category None.
- Not on track (issue 15): from the expected treatment response of similar clients in the
  clinic's own history (`workbook.analysis.expected`; `session` is the latest score's session
  counted from the intake, `expected` the lower band, `n_similar` the other clients it is drawn
  from, `similar_from`/`similar_to` their intake range, `track_rule` how the row was judged).
  Where the model cannot judge (too few courses on the measure, or too few similar clients:
  `track_rule` few_courses / few_similar), the published rule instead, limited to clients who
  started in the clinical range (all clients for a measure without a cutoff): n_scores >=
  thresholds.not_on_track_sessions and, first vs latest score, no reliable improvement or a
  reliable deterioration. Before `expected_response.first_session` it is False (too_early).
  The model is fitted on the current views of these rows (`model` passes it on, so a former
  therapist's view is judged against the same clinic history, never the client's own).
- clinical_first / clinical_latest follow `Measure.is_clinical` (False without a cutoff).
- therapist_id is the client's therapist at their latest session up to `end`, any measure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbook.analysis.change import (
    JT_METHOD,
    PUBLISHED_METHOD,
    TOLERANCE,
    Z_CRITICAL,
    categorise,
    clinical_mask,
    published_change,
)
from workbook.analysis.expected import (
    EXPECTED,
    FEW_COURSES,
    FEW_SIMILAR,
    ExpectedModel,
    fit_expected,
    judge_rows,
)
from workbook.data.columns import RATERS
from workbook.data.config import Config

OUTCOME_COLUMNS = (
    "client_id", "therapist_id", "measure", "label", "first_date", "first_score",
    "latest_date", "latest_score", "n_scores", "change", "rci", "category",
    "reliable_improvement", "reliable_deterioration", "clinical_first", "clinical_latest",
    "not_on_track", "method", "threshold", "worst_date", "worst_score", "worse_in_period",
    "session", "expected", "n_similar", "similar_from", "similar_to", "track_rule",
)
NO_PAIRS = "Jacobson & Truax: too few clients with two scores for a pre-treatment SD"


def _rater_rank(rater: pd.Series) -> np.ndarray:
    """Rater order for picking a session's measure value: client, therapist, supervisor,
    observer, then anything else."""
    codes, names = pd.factorize(rater)
    ranks = np.array([RATERS.index(n) if n in RATERS else len(RATERS) for n in names] + [0])
    return ranks[codes]  # code -1 (missing) takes the trailing 0; never there per the contract


def _stack_scores(frame: pd.DataFrame, keys: list[str], codes: np.ndarray,
                  days: np.ndarray, keep: np.ndarray) -> dict[str, np.ndarray]:
    """Every non-blank measure value in the kept rows as parallel arrays (client code, measure
    index, day, value, session number), sorted by client, measure, day, rater rank, value."""
    values = {key: frame[key].to_numpy(dtype=float, na_value=np.nan) for key in keys}
    number = frame["session_number"].to_numpy(dtype=np.int64)
    has = {key: keep & ~np.isnan(v) for key, v in values.items()}
    scored = np.flatnonzero(np.logical_or.reduce(list(has.values())))
    rank = np.zeros(len(frame), dtype=np.int64)
    rank[scored] = _rater_rank(frame["rater"].take(scored))  # only rows with a score
    parts = [(codes[has[key]], np.full(has[key].sum(), m), days[has[key]], rank[has[key]],
              values[key][has[key]], number[has[key]]) for m, key in enumerate(keys)]
    client, measure, day, rank, value, number = (np.concatenate(p)
                                                 for p in zip(*parts, strict=True))
    order = _order(client, measure, day, rank, value, n_measures=len(keys))
    return {"client": client[order], "measure": measure[order], "date": day[order],
            "value": value[order], "number": number[order]}


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


def _first_last(scores: dict[str, np.ndarray], start_day: int,
                worse_sign: np.ndarray) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """One row per client and measure: first and latest date and score, number of sessions,
    the latest score's session counted from the first, and the score dated on or after
    `start_day` furthest from the first in the worse direction (`worse_sign` per measure index:
    +1 when a higher score is worse, -1 when lower); and the one score per session picked."""
    c, m, d = scores["client"], scores["measure"], scores["date"]
    new_session = np.ones(len(c), dtype=bool)
    new_session[1:] = (c[1:] != c[:-1]) | (m[1:] != m[:-1]) | (d[1:] != d[:-1])
    c, m, d, v = c[new_session], m[new_session], d[new_session], scores["value"][new_session]
    start = np.flatnonzero(np.r_[True, (c[1:] != c[:-1]) | (m[1:] != m[:-1])])
    end = np.r_[start[1:], len(c)] - 1
    group = np.repeat(np.arange(len(start)), end - start + 1)
    number = scores["number"][new_session]
    session = np.maximum(number - number[start][group] + 1, 1)
    worse = np.where(d >= start_day, (v - v[start][group]) * worse_sign[m], -np.inf)
    order = np.lexsort((d, -worse, group))  # per group: the worst first, the earliest on ties
    pick = order[np.searchsorted(group[order], np.arange(len(start)))]
    in_period = np.isfinite(worse[pick])
    return pd.DataFrame({
        "client": c[start], "measure": m[start],
        "first_date": _days(d[start]),
        "first_score": v[start],
        "latest_date": _days(d[end]),
        "latest_score": v[end],
        "n_scores": (end - start + 1).astype(np.int64),
        "worst_date": np.where(in_period, _days(d[pick]), np.datetime64("NaT", "ns")),
        "worst_score": np.where(in_period, v[pick], np.nan),
        "session": session[end],
    }), {"client": c, "measure": m, "date": d, "value": v, "session": session,
         "intake": v[start][group]}


def _days(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[D]").astype("datetime64[ns]")


def measure_spread(rows: pd.DataFrame, measure_key: str) -> tuple[float, int]:
    """The clinic's pre-treatment SD (n-1) of a measure and its n: the first scores of the
    clients with two or more scores (NaN when fewer than 2)."""
    pre = rows.loc[(rows["measure"] == measure_key) & (rows["n_scores"] >= 2), "first_score"]
    return (float(pre.std(ddof=1)) if len(pre) >= 2 else float("nan")), int(len(pre))


def _rule(key: str, measure, config: Config, spread: dict[str, tuple[float, int]]
          ) -> tuple[str, float, bool]:
    """(method, threshold in points, strict) for a measure; threshold NaN when none."""
    if measure.reliable_change is not None:
        return PUBLISHED_METHOD, float(measure.reliable_change), False
    sd, n = spread.get(key, (float("nan"), 0))
    r = measure.reliability if measure.reliability is not None else config.thresholds.reliability
    if not (n >= 2 and sd > 0):
        return NO_PAIRS, float("nan"), True
    s_diff = np.sqrt(2) * sd * np.sqrt(1 - r)
    return (f"{JT_METHOD}: clinic pre-treatment SD {sd:.2f} (n = {n}), r = {r:g}",
            float(Z_CRITICAL * s_diff), True)


def _reliable(amount: np.ndarray, threshold: float, strict: bool) -> np.ndarray:
    """Change in the better direction (positive) or worse (negative) beyond the threshold."""
    with np.errstate(invalid="ignore"):
        return amount > threshold if strict else amount >= threshold - TOLERANCE


def _latest_therapists(frame: pd.DataFrame, codes: np.ndarray, days: np.ndarray,
                       keep: np.ndarray) -> pd.Series:
    """Per client code, the therapist of their latest kept session (ties: the last id)."""
    therapist_codes, therapists = pd.factorize(frame["therapist_id"], sort=True)
    n = max(len(therapists), 1)
    latest = pd.Series(days[keep] * n + therapist_codes[keep]).groupby(codes[keep]).max()
    return pd.Series(np.asarray(therapists, dtype=object)[latest.to_numpy() % n],
                     index=latest.index)


def _add_change(rows: pd.DataFrame, config: Config,
                spread: dict[str, tuple[float, int]]) -> pd.DataFrame:
    """Change, rci, category, reliable-change flags, method, threshold and any-time worsening
    per row, measure by measure."""
    rows["change"], rows["rci"], rows["category"] = np.nan, np.nan, None
    rows["clinical_first"] = rows["clinical_latest"] = rows["worse_in_period"] = False
    rows["method"], rows["threshold"] = None, np.nan
    for key, measure in config.all_measures().items():
        mine = (rows["measure"] == key).to_numpy()
        if not mine.any():
            continue
        part = rows.loc[mine]
        first = part["first_score"].to_numpy()
        rows.loc[mine, "clinical_first"] = clinical_mask(measure, first)
        rows.loc[mine, "clinical_latest"] = clinical_mask(measure, part["latest_score"].to_numpy())
        method, threshold, strict = _rule(key, measure, config, spread)
        rows.loc[mine, "method"], rows.loc[mine, "threshold"] = method, threshold
        direction = 1.0 if measure.higher_is_better else -1.0
        worst = (part["worst_score"].to_numpy() - first) * direction
        rows.loc[mine, "worse_in_period"] = _reliable(-worst, threshold, strict)
        paired = part[part["n_scores"] >= 2]
        if np.isnan(threshold) or paired.empty:
            continue
        if measure.reliable_change is not None:
            result = published_change(paired["first_score"], paired["latest_score"], measure)
        else:
            result = _jt_change(paired, measure, threshold, direction)
        rows.loc[result.index, ["change", "rci", "category"]] = result[["change", "rci",
                                                                         "category"]]
    rows["reliable_improvement"] = rows["category"].isin(["recovered", "improved"])
    rows["reliable_deterioration"] = rows["category"].isin(["deteriorated", "harmed"])
    return rows


def _jt_change(paired: pd.DataFrame, measure, threshold: float,
               direction: float) -> pd.DataFrame:
    """Jacobson & Truax change and category with a clinic SD (threshold = 1.959964 S_diff);
    clinical status by the measure's cutoff, as for the published measures."""
    pre, post = paired["first_score"].to_numpy(), paired["latest_score"].to_numpy()
    change = post - pre
    better = change * direction
    category = categorise(better > threshold, -better > threshold, clinical_mask(measure, pre),
                          ~clinical_mask(measure, post))
    return pd.DataFrame({"change": change, "rci": change / (threshold / Z_CRITICAL),
                         "category": category}, index=paired.index)


def summarise_outcomes(ratings: pd.DataFrame, config: Config, end: pd.Timestamp,
                       start: pd.Timestamp | None = None,
                       spread: dict[str, tuple[float, int]] | None = None,
                       model: ExpectedModel | None = None) -> pd.DataFrame:
    """One row per client and measure scored on or before `end` (columns: OUTCOME_COLUMNS),
    sorted by client_id and measure key. `start` opens the period searched for a worsening at
    any time (default: all scores); `spread` gives each Jacobson & Truax measure's clinic SD
    and n, `model` the expected-response model (defaults: measured on these rows).
    `attrs["spread"]` and `attrs["model"]` hold the ones used."""
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
    start_day = (np.iinfo(np.int64).min if start is None
                 else int(np.datetime64(pd.Timestamp(start).normalize(), "D").astype(np.int64)))
    worse_sign = np.array([-1.0 if measures[k].higher_is_better else 1.0 for k in keys])
    rows, picked = _first_last(scores, start_day, worse_sign)
    therapists = _latest_therapists(ratings, codes, days, keep)
    ids = np.asarray(clients, dtype=object)
    rows.insert(0, "client_id", ids[rows["client"]])
    rows.insert(1, "therapist_id", therapists.reindex(rows["client"]).to_numpy())
    rows["measure"] = np.asarray(keys, dtype=object)[rows["measure"]]
    rows["label"] = rows["measure"].map({k: m.label for k, m in measures.items()})
    if spread is None:
        spread = {k: measure_spread(rows, k) for k in keys if measures[k].reliable_change is None}
    if model is None:
        model = fit_expected(_score_frame(picked, ids, keys))
    rows = _add_change(rows, config, spread)
    rows = _add_track(rows, config, model)
    out = rows[list(OUTCOME_COLUMNS)].reset_index(drop=True)
    out.attrs["spread"] = spread
    out.attrs["model"] = model
    return out


def fit_outcome_model(ratings: pd.DataFrame, config: Config,
                      end: pd.Timestamp) -> ExpectedModel:
    """The expected-response model from every course in `ratings` up to `end` (all clients,
    finished courses too; see workbook.analysis.expected)."""
    measures = config.all_measures()
    keys = sorted(k for k in measures if k in ratings.columns)
    keep = (ratings["session_date"] <= pd.Timestamp(end)).to_numpy()
    if not keys or not keep.any():
        return ExpectedModel({}, {})
    codes, clients = pd.factorize(ratings["client_id"], sort=True)
    days = ratings["session_date"].to_numpy("datetime64[D]").astype(np.int64)
    scores = _stack_scores(ratings, keys, codes, days, keep)
    if len(scores["client"]) == 0:
        return ExpectedModel({}, {})
    worse_sign = np.ones(len(keys))
    _, picked = _first_last(scores, np.iinfo(np.int64).min, worse_sign)
    return fit_expected(_score_frame(picked, np.asarray(clients, dtype=object), keys))


def _score_frame(picked: dict[str, np.ndarray], ids: np.ndarray, keys: list[str]
                 ) -> pd.DataFrame:
    """The picked scores (one per client, measure and session) as a frame for the model."""
    return pd.DataFrame({"client_id": ids[picked["client"]],
                         "measure": np.asarray(keys, dtype=object)[picked["measure"]],
                         "date": picked["date"], "session": picked["session"],
                         "value": picked["value"], "intake": picked["intake"]})


def _add_track(rows: pd.DataFrame, config: Config, model: ExpectedModel) -> pd.DataFrame:
    """Not on track: the expected-response model where it judges, else the published rule for
    clients who started in the clinical range (all clients without a cutoff)."""
    judged = judge_rows(rows, model, config)
    for column in ("expected", "n_similar", "similar_from", "similar_to", "track_rule"):
        rows[column] = judged[column]
    cutoff = rows["measure"].map({k: m.cutoff is not None
                                  for k, m in config.all_measures().items()})
    published = (rows["threshold"].notna()
                 & (rows["n_scores"] >= config.thresholds.not_on_track_sessions)
                 & (~rows["reliable_improvement"] | rows["reliable_deterioration"])
                 & (rows["clinical_first"].astype(bool) | ~cutoff.astype(bool)))
    fallback = rows["track_rule"].isin([FEW_COURSES, FEW_SIMILAR])
    rows["not_on_track"] = ((rows["track_rule"] == EXPECTED) & judged["off_track"]
                            | fallback & published).astype(bool)
    return rows


def _empty() -> pd.DataFrame:
    """The result with no rows, typed like a full one."""
    out = pd.DataFrame({c: pd.Series(dtype=object) for c in OUTCOME_COLUMNS})
    out = out.astype({"first_date": "datetime64[ns]", "latest_date": "datetime64[ns]",
                      "worst_date": "datetime64[ns]", "first_score": float,
                      "latest_score": float, "worst_score": float, "n_scores": np.int64,
                      "change": float, "rci": float, "threshold": float,
                      "session": np.int64, "expected": float, "n_similar": np.int64,
                      "similar_from": float, "similar_to": float})
    out.attrs["spread"] = {}
    out.attrs["model"] = ExpectedModel({}, {})
    bools = ["reliable_improvement", "reliable_deterioration", "clinical_first",
             "clinical_latest", "not_on_track", "worse_in_period"]
    return out.astype(dict.fromkeys(bools, bool))
