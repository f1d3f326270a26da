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
