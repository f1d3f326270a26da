"""The ranked discussion list for supervision, with reasons in plain words, and the wins.

Reasons weigh in this order (DESIGN.md): reliable deterioration or harm; an unrepaired or open
possible rupture on trust & safety; other unrepaired or open possible ruptures; alliance alert
(SRS below its cutoff or falling, from analysis.alliance_alert); dropout risk;
not on track; concern ratings; perspective gap; missing ratings. A client ranks above another when
their weightiest reason is weightier; ties go to the next reason, then to the client ID.
"""

from __future__ import annotations

import pandas as pd

from workbook.data.signs import SIGN_LABELS

REASON_ORDER = (
    "deterioration",
    "trust_rupture",
    "rupture",
    "alliance",
    "dropout",
    "not_on_track",
    "concern",
    "gap",
    "missing",
)
REASON_TITLES = {
    "deterioration": "Reliable deterioration",
    "trust_rupture": "Possible rupture on trust & safety",
    "rupture": "Possible rupture",
    "alliance": "Alliance alert (SRS)",
    "dropout": "Dropout risk",
    "not_on_track": "Not on track",
    "concern": "Concern ratings",
    "gap": "Perspective gap",
    "missing": "Missing ratings",
}
DISCUSSION_COLUMNS = ["rank", "client_id", "therapist_id", "top_reason", "reasons", "kinds"]
WIN_COLUMNS = ["client_id", "therapist_id", "kind", "text"]


def rank_discussion(*, outcomes: pd.DataFrame, ruptures: pd.DataFrame,
                    attendance: pd.DataFrame, concerns: pd.DataFrame, gaps: pd.DataFrame,
                    completeness: pd.DataFrame, concern_below: float,
                    alliance_alerts: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per client with at least one reason, ranked: rank, reasons (plain words)."""
    rows = [
        *_alliance_reasons(alliance_alerts),
        *_outcome_reasons(outcomes),
        *_rupture_reasons(ruptures),
        *_dropout_reasons(attendance),
        *_concern_reasons(concerns, concern_below),
        *_gap_reasons(gaps),
        *_missing_reasons(completeness),
    ]
    if not rows:
        return pd.DataFrame(columns=DISCUSSION_COLUMNS)
    reasons = pd.DataFrame(rows, columns=["client_id", "therapist_id", "kind", "text"])
    reasons["order"] = reasons["kind"].map(REASON_ORDER.index)
    reasons = reasons.sort_values(["client_id", "order", "text"], kind="stable")
    grouped = reasons.groupby("client_id", sort=True)
    table = pd.DataFrame({
        "therapist_id": grouped["therapist_id"].last(),
        "reasons": grouped["text"].agg(list),
        "kinds": grouped["kind"].agg(list),
        "weight": grouped["order"].agg(_weight),
    }).reset_index()
    table["top_reason"] = table["kinds"].map(lambda kinds: REASON_TITLES[kinds[0]])
    table = table.sort_values(["weight", "client_id"], ascending=[False, True], kind="stable")
    table["rank"] = range(1, len(table) + 1)
    return table[DISCUSSION_COLUMNS].reset_index(drop=True)


def _weight(orders: pd.Series) -> int:
    """One bit per kind of reason, weightiest highest: comparing weights compares the sets of
    reasons lexicographically, weightiest first."""
    return sum(1 << (len(REASON_ORDER) - 1 - order) for order in set(orders))


def _outcome_reasons(outcomes: pd.DataFrame) -> list[tuple]:
    rows = []
    for r in outcomes.itertuples(index=False):
        if r.category in ("deteriorated", "harmed"):
            what = "moved into the clinical range" if r.category == "harmed" else "reliably worse"
            rows.append((r.client_id, r.therapist_id, "deterioration",
                         f"{r.label} {what}: {r.first_score:g} → {r.latest_score:g}"))
        elif r.not_on_track:
            rows.append((r.client_id, r.therapist_id, "not_on_track",
                         f"Not on track on {r.label} after {r.n_scores} scores "
                         f"({r.first_score:g} → {r.latest_score:g}, no reliable improvement)"))
    return rows


def _rupture_reasons(ruptures: pd.DataFrame) -> list[tuple]:
    rows = []
    live = ruptures[ruptures["status"].isin(["unrepaired", "open"])]
    for r in live.itertuples(index=False):
        kind = "trust_rupture" if r.sign == "trust_safety" else "rupture"
        state = "not repaired" if r.status == "unrepaired" else "still open"
        rows.append((r.client_id, r.therapist_id, kind,
                     f"Possible rupture on {SIGN_LABELS[r.sign]} ({r.rater} rating "
                     f"{r.score:g}, {r.depth:.1f} below their recent average) on "
                     f"{r.start_date:%Y-%m-%d}, {state}"))
    return rows


def _alliance_reasons(alerts: pd.DataFrame | None) -> list[tuple]:
    """Open SRS alliance alerts (see workbook.analysis.alliance_alert)."""
    if alerts is None or alerts.empty:
        return []
    live = alerts[alerts["open"].astype(bool)]
    return [(r.client_id, r.therapist_id, "alliance", f"Alliance alert: {r.text}")
            for r in live.itertuples(index=False)]


def _dropout_reasons(attendance: pd.DataFrame) -> list[tuple]:
    risky = attendance[attendance["dropout_risk"].astype(bool)]
    return [(r.client_id, r.therapist_id, "dropout", f"Dropout risk: {r.dropout_reason}")
            for r in risky.itertuples(index=False)]


def _concern_reasons(concerns: pd.DataFrame, concern_below: float) -> list[tuple]:
    own = concerns[concerns["rater"] == "client"]
    rows = []
    for (client, therapist), group in own.groupby(["client_id", "therapist_id"], sort=True):
        signs = ", ".join(SIGN_LABELS[s] for s in dict.fromkeys(group["sign"]))
        n = len(group)
        rows.append((client, therapist, "concern",
                     f"{n} client rating{'s' if n != 1 else ''} below {concern_below:g} "
                     f"({signs}); lowest {group['score'].min():g}"))
    return rows


def _gap_reasons(gaps: pd.DataFrame) -> list[tuple]:
    rows = []
    for r in gaps[gaps["flagged"].astype(bool)].itertuples(index=False):
        who = "higher" if r.mean_gap > 0 else "lower"
        rows.append((r.client_id, r.therapist_id, "gap",
                     f"Therapist rates the relationship {abs(r.mean_gap):.1f} points {who} "
                     f"than the client on average ({r.n_pairs} paired ratings)"))
    return rows


def _missing_reasons(completeness: pd.DataFrame) -> list[tuple]:
    rows = []
    for r in completeness[completeness["low"].astype(bool)].itertuples(index=False):
        rows.append((r.client_id, r.therapist_id, "missing",
                     f"Client rated {r.rated_by_client} of {r.attended_sessions} attended "
                     f"sessions ({r.completeness:.0%})"))
    return rows


def list_wins(*, outcomes: pd.DataFrame, ruptures: pd.DataFrame) -> pd.DataFrame:
    """Recoveries, reliable improvements and repaired possible ruptures, in plain words."""
    rows = []
    for r in outcomes.itertuples(index=False):
        if r.category in ("recovered", "improved"):
            what = "Recovered" if r.category == "recovered" else "Reliably improved"
            rows.append((r.client_id, r.therapist_id, r.category,
                         f"{what} on {r.label}: {r.first_score:g} → {r.latest_score:g}"))
    for r in ruptures[ruptures["status"] == "repaired"].itertuples(index=False):
        rows.append((r.client_id, r.therapist_id, "repaired",
                     f"Possible rupture on {SIGN_LABELS[r.sign]} ({r.start_date:%Y-%m-%d}) "
                     f"repaired within {r.length - 1} session{'s' if r.length != 2 else ''}"))
    wins = pd.DataFrame(rows, columns=WIN_COLUMNS)
    return wins.sort_values(["client_id", "kind", "text"], kind="stable").reset_index(drop=True)
