"""Handovers: a client who changes therapist, and what each therapist is shown of them.

DESIGN.md: a finding belongs to the therapist of the sessions it rests on; after a handover the
current therapist sees the whole course, marked, and the former therapist nothing from after the
handover. Read here as one "view" of each client per therapist:

- The client's current therapist (the one at their latest session on or before the period end)
  sees the whole course up to the end; every frame's row for that view carries their ID.
- A former therapist who had a session with the client in the period sees the course up to
  their own last session with the client (`until`), analysed as if the data stopped there, so
  nothing after the client left them reaches their report; their view carries no dropout risk
  (the course with them was closed by the handover).
- A finding that rests on a session after the handover (a score taken in the new therapist's
  session) is therefore only in the current therapist's view.

`find_handovers` lists both sides of every handover of a client seen in the period; the views of
former therapists are analysed by `workbook.analysis.pipeline` on `cut_former_views`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

HANDOVER_COLUMNS = ("client_id", "therapist_id", "role", "other_therapists", "handover_date",
                    "until")
SEPARATOR = "\x1f"  # joins client and former therapist into one key while a view is analysed


def empty_handovers() -> pd.DataFrame:
    """The handovers frame with no row."""
    return pd.DataFrame({c: pd.Series(dtype="object") for c in HANDOVER_COLUMNS}).astype(
        {"handover_date": "datetime64[ns]", "until": "datetime64[ns]"})


def find_handovers(ratings: pd.DataFrame, start: pd.Timestamp,
                   end: pd.Timestamp) -> pd.DataFrame:
    """Both sides of the handovers of clients seen in the period (rows on or before `end`).

    One row for the current therapist (role "current", `until` = end, `handover_date` = the
    first session of their latest stretch with the client) and one per former therapist with a
    session in the period (role "former", `until` = their last session with the client,
    `handover_date` = the next session with another therapist). `other_therapists`: the
    client's other therapists up to `end`, comma-separated, in order of first session.
    """
    upto = ratings[ratings["session_date"] <= end]
    client, _ = pd.factorize(upto["client_id"])
    therapist, _ = pd.factorize(upto["therapist_id"])
    codes = pd.Series(therapist).groupby(client)
    several = (codes.min() != codes.max()).to_numpy()  # clients with two or more therapists
    rows = upto.loc[several[client], ["client_id", "therapist_id", "session_date"]]
    rows = rows.drop_duplicates().sort_values(["client_id", "session_date", "therapist_id"],
                                              kind="stable")
    out = [row for client, part in rows.groupby("client_id", sort=True)
           for row in _client_views(client, part, start, end)]
    frame = pd.DataFrame(out, columns=list(HANDOVER_COLUMNS))
    return frame.astype({"handover_date": "datetime64[ns]", "until": "datetime64[ns]"})


def _client_views(client: str, part: pd.DataFrame, start: pd.Timestamp,
                  end: pd.Timestamp) -> list[tuple]:
    """The handover rows of one client (sessions sorted by date)."""
    dates, therapists = part["session_date"].to_numpy(), part["therapist_id"].to_numpy()
    if dates.max() < np.datetime64(start):
        return []
    current = therapists[-1]
    order = list(dict.fromkeys(therapists))
    others = [t for t in order if t != current]
    changed = np.flatnonzero(therapists != current)
    took_over = dates[changed[-1] + 1] if len(changed) else dates[0]
    views = [(client, current, "current", ", ".join(others), took_over, np.datetime64(end))]
    in_period = dates >= np.datetime64(start)
    for therapist in others:
        mine = np.flatnonzero(therapists == therapist)
        if not in_period[mine].any():
            continue
        last = mine[-1]
        later = np.flatnonzero((np.arange(len(dates)) > last) & (therapists != therapist))
        rest = [t for t in order if t != therapist]
        views.append((client, therapist, "former", ", ".join(rest), dates[later[0]], dates[last]))
    return views


def cut_former_views(ratings: pd.DataFrame, handovers: pd.DataFrame) -> pd.DataFrame:
    """The rows each former therapist may see, one copy per former view, with client_id set to
    client + SEPARATOR + therapist so that every view is analysed as a client of its own."""
    former = handovers[handovers["role"] == "former"]
    if former.empty:
        return ratings.iloc[:0]
    keyed = ratings.merge(former[["client_id", "therapist_id", "until"]]
                          .rename(columns={"therapist_id": "_viewer"}), on="client_id")
    keyed = keyed[keyed["session_date"] <= keyed["until"]]
    keyed["client_id"] = keyed["client_id"] + SEPARATOR + keyed["_viewer"]
    return keyed.drop(columns=["_viewer", "until"]).reset_index(drop=True)


def restore_views(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame analysed from `cut_former_views` with client_id and therapist_id set back: the
    client's own ID and the former therapist whose view it is."""
    if frame.empty:
        return frame
    parts = frame["client_id"].str.split(SEPARATOR, n=1, expand=True)
    return frame.assign(client_id=parts[0].to_numpy(dtype=object),
                        therapist_id=parts[1].to_numpy(dtype=object))
