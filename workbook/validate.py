"""Check every row of a raw ratings table against the data contract and type it.

All checks are vectorised over the distinct values of each column (a million rows hold few
distinct dates, codes or scores), and every problem is collected before anything is raised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from workbook import columns as C
from workbook.config import Config
from workbook.errors import DataError, Problem

ISO_DATE = r"\d{4}-\d{2}-\d{2}"
MAX_PROBLEMS_PER_CHECK = 1000


@dataclass
class _Checker:
    """Collects problems for one file, turning row positions into editor line numbers."""

    file: str
    lines: np.ndarray
    unit: str
    problems: list[Problem] = field(default_factory=list)

    def flag(self, mask: np.ndarray, column: str, values: pd.Series, expected: str) -> None:
        """Record a problem for every row where mask is True."""
        for pos in np.flatnonzero(mask)[:MAX_PROBLEMS_PER_CHECK]:
            self.problems.append(Problem(self.file, int(self.lines[pos]), column,
                                         values.iat[pos], expected, self.unit))


def check_rows(raw: pd.DataFrame, config: Config, *, file: str, first_line: int = 2,
               unit: str = "line", today: date | None = None) -> pd.DataFrame:
    """Validate raw string cells; return the typed frame described in workbook.columns."""
    raw = raw.loc[~(raw == "").all(axis=1)] if len(raw) else raw
    if raw.empty:
        raise DataError([Problem(file, None, None, None,
                                 "at least one rating row below the header; found none")])
    chk = _Checker(file, raw.index.to_numpy() + first_line, unit)
    out = pd.DataFrame(index=raw.index)
    pattern = re.compile(config.privacy.id_pattern)
    for name in C.ID_COLUMNS:
        out[name] = _check_ids(raw, name, pattern, chk, required=name in C.REQUIRED)
    out["session_date"] = _check_dates(raw["session_date"], config, chk, today or date.today())
    out["session_number"] = _check_session_numbers(raw, chk)
    out["rater"] = _check_choice(raw, "rater", C.RATERS, "client", chk)
    out["attendance"] = _check_choice(raw, "attendance", C.ATTENDANCE, "attended", chk)
    lo, hi = config.scale.min, config.scale.max
    for key in C.SIGN_KEYS:
        out[key] = _check_numbers(raw, key, lo, hi, chk, f"a rating from {lo:g} to {hi:g}")
    for key, measure in config.all_measures().items():
        expected = f"a {measure.label} total from {measure.min:g} to {measure.max:g}"
        out[key] = _check_numbers(raw, key, measure.min, measure.max, chk, expected)
    out["note"] = raw["note"].where(raw["note"] != "", None) if "note" in raw else None
    _check_sessions(out, chk)
    if chk.problems:
        raise DataError(sorted(chk.problems, key=lambda p: (p.line or 0, p.column or "")))
    return _finish(out, config)


def _factorize(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes into the distinct values, and those values trimmed of surrounding blanks."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return codes, np.array([str(u).strip() for u in uniques], dtype=object)


def _check_ids(raw: pd.DataFrame, name: str, pattern: re.Pattern, chk: _Checker,
               required: bool) -> pd.Series:
    if name not in raw:
        return pd.Series(None, index=raw.index, dtype=object)
    col = raw[name]
    codes, uniq = _factorize(col)
    ok = np.array([bool(pattern.fullmatch(u)) for u in uniq], dtype=bool)
    empty = (uniq == "")
    if required:
        chk.flag(empty[codes], name, col, "a value (this column is required)")
    bad = (~ok & ~empty)[codes]
    chk.flag(bad, name, col, f"a pseudonymous code matching {pattern.pattern} "
                             "(letters, digits, '.', '_' or '-'; no spaces or names)")
    return pd.Series(np.where(empty, None, uniq)[codes], index=raw.index, dtype=object)


def _check_dates(col: pd.Series, config: Config, chk: _Checker, today: date) -> pd.Series:
    codes, uniq = _factorize(col)
    text = pd.Series(uniq, dtype=object)
    fmt = config.date_format
    if fmt:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
        chk.flag(parsed.isna().to_numpy()[codes] & (text != "").to_numpy()[codes],
                 "session_date", col, f"a date in the configured format {fmt}")
    else:
        iso = text.str.fullmatch(ISO_DATE).to_numpy()
        parsed = pd.to_datetime(text.where(iso), format="%Y-%m-%d", errors="coerce")
        non_iso = ~iso & (text != "").to_numpy()
        chk.flag(non_iso[codes], "session_date", col,
                 "an ISO date YYYY-MM-DD (a date like 03/04/2026 is ambiguous; write it as "
                 "YYYY-MM-DD or set date_format in the config)")
        chk.flag((iso & parsed.isna().to_numpy())[codes], "session_date", col,
                 "a real calendar date YYYY-MM-DD")
    chk.flag((text == "").to_numpy()[codes], "session_date", col,
             "a value (this column is required)")
    future = (parsed > pd.Timestamp(today)).to_numpy()
    chk.flag(future[codes], "session_date", col, f"a date not after today ({today.isoformat()})")
    return pd.Series(parsed.to_numpy()[codes], index=col.index).dt.normalize()


def _check_session_numbers(raw: pd.DataFrame, chk: _Checker) -> pd.Series:
    if "session_number" not in raw:
        return pd.Series(np.nan, index=raw.index)
    col = raw["session_number"]
    codes, uniq = _factorize(col)
    nums = pd.to_numeric(pd.Series(uniq, dtype=object), errors="coerce")
    ok = nums.notna() & (nums >= 1) & (nums == nums.round())
    blank = (pd.Series(uniq) == "").to_numpy()
    chk.flag((~ok.to_numpy() & ~blank)[codes], "session_number", col, "a whole number of 1 or more")
    return pd.Series(nums.where(ok).to_numpy()[codes], index=raw.index)


def _check_choice(raw: pd.DataFrame, name: str, allowed: tuple[str, ...], default: str,
                  chk: _Checker) -> pd.Series:
    if name not in raw:
        return pd.Series(default, index=raw.index, dtype=object)
    col = raw[name]
    codes, uniq = _factorize(col)
    norm = pd.Series(uniq, dtype=object).str.lower().str.replace(r"[\s-]+", "_", regex=True)
    norm = norm.where(norm != "", default)
    bad = (~norm.isin(allowed)).to_numpy()
    chk.flag(bad[codes], name, col, f"one of {', '.join(allowed)}")
    return pd.Series(norm.to_numpy()[codes], index=raw.index, dtype=object)


def _check_numbers(raw: pd.DataFrame, name: str, lo: float, hi: float, chk: _Checker,
                   expected: str) -> pd.Series:
    if name not in raw:
        return pd.Series(np.nan, index=raw.index)
    col = raw[name]
    codes, uniq = _factorize(col)
    text = pd.Series(uniq, dtype=object).str.replace(",", ".", regex=False)
    nums = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    blank = (text == "").to_numpy()
    bad = ~blank & (np.isnan(nums) | (nums < lo) | (nums > hi))
    chk.flag(bad[codes], name, col, expected)
    return pd.Series(np.where(bad | blank, np.nan, nums)[codes], index=raw.index)


def _check_sessions(out: pd.DataFrame, chk: _Checker) -> None:
    """Duplicate (client, date, rater) rows; therapist or attendance disagreeing in a session."""
    valid = out["client_id"].notna() & out["session_date"].notna()
    frame = out.loc[valid, ["client_id", "session_date", "rater", "therapist_id", "attendance"]]
    frame = frame.assign(_line=chk.lines[valid.to_numpy()])
    dup = frame.duplicated(list(C.KEY), keep=False)
    if dup.any():
        for _, group in frame[dup].groupby(list(C.KEY), sort=False):
            first, *rest = group["_line"].tolist()
            for line in rest[:MAX_PROBLEMS_PER_CHECK]:
                chk.problems.append(Problem(chk.file, line, "client_id, session_date, rater",
                                            None, f"one row per client, date and rater; this "
                                                  f"repeats {chk.unit} {first}", chk.unit))
    for name in ("therapist_id", "attendance"):
        _check_agreement(frame, name, chk)


def _check_agreement(frame: pd.DataFrame, name: str, chk: _Checker) -> None:
    session = ["client_id", "session_date"]
    counts = frame.groupby(session, sort=False)[name].transform("nunique")
    clash = frame[counts.to_numpy() > 1]
    first = clash.groupby(session, sort=False)[[name, "_line"]].transform("first")
    differs = clash[name].to_numpy() != first[name].to_numpy()
    for pos in np.flatnonzero(differs)[:MAX_PROBLEMS_PER_CHECK]:
        chk.problems.append(Problem(
            chk.file, int(clash["_line"].iat[pos]), name, clash[name].iat[pos],
            f"the same {name} for every row of this session ({first[name].iat[pos]!r} on "
            f"{chk.unit} {first['_line'].iat[pos]})", chk.unit))


def _finish(out: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Sort, derive missing session numbers and order the columns."""
    out = out.sort_values(list(C.KEY), kind="stable").reset_index(drop=True)
    missing = out["session_number"].isna()
    if missing.any():
        derived = (out.groupby("client_id", sort=False)["session_date"]
                   .rank(method="dense").astype("int64"))
        out["session_number"] = out["session_number"].fillna(derived)
    out["session_number"] = out["session_number"].astype("int64")
    order = [*C.BASE_ORDER[:-1], *config.measures, "note"]
    return out[order]
