"""The alliance signs: per-sign summaries, concern ratings, possible ruptures, perspective gaps.

Every public function takes the typed ratings frame (see `workbook.data.columns`), the Config and a
period `start`..`end` (both inclusive, compared as calendar days). Ratings dated after `end` are
never used; history before `start` feeds baselines, trends and the previous period. Row order of
the input never changes an output. Choices where the design is silent:

- A client is "seen in the period" when any row (any rater, any attendance) is dated in it.
- Every row carries the client's current therapist: the one at the client's latest session on or
  before `end`, whose view of the client is the whole course (`workbook.analysis.handover`
  gives a former therapist the course up to the handover by cutting the data there).
- `change` compares with the previous calendar period (`Period.previous`: the previous month for
  a month, the same length just before otherwise), never with the previous 30 or 31 days.
- Signs are ordered as in `SIGN_KEYS`, raters as in `RATERS`, clients by their ID.
- Possible rupture: the within-client SD is the sample SD (ddof=1) of all that rater's ratings of
  that client on that sign up to `end` (the dip included); with one rating it is NaN and only the
  point rule applies. Episodes are searched over the whole history up to `end` (so an episode
  that began before `start` still blocks a new one). An episode belongs to every period in which
  it is open, changes status or is repaired: those open at `end`, and those whose last rating
  (`end_date`: the repair, the window's last rating, or the latest rating of an open one) is
  dated on or after `start`. An unrepaired episode ends with its window (length = 1 +
  repair_window); an open one runs to the latest rating. Threshold comparisons allow 1e-9 of
  floating-point slack.
- Perspective gap: therapist minus client on the same client, session date and sign, so a
  positive gap means the therapist rated the alliance higher than the client did.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbook.analysis.periods import Period
from workbook.data.columns import RATERS
from workbook.data.config import Config
from workbook.data.errors import ParameterError
from workbook.data.signs import SIGN_KEYS

_EPS = 1e-9

SUMMARY_COLUMNS = (
    "therapist_id", "client_id", "sign", "rater", "n_period", "latest", "latest_date",
    "mean_period", "trend", "previous_mean", "change", "concern_n", "min_period",
)
CONCERN_COLUMNS = (
    "client_id", "therapist_id", "session_date", "session_number", "rater", "sign", "score",
)
RUPTURE_COLUMNS = (
    "client_id", "therapist_id", "sign", "rater", "start_date", "start_session", "baseline",
    "score", "depth", "length", "end_date", "repair_date", "status",
)
GAP_COLUMNS = ("therapist_id", "client_id", "sign", "n_pairs", "mean_gap", "flagged")
CLIENT_GAP_COLUMNS = ("client_id", "therapist_id", "n_pairs", "mean_gap", "flagged")


@dataclass(frozen=True)
class _Rows:
    """Coded view of the rows dated on or before `end` (positions index the input frame)."""

    row: np.ndarray  # positions in the input of the kept rows
    client: np.ndarray  # client code per kept row (codes follow sorted client IDs)
    rater: np.ndarray  # rater code per kept row (index into `raters`)
    day: np.ndarray  # days since 1970-01-01
    clients: np.ndarray  # client IDs by code
    raters: np.ndarray  # rater names by code
    therapist: np.ndarray  # current therapist per client code
    seen: np.ndarray  # per client code: any row dated in the period
    start: int  # first day of the period
    end: int  # last day of the period
    previous: int  # first day of the previous period (which ends the day before `start`)


@dataclass(frozen=True)
class _Long:
    """One sign's non-missing ratings up to `end`, sorted by client, rater, date: one series
    per client and rater."""

    sign: int
    row: np.ndarray
    client: np.ndarray
    rater: np.ndarray
    day: np.ndarray
    score: np.ndarray
    group: np.ndarray  # series number of each rating
    first: np.ndarray  # position of each series' first rating
    last: np.ndarray  # position of each series' last rating


def summarise_signs(
    ratings: pd.DataFrame, config: Config, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """One row per client, sign and rater: latest score, period mean, trend, change, concerns.

    Rows exist for series with a rating on or before `end` whose client was seen in the period.
    `trend` is the OLS slope per session (x = session_number) over the last
    `thresholds.trend_ratings` ratings up to `end`; `change` is the period mean minus the mean
    over the previous calendar period (`Period.previous`).
    """
    rows = _code_rows(ratings, start, end)
    (summary,) = _each_sign(ratings, rows, config, _summarise)
    return _frame(summary, SUMMARY_COLUMNS, ("_client", "_sign", "_rater"))


def find_concerns(
    ratings: pd.DataFrame, config: Config, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """One row per rating in the period below `thresholds.concern_below` (any rater)."""
    rows = _code_rows(ratings, start, end)
    return _concerns(ratings, rows, config)


def find_ruptures(
    ratings: pd.DataFrame, config: Config, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """Possible-rupture episodes open, changing status or repaired in the period."""
    rows = _code_rows(ratings, start, end)
    (episodes,) = _each_sign(ratings, rows, config, _ruptures)
    return _frame(episodes, RUPTURE_COLUMNS, ("_client", "_sign", "_rater", "_day"))


def find_perspective_gaps(
    ratings: pd.DataFrame, config: Config, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """Therapist-minus-client gap per client and sign over the period's paired sessions.

    `mean_gap` keeps its sign; `flagged` when |mean_gap| >= thresholds.perspective_gap.
    """
    rows = _code_rows(ratings, start, end)
    return _gaps(ratings, rows, config)


def summarise_gaps_by_client(
    ratings: pd.DataFrame, config: Config, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """One row per client: the mean therapist-minus-client gap over all paired sign ratings."""
    return _gaps_by_client(find_perspective_gaps(ratings, config, start, end), config)


def analyse_alliance(
    ratings: pd.DataFrame, config: Config, start: pd.Timestamp, end: pd.Timestamp
) -> dict[str, pd.DataFrame]:
    """All of the above from one pass over the data: keys summary, concerns, ruptures, gaps,
    gaps_by_client."""
    rows = _code_rows(ratings, start, end)
    summary, episodes = _each_sign(ratings, rows, config, _summarise, _ruptures)
    gaps = _gaps(ratings, rows, config)
    return {
        "summary": _frame(summary, SUMMARY_COLUMNS, ("_client", "_sign", "_rater")),
        "concerns": _concerns(ratings, rows, config),
        "ruptures": _frame(episodes, RUPTURE_COLUMNS, ("_client", "_sign", "_rater", "_day")),
        "gaps": gaps,
        "gaps_by_client": _gaps_by_client(gaps, config),
    }


# --- preparing the data ------------------------------------------------------------------------


def _to_day(value: pd.Timestamp) -> int:
    """Days since 1970-01-01 of a timestamp's calendar date."""
    return int(np.datetime64(pd.Timestamp(value).normalize(), "D").astype(np.int64))


def _code_rows(ratings: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> _Rows:
    """Code clients, raters and days of the rows up to `end`; find current therapists."""
    first, last = _to_day(start), _to_day(end)
    if first > last:
        start, end = pd.Timestamp(start), pd.Timestamp(end)
        raise ParameterError(f"period start {start:%Y-%m-%d} is after its end {end:%Y-%m-%d}")
    day = ratings["session_date"].to_numpy("datetime64[D]").astype(np.int64)
    row = np.flatnonzero(day <= last)
    day = day[row]
    client, clients = pd.factorize(ratings["client_id"].to_numpy()[row], sort=True)
    rater_names = ratings["rater"].to_numpy()[row]
    extra = sorted(set(pd.unique(rater_names)) - set(RATERS))
    raters = np.array([*RATERS, *extra], dtype=object)
    rater = pd.Categorical(rater_names, categories=raters).codes.astype(np.int64)
    seen = np.zeros(len(clients), dtype=bool)
    seen[client[day >= first]] = True
    therapist = _current_therapist(ratings, row, client, day, len(clients))
    previous = _to_day(Period(pd.Timestamp(start).normalize(),
                              pd.Timestamp(end).normalize()).previous().start)
    return _Rows(row, client.astype(np.int64), rater, day, np.asarray(clients, dtype=object),
                 raters, therapist, seen, first, last, previous)


def _current_therapist(
    ratings: pd.DataFrame, row: np.ndarray, client: np.ndarray, day: np.ndarray, n: int
) -> np.ndarray:
    """Therapist at each client's latest row (one therapist per client per session)."""
    latest = np.full(n, np.iinfo(np.int64).min)
    np.maximum.at(latest, client, day)
    at_latest = np.flatnonzero(day == latest[client])
    pick = np.empty(n, dtype=np.int64)
    pick[client[at_latest]] = at_latest
    out = ratings["therapist_id"].to_numpy()[row[pick]] if n else np.array([], dtype=object)
    return np.asarray(out, dtype=object)


def _series_order(rows: _Rows) -> np.ndarray:
    """Positions of the kept rows sorted by client, rater, day."""
    low = int(rows.day.min()) if len(rows.day) else 0
    span = rows.end - low + 1
    return np.argsort((rows.client * len(rows.raters) + rows.rater) * span + (rows.day - low),
                      kind="stable")


def _stack(ratings: pd.DataFrame, rows: _Rows, order: np.ndarray, sign: int) -> _Long:
    """One sign's non-missing ratings as series sorted by client, rater, date."""
    values = ratings[SIGN_KEYS[sign]].to_numpy(dtype=np.float64)[rows.row[order]]
    ok = ~np.isnan(values)
    pos = order[ok]
    client, rater = rows.client[pos], rows.rater[pos]
    series = client * len(rows.raters) + rater
    brk = np.ones(len(pos), dtype=bool)
    brk[1:] = series[1:] != series[:-1]
    first = np.flatnonzero(brk)
    last = np.append(first[1:] - 1, len(pos) - 1) if len(pos) else first
    return _Long(sign, rows.row[pos], client, rater, rows.day[pos], values[ok],
                 np.cumsum(brk) - 1, first, last)


def _each_sign(ratings: pd.DataFrame, rows: _Rows, config: Config, *steps) -> list[dict]:
    """Run each step on every sign's series in turn (keeping arrays small); return each step's
    columns concatenated over the signs."""
    parts: list[list[dict]] = [[] for _ in steps]
    order = _series_order(rows)
    for sign in range(len(SIGN_KEYS)):
        lg = _stack(ratings, rows, order, sign)
        for part, step in zip(parts, steps, strict=True):
            part.append(step(ratings, rows, lg, config))
    return [{k: np.concatenate([p[k] for p in part]) for k in part[0]} for part in parts]


def _frame(columns: dict, names: tuple[str, ...], sort: tuple[str, ...]) -> pd.DataFrame:
    """An output frame from column arrays, sorted by the code columns in `sort`."""
    order = np.lexsort([columns[k] for k in reversed(sort)])
    return _table({name: (columns[name], order) for name in names}, names)


def _table(columns: dict[str, tuple], names: tuple[str, ...]) -> pd.DataFrame:
    """A frame whose column `name` is values[index] for columns[name] = (values, index).

    Text columns are gathered straight into one 2-D object block that the frame takes over
    without copying: building it from separate object arrays costs pandas two more copies,
    which is most of the time on a million rows.
    """
    text = [name for name in names if columns[name][0].dtype == object]
    n = len(columns[names[0]][1])
    block = np.empty((len(text), n), dtype=object)
    for i, name in enumerate(text):
        np.take(*columns[name], out=block[i])
    out = pd.DataFrame(block.T, columns=text, copy=False)
    for i, name in enumerate(names):
        if name not in text:
            values, index = columns[name]
            out.insert(i, name, values[index])
    return out


def _codes(rows: _Rows, lg: _Long, at: np.ndarray) -> dict:
    """Sort codes and labels of client, sign and rater at positions `at` of a sign's series."""
    client, rater = lg.client[at], lg.rater[at]
    return {
        "_client": client, "_sign": np.full(len(at), lg.sign), "_rater": rater,
        "client_id": rows.clients[client],
        "sign": np.full(len(at), SIGN_KEYS[lg.sign], dtype=object),
        "rater": rows.raters[rater],
    }


def _dates(days: np.ndarray) -> np.ndarray:
    """Day numbers as midnight datetime64[ns]."""
    return days.astype("datetime64[D]").astype("datetime64[ns]")


# --- per-sign summary --------------------------------------------------------------------------


def _summarise(ratings: pd.DataFrame, rows: _Rows, lg: _Long, config: Config) -> dict:
    """Per-series summary figures, reduced over each series' period and previous-period runs."""
    y, head, tail = lg.score, lg.first, lg.last + 1
    prev_from = _series_start(lg, rows.previous)
    from_ = _series_start(lg, rows.start)
    n_p, n_prev = tail - from_, from_ - prev_from
    padded = np.append(y, 0.0)
    low = np.append(y < config.thresholds.concern_below, False).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = _reduce(np.add, padded, from_, tail) / n_p
        prev = _reduce(np.add, padded, prev_from, from_) / n_prev
    sessions = ratings["session_number"].to_numpy(dtype=np.float64)
    out = {
        **_codes(rows, lg, head),
        "therapist_id": rows.therapist[lg.client[head]],
        "n_period": n_p,
        "latest": np.where(n_p > 0, y[lg.last], np.nan),
        "latest_date": np.where(n_p > 0, _dates(lg.day[lg.last]), np.datetime64("NaT", "ns")),
        "mean_period": mean_p,
        "trend": _trend(lg, sessions, config.thresholds.trend_ratings),
        "previous_mean": prev,
        "change": mean_p - prev,
        "concern_n": _reduce(np.add, low, from_, tail, 0.0).astype(np.int64),
        "min_period": _reduce(np.minimum, padded, from_, tail),
    }
    keep = rows.seen[lg.client[head]]
    return {name: values[keep] for name, values in out.items()}


def _series_start(lg: _Long, day: int) -> np.ndarray:
    """Position of each series' first rating dated on or after `day` (its end if none)."""
    low = int(lg.day.min()) if len(lg.day) else 0
    span = int(lg.day.max()) - low + 2 if len(lg.day) else 1
    key = lg.group * span + (lg.day - low)
    groups = np.arange(len(lg.first))
    return np.searchsorted(key, groups * span + min(max(day - low, 0), span - 1))


def _reduce(
    ufunc: np.ufunc, padded: np.ndarray, a: np.ndarray, b: np.ndarray, empty: float = np.nan
) -> np.ndarray:
    """`ufunc` over padded[a:b] per series (padded = values plus one pad); `empty` if a == b."""
    if len(a) == 0:
        return np.array([])
    out = ufunc.reduceat(padded, np.column_stack([a, b]).ravel())[::2]
    return np.where(b > a, out, empty)


def _trend(lg: _Long, sessions: np.ndarray, last_n: int) -> np.ndarray:
    """OLS slope of score on session number over each series' last `last_n` ratings."""
    n_g = len(lg.first)
    if n_g == 0:
        return np.array([])
    idx = np.flatnonzero(lg.last[lg.group] - np.arange(len(lg.group)) < last_n)
    g, xs, ys = lg.group[idx], sessions[lg.row[idx]], lg.score[idx]
    n = np.bincount(g, minlength=n_g).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        dx = xs - (np.bincount(g, weights=xs, minlength=n_g) / n)[g]
        dy = ys - (np.bincount(g, weights=ys, minlength=n_g) / n)[g]
        sxx = np.bincount(g, weights=dx * dx, minlength=n_g)
        slope = np.bincount(g, weights=dx * dy, minlength=n_g) / sxx
    return np.where((n >= 2) & (sxx > 0), slope, np.nan)


# --- concern ratings ---------------------------------------------------------------------------


def _concerns(ratings: pd.DataFrame, rows: _Rows, config: Config) -> pd.DataFrame:
    """Ratings in the period below the concern threshold, by client, date, sign, rater."""
    in_p = np.flatnonzero(rows.day >= rows.start)
    picks, scores, signs = [], [], []
    for s, name in enumerate(SIGN_KEYS):
        values = ratings[name].to_numpy(dtype=np.float64)[rows.row[in_p]]
        hit = values < config.thresholds.concern_below
        picks.append(in_p[hit])
        scores.append(values[hit])
        signs.append(np.full(int(hit.sum()), s, dtype=np.int64))
    pos, sign = np.concatenate(picks), np.concatenate(signs)
    n_signs, n_raters = len(SIGN_KEYS), len(rows.raters)
    block = rows.client[pos] * (rows.end - rows.start + 1) + (rows.day[pos] - rows.start)
    order = np.argsort((block * n_signs + sign) * n_raters + rows.rater[pos], kind="stable")
    pos, sign = pos[order], sign[order]
    row = rows.row[pos]
    return _table({
        "client_id": (rows.clients, rows.client[pos]),
        "therapist_id": (rows.therapist, rows.client[pos]),
        "session_date": (ratings["session_date"].to_numpy(), row),
        "session_number": (ratings["session_number"].to_numpy(), row),
        "rater": (rows.raters, rows.rater[pos]),
        "sign": (np.asarray(SIGN_KEYS, dtype=object), sign),
        "score": (np.concatenate(scores), order),
    }, CONCERN_COLUMNS)


# --- possible ruptures -------------------------------------------------------------------------


def _baseline(lg: _Long, n_prev: int, n_min: int) -> np.ndarray:
    """Mean of each rating's previous `n_prev` ratings in its series (NaN with fewer than n_min).

    Shifted sums over the whole array, then the first `n_prev` ratings of each series (whose
    shifted sums reach into the series before) are summed again within their series only.
    """
    y, n = lg.score, len(lg.score)
    total = np.zeros(n)
    for j in range(1, n_prev + 1):
        total[j:] += y[:-j]
    count = np.full(n, float(n_prev))
    for k in range(min(n_prev, n)):
        head = lg.first[lg.first + k <= lg.last] + k
        count[head] = k
        total[head] = 0.0
        for j in range(1, k + 1):
            total[head] += y[head - j]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count >= n_min, total / count, np.nan)


def _series_sd(lg: _Long) -> np.ndarray:
    """Sample SD of each series (NaN for a single rating)."""
    if len(lg.first) == 0:
        return np.array([])
    n = (lg.last - lg.first + 1).astype(np.float64)
    dev = lg.score - (np.add.reduceat(lg.score, lg.first) / n)[lg.group]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(np.add.reduceat(dev * dev, lg.first) / (n - 1))


def _find_dips(lg: _Long, config: Config) -> tuple[np.ndarray, np.ndarray]:
    """Positions of candidate dips and their baselines."""
    rule = config.rupture
    baseline = _baseline(lg, rule.baseline_ratings, rule.min_baseline_ratings)
    need = np.fmax(rule.min_drop_points, rule.min_drop_sd * _series_sd(lg))
    with np.errstate(invalid="ignore"):
        dip = baseline - lg.score >= need[lg.group] - _EPS
    cand = np.flatnonzero(dip)
    return cand, baseline[cand]


def _look_ahead(lg: _Long, cand: np.ndarray, baseline: np.ndarray, config: Config) -> tuple:
    """For each dip: offset of its repair (0 if none), later ratings available, status code."""
    window, y = config.rupture.repair_window, lg.score
    later = lg.last[lg.group[cand]] - cand
    target = baseline - config.rupture.repair_tolerance - _EPS
    repair = np.zeros(len(cand), dtype=np.int64)
    for d in range(1, window + 1):
        ahead = np.minimum(cand + d, len(y) - 1)
        hit = (repair == 0) & (later >= d) & (y[ahead] >= target)
        repair[hit] = d
    status = np.where(repair > 0, 0, np.where(later >= window, 1, 2))
    return repair, later, status


def _keep_episodes(group: np.ndarray, cand: np.ndarray, cover: np.ndarray) -> np.ndarray:
    """Keep dips that start no episode-inside-an-episode: per series, in order, a dip starts an
    episode unless an earlier kept episode still covers it (cover = its last position)."""
    keep = np.zeros(len(cand), dtype=bool)
    alive = np.ones(len(cand), dtype=bool)
    while alive.any():
        idx = np.flatnonzero(alive)
        gi = group[idx]
        lead = np.ones(len(idx), dtype=bool)
        lead[1:] = gi[1:] != gi[:-1]
        heads = idx[lead]
        keep[heads] = True
        alive[heads] = False
        owner = heads[np.searchsorted(group[heads], gi)]
        alive[idx[cand[idx] <= cover[owner]]] = False
    return keep


def _ruptures(ratings: pd.DataFrame, rows: _Rows, lg: _Long, config: Config) -> dict:
    """Episodes over the whole history up to `end`; those that belong to the period (open at
    its end, or last rated in it) returned."""
    cand, baseline = _find_dips(lg, config)
    repair, later, status = _look_ahead(lg, cand, baseline, config)
    window = config.rupture.repair_window
    span = np.where(status == 0, repair, np.where(status == 1, window, later))
    keep = _keep_episodes(lg.group[cand], cand, cand + span)
    sel = np.flatnonzero(keep & ((status == 2) | (lg.day[cand + span] >= rows.start)))
    cand, baseline, repair, span, status = (a[sel] for a in (cand, baseline, repair, span, status))
    row = lg.row[cand]
    repair_date = np.where(status == 0, _dates(lg.day[cand + repair]), np.datetime64("NaT", "ns"))
    return {
        **_codes(rows, lg, cand),
        "_day": lg.day[cand],
        "therapist_id": rows.therapist[lg.client[cand]],
        "start_date": _dates(lg.day[cand]),
        "start_session": ratings["session_number"].to_numpy()[row],
        "baseline": baseline,
        "score": lg.score[cand],
        "depth": baseline - lg.score[cand],
        "length": (span + 1).astype(np.int64),
        "end_date": _dates(lg.day[cand + span]),
        "repair_date": repair_date,
        "status": np.array(["repaired", "unrepaired", "open"], dtype=object)[status],
    }


# --- perspective gaps --------------------------------------------------------------------------


def _pair_sessions(rows: _Rows) -> tuple[np.ndarray, np.ndarray]:
    """Positions of therapist and client rows of the same client and day in the period."""
    in_p = rows.day >= rows.start
    n_days = rows.end - rows.start + 1
    key = rows.client * n_days + (rows.day - rows.start)
    raters = list(rows.raters)
    t = np.flatnonzero(in_p & (rows.rater == raters.index("therapist")))
    c = np.flatnonzero(in_p & (rows.rater == raters.index("client")))
    _, it, ic = np.intersect1d(key[t], key[c], assume_unique=True, return_indices=True)
    return t[it], c[ic]


def _gaps(ratings: pd.DataFrame, rows: _Rows, config: Config) -> pd.DataFrame:
    """Mean therapist-minus-client gap per client and sign, flagged at the configured size."""
    t, c = _pair_sessions(rows)
    n_cells = len(rows.clients) * len(SIGN_KEYS)
    n = np.zeros(n_cells)
    total = np.zeros(n_cells)
    for s, name in enumerate(SIGN_KEYS):
        values = ratings[name].to_numpy(dtype=np.float64)
        gap = values[rows.row[t]] - values[rows.row[c]]
        ok = ~np.isnan(gap)
        cell = rows.client[t[ok]] * len(SIGN_KEYS) + s
        n += np.bincount(cell, minlength=n_cells)
        total += np.bincount(cell, weights=gap[ok], minlength=n_cells)
    cells = np.flatnonzero(n)
    client, sign = np.divmod(cells, len(SIGN_KEYS))
    mean = total[cells] / n[cells]
    return pd.DataFrame({
        "therapist_id": rows.therapist[client],
        "client_id": rows.clients[client],
        "sign": np.asarray(SIGN_KEYS, dtype=object)[sign],
        "n_pairs": n[cells].astype(np.int64),
        "mean_gap": mean,
        "flagged": np.abs(mean) >= config.thresholds.perspective_gap - _EPS,
    }, columns=list(GAP_COLUMNS))


def _gaps_by_client(gaps: pd.DataFrame, config: Config) -> pd.DataFrame:
    """A client's per-sign gaps pooled into one pair-weighted mean gap, for information only:
    `flagged` is True when any one sign's gap is flagged (pooled gaps of opposite sign cancel,
    so the pooled mean is never what is flagged)."""
    weighted = gaps.assign(total=gaps["mean_gap"] * gaps["n_pairs"])
    out = weighted.groupby("client_id", sort=True).agg(
        therapist_id=("therapist_id", "first"), n_pairs=("n_pairs", "sum"), total=("total", "sum")
    )
    out["mean_gap"] = out.pop("total") / out["n_pairs"]
    out["flagged"] = gaps.groupby("client_id", sort=True)["flagged"].any().astype(bool)
    return out.reset_index()[list(CLIENT_GAP_COLUMNS)]
