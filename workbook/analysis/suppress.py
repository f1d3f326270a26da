"""Small-cell suppression for the clinic report, so that no client can be singled out.

An aggregate over fewer than `threshold` clients (config.privacy.min_cell_size: 11 by default,
never below 5) is shown as the string "<{threshold}" instead of its value (primary suppression).
A cell hidden only to protect another is shown as COMPLEMENT ("hidden"): it may hold any value,
11 or more included, and the report says so under the table.

Complementary suppression has two steps. First the line rule: no line of the table (a row or a
column, the total row and total column included, each with its total) keeps exactly one hidden
cell, which subtraction would give away. Then the audit (`workbook.analysis.disclosure`): an
exact integer-programming reader of the whole table, who knows that a "<11" cell holds 1 to 10,
tries to pin each hidden cell to one value; while one is pinned, the cheapest further cell of
one of its lines is hidden (the smallest shown non-zero count, then a zero, then the line's
total) and the table is audited again. Group means get the same treatment against a linear
programme (`protect_means`). Every choice is in table order, so the output is deterministic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbook.analysis.disclosure import (
    Line,
    count_ranges,
    mean_ranges,
    pinned_counts,
    pinned_means,
)

MIN_THRESHOLD = 5
TOTAL = "Total"
COMPLEMENT = "hidden"


def suppressed_label(threshold: int) -> str:
    """The text shown in place of a suppressed value, e.g. "<11"."""
    return f"<{_check_threshold(threshold)}"


def suppress_counts(table: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """Add row and column totals to a table of client counts and hide the small cells.

    Returns an object frame with an extra "Total" column and "Total" row; a hidden cell holds
    "<{threshold}", a cell hidden to protect another COMPLEMENT, a shown one its int. Primary
    suppression hides every cell and total with 0 < count < threshold. A zero shows: it is a fact
    about no one. Complementary suppression then repeats until nothing changes: for each line
    (row or column, with its total) holding exactly one hidden cell, it hides the smallest shown
    non-zero count among the line's inner cells; if they are all zero or hidden, the smallest
    shown zero; if no inner cell is shown, the line's total. Then the audit (module docstring)
    adds cells until no hidden cell can be pinned. Ties go to the first in table order, so the
    output is deterministic.
    """
    label = suppressed_label(threshold)
    values = _check_counts(table)
    full = _with_totals(values)
    lines = [np.ravel_multi_index(line, full.shape) for line in _lines(full.shape)]
    primary, hidden, safe = protect_counts(full.ravel(), lines, threshold)
    primary, hidden = primary.reshape(full.shape), hidden.reshape(full.shape)
    cells = full.astype(object)  # numpy ints become Python ints
    cells[hidden] = COMPLEMENT
    cells[primary] = label
    out = pd.DataFrame(
        cells, index=[*table.index, TOTAL], columns=[*table.columns, TOTAL], dtype=object
    )
    out.index.name, out.columns.name = table.index.name, table.columns.name
    out.attrs["safe"] = safe  # False: the labels alone pin a count; do not publish the table
    return out


def suppress_means(
    means: pd.DataFrame, n: pd.DataFrame, threshold: int, overall: str | None = None
) -> pd.DataFrame:
    """Hide each mean taken over 0 < n < threshold clients; return an object frame.

    `means` and `n` have the same index and columns; n is the number of clients behind each mean.
    A mean over no client is left as it is (NaN). If `overall` names a row of overall means
    (with its n), each column is treated as groups plus an overall row by suppress_group_means,
    so a lone hidden group mean cannot be worked out from the overall mean and the n's.
    """
    label = suppressed_label(threshold)
    _check_aligned(means, n)
    if overall is not None:
        cols = {c: suppress_group_means(means[c], n[c], threshold, overall) for c in means}
        return pd.DataFrame(cols, index=means.index, columns=means.columns, dtype=object)
    hidden = (n > 0) & (n < threshold)
    return means.astype("float64").astype(object).mask(hidden, label)


def suppress_group_means(
    values: pd.Series, n: pd.Series, threshold: int, overall: str = "Overall"
) -> pd.Series:
    """Hide small group means in a column of group means with an overall row; return objects.

    `values` holds one mean per group plus the overall mean under the label `overall`; `n` holds
    the clients behind each (the overall n being the sum). Means over 0 < n < threshold are
    hidden. With the n's shown, overall * N minus the shown groups' mean * n gives away a lone
    hidden group, so when exactly one group is hidden and the overall mean shows, the shown group
    with the smallest n (first on ties) is hidden too. If no such group exists, the overall mean
    is hidden instead.
    """
    label = suppressed_label(threshold)
    _check_aligned(values, n)
    if overall not in values.index:
        raise ValueError(f"no overall row {overall!r} among the groups")
    size = n.to_numpy(dtype="float64")
    hidden = (size > 0) & (size < threshold)
    is_group = values.index != overall
    if hidden[is_group].sum() == 1 and not hidden[~is_group].any():
        candidates = np.flatnonzero(is_group & ~hidden & (size > 0))
        if len(candidates):
            hidden[candidates[np.argmin(size[candidates])]] = True
        else:
            hidden[~is_group] = True
    return values.astype("float64").astype(object).mask(hidden, label)


def protect_counts(values: np.ndarray, lines: list[Line], threshold: int, *,
                   offsets: list[int] | None = None,
                   lower: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, bool]:
    """Primary and all hidden cells of counts (flat) related by `lines` (each: inner cells,
    then its total, adding up plus `offsets`), and whether the audit passes; `lower` bounds the
    counts a reader may assume for a cell hidden to protect another (default 0). It can fail
    only when every cell is hidden and the labels themselves pin a count (ten cells of "<11"
    adding up to a "<11" total are all 1): such a table must not be published. See the module
    docstring."""
    values = np.asarray(values, dtype=np.int64)
    primary = (values > 0) & (values < threshold)
    hidden = primary.copy()
    while True:
        _line_rule(values, hidden, lines)
        ranges = count_ranges(values, hidden, primary, lines, threshold, offsets=offsets,
                              lower=lower)
        pinned = pinned_counts(ranges)
        if not pinned:
            return primary, hidden, True
        extra = _cheapest(values, hidden, [ln for ln in lines if pinned[0] in ln])
        if extra is None:  # its lines are hidden whole: a cell of another line, cheapest first
            extra = _cheapest(values, hidden, lines)
        if extra is None:
            return primary, hidden, False  # nothing is shown, and still a count is pinned
        hidden[extra] = True


def protect_means(means: np.ndarray, n: np.ndarray, threshold: int, overall: float,
                  overall_n: int, scale: tuple[float, float]
                  ) -> tuple[np.ndarray, np.ndarray, bool, bool]:
    """Group means and their overall (client-weighted) mean: (primary, hidden) masks of the
    groups and whether the overall mean is primary / hidden. Means over 0 < n < threshold are
    primary; while the linear programme of `workbook.analysis.disclosure` pins a hidden mean
    to within 0.5, the shown group mean over the fewest clients is hidden too, and when none
    is left, the overall mean."""
    n = np.asarray(n, dtype=np.int64)
    primary = (n > 0) & (n < threshold)
    hidden = primary.copy()
    overall_primary = 0 < overall_n < threshold
    overall_hidden = overall_primary
    while True:
        ranges = mean_ranges(np.asarray(means, dtype=float), n, hidden, overall, overall_n,
                             overall_hidden, scale)
        if not pinned_means(ranges):
            return primary, hidden, overall_primary, overall_hidden
        shown = np.flatnonzero(~hidden & (n > 0))
        if len(shown):
            hidden[shown[np.argmin(n[shown])]] = True
        elif not overall_hidden:
            overall_hidden = True
        else:
            return primary, hidden, overall_primary, overall_hidden


def _line_rule(values: np.ndarray, hidden: np.ndarray, lines: list[Line]) -> None:
    """Hide more cells (in place) until no line has exactly one hidden cell."""
    changed = True
    while changed:
        changed = False
        for line in lines:
            if hidden[list(line)].sum() == 1:
                hidden[_complement(values, hidden, line)] = True
                changed = True


def _cheapest(values: np.ndarray, hidden: np.ndarray, lines: list[Line]) -> int | None:
    """The cell to hide next among these lines: the smallest shown non-zero inner count, then
    a shown zero, then a shown total (first in order on ties); None if all are hidden."""
    inner = [c for line in lines for c in line[:-1] if not hidden[c]]
    for pool in ([c for c in inner if values[c] > 0], inner,
                 [line[-1] for line in lines if not hidden[line[-1]]]):
        if pool:
            return min(pool, key=lambda c: values[c])
    return None


def _lines(shape: tuple[int, int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every row and column of the table with totals, as index arrays; the total comes last."""
    n_rows, n_cols = shape
    rows = [(np.full(n_cols, r), np.arange(n_cols)) for r in range(n_rows)]
    cols = [(np.arange(n_rows), np.full(n_rows, c)) for c in range(n_cols)]
    return rows + cols


def _complement(values: np.ndarray, hidden: np.ndarray, line: Line) -> int:
    """The cell of a line to hide next: see suppress_counts for the order of preference."""
    cells = list(line)
    inner = [c for c in cells[:-1] if not hidden[c]]
    for pool in ([c for c in inner if values[c] > 0], inner):
        if pool:
            return min(pool, key=lambda c: values[c])
    return cells[-1]


def _with_totals(values: np.ndarray) -> np.ndarray:
    """The counts with a total column and a total row (grand total in the corner)."""
    with_row_totals = np.column_stack([values, values.sum(axis=1)])
    return np.vstack([with_row_totals, with_row_totals.sum(axis=0)])


def _check_counts(table: pd.DataFrame) -> np.ndarray:
    """The table's values as int64, or ValueError when they are not non-negative integers."""
    if TOTAL in table.index or TOTAL in table.columns:
        raise ValueError(f"the table already has a {TOTAL!r} row or column")
    values = table.to_numpy(dtype="float64", na_value=np.nan)
    if not np.isfinite(values).all() or (values < 0).any() or (values % 1 != 0).any():
        raise ValueError("counts must be non-negative whole numbers, with no blanks")
    return values.astype("int64")


def _check_aligned(values: pd.DataFrame | pd.Series, n: pd.DataFrame | pd.Series) -> None:
    same = values.index.equals(n.index) and (
        isinstance(values, pd.Series) or values.columns.equals(n.columns)
    )
    if not same:
        raise ValueError("means and their n must have the same rows and columns")
    if (n.to_numpy(dtype="float64", na_value=np.nan) < 0).any() or n.isna().to_numpy().any():
        raise ValueError("n must be non-negative counts of clients, with no blanks")


def _check_threshold(threshold: int) -> int:
    if isinstance(threshold, bool) or not isinstance(threshold, int | np.integer):
        raise ValueError(f"threshold must be a whole number, got {threshold!r}")
    if threshold < MIN_THRESHOLD:
        raise ValueError(f"threshold {threshold} is below the minimum of {MIN_THRESHOLD}")
    return int(threshold)
