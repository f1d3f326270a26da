"""The SRS alliance alert: a Session Rating Scale total below the cutoff (36 by default), or a
fall of at least `srs_alert_fall` points from the client's previous SRS.

Only the client's own SRS counts (rater `client`). A client's alert is open when their latest
SRS on or before the period's end is below the cutoff or fell: an alert stays on the agenda
until a later SRS clears it, so it does not vanish at a month boundary. Every SRS in the period
that raised an alert is listed with whether a later one cleared it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbook.data.config import Config

ALERT_COLUMNS = ("client_id", "therapist_id", "session_date", "srs", "previous", "below",
                 "fell", "open", "text")
_EPS = 1e-9


def empty_alerts() -> pd.DataFrame:
    """The alerts frame with no row."""
    return pd.DataFrame({c: pd.Series(dtype="object") for c in ALERT_COLUMNS})


def find_alliance_alerts(ratings: pd.DataFrame, config: Config, start: pd.Timestamp,
                         end: pd.Timestamp) -> pd.DataFrame:
    """One row per alerting SRS: in the period, or a client's latest before it (still open)."""
    if "srs" not in ratings.columns:
        return empty_alerts()
    own = ratings[(ratings["rater"] == "client") & ratings["srs"].notna()
                  & (ratings["session_date"] <= pd.Timestamp(end))]
    if own.empty:
        return empty_alerts()
    own = own.sort_values(["client_id", "session_date"], kind="stable")
    rule = config.instruments
    srs = own["srs"].to_numpy(dtype=float)
    previous = own.groupby("client_id", sort=False)["srs"].shift(1).to_numpy(dtype=float)
    below = srs < rule.srs_alert_below - _EPS
    with np.errstate(invalid="ignore"):
        fell = (previous - srs) >= rule.srs_alert_fall - _EPS
    latest = ~own["client_id"].duplicated(keep="last").to_numpy()
    alert = below | fell
    in_period = (own["session_date"] >= pd.Timestamp(start)).to_numpy()
    keep = alert & (in_period | latest)
    out = own.loc[keep, ["client_id", "therapist_id", "session_date", "srs"]].copy()
    out["previous"], out["below"], out["fell"] = previous[keep], below[keep], fell[keep]
    out["open"] = latest[keep]
    out["text"] = [_text(r, rule.srs_alert_below, rule.srs_alert_fall)
                   for r in out.itertuples(index=False)]
    return out.reset_index(drop=True)[list(ALERT_COLUMNS)]


def _text(r, cutoff: float, fall: float) -> str:
    """'SRS 33 on 2026-10-14, below 36; still the latest SRS' in plain words."""
    parts = []
    if r.below:
        parts.append(f"below {cutoff:g}")
    if r.fell:
        parts.append(f"down {r.previous - r.srs:g} from {r.previous:g} at the previous SRS")
    state = "still the latest SRS" if r.open else "a later SRS cleared it"
    return f"SRS {r.srs:g} on {r.session_date:%Y-%m-%d}, {' and '.join(parts)}; {state}"


def describe_alert_rule(config: Config) -> str:
    """The rule in plain words, for reports to state."""
    rule = config.instruments
    return (f"Alliance alert (SRS): the client's Session Rating Scale total is below "
            f"{rule.srs_alert_below:g} of 40, or fell by {rule.srs_alert_fall:g} point"
            f"{'s' if rule.srs_alert_fall != 1 else ''} or more from their previous SRS; it "
            "stays on the list until a later SRS clears it.")
