"""Describe a validated ratings frame in a few figures (what `workbook validate` prints)."""

from __future__ import annotations

import pandas as pd

from workbook.data.signs import SIGN_KEYS


def describe_ratings(ratings: pd.DataFrame) -> dict[str, object]:
    """Counts, date range, raters and client-rating completeness of a ratings frame."""
    sessions = ratings.drop_duplicates(["client_id", "session_date"])
    attended = sessions[sessions["attendance"] == "attended"]
    rated = ratings[(ratings["rater"] == "client") & ratings[list(SIGN_KEYS)].notna().any(axis=1)]
    rated_keys = pd.MultiIndex.from_frame(rated[["client_id", "session_date"]])
    attended_keys = pd.MultiIndex.from_frame(attended[["client_id", "session_date"]])
    with_rating = attended_keys.isin(rated_keys).sum()
    return {
        "rows": len(ratings),
        "therapists": ratings["therapist_id"].nunique(),
        "clients": ratings["client_id"].nunique(),
        "sessions": len(sessions),
        "attended": len(attended),
        "first_date": ratings["session_date"].min().date(),
        "last_date": ratings["session_date"].max().date(),
        "raters": ratings["rater"].value_counts().sort_index().to_dict(),
        "client_rated_share": with_rating / len(attended) if len(attended) else float("nan"),
    }


def format_description(desc: dict[str, object], source: str) -> str:
    """A short plain-text summary for the terminal."""
    raters = ", ".join(f"{name} {count:,}" for name, count in desc["raters"].items())
    return "\n".join([
        f"{source}: OK",
        f"  rows:        {desc['rows']:,}",
        f"  therapists:  {desc['therapists']:,}",
        f"  clients:     {desc['clients']:,}",
        f"  sessions:    {desc['sessions']:,} ({desc['attended']:,} attended)",
        f"  dates:       {desc['first_date']} to {desc['last_date']}",
        f"  raters:      {raters}",
        f"  attended sessions with a client rating: {_share(desc['client_rated_share'])}",
    ])


def _share(value: object) -> str:
    """A share as a percentage to one decimal (99.6%, not a rounded-up 100%), or 'n/a' when
    there was nothing to divide by."""
    return "n/a" if value != value else f"{value:.1%}"
