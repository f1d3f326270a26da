"""The ranked discussion list for supervision, with reasons in plain words, and the wins.

Reasons weigh in this order (DESIGN.md): reliable deterioration or harm; an unrepaired or open
possible rupture on trust & safety; other unrepaired or open possible ruptures; alliance alert
(SRS below its cutoff or falling, from analysis.alliance_alert); dropout risk; not on track;
concern ratings (while current: the client's latest rating on the sign in the period, or their
period mean, below the threshold); perspective gap; missing ratings. A client ranks above
another when their weightiest reason is weightier; ties go to the next reason, then to the
client ID.

A row is one view of a client (`workbook.analysis.handover`): a handed-over client can be on
both therapists' lists, each from what that therapist may see, with a last line naming the
handover (a note, which weighs nothing and puts no one on the list by itself). A reliable
worsening at any score in the period counts as deterioration even when the latest score is
back; perspective gaps are per sign.
"""

from __future__ import annotations

import pandas as pd

from workbook.analysis.expected import EXPECTED, FEW_SIMILAR
from workbook.data.signs import SIGN_KEYS, SIGN_LABELS

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
NOTE_KINDS = ("handover",)
DISCUSSION_COLUMNS = ["rank", "client_id", "therapist_id", "top_reason", "reasons", "kinds"]
WIN_COLUMNS = ["client_id", "therapist_id", "kind", "text"]
_SIGN_ORDER = {key: i for i, key in enumerate(SIGN_KEYS)}


def rank_discussion(*, outcomes: pd.DataFrame, ruptures: pd.DataFrame,
                    attendance: pd.DataFrame, signs: pd.DataFrame, gaps: pd.DataFrame,
                    completeness: pd.DataFrame, concern_below: float,
                    alliance_alerts: pd.DataFrame | None = None,
                    handovers: pd.DataFrame | None = None,
                    concern_rater: str = "client") -> pd.DataFrame:
    """One row per client view (client and therapist) with at least one reason, ranked: rank,
    reasons (plain words); `signs` the per-sign summary (concerns count while current, read
    from `concern_rater`'s ratings: the client's, as the reports do, unless the app's rater
    filter says otherwise), `gaps` per client and sign."""
    rows = [
        *_alliance_reasons(alliance_alerts),
        *_outcome_reasons(outcomes),
        *_rupture_reasons(ruptures),
        *_dropout_reasons(attendance),
        *_concern_reasons(signs, concern_below, concern_rater),
        *_gap_reasons(gaps),
        *_missing_reasons(completeness),
    ]
    if not rows:
        return pd.DataFrame(columns=DISCUSSION_COLUMNS)
    reasons = pd.DataFrame(rows, columns=["client_id", "therapist_id", "kind", "text"])
    reasons = pd.concat([reasons, _handover_notes(reasons, handovers)], ignore_index=True)
    reasons["order"] = reasons["kind"].map(
        lambda k: REASON_ORDER.index(k) if k in REASON_ORDER else len(REASON_ORDER))
    reasons = reasons.sort_values(["client_id", "therapist_id", "order", "text"], kind="stable")
    table = pd.DataFrame(_group_reasons(reasons),
                         columns=["client_id", "therapist_id", "reasons", "kinds", "weight"])
    table["top_reason"] = table["kinds"].map(lambda kinds: REASON_TITLES[kinds[0]])
    table = table.sort_values(["weight", "client_id", "therapist_id"],
                              ascending=[False, True, True], kind="stable")
    table["rank"] = range(1, len(table) + 1)
    return table[DISCUSSION_COLUMNS].reset_index(drop=True)


def _group_reasons(reasons: pd.DataFrame) -> list[tuple]:
    """(client, therapist, texts, kinds, weight) per view, from reasons sorted by view (a plain
    loop: pandas' list aggregation is slow for tens of thousands of groups)."""
    out: list[tuple] = []
    columns = (reasons[c].tolist() for c in ("client_id", "therapist_id", "text", "kind", "order"))
    for client, therapist, text, kind, order in zip(*columns, strict=True):
        if not out or out[-1][:2] != (client, therapist):
            out.append((client, therapist, [], [], set()))
        out[-1][2].append(text)
        out[-1][3].append(kind)
        out[-1][4].add(order)
    return [(c, t, texts, kinds, _weight(orders)) for c, t, texts, kinds, orders in out]


def _weight(orders) -> int:
    """One bit per kind of reason, weightiest highest: comparing weights compares the sets of
    reasons lexicographically, weightiest first."""
    return sum(1 << (len(REASON_ORDER) - 1 - order) for order in set(orders)
               if order < len(REASON_ORDER))


def _handover_notes(reasons: pd.DataFrame, handovers: pd.DataFrame | None) -> pd.DataFrame:
    """A last line for each listed view of a handed-over client, naming the handover."""
    columns = ["client_id", "therapist_id", "kind", "text"]
    if handovers is None or handovers.empty:
        return pd.DataFrame(columns=columns)
    listed = reasons[["client_id", "therapist_id"]].drop_duplicates()
    views = handovers.merge(listed, on=["client_id", "therapist_id"])
    rows = []
    for h in views.itertuples(index=False):
        if h.role == "current":
            text = (f"Handed over from {h.other_therapists}: with this therapist since "
                    f"{h.handover_date:%Y-%m-%d}; earlier sessions are included")
        else:
            text = (f"Handed over to {h.other_therapists} on {h.handover_date:%Y-%m-%d}: only "
                    f"sessions up to {h.until:%Y-%m-%d} are included")
        rows.append((h.client_id, h.therapist_id, "handover", text))
    return pd.DataFrame(rows, columns=columns)


def _outcome_reasons(outcomes: pd.DataFrame) -> list[tuple]:
    rows = []
    flagged = (outcomes["category"].isin(["deteriorated", "harmed"])
               | outcomes["worse_in_period"].astype(bool) | outcomes["not_on_track"].astype(bool))
    for r in outcomes[flagged].itertuples(index=False):
        if r.category in ("deteriorated", "harmed"):
            what = "moved into the clinical range" if r.category == "harmed" else "reliably worse"
            rows.append((r.client_id, r.therapist_id, "deterioration",
                         f"{r.label} {what}: {r.first_score:g} → {r.latest_score:g}"))
            continue
        if r.worse_in_period:
            rows.append((r.client_id, r.therapist_id, "deterioration",
                         f"{r.label} reliably worse during the period: {r.first_score:g} → "
                         f"{r.worst_score:g} on {r.worst_date:%Y-%m-%d} (latest "
                         f"{r.latest_score:g})"))
        if r.not_on_track:
            rows.append((r.client_id, r.therapist_id, "not_on_track", _track_text(r)))
    return rows


def _track_text(r) -> str:
    """Why a measure is not on track, in plain words (see workbook.analysis.expected)."""
    if r.track_rule == EXPECTED:
        return (f"Not on track on {r.label}: {r.latest_score:g} at session {r.session}; "
                f"clients who started near {r.first_score:g} ({r.similar_from:g}–"
                f"{r.similar_to:g}) are usually at {round(r.expected, 1):g} or better by now "
                f"({r.n_similar} similar clients in this clinic)")
    why = ": too few similar clients" if r.track_rule == FEW_SIMILAR else ""  # else: About
    return (f"Not on track on {r.label} after {r.n_scores} scores: {r.first_score:g} → "
            f"{r.latest_score:g}, no reliable improvement (published rule{why})")


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


def _concern_reasons(signs: pd.DataFrame, concern_below: float,
                     rater: str = "client") -> list[tuple]:
    """One line per client view whose concern is current on some sign: the client's latest
    rating on it in the period, or their period mean, is below the threshold (a dip that came
    back stays in the sign sections, and as a repair if it was a possible rupture)."""
    own = signs[(signs["rater"] == rater) & (signs["n_period"] > 0)]
    current = own[(own["latest"] < concern_below) | (own["mean_period"] < concern_below)]
    if current.empty:
        return []
    current = current.assign(order=current["sign"].map(_SIGN_ORDER))
    current = current.sort_values(["client_id", "therapist_id", "order"], kind="stable")
    groups: dict[tuple, list[str]] = {}
    columns = (current[c].tolist() for c in ("client_id", "therapist_id", "sign", "latest",
                                              "mean_period"))
    for client, therapist, sign, latest, mean in zip(*columns, strict=True):
        groups.setdefault((client, therapist), []).append(
            f"{SIGN_LABELS[sign]} (latest {latest:g}, mean {mean:.1f})")
    who = rater.capitalize()
    return [(client, therapist, "concern",
             f"{who} ratings below {concern_below:g} still current: " + ", ".join(parts))
            for (client, therapist), parts in groups.items()]


def _gap_reasons(gaps: pd.DataFrame) -> list[tuple]:
    """One line per flagged sign (gaps are never pooled across signs)."""
    rows = []
    for r in gaps[gaps["flagged"].astype(bool)].itertuples(index=False):
        who = "higher" if r.mean_gap > 0 else "lower"
        rows.append((r.client_id, r.therapist_id, "gap",
                     f"Therapist rates {SIGN_LABELS[r.sign]} {abs(r.mean_gap):.1f} points "
                     f"{who} than the client on average ({r.n_pairs} paired "
                     f"rating{'s' if r.n_pairs != 1 else ''})"))
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
    for r in outcomes[outcomes["category"].isin(["recovered", "improved"])].itertuples(index=False):
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
