"""Small hand-made caseloads for the tests: records in, the typed ratings frame out.

`typed(records)` returns the frame `load_ratings` would (workbook.data.columns): one row per
rating event, sorted by client, date, rater, with every column present and typed, and session
numbers derived from date order per client. A record is a dict with client_id, session_date
(ISO text) and any of therapist_id (default T1), rater (default client), attendance (default
attended), the sign keys and measure keys.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from workbook.data.columns import BASE_ORDER, BUILTIN_MEASURE_KEYS
from workbook.data.signs import SIGN_KEYS

TS, EU, CR, BC, OP = SIGN_KEYS
START = pd.Timestamp("2026-01-05")  # a Monday: weekly_caseload's first week


def session(client: str, date: str, therapist: str = "T1", rater: str = "client",
            **values: float | str | None) -> dict:
    """One rating event."""
    return {"client_id": client, "therapist_id": therapist, "session_date": date,
            "rater": rater, **values}


def weekly(client: str, first: str, scores: Iterable[float | None], sign: str = TS,
           therapist: str = "T1", rater: str = "client", step: int = 7) -> list[dict]:
    """One rater's ratings of one sign at weekly sessions from `first` (None: blank)."""
    start = pd.Timestamp(first)
    return [session(client, f"{start + pd.Timedelta(days=step * i):%Y-%m-%d}", therapist,
                    rater, **({sign: s} if s is not None else {}))
            for i, s in enumerate(scores)]


def typed(records: Iterable[dict], extra_measures: Iterable[str] = ()) -> pd.DataFrame:
    """The typed ratings frame of these records (events of one session and rater merged)."""
    df = pd.DataFrame(list(records))
    df = df.groupby(["client_id", "session_date", "rater"], as_index=False).first()
    df["session_date"] = pd.to_datetime(df["session_date"]).astype("datetime64[ns]")
    for name, default in (("supervisor_id", None), ("site", None), ("note", None),
                          ("attendance", "attended"), ("therapist_id", "T1")):
        if name not in df:
            df[name] = default
        df[name] = df[name].astype(object).where(df[name].notna(), default)
    extra = tuple(extra_measures)
    for name in (*SIGN_KEYS, *BUILTIN_MEASURE_KEYS, *extra):
        df[name] = df[name].astype(np.float64) if name in df else np.nan
    df["session_number"] = (
        df.groupby("client_id")["session_date"].rank(method="dense").astype(np.int64))
    df = df.sort_values(["client_id", "session_date", "rater"]).reset_index(drop=True)
    return df[[*BASE_ORDER, *extra]]


def steady(client: str, therapist: str, dates: Iterable[str], score: float = 9.0,
           **measures: float) -> list[dict]:
    """Client ratings of every sign at `score` on these dates."""
    return [session(client, d, therapist, **dict.fromkeys(SIGN_KEYS, score), **measures)
            for d in dates]


def weekly_caseload(clients: int = 30, weeks: int = 26, seed: int = 0,
                    raters=("client", "therapist"), phq9: bool = True,
                    start: pd.Timestamp = START) -> pd.DataFrame:
    """One therapist's typed ratings: weekly sessions (client c on weekday c % 5), whole-number
    ratings, ~8% not attended, PHQ-9 on client rows of attended sessions (the app tests and
    the app benchmarks use it)."""
    rng = np.random.default_rng(seed)
    n = clients * weeks
    client = np.repeat(np.arange(clients), weeks)
    week = np.tile(np.arange(weeks), clients)
    attendance = rng.choice(["attended", "cancelled", "no_show"], n, p=[0.92, 0.04, 0.04])
    base = pd.DataFrame({
        "client_id": [f"C{c + 1:04d}" for c in client], "therapist_id": "T01",
        "supervisor_id": None, "site": None,
        "session_date": start + pd.to_timedelta(week * 7 + client % 5, unit="D"),
        "session_number": week + 1, "attendance": attendance, "note": None})
    frames = []
    for rater in raters:
        frame = base.assign(rater=rater)
        for key in SIGN_KEYS:
            scores = np.clip(np.round(rng.normal(8.0, 1.6, n)), 0, 10)
            frame[key] = np.where(attendance == "attended", scores, np.nan)
        for key in BUILTIN_MEASURE_KEYS:
            frame[key] = np.nan
        if phq9 and rater == "client":
            scores = np.clip(np.round(rng.normal(14 - week * 0.3, 4)), 0, 27)
            frame["phq9"] = np.where(attendance == "attended", scores, np.nan)
        frames.append(frame)
    frame = pd.concat(frames)[list(BASE_ORDER)]
    return frame.sort_values(["client_id", "session_date", "rater"], ignore_index=True)
