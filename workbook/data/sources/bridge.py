"""Map an instrument export (SRS, ORS, WAI-SR; wide or long) onto the contract's columns.

Runs on a source's raw text table before its header is matched: item columns (SRS1..SRS4,
Total_SRS, ORSQ1..ORSQ4, Total_ORS, WAI1..WAI12, as FIT exports have them), or a long export's
`instrument`, `item` and `score` columns (one row per item), are checked and replaced by the sign
columns the mapping (`instruments.map` in the config) feeds and by the `srs` and `ors` totals.
A table with no instrument column passes through unchanged. Every problem (an item off its
scale, a total that disagrees with its items, a partly filled instrument, a sign given by its
own column and by a mapped instrument) names its file, line, column, value and what was expected.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workbook.data.cells import MARKS
from workbook.data.config import Config
from workbook.data.errors import LISTED_PER_KIND, DataError, Problem
from workbook.data.signs import SIGN_KEYS
from workbook.data.sources.instruments import (
    INSTRUMENTS,
    Instrument,
    find_instrument,
    match_header,
    normalise,
)
from workbook.data.sources.mapping import convert
from workbook.data.validate import MARK, REPORTED

LONG_COLUMNS = ("instrument", "item", "score")
CONTRACT_TOTALS = ("srs", "ors")


@dataclass
class _Found:
    """Where an instrument's columns are: item number -> column position; total position."""

    items: dict[int, int] = field(default_factory=dict)
    total: int | None = None


@dataclass
class _Numbers:
    """A column parsed as numbers: values (NaN when blank or bad), and its text for messages."""

    values: np.ndarray
    blank: np.ndarray
    bad: np.ndarray
    codes: np.ndarray
    uniq: np.ndarray


@dataclass
class _Problems:
    """Problems of one table, located by each cell's line. Every problem is counted; the first
    LISTED_PER_KIND of each kind (a column and what was expected there) are listed."""

    where: str
    unit: str
    found: list[Problem] = field(default_factory=list)
    sheet: str | None = None
    letters: dict[str, str] = field(default_factory=dict)
    listed: dict[str, int] = field(default_factory=dict)
    unlisted: dict[str, int] = field(default_factory=dict)

    def flag(self, rows: np.ndarray, lines: np.ndarray, column: str | None, values,
             expected) -> None:
        """A problem for each marked row, listed by line up to LISTED_PER_KIND of its kind and
        counted beyond; `values` and `expected` may be callables of the row position. A cell
        the reader marked (an Excel error, a formula with no stored result, a list) is reported
        as what it is, with its sheet and cell."""
        positions = np.flatnonzero(rows)
        if not len(positions):
            return
        positions = positions[np.argsort(np.asarray(lines)[positions], kind="stable")]
        value_of = values if callable(values) else (lambda pos: values)
        marked = np.array([_is_mark(value_of(pos)) for pos in positions], dtype=bool)
        for pos in positions[marked]:
            kind, content = str(value_of(pos))[1:].split(MARK, 1)
            group, found = MARKS[kind]
            self.add(group, int(lines[pos]), column, None, found.format(content))
        kind = f"column '{column}'" + (f": {expected}" if isinstance(expected, str) else "")
        for pos in positions[~marked]:
            text = expected(pos) if callable(expected) else expected
            self.add(kind, int(lines[pos]), column, value_of(pos), text)

    def add(self, kind: str, line: int, column: str | None, value, expected: str) -> None:
        """One problem, listed when fewer than LISTED_PER_KIND of its kind are, else counted."""
        if self.listed.get(kind, 0) >= LISTED_PER_KIND:
            self.unlisted[kind] = self.unlisted.get(kind, 0) + 1
            return
        self.listed[kind] = self.listed.get(kind, 0) + 1
        letter = self.letters.get(column or "")
        self.found.append(Problem(self.where, line, column, value, expected, self.unit,
                                  kind=kind, sheet=self.sheet,
                                  cell=f"{letter}{line}" if letter else None))

    def header(self, column: str | None, expected: str) -> None:
        self.found.append(Problem(self.where, 1, column, None, expected))

    def raise_any(self) -> None:
        if self.found:
            raise DataError(self.found, self.unlisted)


def _is_mark(value: object) -> bool:
    return isinstance(value, str) and value.startswith(MARK) and value != REPORTED


def bridge_instruments(table, where: str, config: Config):
    """The table with its instrument columns mapped onto the signs and totals (a RawTable in,
    a RawTable out; unchanged when it holds no instrument column). The instruments found are
    in the frame's attrs['instruments']."""
    heads = _contract_names(table.frame.columns, config)
    cell_lines: dict[int, np.ndarray] = {}
    if all(name in heads for name in LONG_COLUMNS):
        table, cell_lines = _widen(table, heads, where)
        heads = _contract_names(table.frame.columns, config)
    letters = dict(zip(map(str, table.frame.columns), getattr(table, "letters", ()),
                       strict=False))
    problems = _Problems(where, table.unit, sheet=getattr(table, "sheet", None), letters=letters)
    found = _find_columns(table.frame.columns, heads, problems)
    if not found:
        return table
    _check_header(found, heads, config, table.frame.columns, problems)
    problems.raise_any()
    columns: dict[str, np.ndarray] = {}
    parts: dict[str, list[np.ndarray]] = {}
    for key, where_is in found.items():
        instrument = INSTRUMENTS[key]
        items, total = _score(instrument, where_is, table, cell_lines, problems)
        if total is not None and instrument.total_column:
            columns[instrument.total_column] = total
        if items is not None:
            _feed_signs(instrument, items, config, parts)
    problems.raise_any()
    columns.update({sign: _mean(values) for sign, values in parts.items()})
    if not parts and not any(h in SIGN_KEYS for h in heads):
        labels = ", ".join(INSTRUMENTS[k].label for k in found)
        problems.header(None, f"SRS or WAI-SR item columns (the mapping in the config feeds no "
                              f"sign from {labels}) or at least one sign column")
        problems.raise_any()
    return _replace_columns(table, found, columns, tuple(found))


def _contract_names(headers: pd.Index, config: Config) -> list[str]:
    renames = {k.strip().lower(): v.strip().lower() for k, v in config.columns.items()}
    return [renames.get(str(h).strip().lower(), str(h).strip().lower()) for h in headers]


def _find_columns(headers: pd.Index, heads: list[str], problems: _Problems) -> dict[str, _Found]:
    """Instrument columns by instrument; an export has at least one item or an export total."""
    found: dict[str, _Found] = {}
    export = False
    for pos, head in enumerate(heads):
        match = match_header(normalise(head))
        if match is None:
            continue
        instrument, number = match
        slot = found.setdefault(instrument.key, _Found())
        taken = slot.total if number is None else slot.items.get(number)
        if taken is not None:
            problems.header(str(headers[pos]), f"each column once; it names the same "
                            f"{instrument.label} {'total' if number is None else 'item'} as "
                            f"column {taken + 1} ('{headers[taken]}')")
            continue
        if number is None:
            slot.total = pos
            export |= head not in CONTRACT_TOTALS
        else:
            slot.items[number] = pos
            export = True
    return found if export else {}


def _check_header(found: dict[str, _Found], heads: list[str], config: Config,
                  headers: pd.Index, problems: _Problems) -> None:
    """Every item of an instrument whose items are given; no sign both given and mapped."""
    for key, where_is in found.items():
        instrument = INSTRUMENTS[key]
        missing = [c for n, c in enumerate(instrument.codes, 1) if n not in where_is.items]
        if where_is.items and missing:
            problems.header(None, f"all {instrument.n_items} {instrument.label} item columns "
                                  f"({instrument.span()}); missing {', '.join(missing)}")
    for entry in config.instruments.map:
        where_is = found.get(entry.instrument)
        if where_is and where_is.items and entry.sign in heads:
            label = INSTRUMENTS[entry.instrument].label
            problems.header(str(headers[heads.index(entry.sign)]),
                            f"'{entry.sign}' from its own column or from {label} "
                            f"{' + '.join(entry.items)}, not both (the mapping in the config "
                            "maps that instrument onto this sign)")


def _parse(values: pd.Series, lo: float, hi: float, whole: bool) -> _Numbers:
    """Numbers on [lo, hi] (whole numbers only when `whole`); decimal commas read as points."""
    codes, uniq = _text(values)
    text = pd.Series(uniq, dtype=object).str.replace(",", ".", regex=False)
    nums = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    blank = uniq == ""
    with np.errstate(invalid="ignore"):
        bad = ~blank & (np.isnan(nums) | (nums < lo) | (nums > hi))
        if whole:
            bad |= ~blank & (nums != np.round(nums))
    values = np.where(bad | blank, np.nan, nums)
    return _Numbers(values[codes], blank[codes], bad[codes], codes, uniq)


def _score(instrument: Instrument, where_is: _Found, table, cell_lines: dict[int, np.ndarray],
           problems: _Problems) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The items (rows x items, NaN unless the row has every item) and the totals."""
    frame, lines = table.frame, table.lines
    items = None
    if where_is.items:
        scale = f"{instrument.min:g} to {instrument.max:g}"
        expected = (f"a whole number from {scale}" if instrument.whole else f"a number from "
                    f"{scale}") + f" (the {instrument.label} item scale)"
        parsed = []
        for number in range(1, instrument.n_items + 1):
            pos = where_is.items[number]
            col = _parse(frame.iloc[:, pos], instrument.min, instrument.max, instrument.whole)
            at = cell_lines.get(pos, lines)
            problems.flag(col.bad, at, str(frame.columns[pos]),
                          lambda p, c=col: c.uniq[c.codes[p]], expected)
            parsed.append(col)
        items = _complete_rows(instrument, parsed, where_is, frame, cell_lines, lines, problems)
    if where_is.total is not None:
        return items, _check_total(instrument, where_is.total, items, table, cell_lines,
                                   problems)
    return items, None if items is None else items.sum(axis=1)


def _complete_rows(instrument: Instrument, parsed: list[_Numbers], where_is: _Found,
                   frame: pd.DataFrame, cell_lines: dict[int, np.ndarray], lines: np.ndarray,
                   problems: _Problems) -> np.ndarray:
    """Items of the rows that have them all; a partly filled instrument is a problem."""
    values = np.column_stack([p.values for p in parsed])
    blank = np.column_stack([p.blank for p in parsed])
    bad = np.column_stack([p.bad for p in parsed])
    filled = (~blank).sum(axis=1)
    partial = (filled > 0) & (filled < instrument.n_items) & ~bad.any(axis=1)
    first_blank = np.argmax(blank, axis=1)
    for number in range(1, instrument.n_items + 1):
        rows = partial & (first_blank == number - 1)
        pos = where_is.items[number]
        problems.flag(rows, cell_lines.get(pos, lines), str(frame.columns[pos]), None,
                      f"all {instrument.n_items} {instrument.label} items, or none: a partly "
                      f"filled {instrument.label} cannot be scored")
    complete = (filled == instrument.n_items) & ~bad.any(axis=1)
    return np.where(complete[:, None], values, np.nan)


def _check_total(instrument: Instrument, pos: int, items: np.ndarray | None, table,
                 cell_lines: dict[int, np.ndarray], problems: _Problems) -> np.ndarray:
    """The stated total (range-checked, agreeing with its items), else the items' sum."""
    frame = table.frame
    lo, hi = instrument.total_range
    col = _parse(frame.iloc[:, pos], lo, hi, instrument.whole)
    at = cell_lines.get(pos, table.lines)
    column = str(frame.columns[pos])
    problems.flag(col.bad, at, column, lambda p: col.uniq[col.codes[p]],
                  f"an {instrument.label} total from {lo:g} to {hi:g}")
    if items is None:
        return col.values
    sums = items.sum(axis=1)
    with np.errstate(invalid="ignore"):
        off = np.abs(sums - col.values) > instrument.tolerance + 1e-9
    problems.flag(off, at, column, lambda p: col.uniq[col.codes[p]],
                  lambda p: f"{sums[p]:g}, the sum of {instrument.span()} (a total that "
                            "disagrees with its items)")
    return np.where(np.isnan(col.values), sums, col.values)


def _feed_signs(instrument: Instrument, items: np.ndarray, config: Config,
                parts: dict[str, list[np.ndarray]]) -> None:
    """Each mapping entry of this instrument: the mean of its items, on the sign scale."""
    slope, offset = convert(instrument, config.scale.min, config.scale.max)
    for entry in config.instruments.map:
        if entry.instrument == instrument.key:
            value = items[:, [n - 1 for n in entry.numbers]].mean(axis=1) * slope + offset
            parts.setdefault(entry.sign, []).append(value)


def _mean(values: list[np.ndarray]) -> np.ndarray:
    """A sign's rating: the mean of its entries present in the row (NaN when none is)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows with no entry stay NaN
        return np.nanmean(np.column_stack(values), axis=1)


def _replace_columns(table, found: dict[str, _Found], columns: dict[str, np.ndarray],
                     present: tuple[str, ...]):
    """Drop the instrument columns; add the sign and total columns as text."""
    dropped = {p for f in found.values() for p in [*f.items.values(), f.total] if p is not None}
    keep = [i for i in range(table.frame.shape[1]) if i not in dropped]
    frame = table.frame.iloc[:, keep].copy()
    for name, values in columns.items():
        frame[name] = _as_text(values)
    frame.attrs["instruments"] = present
    return dataclasses.replace(table, frame=frame)


def _as_text(values: np.ndarray) -> pd.Categorical:
    """Numbers as the text a file would hold (exact: repr round-trips), blank when NaN."""
    codes, uniq = pd.factorize(values)
    return pd.Categorical.from_codes(codes, categories=[repr(float(u)) for u in uniq])


_RATER = re.compile(r"[\s-]+")


def _widen(table, heads: list[str], where: str):
    """A long export (one row per item) as one row per client, date and rater, each item in
    its own column; each item cell keeps the line it came from."""
    frame, lines = table.frame, table.lines
    letters = dict(zip(map(str, table.frame.columns), getattr(table, "letters", ()),
                       strict=False))
    problems = _Problems(where, table.unit, sheet=getattr(table, "sheet", None), letters=letters)
    text = {i: _text(frame.iloc[:, i]) for i in range(frame.shape[1])}
    nonblank = np.zeros(len(frame), dtype=bool)
    for codes, uniq in text.values():
        nonblank |= (uniq != "")[codes]
    pos = {name: heads.index(name) for name in LONG_COLUMNS}
    slots, names = _item_slots(text[pos["instrument"]], text[pos["item"]], nonblank, lines,
                               frame.columns, pos, problems)
    group, first = _groups(text, heads, nonblank)
    others = [i for i in range(frame.shape[1]) if i not in pos.values()]
    _check_agreement(text, others, group, first, nonblank, lines, frame.columns, problems)
    _check_repeats(group, slots, nonblank, lines, problems)
    problems.raise_any()
    rows = np.flatnonzero(nonblank)
    n_groups = len(first)
    wide = frame.iloc[first, others].reset_index(drop=True)
    cell_lines: dict[int, np.ndarray] = {}
    score_codes, score_uniq = text[pos["score"]]
    for slot in np.unique(slots[rows]):
        at = rows[slots[rows] == slot]
        cells = np.full(n_groups, "", dtype=object)
        cells[group[at]] = score_uniq[score_codes[at]]
        item_lines = lines[first].copy()
        item_lines[group[at]] = lines[at]
        wide[names[slot]] = cells
        cell_lines[wide.shape[1] - 1] = item_lines
    return dataclasses.replace(table, frame=wide, lines=lines[first]), cell_lines


def _text(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes per row into the column's distinct trimmed values ('' for blank)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, cats = values.cat.codes.to_numpy(), list(values.cat.categories)
    else:
        codes, cats = pd.factorize(values)
        cats = list(cats)
    uniq = np.array([str(v).strip() for v in cats] + [""], dtype=object)
    return np.where(codes < 0, len(cats), codes).astype(np.int64), uniq


def _item_slots(instrument: tuple, item: tuple, nonblank: np.ndarray, lines: np.ndarray,
                headers: pd.Index, pos: dict[str, int],
                problems: _Problems) -> tuple[np.ndarray, list[str]]:
    """Each row's item as a slot (an index into the item column names), -1 when unknown."""
    names = [name for i in INSTRUMENTS.values() for name in (*i.codes, i.total_code)]
    i_codes, i_uniq = instrument
    t_codes, t_uniq = item
    known = [find_instrument(u) for u in i_uniq]
    bad_inst = np.array([k is None for k in known], dtype=bool)[i_codes] & nonblank
    labels = ", ".join(i.label for i in INSTRUMENTS.values())
    problems.flag(bad_inst, lines, str(headers[pos["instrument"]]),
                  lambda p: i_uniq[i_codes[p]], f"an instrument: one of {labels}")
    pair = i_codes * len(t_uniq) + t_codes
    pair_codes, pairs = pd.factorize(pair)
    slot_of = np.array([_slot(known[p // len(t_uniq)], t_uniq[p % len(t_uniq)], names)
                        for p in pairs], dtype=np.int64)
    slots = slot_of[pair_codes]
    bad_item = (slots < 0) & nonblank & ~bad_inst
    problems.flag(bad_item, lines, str(headers[pos["item"]]), lambda p: t_uniq[t_codes[p]],
                  lambda p: _item_expected(known[i_codes[p]]))
    return slots, names


def _slot(instrument: Instrument | None, item: str, names: list[str]) -> int:
    if instrument is None:
        return -1
    norm = normalise(item)
    if norm.isdigit() and 1 <= int(norm) <= instrument.n_items:
        return names.index(instrument.codes[int(norm) - 1])
    if norm == "total":
        return names.index(instrument.total_code)
    match = match_header(norm)
    if match is None or match[0] is not instrument:
        return -1
    number = match[1]
    return names.index(instrument.total_code if number is None else instrument.codes[number - 1])


def _item_expected(instrument: Instrument) -> str:
    return (f"an item of {instrument.label}: 1 to {instrument.n_items}, "
            f"{instrument.span()} or total")


def _groups(text: dict, heads: list[str], nonblank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's (client_id, session_date, rater) group, and each group's first row."""
    n = len(nonblank)
    key = np.zeros(n, dtype=np.int64)
    for name in ("client_id", "session_date", "rater"):
        if name not in heads:
            continue
        codes, uniq = text[heads.index(name)]
        if name == "rater":
            norm = [_RATER.sub("_", u.lower()) or "client" for u in uniq]
            codes = pd.factorize(np.array(norm, dtype=object))[0][codes]
        key = key * (int(codes.max(initial=0)) + 1) + codes
    rows = np.flatnonzero(nonblank)
    _, first_index, inverse = np.unique(key[rows], return_index=True, return_inverse=True)
    order = np.argsort(first_index, kind="stable")  # groups numbered in file order
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    group = np.full(n, -1, dtype=np.int64)
    group[rows] = rank[inverse.ravel()]
    return group, rows[first_index[order]]


def _check_agreement(text: dict, others: list[int], group: np.ndarray, first: np.ndarray,
                     nonblank: np.ndarray, lines: np.ndarray, headers: pd.Index,
                     problems: _Problems) -> None:
    """Every other column is the same on each row of one session's items."""
    rows = np.flatnonzero(nonblank)
    for i in others:
        codes, uniq = text[i]
        lead = first[group[rows]]
        differs = np.zeros(len(group), dtype=bool)
        differs[rows] = codes[rows] != codes[lead]
        problems.flag(differs, lines, str(headers[i]), lambda p, c=codes, u=uniq: u[c[p]],
                      lambda p, c=codes, u=uniq: f"the same value on every item row of this "
                      f"session ({u[c[first[group[p]]]]!r} on {problems.unit} "
                      f"{lines[first[group[p]]]})")


def _check_repeats(group: np.ndarray, slots: np.ndarray, nonblank: np.ndarray,
                   lines: np.ndarray, problems: _Problems) -> None:
    """Each item once per session and rater."""
    rows = np.flatnonzero(nonblank & (slots >= 0))
    key = group[rows] * (int(slots.max(initial=0)) + 1) + slots[rows]
    _, first_index, inverse = np.unique(key, return_index=True, return_inverse=True)
    first_row = rows[first_index[inverse.ravel()]]
    repeat = np.zeros(len(group), dtype=bool)
    repeat[rows] = first_row != rows
    original = np.zeros(len(group), dtype=np.int64)
    original[rows] = first_row
    problems.flag(repeat, lines, "instrument, item", None,
                  lambda p: f"each item once per client, date and rater; this repeats "
                            f"{problems.unit} {lines[original[p]]}")
