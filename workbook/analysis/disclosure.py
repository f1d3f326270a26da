"""What a reader of the clinic report can work out about its hidden cells, exactly.

Complementary suppression (`workbook.analysis.suppress`) is chosen against this reader: an
exact integer-programming attacker who knows every shown cell, every relation between cells
(lines of a table adding up to their totals), and what each label means: a cell shown as "<11"
holds a count from 1 to 10, a cell hidden only to protect another may hold anything. For each
hidden count it solves for the least and greatest value the published figures allow
(`scipy.optimize.milp`); a count whose least and greatest are equal is pinned.

Means are audited the same way with a linear programme: the reader knows the number of
clients behind every mean (an insider knows caseload sizes), the shown means to their printed
precision (+/- 0.05), that the overall mean is the client-weighted mean of the group means, and
that every mean lies on the rating scale. A hidden mean whose range is 1 point or less is pinned
to within 0.5.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

Line = Sequence[int]  # cell numbers of a line; the last one is the line's total
PINNED_MEAN_WIDTH = 1.0  # a hidden mean known to within +/- 0.5
CAP = 1e6  # the largest count a reader considers: far above any real one, and keeps it bounded
HALF_STEP = 0.05  # shown means are printed to one decimal


def count_ranges(values: np.ndarray, hidden: np.ndarray, primary: np.ndarray,
                 lines: Sequence[Line], threshold: int, *, offsets: Sequence[int] | None = None,
                 lower: np.ndarray | None = None) -> dict[int, tuple[float, float]]:
    """Least and greatest value of each hidden cell (by cell number) the shown cells allow.

    `values`: every cell's true count (flat); `hidden`/`primary`: masks (primary hidden cells
    are 1..threshold-1, other hidden cells `lower`..CAP); `lines`: inner cells then the total,
    each adding up to it plus `offsets` (a known difference, e.g. clients counted under two
    therapists). A count with no bound from the rest reaches CAP.
    """
    cells = np.flatnonzero(hidden)
    if not len(cells):
        return {}
    index = {c: i for i, c in enumerate(cells)}
    low = np.where(primary[cells], 1.0, 0.0 if lower is None else lower[cells].astype(float))
    high = np.where(primary[cells], threshold - 1.0, CAP)
    rows, rhs = [], []
    for k, line in enumerate(lines):
        coef = np.zeros(len(cells))
        known = float(offsets[k]) if offsets is not None else 0.0
        for position, cell in enumerate(line):
            sign = -1.0 if position == len(line) - 1 else 1.0
            if hidden[cell]:
                coef[index[cell]] += sign
            else:
                known -= sign * values[cell]
        if coef.any():
            rows.append(coef)
            rhs.append(known)
    return _ranges(cells, low, high, rows, rhs, integer=True)


def mean_ranges(means: np.ndarray, n: np.ndarray, hidden: np.ndarray, overall: float,
                overall_n: int, overall_hidden: bool, scale: tuple[float, float]
                ) -> dict[int, tuple[float, float]]:
    """Least and greatest value of each hidden group mean (and of the overall mean, numbered
    len(means)) given the shown means to +/- HALF_STEP, the n behind each and
    overall_n * overall = sum(n * mean). Groups with n == 0 take no part."""
    part = np.flatnonzero(n > 0)
    k = len(part)
    lo = np.full(k + 1, scale[0], dtype=float)
    hi = np.full(k + 1, scale[1], dtype=float)
    shown = ~hidden[part]
    lo[:k][shown] = np.maximum(scale[0], np.round(means[part][shown], 1) - HALF_STEP)
    hi[:k][shown] = np.minimum(scale[1], np.round(means[part][shown], 1) + HALF_STEP)
    if not overall_hidden:
        lo[k] = max(scale[0], round(overall, 1) - HALF_STEP)
        hi[k] = min(scale[1], round(overall, 1) + HALF_STEP)
    coef = np.append(n[part].astype(float), -float(overall_n))
    numbers = np.append(part, len(means))
    wanted = np.append(hidden[part], overall_hidden)
    found = _ranges(np.arange(k + 1), lo, hi, [coef], [0.0], integer=False,
                    wanted=np.flatnonzero(wanted))
    return {int(numbers[i]): r for i, r in found.items()}


def pinned_counts(ranges: dict[int, tuple[float, float]]) -> list[int]:
    """Cells whose least and greatest possible value are the same count."""
    return sorted(c for c, (lo, hi) in ranges.items() if hi - lo < 0.5)


def pinned_means(ranges: dict[int, tuple[float, float]]) -> list[int]:
    """Means known to within +/- 0.5."""
    return sorted(c for c, (lo, hi) in ranges.items() if hi - lo <= PINNED_MEAN_WIDTH + 1e-9)


def _ranges(cells: np.ndarray, low: np.ndarray, high: np.ndarray, rows: list, rhs: list, *,
            integer: bool, wanted: np.ndarray | None = None) -> dict[int, tuple[float, float]]:
    """Minimise and maximise each wanted variable subject to rows @ x == rhs and bounds."""
    n = len(cells)
    bounds = Bounds(low, high)
    constraints = [LinearConstraint(np.array(rows), rhs, rhs)] if rows else []
    integrality = np.ones(n) if integer else np.zeros(n)
    out = {}
    for i in (range(n) if wanted is None else wanted):
        ends = []
        for direction in (1.0, -1.0):
            c = np.zeros(n)
            c[i] = direction
            res = milp(c, constraints=constraints, integrality=integrality, bounds=bounds)
            if res.status != 0 or res.x is None:
                raise RuntimeError(f"disclosure audit: the published figures are inconsistent "
                                   f"({res.message})")
            else:
                ends.append(float(res.x[i]))
        out[int(cells[i])] = (ends[0], ends[1])
    return out
