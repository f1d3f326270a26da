"""Small-cell suppression: hand-worked tables and properties that must hold for any table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from workbook.analysis.suppress import (
    suppress_counts,
    suppress_group_means,
    suppress_means,
    suppressed_label,
)

H = "<11"  # a small cell at the default threshold
C = "hidden"  # a cell hidden only to protect another


def counts(rows: dict[str, list[int]], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns)


def as_rows(out: pd.DataFrame) -> list[list[object]]:
    return out.to_numpy().tolist()


def test_one_small_cell_takes_a_partner_in_its_row_and_column():
    table = counts(
        {"T1": [20, 15, 3], "T2": [12, 14, 11], "T3": [30, 0, 0]},
        ["improved", "unchanged", "deteriorated"],
    )
    out = suppress_counts(table, 11)
    # Primary: T1 deteriorated (3). Row T1 then has one hidden cell: hide its smallest shown
    # non-zero cell, unchanged (15). Column unchanged now has one (15): hide T2's 14. Column
    # deteriorated has one (3): hide T2's 11 (T3's 0 is not preferred). Every line then has
    # zero or two hidden cells, and the cells hidden for protection are marked as such.
    assert list(out.index) == ["T1", "T2", "T3", "Total"]
    assert list(out.columns) == ["improved", "unchanged", "deteriorated", "Total"]
    assert as_rows(out) == [
        [20, C, H, 38],
        [12, C, C, 37],
        [30, 0, 0, 30],
        [62, 29, 14, 105],
    ]
    assert out.dtypes.eq(object).all()
    assert all(type(v) is int for v in out.to_numpy().ravel() if v not in (H, C))


def test_small_row_total_is_hidden_and_protected():
    table = counts({"T1": [4, 3], "T2": [20, 30]}, ["a", "b"])
    out = suppress_counts(table, 11)
    # Primary: 4, 3 and their total 7. Columns a, b and Total each then hold one hidden cell,
    # so T2's 20, 30 and 50 are hidden too; the column totals alone remain.
    assert as_rows(out) == [
        [H, H, H],
        [C, C, C],
        [24, 33, 57],
    ]


def test_a_zero_is_hidden_only_when_nothing_else_is_left():
    table = counts({"T1": [3, 20], "T2": [15, 0], "T3": [12, 0]}, ["a", "b"])
    out = suppress_counts(table, 11)
    # Pass 1: primary 3; row T1 -> hide 20; column a -> hide 12 (smallest non-zero);
    # column b is [20 hidden, 0, 0 | 20]: only zeros are left, so hide the first, T2's.
    # Pass 2: row T2 is [15, 0 hidden | 15] -> hide 15; row T3 is [12 hidden, 0 | 12] -> only
    # a zero is left, hide it. Pass 3: every line has 0, 2 or 3 hidden cells.
    assert as_rows(out) == [
        [H, C, 23],
        [C, C, 15],
        [C, C, 12],
        [30, 20, 50],
    ]


def test_zeros_and_large_cells_show_and_names_are_kept():
    table = counts({"T1": [0, 12], "T2": [11, 0]}, ["x", "y"])
    table.index.name, table.columns.name = "therapist", "category"
    out = suppress_counts(table, 11)
    assert as_rows(out) == [[0, 12, 12], [11, 0, 11], [11, 12, 23]]
    assert (out.index.name, out.columns.name) == ("therapist", "category")


def test_threshold_changes_the_label():
    out = suppress_counts(counts({"T1": [6, 30]}, ["a", "b"]), 5)
    assert as_rows(out) == [[6, 30, 36], [6, 30, 36]]
    out = suppress_counts(counts({"T1": [6, 30], "T2": [7, 40]}, ["a", "b"]), 7)
    # 6 is hidden; row T1 -> hide 30; column a -> hide 7; column b and row T2 then have two.
    assert as_rows(out) == [["<7", C, 36], [C, C, 47], [13, 70, 83]]
    assert suppressed_label(11) == "<11"


@pytest.mark.parametrize("threshold", [4, 0, -1, 10.5, True, "11"])
def test_bad_thresholds_are_refused(threshold):
    table = counts({"T1": [1, 2]}, ["a", "b"])
    with pytest.raises(ValueError):
        suppress_counts(table, threshold)
    with pytest.raises(ValueError):
        suppress_means(table.astype(float), table, threshold)
    with pytest.raises(ValueError):
        suppress_group_means(pd.Series([1.0, 1.0], ["a", "Overall"]), pd.Series([1, 1]), threshold)


@pytest.mark.parametrize("bad", [[-1, 2], [1.5, 2], [np.nan, 2]])
def test_counts_must_be_whole_and_non_negative(bad):
    with pytest.raises(ValueError):
        suppress_counts(counts({"T1": bad}, ["a", "b"]), 11)


def test_a_table_with_a_total_already_is_refused():
    with pytest.raises(ValueError):
        suppress_counts(counts({"T1": [1, 2]}, ["a", "Total"]), 11)


def test_means_over_few_clients_are_hidden():
    means = counts({"T1": [8.1, 7.2], "T2": [7.5, 9.0], "T3": [9.0, np.nan]}, ["trust", "empathy"])
    n = counts({"T1": [12, 12], "T2": [4, 11], "T3": [30, 0]}, ["trust", "empathy"])
    out = suppress_means(means, n, 11)
    assert out.loc["T2", "trust"] == H
    assert out.loc["T1", "trust"] == 8.1 and out.loc["T2", "empathy"] == 9.0
    assert math.isnan(out.loc["T3", "empathy"])  # a mean over no client is not a person
    assert out.dtypes.eq(object).all()


def test_means_and_n_must_line_up():
    means = counts({"T1": [8.0]}, ["trust"])
    with pytest.raises(ValueError):
        suppress_means(means, counts({"T2": [12]}, ["trust"]), 11)


def test_a_lone_hidden_group_mean_takes_the_next_smallest_group():
    values = pd.Series([8.0, 7.0, 9.0, 7.5, 8.3], index=["T1", "T2", "T3", "T4", "Overall"])
    n = pd.Series([20, 6, 14, 30, 70], index=values.index)
    # T2 (6) is hidden; with the overall mean and the n's shown, 8.3*70 minus the shown
    # groups would give it away, so T3 (smallest shown n, 14) is hidden too.
    out = suppress_group_means(values, n, 11)
    assert out.tolist() == [8.0, H, H, 7.5, 8.3]


def test_two_hidden_group_means_need_no_partner():
    values = pd.Series([8.0, 7.0, 9.0, 8.2], index=["T1", "T2", "T3", "Overall"])
    n = pd.Series([20, 6, 5, 31], index=values.index)
    assert suppress_group_means(values, n, 11).tolist() == [8.0, H, H, 8.2]


def test_small_overall_hides_everything():
    values = pd.Series([8.0, 7.0, 7.6], index=["T1", "T2", "All"])
    n = pd.Series([6, 4, 10], index=values.index)
    assert suppress_group_means(values, n, 11, overall="All").tolist() == [H, H, H]


def test_overall_is_hidden_when_no_group_can_partner():
    # Only one group with clients: hiding the overall mean is all that is left.
    values = pd.Series([7.0, np.nan, 7.0], index=["T1", "T2", "Overall"])
    n = pd.Series([6, 0, 12], index=values.index)
    out = suppress_group_means(values, n, 11)
    assert out.iloc[0] == H and math.isnan(out.iloc[1]) and out.iloc[2] == H


def test_group_means_need_the_overall_row():
    with pytest.raises(ValueError):
        suppress_group_means(pd.Series([8.0], ["T1"]), pd.Series([20], ["T1"]), 11)


def test_suppress_means_with_an_overall_row_protects_each_column():
    means = counts(
        {"T1": [8.0, 7.0], "T2": [7.0, 6.0], "T3": [9.0, 8.0], "Overall": [8.1, 7.1]},
        ["trust", "empathy"],
    )
    n = counts(
        {"T1": [20, 20], "T2": [6, 12], "T3": [14, 14], "Overall": [40, 46]}, ["trust", "empathy"]
    )
    out = suppress_means(means, n, 11, overall="Overall")
    assert out["trust"].tolist() == [8.0, H, H, 8.1]
    assert out["empathy"].tolist() == [7.0, 6.0, 8.0, 7.1]


# --- properties -------------------------------------------------------------------------------

CELLS = st.one_of(st.just(0), st.integers(1, 12), st.integers(0, 60))


@st.composite
def count_tables(draw):
    shape = (draw(st.integers(1, 6)), draw(st.integers(1, 5)))
    values = draw(arrays(np.int64, shape, elements=CELLS))
    rows = [f"T{i}" for i in range(shape[0])]
    cols = [f"c{j}" for j in range(shape[1])]
    return pd.DataFrame(values, index=rows, columns=cols)


THRESHOLDS = st.integers(5, 15)


def _hidden(out: pd.DataFrame) -> np.ndarray:
    return out.map(lambda v: isinstance(v, str)).to_numpy()


@settings(max_examples=150, deadline=None)
@given(count_tables(), THRESHOLDS)
def test_no_visible_small_cell(table, threshold):
    out = suppress_counts(table, threshold)
    hidden = _hidden(out)
    assert np.isin(out.to_numpy()[hidden], [f"<{threshold}", C]).all()
    shown = out.to_numpy()[~hidden].astype(np.int64)
    assert not ((shown > 0) & (shown < threshold)).any()


@settings(max_examples=150, deadline=None)
@given(count_tables(), THRESHOLDS)
def test_no_line_gives_away_a_hidden_cell(table, threshold):
    out = suppress_counts(table, threshold)
    hidden = _hidden(out)
    # Each row and column of the output is a line whose last cell is its total. One hidden
    # cell with the total shown is recovered by subtraction; a hidden total with every part
    # shown, by addition. So no line may have exactly one hidden cell.
    for line in [*hidden, *hidden.T]:
        assert line.sum() != 1
        assert not (line[:-1].sum() == 1 and not line[-1])


@settings(max_examples=150, deadline=None)
@given(count_tables(), THRESHOLDS)
def test_visible_cells_equal_the_input_and_its_totals(table, threshold):
    out = suppress_counts(table, threshold)
    full = table.copy()
    full["Total"] = table.sum(axis=1)
    full.loc["Total"] = full.sum(axis=0)
    assert out.shape == full.shape
    hidden = _hidden(out)
    assert (out.to_numpy()[~hidden] == full.to_numpy()[~hidden]).all()


@settings(max_examples=50, deadline=None)
@given(count_tables(), st.integers(-10, 4))
def test_thresholds_below_five_are_refused(table, threshold):
    with pytest.raises(ValueError):
        suppress_counts(table, threshold)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=8), THRESHOLDS)
def test_group_means_never_leave_one_hidden_group(sizes, threshold):
    groups = [f"T{i}" for i in range(len(sizes))]
    n = pd.Series([*sizes, sum(sizes)], index=[*groups, "Overall"])
    values = pd.Series(np.where(n > 0, 7.0, np.nan), index=n.index)
    out = suppress_group_means(values, n, threshold)
    hidden = out.map(lambda v: isinstance(v, str))
    assert not (~hidden & (n > 0) & (n < threshold)).any()
    assert not (hidden[groups].sum() == 1 and not hidden["Overall"])
    assert (out[~hidden].isna() == (n[~hidden] == 0)).all()
