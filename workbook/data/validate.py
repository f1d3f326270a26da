"""Check every row of a raw ratings table against the data contract and type it.

Each column is encoded once as integer codes into its distinct (trimmed) values; every check
runs on the distinct values (a million rows hold few distinct dates, codes or scores) and on
integer keys, and every problem is collected before anything is raised.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
import pandas as pd

from workbook.data import columns as C
from workbook.data.config import DEFAULT_ID_PATTERN, Config
from workbook.data.errors import LISTED_PER_KIND, DataError, Problem

ISO_DATE = r"\d{4}-\d{2}-\d{2}"
DAY_MONTH = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})")
# Readers mark cells with text that starts with MARK, a Unicode noncharacter (reserved for a
# program's internal use; a file holding it is refused by its reader). NUL cannot serve: pandas
# hashes text only up to a NUL, and numpy drops trailing NULs.
MARK = "\ufdd0"
# A cell the reader has already reported (an Excel error, a quote that swallowed lines, bytes
# that are not UTF-8): no check looks at it again, so each cell is reported once.
REPORTED = MARK + "(already reported)"
MAX_SESSION_NUMBER = 100_000
EARLIEST = "1900-01-01"
SESSION_KEY = "client_id, session_date, rater"


@dataclass(frozen=True)
class _Col:
    """A column as codes (one per row) into its distinct values, trimmed."""

    codes: np.ndarray
    uniq: np.ndarray

    def take(self, rows: np.ndarray) -> _Col:
        return _Col(self.codes[rows], self.uniq)


def _encode(values: pd.Series) -> _Col:
    """Encode a column of text cells (categorical or plain) as codes into trimmed values."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, cats = values.cat.codes.to_numpy(), list(values.cat.categories)
    else:
        codes, cats = pd.factorize(values, use_na_sentinel=True)
        cats = list(cats)
    text = np.array([str(v).strip() for v in cats] + [""], dtype=object)
    canon, uniq = pd.factorize(text)
    codes = np.where(codes < 0, len(cats), codes)  # a missing cell reads as blank
    return _Col(canon[codes].astype(np.int64), np.asarray(uniq, dtype=object))


@dataclass
class _Checker:
    """Collects problems for one file, turning row positions into editor line numbers (or
    sheet rows and cells). Every problem is counted; the first LISTED_PER_KIND of each kind, by
    line, are made into Problems."""

    file: str
    lines: np.ndarray
    unit: str
    sheet: str | None = None
    letters: dict[str, str] = field(default_factory=dict)
    found: dict[str, list[tuple[np.ndarray, Callable[[int], Problem]]]] = field(
        default_factory=dict)

    def flag(self, col: _Col, bad: np.ndarray, column: str, expected: str) -> None:
        """Record a problem for every row whose distinct value is marked bad."""
        bad = bad & (col.uniq != REPORTED)
        if not bad.any():
            return
        self.report(f"column '{column}': {expected}", np.flatnonzero(bad[col.codes]),
                    lambda pos: self.problem(pos, column, col.uniq[col.codes[pos]], expected))

    def report(self, kind: str, positions: np.ndarray, make: Callable[[int], Problem]) -> None:
        """Record problems of one kind at row `positions`; `make` builds one when listed."""
        if len(positions):
            self.found.setdefault(kind, []).append((np.asarray(positions, dtype=np.int64), make))

    def problem(self, pos: int, column: str | None, value: object, expected: str,
                kind: str | None = None) -> Problem:
        """The Problem at row position `pos`."""
        line = int(self.lines[pos])
        letter = self.letters.get(column or "")
        return Problem(self.file, line, column, value, expected, self.unit, kind=kind,
                       sheet=self.sheet, cell=f"{letter}{line}" if letter else None)

    def error(self) -> DataError | None:
        """Every problem found: the first of each kind listed, the rest counted."""
        if not self.found:
            return None
        listed, unlisted = [], {}
        for kind, parts in self.found.items():
            positions = np.concatenate([p for p, _ in parts])
            makers = np.concatenate([np.full(len(p), i) for i, (p, _) in enumerate(parts)])
            order = np.lexsort((positions, self.lines[positions]))[:LISTED_PER_KIND]
            for i in order:
                made = parts[makers[i]][1](int(positions[i]))
                listed.append(made if made.kind else _with_kind(made, kind))
            unlisted[kind] = len(positions) - len(order)
        return DataError(listed, unlisted)


def _with_kind(problem: Problem, kind: str) -> Problem:
    return replace(problem, kind=kind)


def check_rows(raw: pd.DataFrame, config: Config, *, file: str, lines: np.ndarray | None = None,
               first_line: int = 2, unit: str = "line", today: date | None = None,
               sheet: str | None = None, letters: dict[str, str] | None = None,
               reported: bool = False) -> pd.DataFrame:
    """Validate raw text cells; return the typed frame described in workbook.data.columns.

    `lines` gives each row's line (or sheet row); by default rows count from `first_line`.
    `sheet` and `letters` (column name -> spreadsheet column letter) locate Excel cells. A
    required column missing from `raw` was reported by the reader: the other checks still run.
    """
    cols = {name: _encode(raw[name]) for name in raw.columns}
    lines = np.arange(len(raw)) + first_line if lines is None else np.asarray(lines)
    keep = _nonblank(cols, len(raw))
    if not keep.all():
        cols = {name: col.take(keep) for name, col in cols.items()}
        lines = lines[keep]
    if not len(lines):
        raise DataError([Problem(file, None, None, None,
                                 "at least one rating row below the header; found none")])
    chk = _Checker(file, lines, unit, sheet, dict(letters or {}))
    out, keys = _check_columns(cols, config, chk, today or date.today())
    _check_sessions(keys, cols, chk)
    error = chk.error() or (None if reported else _unreported(cols, file))
    if error is not None:
        raise error
    if reported:
        return pd.DataFrame()
    ids = cols["client_id"]
    client_rank = np.argsort(np.argsort(ids.uniq))[ids.codes]
    return _finish(out, client_rank, keys["rater"], config)


def _unreported(cols: dict[str, _Col], file: str) -> DataError | None:
    """Problems a caller should have reported and did not: a missing required column, a cell
    marked as reported. Never accept them silently."""
    problems = [Problem(file, None, None, None, f"a required column '{name}'")
                for name in C.REQUIRED if name not in cols]
    if any((col.uniq == REPORTED).any() for col in cols.values()):
        problems.append(Problem(file, None, None, None,
                                "every cell readable (a reader marked one it could not read)"))
    return DataError(problems) if problems else None


def _nonblank(cols: dict[str, _Col], n: int) -> np.ndarray:
    """Rows with at least one non-blank cell (blank lines are skipped, not errors)."""
    keep = np.zeros(n, dtype=bool)
    for col in cols.values():
        keep |= (col.uniq != "")[col.codes]
    return keep


def _check_columns(cols: dict[str, _Col], config: Config, chk: _Checker,
                   today: date) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Check and type every contract column; return typed columns and integer session keys."""
    out: dict[str, np.ndarray] = {}
    keys: dict[str, np.ndarray] = {}
    pattern = re.compile(config.privacy.id_pattern)
    for name in C.ID_COLUMNS:
        out[name], keys[name] = _check_ids(cols.get(name), name, pattern, chk, name in C.REQUIRED)
    out["session_date"], keys["session_date"] = _check_dates(cols.get("session_date"), config,
                                                             chk, today)
    out["session_number"] = _check_session_numbers(cols.get("session_number"), chk)
    for name, allowed, default in (("rater", C.RATERS, "client"),
                                   ("attendance", C.ATTENDANCE, "attended")):
        out[name], keys[name] = _check_choice(cols.get(name), name, allowed, default, chk)
    lo, hi = config.scale.min, config.scale.max
    for key in C.SIGN_KEYS:
        expected = f"a rating from {lo:g} to {hi:g}"
        out[key] = _check_numbers(cols.get(key), key, lo, hi, chk, expected)
    for key, measure in config.all_measures().items():
        expected = f"a {measure.label} total from {measure.min:g} to {measure.max:g}"
        out[key] = _check_numbers(cols.get(key), key, measure.min, measure.max, chk, expected)
    for key, (lo, hi, label) in C.ALLIANCE_TOTALS.items():
        out[key] = _check_numbers(cols.get(key), key, lo, hi, chk,
                                  f"an {label} total from {lo:g} to {hi:g}")
    note = cols.get("note")
    out["note"] = (np.full(len(chk.lines), None, dtype=object) if note is None
                   else np.where(note.uniq == "", None, note.uniq)[note.codes])
    return out, keys


def _check_ids(col: _Col | None, name: str, pattern: re.Pattern, chk: _Checker,
               required: bool) -> tuple[np.ndarray, np.ndarray]:
    """Pseudonymous codes: values (None when blank) and codes (-1 when blank or bad)."""
    n = len(chk.lines)
    if col is None:
        return np.full(n, None, dtype=object), np.full(n, -1, dtype=np.int64)
    empty = col.uniq == ""
    ok = np.array([bool(pattern.fullmatch(u)) for u in col.uniq], dtype=bool)
    if required:
        chk.flag(col, empty, name, "a value (this column is required)")
    hint = (" (letters, digits, '.', '_' or '-'; no spaces or names)"
            if pattern.pattern == DEFAULT_ID_PATTERN else " (the config's privacy.id_pattern)")
    chk.flag(col, ~ok & ~empty, name, f"a pseudonymous code matching {pattern.pattern}{hint}")
    codes = np.where(ok & ~empty, np.arange(len(col.uniq)), -1)[col.codes]
    return np.where(empty, None, col.uniq)[col.codes], codes


def _check_dates(col: _Col | None, config: Config, chk: _Checker,
                 today: date) -> tuple[np.ndarray, np.ndarray]:
    """Session dates: ISO always, the config's format too; values and codes (-1 when bad)."""
    if col is None:  # the missing column is a header problem
        n = len(chk.lines)
        return np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]"), np.full(n, -1)
    text = pd.Series(col.uniq, dtype=object)
    blank = (text == "").to_numpy()
    iso = text.str.fullmatch(ISO_DATE).to_numpy(dtype=bool)
    parsed = pd.to_datetime(text.where(iso), format="%Y-%m-%d", errors="coerce")
    _flag_unparsed_iso(col, iso & parsed.isna().to_numpy(), chk, today)
    other = ~iso & ~blank
    fmt = config.date_format
    if fmt:
        parsed_fmt = pd.to_datetime(text.where(other), format=fmt, errors="coerce")
        parsed = parsed.where(iso, parsed_fmt)
        chk.flag(col, other & parsed.isna().to_numpy(), "session_date",
                 f"a date in the configured format {fmt} (or YYYY-MM-DD)")
    else:
        _flag_non_iso(col, other, chk)
    chk.flag(col, blank, "session_date", "a value (this column is required)")
    parsed = parsed.dt.normalize()
    early = (parsed < pd.Timestamp(EARLIEST)).to_numpy()
    late = (parsed > pd.Timestamp(today)).to_numpy()
    chk.flag(col, early, "session_date", f"a date from {EARLIEST} on")
    chk.flag(col, late, "session_date", f"a date not after today ({today.isoformat()})")
    valid = parsed.notna().to_numpy() & ~early & ~late
    day_codes = np.where(valid, pd.factorize(parsed)[0], -1)
    return parsed.to_numpy(dtype="datetime64[ns]")[col.codes], day_codes[col.codes]


def _flag_unparsed_iso(col: _Col, unparsed: np.ndarray, chk: _Checker, today: date) -> None:
    """ISO-shaped dates pandas cannot hold: not on the calendar, or far in the future or past."""
    days = [_iso_date(u) if bad else None for u, bad in zip(col.uniq, unparsed, strict=True)]
    real = np.array([d is not None for d in days], dtype=bool)
    chk.flag(col, unparsed & ~real, "session_date", "a real calendar date YYYY-MM-DD")
    future = np.array([d is not None and d > today for d in days], dtype=bool)
    chk.flag(col, future, "session_date", f"a date not after today ({today.isoformat()})")
    chk.flag(col, real & ~future, "session_date", f"a date from {EARLIEST} on")


def _iso_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _flag_non_iso(col: _Col, other: np.ndarray, chk: _Checker) -> None:
    """Non-ISO dates: say when day and month could be swapped (03/04/2026)."""
    swappable = np.array([_ambiguous(u) for u in col.uniq], dtype=bool)
    hint = "or set date_format in the config, e.g. '%d/%m/%Y'"
    chk.flag(col, other & swappable, "session_date",
             f"an ISO date YYYY-MM-DD; day and month are ambiguous here ({hint})")
    chk.flag(col, other & ~swappable, "session_date", f"an ISO date YYYY-MM-DD ({hint})")


def _ambiguous(text: str) -> bool:
    match = DAY_MONTH.fullmatch(text)
    return bool(match) and all(1 <= int(part) <= 12 for part in match.groups()[:2])


def _check_session_numbers(col: _Col | None, chk: _Checker) -> np.ndarray:
    if col is None:
        return np.full(len(chk.lines), np.nan)
    nums = pd.to_numeric(pd.Series(col.uniq, dtype=object), errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(nums) & (nums >= 1) & (nums <= MAX_SESSION_NUMBER)
        ok &= nums == np.round(nums)
    blank = col.uniq == ""
    chk.flag(col, ~ok & ~blank, "session_number",
             f"a whole number from 1 to {MAX_SESSION_NUMBER:,}")
    return np.where(ok, nums, np.nan)[col.codes]


def _check_choice(col: _Col | None, name: str, allowed: tuple[str, ...], default: str,
                  chk: _Checker) -> tuple[np.ndarray, np.ndarray]:
    """One of a fixed set (case and spaces forgiven); values and codes into `allowed`."""
    n = len(chk.lines)
    if col is None:
        return np.full(n, default, dtype=object), np.full(n, allowed.index(default))
    norm = pd.Series(col.uniq, dtype=object).str.lower().str.replace(r"[\s-]+", "_", regex=True)
    norm = norm.where(norm != "", default).to_numpy(dtype=object)
    index = np.array([allowed.index(v) if v in allowed else -1 for v in norm], dtype=np.int64)
    chk.flag(col, index < 0, name, f"one of {', '.join(allowed)}")
    return norm[col.codes], index[col.codes]


def _check_numbers(col: _Col | None, name: str, lo: float, hi: float, chk: _Checker,
                   expected: str) -> np.ndarray:
    if col is None:
        return np.full(len(chk.lines), np.nan)
    text = pd.Series(col.uniq, dtype=object).str.replace(",", ".", regex=False)
    nums = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    blank = col.uniq == ""
    with np.errstate(invalid="ignore"):
        bad = ~blank & (np.isnan(nums) | (nums < lo) | (nums > hi))
    chk.flag(col, bad, name, expected)
    return np.where(bad | blank, np.nan, nums)[col.codes]


def _groups(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows sorted by key (file order kept within a key), and each one's group's first row."""
    order = np.argsort(key, kind="stable")
    if not len(key):
        return order, order
    sorted_key = key[order]
    starts = np.r_[True, sorted_key[1:] != sorted_key[:-1]]
    first = order[np.maximum.accumulate(np.where(starts, np.arange(len(key)), 0))]
    return order, first


def _check_sessions(keys: dict[str, np.ndarray], cols: dict[str, _Col], chk: _Checker) -> None:
    """Duplicate (client, date, rater) rows; therapist or attendance disagreeing in a session."""
    client, day, rater = keys["client_id"], keys["session_date"], keys["rater"]
    valid = (client >= 0) & (day >= 0)
    session = client * (int(day.max()) + 1) + day
    rows = np.flatnonzero(valid & (rater >= 0))
    order, first = _groups(session[rows] * len(C.RATERS) + rater[rows])
    dup = np.flatnonzero(order != first)
    origin = dict(zip(rows[order[dup]].tolist(), rows[first[dup]].tolist(), strict=True))
    chk.report("rows repeating a client, date and rater", rows[order[dup]],
               lambda pos: chk.problem(pos, SESSION_KEY, _key_text(cols, pos),
                                       "one row per client, date and rater; this repeats "
                                       f"{chk.unit} {chk.lines[origin[pos]]}",
                                       "rows repeating a client, date and rater"))
    for name in ("therapist_id", "attendance"):
        rows = np.flatnonzero(valid & (keys[name] >= 0))
        order, first = _groups(session[rows])
        value = keys[name][rows]
        odd = np.flatnonzero(value[order] != value[first])
        chk.report(f"sessions whose rows disagree on {name}", rows[order[odd]],
                   _disagreement(chk, cols, name, dict(zip(rows[order[odd]].tolist(),
                                                           rows[first[odd]].tolist(),
                                                           strict=True))))


def _disagreement(chk: _Checker, cols: dict[str, _Col], name: str,
                  origin: dict[int, int]) -> Callable[[int], Problem]:
    """Build the problem of a row whose `name` disagrees with its session's first row."""
    def make(pos: int) -> Problem:
        orig = origin[pos]
        return chk.problem(pos, name, _value(cols, name, pos),
                           f"the same {name} for every row of this session "
                           f"({_value(cols, name, orig)!r} on {chk.unit} {chk.lines[orig]})",
                           f"sessions whose rows disagree on {name}")
    return make


def _value(cols: dict[str, _Col], name: str, pos: int) -> str:
    col = cols.get(name)
    return "" if col is None else str(col.uniq[col.codes[pos]])


def _key_text(cols: dict[str, _Col], pos: int) -> str:
    return ", ".join(_value(cols, name, pos) or "(blank)" for name in C.KEY)


def _finish(out: dict[str, np.ndarray], client_rank: np.ndarray, rater: np.ndarray,
            config: Config) -> pd.DataFrame:
    """Sort by client, date and rater; derive missing session numbers; order the columns."""
    rater_rank = np.argsort(np.argsort(np.array(C.RATERS)))[rater]
    days = out["session_date"].view(np.int64)
    order = np.lexsort((rater_rank, days, client_rank))
    out = {name: values[order] for name, values in out.items()}
    client, days = client_rank[order], days[order]
    new_client = np.r_[True, client[1:] != client[:-1]]
    dense = np.cumsum(new_client | np.r_[True, days[1:] != days[:-1]])
    start = np.maximum.accumulate(np.where(new_client, np.arange(len(client)), 0))
    numbers = out["session_number"]
    out["session_number"] = np.where(np.isnan(numbers), dense - dense[start] + 1,
                                     numbers).astype(np.int64)
    frame = pd.DataFrame({name: out[name] for name in (*C.BASE_ORDER[:-1], *config.measures,
                                                       *C.ALLIANCE_TOTALS, "note")})
    frame["session_date"] = frame["session_date"].astype("datetime64[ns]")
    return frame
