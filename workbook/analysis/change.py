"""Reliable change and clinical significance of pre/post scores (Jacobson & Truax 1991).

Two ways to call a change reliable:

- `jacobson_truax`: the sample's own spread. M and SD (n-1) of the pre scores of the complete
  pairs, `S_diff = sqrt(2) * SD * sqrt(1 - r)`, `RCI = (post - pre) / S_diff`, reliable when
  |RCI| > 1.959964 (strict). Clinical status from a cutoff a, b, c or a number: a score is
  *functional* when strictly beyond the cutoff on the better side and *clinical* when strictly
  beyond it on the worse side (a score exactly at the cutoff is neither, as in the R package
  clinicalsignificance that the reference cases in ../shared/refcases/ come from).
- `published_change`: a measure's published reliable-change threshold in points (a change of at
  least that many points counts) and its clinical cutoff through `Measure.is_clinical`.

Categories, for both: recovered (clinical at pre, out of it at post, reliably improved); harmed
(not clinical at pre, not out of it at post, reliably deteriorated); improved and deteriorated
(the other reliable changes); unchanged. Without a cutoff only improved/unchanged/deteriorated.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from workbook.data.measures import Measure

CATEGORIES = ("recovered", "improved", "unchanged", "deteriorated", "harmed")
CHANGE_COLUMNS = ("pre", "post", "change", "rci", "category")
Z_CRITICAL = 1.959964
JT_METHOD = "Jacobson & Truax (1991)"
PUBLISHED_METHOD = "published threshold"
TOLERANCE = 1e-9  # points: float noise in a difference of decimal scores


def _as_series(values: Any, other: Any) -> pd.Series:
    """A float Series; an array-like gets the other argument's index when that is a Series of
    the same length, else a RangeIndex."""
    if isinstance(values, pd.Series):
        return values.astype(float)
    values = np.asarray(values, dtype=float)
    if isinstance(other, pd.Series) and len(other) == len(values):
        return pd.Series(values, index=other.index)
    return pd.Series(values)


def pair_scores(pre: Any, post: Any) -> pd.DataFrame:
    """Align pre and post by index and keep the complete pairs, as columns `pre` and `post`."""
    pairs = pd.DataFrame({"pre": _as_series(pre, post), "post": _as_series(post, pre)})
    return pairs.dropna()


def categorise(improved: np.ndarray, deteriorated: np.ndarray,
               clinical_pre: np.ndarray | None, out_post: np.ndarray | None) -> np.ndarray:
    """Category per row from reliable-change flags and clinical status (None: no cutoff).

    `clinical_pre`: in the clinical range at pre; `out_post`: out of it at post."""
    if clinical_pre is None or out_post is None:
        recovered = harmed = np.zeros(len(improved), dtype=bool)
    else:
        recovered = improved & clinical_pre & out_post
        harmed = deteriorated & ~clinical_pre & ~out_post
    chosen = np.select([recovered, harmed, improved, deteriorated],
                       ["recovered", "harmed", "improved", "deteriorated"], default="unchanged")
    return chosen.astype(object)


def _check_reliability(reliability: float) -> float:
    if isinstance(reliability, bool) or not isinstance(reliability, int | float | np.number):
        raise ValueError(f"reliability must be a number between 0 and 1, got {reliability!r}")
    if not 0 < reliability < 1:
        raise ValueError(f"reliability must be strictly between 0 and 1, got {reliability!r}")
    return float(reliability)


def compute_cutoff(cutoff: str | float | None, *, mean: float, sd: float, higher_is_better: bool,
                   functional_mean: float | None = None,
                   functional_sd: float | None = None) -> float | None:
    """The clinical cutoff: None, "a" (M -/+ 2 SD), "b" (functional M +/- 2 functional SD, toward
    dysfunction), "c" (weighted midpoint), or a number used as given."""
    if cutoff is None:
        return None
    if isinstance(cutoff, str):
        kind = cutoff.strip().lower()
        if kind == "a":
            return mean + 2 * sd if higher_is_better else mean - 2 * sd
        if kind not in ("b", "c"):
            raise ValueError(f"cutoff must be None, 'a', 'b', 'c' or a number, got {cutoff!r}")
        if functional_mean is None or functional_sd is None:
            raise ValueError(f"cutoff {cutoff!r} needs functional_mean and functional_sd")
        if not (math.isfinite(functional_mean) and math.isfinite(functional_sd)
                and functional_sd > 0):
            raise ValueError("functional_mean must be finite and functional_sd positive, got "
                             f"{functional_mean!r} and {functional_sd!r}")
        if kind == "b":
            step = 2 * functional_sd
            return functional_mean - step if higher_is_better else functional_mean + step
        return (sd * functional_mean + functional_sd * mean) / (sd + functional_sd)
    if isinstance(cutoff, bool) or not isinstance(cutoff, int | float | np.number):
        raise ValueError(f"cutoff must be None, 'a', 'b', 'c' or a number, got {cutoff!r}")
    if not math.isfinite(cutoff):
        raise ValueError(f"cutoff must be a finite number, got {cutoff!r}")
    return float(cutoff)


def jacobson_truax(pre: Any, post: Any, *, reliability: float, higher_is_better: bool,
                   cutoff: str | float | None = None, functional_mean: float | None = None,
                   functional_sd: float | None = None) -> pd.DataFrame:
    """Jacobson & Truax reliable change and categories for complete pre/post pairs.

    Returns the kept pairs (index preserved) with pre, post, change, rci, category; `attrs`
    holds s_diff, cutoff, mean, sd, reliability, cutoff_type and method."""
    r = _check_reliability(reliability)
    out = pair_scores(pre, post)
    if len(out) < 2:
        raise ValueError(f"need at least 2 complete pre/post pairs, got {len(out)}")
    pre_v, post_v = out["pre"].to_numpy(), out["post"].to_numpy()
    mean, sd = float(pre_v.mean()), float(pre_v.std(ddof=1))
    if not sd > 0:
        raise ValueError("the pre scores have no spread (SD 0): reliable change is undefined")
    value = compute_cutoff(cutoff, mean=mean, sd=sd, higher_is_better=higher_is_better,
                           functional_mean=functional_mean, functional_sd=functional_sd)
    s_diff = math.sqrt(2) * sd * math.sqrt(1 - r)
    out["change"] = post_v - pre_v
    out["rci"] = out["change"] / s_diff
    better = out["rci"].to_numpy() * (1 if higher_is_better else -1)
    clinical_pre = out_post = None
    if value is not None:
        sign = 1 if higher_is_better else -1
        clinical_pre, out_post = sign * pre_v < sign * value, sign * post_v > sign * value
    out["category"] = categorise(better > Z_CRITICAL, better < -Z_CRITICAL, clinical_pre, out_post)
    out.attrs.update(s_diff=s_diff, cutoff=value, mean=mean, sd=sd, reliability=r,
                     cutoff_type=cutoff, method=JT_METHOD)
    return out


def clinical_mask(measure: Measure, scores: np.ndarray) -> np.ndarray:
    """`measure.is_clinical` for an array of scores (its comparison works element-wise)."""
    scores = np.asarray(scores, dtype=float)
    return np.broadcast_to(np.asarray(measure.is_clinical(scores), dtype=bool), scores.shape)


def published_change(pre: Any, post: Any, measure: Measure) -> pd.DataFrame:
    """Reliable change by the measure's published threshold in points (a change of at least
    `reliable_change` counts) and clinical status by its cutoff.

    Same columns as `jacobson_truax`; here `rci` is change / reliable_change, so |rci| >= 1 is a
    reliable change. `attrs`: method, threshold, cutoff."""
    if measure.reliable_change is None or not measure.reliable_change > 0:
        raise ValueError(f"{measure.label} has no published reliable-change threshold")
    out = pair_scores(pre, post)
    pre_v, post_v = out["pre"].to_numpy(), out["post"].to_numpy()
    threshold = float(measure.reliable_change)
    out["change"] = post_v - pre_v
    out["rci"] = out["change"] / threshold
    better = out["change"].to_numpy() * (1 if measure.higher_is_better else -1)
    reach = threshold - TOLERANCE  # 12.3 - 6.3 is 5.999...: still a 6-point change
    clinical_pre, clinical_post = clinical_mask(measure, pre_v), clinical_mask(measure, post_v)
    out["category"] = categorise(better >= reach, better <= -reach, clinical_pre, ~clinical_post)
    out.attrs.update(method=PUBLISHED_METHOD, threshold=threshold, cutoff=measure.cutoff)
    return out
