"""Attendance and data completeness per client: the objective side of boundaries & consistency.

Both summaries take the typed ratings frame described in `workbook.data.columns` (one row per rating
event), a Config and an inclusive period [start, end]. A session is one (client_id, session_date);
its attendance and therapist are one value per session (the data contract makes raters agree),
so the first row of each session stands for it. Row order of the input does not matter.

A client is summarised when they have at least one session (of any attendance) in the period.
Sessions before the period are used as history (the reference for the first gap, the last attended
session, a run of no-shows that began earlier); sessions after `end` are ignored.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbook.data.config import Config
from workbook.data.signs import SIGN_KEYS

SESSION = ["client_id", "session_date"]

# Output columns and their dtypes, in order.
ATTENDANCE_COLUMNS: dict[str, str] = {
    "client_id": "object",
    "therapist_id": "object",
    "sessions": "int64",
    "attended": "int64",
    "cancelled": "int64",
    "no_show": "int64",
    "attendance_rate": "float64",
    "no_show_rate": "float64",
    "cancellation_rate": "float64",
    "gap_median_days": "float64",
    "gap_iqr_days": "float64",
    "longest_gap_days": "float64",
    "last_attended": "datetime64[ns]",
    "days_since_attended": "float64",
    "consecutive_no_shows": "int64",
    "dropout_risk": "bool",
    "dropout_reason": "object",
}

COMPLETENESS_COLUMNS: dict[str, str] = {
    "client_id": "object",
    "therapist_id": "object",
    "attended_sessions": "int64",
    "rated_by_client": "int64",
    "completeness": "float64",
    "unrated_sessions": "int64",
    "low": "bool",
}


def summarise_attendance(
    ratings: pd.DataFrame, config: Config, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """One row per client with a session in [start, end]: counts, rates, gaps and dropout risk.

    - sessions, attended, cancelled, no_show: sessions in the period; the rates divide by sessions.
    - gap_median_days, gap_iqr_days (75th minus 25th percentile), longest_gap_days: days between
      consecutive attended sessions in the period, the first measured from the last attended
      session before the period when there is one; NaN with no gap. The open stretch since the
      last attended session is not a gap here: it is days_since_attended.
    - last_attended, days_since_attended: latest attended session on or before `end` (history
      included) and `end` minus it in days; NaT / NaN when the client never attended.
    - consecutive_no_shows: the run of no_show at the client's latest sessions up to `end`
      (a cancellation or an attended session ends the run; the run may start before the period).
    - therapist_id: the therapist of the client's latest session in the period.

    Dropout risk (design: "2 consecutive no-shows or a gap over 21 days with no closing"). The data
    has no closing column, so it is read as: consecutive_no_shows >= thresholds.dropout_no_shows,
    or more than thresholds.dropout_gap_days days since the last attended session while the
    client's latest scheduled session was not attended. A course whose latest session was attended
    counts as closed, however long ago. A client who never attended is measured from their first
    scheduled session. dropout_reason says why in plain words, or is None.
    """
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    sessions, clients = _sessions(ratings, end)
    sessions = sessions[_has_period_session(sessions, start)].reset_index(drop=True)
    if sessions.empty:
        return _empty(ATTENDANCE_COLUMNS)
    out = _attendance_counts(sessions[sessions["session_date"] >= start])
    out = out.join(_gap_stats(sessions, start))
    out = out.join(_recency(sessions, end))
    out["consecutive_no_shows"] = _trailing_no_shows(sessions)
    out = _add_dropout(out, config)
    out.insert(0, "client_id", clients.take(out.index).to_numpy(dtype=object))
    return out.reset_index(drop=True)[list(ATTENDANCE_COLUMNS)]


def summarise_completeness(
    ratings: pd.DataFrame, config: Config, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """One row per client with a session in [start, end]: how fully attended sessions are rated.

    - attended_sessions: attended sessions in the period.
    - rated_by_client: attended sessions with at least one sign rated by rater `client`.
    - completeness: rated_by_client / attended_sessions; NaN when no session was attended.
    - unrated_sessions: attended sessions with no sign rated by anyone.
    - low: completeness below thresholds.completeness_min (False when completeness is NaN:
      there was nothing to rate).
    - therapist_id: the therapist of the client's latest session in the period.
    """
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    in_period = ratings["session_date"].between(start, end)
    if not in_period.any():
        return _empty(COMPLETENESS_COLUMNS)
    per_session, clients = _rated_sessions(ratings, in_period)
    out = _completeness_per_client(per_session, config)
    out.insert(0, "client_id", clients.take(out.index).to_numpy(dtype=object))
    return out.reset_index(drop=True)[list(COMPLETENESS_COLUMNS)]


def _rated_sessions(ratings: pd.DataFrame, in_period: pd.Series) -> tuple[pd.DataFrame, pd.Index]:
    """One row per session of the period: client code, therapist, attended, rated, unrated."""
    names = ["client_id", "session_date", "therapist_id", "attendance", "rater"]
    col = _columns(ratings, names, in_period)
    order, starts, codes, clients = _group_sessions(col["client_id"], col["session_date"])
    any_rating = ratings[list(SIGN_KEYS)].notna().to_numpy()[in_period.to_numpy()].any(axis=1)
    by_client = any_rating & (col["rater"] == "client")
    first = order[starts]
    attended = col["attendance"][first] == "attended"
    per_session = pd.DataFrame(
        {
            "client": codes,
            "therapist_id": col["therapist_id"][first],
            "attended": attended,
            "rated": attended & np.logical_or.reduceat(by_client[order], starts),
            "unrated": attended & ~np.logical_or.reduceat(any_rating[order], starts),
        }
    )
    return per_session, clients


def _completeness_per_client(per_session: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Sum session flags per client code; add completeness and the low flag."""
    out = per_session.groupby("client", sort=True).agg(
        therapist_id=("therapist_id", "last"),
        attended_sessions=("attended", "sum"),
        rated_by_client=("rated", "sum"),
        unrated_sessions=("unrated", "sum"),
    )
    counts = ["attended_sessions", "rated_by_client", "unrated_sessions"]
    out[counts] = out[counts].astype("int64")
    attended = out["attended_sessions"].where(out["attended_sessions"] > 0)
    out["completeness"] = (out["rated_by_client"] / attended).astype("float64")
    out["low"] = (out["completeness"] < config.thresholds.completeness_min).astype(bool)
    return out


def _group_sessions(
    client_id: np.ndarray, dates: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.Index]:
    """Sort rows by client and date whatever their order, and find the sessions.

    Returns the sorting order of the rows, the sorted position where each session starts, each
    session's client code, and the client labels (sorted; a code indexes them).
    """
    codes, clients = pd.factorize(client_id, sort=True)
    if _is_sorted(codes, dates):
        order = np.arange(len(codes))
    else:
        order = np.lexsort((dates, codes))
        codes, dates = codes[order], dates[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = (codes[1:] != codes[:-1]) | (dates[1:] != dates[:-1])
    starts = np.flatnonzero(new)
    return order, starts, codes[starts], pd.Index(clients)


def _is_sorted(codes: np.ndarray, dates: np.ndarray) -> bool:
    """True when rows already run by client code, then date (as load_ratings returns them)."""
    step = codes[1:] - codes[:-1]
    return bool(np.all((step > 0) | ((step == 0) & (dates[1:] >= dates[:-1]))))


def _columns(ratings: pd.DataFrame, names: list[str], mask: pd.Series) -> dict[str, np.ndarray]:
    """The named columns as arrays, restricted to the rows of `mask`."""
    keep = mask.to_numpy()
    return {name: ratings[name].to_numpy()[keep] for name in names}


def _sessions(ratings: pd.DataFrame, end: pd.Timestamp) -> tuple[pd.DataFrame, pd.Index]:
    """One row per session on or before `end`, sorted by client code and date; client labels."""
    names = ["client_id", "session_date", "therapist_id", "attendance"]
    col = _columns(ratings, names, ratings["session_date"] <= end)
    order, starts, codes, clients = _group_sessions(col["client_id"], col["session_date"])
    first = order[starts]
    attendance = col["attendance"][first]
    sessions = pd.DataFrame(
        {
            "client": codes,
            "session_date": col["session_date"][first],
            "therapist_id": col["therapist_id"][first],
            "attended": attendance == "attended",
            "cancelled": attendance == "cancelled",
            "no_show": attendance == "no_show",
        }
    )
    return sessions, clients


def _has_period_session(sessions: pd.DataFrame, start: pd.Timestamp) -> pd.Series:
    """True for rows of clients whose latest session (on or before end) is in the period."""
    latest = sessions.groupby("client", sort=False)["session_date"].transform("max")
    return latest >= start


def _attendance_counts(period: pd.DataFrame) -> pd.DataFrame:
    """Counts and rates per client code over the period's sessions."""
    out = period.groupby("client", sort=True).agg(
        therapist_id=("therapist_id", "last"),
        sessions=("session_date", "size"),
        attended=("attended", "sum"),
        cancelled=("cancelled", "sum"),
        no_show=("no_show", "sum"),
    )
    counts = ["sessions", "attended", "cancelled", "no_show"]
    out[counts] = out[counts].astype("int64")
    out["attendance_rate"] = out["attended"] / out["sessions"]
    out["no_show_rate"] = out["no_show"] / out["sessions"]
    out["cancellation_rate"] = out["cancelled"] / out["sessions"]
    return out


def _gap_stats(sessions: pd.DataFrame, start: pd.Timestamp) -> pd.DataFrame:
    """Median, IQR and longest of the days between consecutive attended sessions, per client.

    Attended sessions before the period are dropped except each client's latest one, which is
    the reference for the first gap.
    """
    att = sessions[sessions["attended"]]
    client = att["client"].to_numpy()
    before = (att["session_date"] < start).to_numpy()
    later_before = np.zeros(len(client), dtype=bool)
    later_before[:-1] = before[1:] & (client[1:] == client[:-1])
    att = att[~before | ~later_before]
    client = att["client"].to_numpy()
    same_prev = np.zeros(len(client), dtype=bool)
    same_prev[1:] = client[1:] == client[:-1]
    days = np.diff(att["session_date"].to_numpy(), prepend=np.datetime64("NaT", "ns"))
    days = days[same_prev].astype("timedelta64[D]").astype("float64")
    gaps = pd.Series(days, index=client[same_prev]).groupby(level=0, sort=True)
    quartiles = gaps.quantile([0.25, 0.75]).unstack().reindex(columns=[0.25, 0.75])
    return pd.DataFrame(
        {
            "gap_median_days": gaps.median(),
            "gap_iqr_days": quartiles[0.75] - quartiles[0.25],
            "longest_gap_days": gaps.max(),
        },
        dtype="float64",
    )


def _recency(sessions: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    """Last attended date and days since it, plus two facts the dropout rule needs."""
    by_client = sessions.groupby("client", sort=True)
    last = sessions[sessions["attended"]].groupby("client", sort=True)["session_date"].max()
    out = pd.DataFrame(index=by_client.size().index)
    out["last_attended"] = last.reindex(out.index).astype("datetime64[ns]")
    out["days_since_attended"] = (end - out["last_attended"]).dt.days.astype("float64")
    out["_latest_attended"] = by_client["attended"].last().astype(bool)
    out["_days_since_first"] = (end - by_client["session_date"].min()).dt.days.astype("float64")
    return out


def _trailing_no_shows(sessions: pd.DataFrame) -> pd.Series:
    """Length of the run of no-shows at each client's latest sessions (sessions sorted)."""
    position = pd.Series(np.arange(len(sessions)), index=sessions.index)
    other = position.where(~sessions["no_show"])
    frame = pd.DataFrame({"client": sessions["client"], "pos": position, "other": other})
    by_client = frame.groupby("client", sort=True)
    first = by_client["pos"].min()
    last_other = by_client["other"].max().fillna(first - 1)
    return (by_client["pos"].max() - last_other).astype("int64")


def _add_dropout(out: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Add dropout_risk and dropout_reason (see summarise_attendance for the rule)."""
    limits = config.thresholds
    never = out["last_attended"].isna().to_numpy()
    idle = out["days_since_attended"].fillna(out["_days_since_first"])
    by_gap = ((idle > limits.dropout_gap_days) & ~out["_latest_attended"]).to_numpy()
    by_no_shows = (out["consecutive_no_shows"] >= limits.dropout_no_shows).to_numpy()
    idle_text = idle.fillna(0).astype("int64").astype(str).to_numpy(dtype=object)
    gap_text = np.where(
        never,
        "no attended session in the " + idle_text + " days since the first scheduled one",
        "no attended session for " + idle_text + " days",
    )
    run_text = out["consecutive_no_shows"].astype(str).to_numpy(dtype=object)
    no_show_text = run_text + " no-shows in a row"
    reason = np.select(
        [by_no_shows & by_gap, by_no_shows, by_gap],
        [no_show_text + "; " + gap_text, no_show_text, gap_text],
        default=None,
    )
    out["dropout_risk"] = by_no_shows | by_gap
    out["dropout_reason"] = pd.Series(reason, index=out.index, dtype="object")
    return out.drop(columns=["_latest_attended", "_days_since_first"])


def _empty(columns: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})
