"""The app charts' rows, reduced with numpy: a few milliseconds per chart at 30 clients.

The print charts (`workbook.views.charts`) reduce their rows with pandas, a few dozen operations
of ~0.1-1 ms each; the app rebuilds every chart at each filter change, so its builders
(`workbook.views.app_charts`, `workbook.views.course`) take columns out as arrays once and do
the same reductions on them. A "table" here is a dict of equal-length numpy arrays (dates as
datetime64[D]); `to_records` makes the JSON-safe rows a spec embeds, as `charts._records` does
(dates as ISO days, NaN as null). Results equal the pandas ones (the tests compare them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from workbook.data.signs import SIGN_KEYS

Table = dict[str, np.ndarray]
_SIGN_COLUMNS = frozenset(SIGN_KEYS)
DateLike = str | pd.Timestamp | None


def day(value: DateLike) -> np.datetime64 | None:
    """A date as a numpy day (None stays None)."""
    return None if value is None else np.datetime64(pd.Timestamp(value).normalize(), "D")


def take(rows: pd.DataFrame, columns: Sequence[str], *, start: DateLike = None,
         end: DateLike = None, rater: str | None = None, present: str | None = None,
         clients: Iterable[str] | None = None, date_col: str = "session_date") -> Table:
    """These columns of the rows dated start..end (inclusive days), by `rater`, with a value
    in `present`, of `clients` (None leaves a filter open); `date_col` as datetime64[D]."""
    days = rows[date_col].to_numpy(dtype="datetime64[D]")
    mask = np.ones(len(rows), dtype=bool)
    if start is not None:
        mask &= days >= day(start)
    if end is not None:
        mask &= days <= day(end)
    if rater is not None:
        mask &= rows["rater"].to_numpy() == rater
    if present is not None:
        mask &= ~np.isnan(rows[present].to_numpy(dtype=float, na_value=np.nan))
    if clients is not None:
        mask &= np.isin(rows["client_id"].to_numpy(), np.asarray(list(clients), dtype=object))
    keep = np.flatnonzero(mask)
    return {c: days[keep] if c == date_col else rows[c].to_numpy()[keep] for c in columns}


def pick(table: Table, index: np.ndarray) -> Table:
    """The table's rows at `index` (positions or a mask)."""
    return {c: v[index] for c, v in table.items()}


def size(table: Table) -> int:
    """The number of rows."""
    return len(next(iter(table.values()))) if table else 0


def sort_by_client(table: Table, date_col: str = "session_date") -> Table:
    """Rows by client, then date (stable: ties keep their order)."""
    codes = pd.factorize(table["client_id"], sort=True)[0]
    return pick(table, np.lexsort((table[date_col], codes)))


def last_per_client(table: Table) -> Table:
    """The last row of each client of a table sorted by client."""
    ids = table["client_id"]
    ends = np.flatnonzero(np.r_[ids[1:] != ids[:-1], True]) if len(ids) else np.arange(0)
    return pick(table, ends)


def first_per_client(table: Table) -> Table:
    """The first row of each client of a table sorted by client."""
    ids = table["client_id"]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.arange(0)
    return pick(table, starts)


def weekly_quartiles(days: np.ndarray, scores: np.ndarray, start: DateLike,
                     end: DateLike = None) -> Table:
    """Quartiles (linear, as pandas and numpy) of the scores per calendar week, Monday to
    Sunday, dated by the Monday or by `start` for a week that began before it; `until`: the
    next Monday, or `end` for the week it cuts."""
    d = days.astype(np.int64)
    week = d - (d + 3) % 7  # 1970-01-01 was a Thursday
    if start is not None:
        week = np.maximum(week, day(start).astype(np.int64))
    order = np.lexsort((scores, week))
    w, s = week[order], scores[order].astype(float)
    firsts = np.flatnonzero(np.r_[True, w[1:] != w[:-1]]) if len(w) else np.arange(0)
    counts = np.diff(np.r_[firsts, len(w)])
    until = d - (d + 3) % 7 + 7
    ends = until[order][firsts] if end is None else np.minimum(
        until[order][firsts], day(end).astype(np.int64))
    out = {"session_date": w[firsts].astype("datetime64[D]"),
           "until": ends.astype("datetime64[D]")}
    for name, q in (("q1", 0.25), ("median", 0.5), ("q3", 0.75)):
        pos = q * (counts - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, counts - 1)
        out[name] = s[firsts + lo] + (pos - lo) * (s[firsts + hi] - s[firsts + lo])
    return out


def session_scores(rows: pd.DataFrame, key: str, *, end: DateLike) -> Table:
    """One score per client and session day up to `end` (the first non-blank value in the
    rows' order, as `charts._measure_rows`), sorted by client and date."""
    table = sort_by_client(take(rows, ["client_id", "session_date", key], end=end, present=key))
    ids, days = table["client_id"], table["session_date"]
    new = np.r_[True, (ids[1:] != ids[:-1]) | (days[1:] != days[:-1])] if len(ids) else []
    out = pick(table, np.asarray(new, dtype=bool))
    out["score"] = out.pop(key).astype(float)
    return out


def gap_means(rows: pd.DataFrame, signs: Sequence[str], *, start: DateLike,
              end: DateLike) -> Table:
    """Per client and sign: the mean client and therapist rating over the sessions (days)
    both rated, their number and the mean gap (as `charts._gap_means`); sign as its key."""
    table = take(rows, ["client_id", "session_date", "rater", *signs], start=start, end=end)
    codes, ids = pd.factorize(table["client_id"], sort=True)
    pair = codes.astype(np.int64) * 1_000_000 + table["session_date"].astype(np.int64)
    pairs, at = np.unique(pair, return_inverse=True)
    out: dict[str, list] = {k: [] for k in ("client_id", "sign", "client_mean",
                                            "therapist_mean", "n_pairs", "mean_gap")}
    owner = (pairs // 1_000_000).astype(np.int64)
    for sign in signs:
        means = [pair_means(at, len(pairs), table[sign], table["rater"] == who)
                 for who in ("client", "therapist")]
        both = ~np.isnan(means[0]) & ~np.isnan(means[1])
        n = np.bincount(owner[both], minlength=len(ids))
        sums = [np.bincount(owner[both], weights=m[both], minlength=len(ids)) for m in means]
        for c in np.flatnonzero(n):
            cm, tm = sums[0][c] / n[c], sums[1][c] / n[c]
            for name, value in zip(out, (ids[c], sign, cm, tm, int(n[c]), tm - cm),
                                   strict=True):
                out[name].append(value)
    return {k: np.asarray(v, dtype=object if k in ("client_id", "sign") else float)
            for k, v in out.items()}


def pair_means(at: np.ndarray, n: int, values: np.ndarray, mine: np.ndarray) -> np.ndarray:
    """Per (client, day) pair, the mean of this rater's non-blank values (NaN without one)."""
    values = values.astype(float)
    keep = mine & ~np.isnan(values)
    count = np.bincount(at[keep], minlength=n)
    total = np.bincount(at[keep], weights=values[keep], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def to_records(table: Table) -> list[dict]:
    """JSON-safe rows: dates as ISO days, NaN and NaT as None, numpy scalars as Python ones."""
    names = list(table)
    columns = [_json_values(table[name]) for name in names]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _json_values(values: np.ndarray) -> list:
    if values.dtype.kind == "M":
        text = np.datetime_as_string(values.astype("datetime64[D]"), unit="D").tolist()
        return [None if t == "NaT" else t for t in text]
    out = values.tolist()
    if values.dtype.kind == "f" and np.isnan(values).any():
        return [None if v != v else v for v in out]
    if values.dtype.kind == "O":
        missing = pd.isna(values)
        if missing.any():
            return [None if m else v for v, m in zip(out, missing, strict=True)]
    return out


def latest_ratings(rows: pd.DataFrame, *, rater: str, start: DateLike, end: DateLike,
                   signs: Sequence[str] | None = None) -> pd.DataFrame:
    """Each client's latest non-blank rating by `rater` per sign in start..end (client_id, sign,
    latest; by client, then sign key), the heatmap's input: what
    `workbook.views.filters.latest_scores` gives for those rows, in a fraction of the time."""
    signs = list(signs) if signs is not None else [
        c for c in rows.columns if c in _SIGN_COLUMNS]
    table = sort_by_client(take(rows, ["client_id", "session_date", *signs], start=start,
                                end=end, rater=rater))
    clients = keys = np.asarray([], dtype=object)
    values = np.asarray([], dtype=float)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for sign in sorted(signs):
        last = last_per_client(pick(table, ~np.isnan(table[sign].astype(float))))
        parts.append((last["client_id"], np.full(len(last["client_id"]), sign, dtype=object),
                      last[sign].astype(float)))
    if parts:
        clients, keys, values = (np.concatenate(p) for p in zip(*parts, strict=True))
    codes = pd.factorize(clients, sort=True)[0]
    order = np.lexsort((pd.factorize(keys, sort=True)[0], codes))
    return pd.DataFrame({"client_id": clients[order].astype(object),
                         "sign": keys[order].astype(object), "latest": values[order]})
