"""Build the template context of each report from an Analysis: rows of plain formatted values.

Only the clients the report may show reach its context: a therapist's report is built from the
analysis cut to that therapist; the clinic context carries no client ID at all.
"""

from __future__ import annotations

import math

import pandas as pd

from workbook.analysis.agenda import REASON_TITLES
from workbook.analysis.alliance_alert import describe_alert_rule
from workbook.analysis.clinic import publish_clinic
from workbook.analysis.headline import headline_figures
from workbook.analysis.pipeline import Analysis, describe_rules
from workbook.analysis.suppress import COMPLEMENT
from workbook.data.signs import SIGN_LABELS, SIGNS
from workbook.data.sources.mapping import describe_mapping
from workbook.views.charts import (
    CASELOAD_CHART_KEY,
    chart_sign_months,
    spec_attendance,
    spec_sign_caseload,
)
from workbook.views.svg import chart_to_svg

# The supervision brief must fit on two pages: the first `agenda.lead_clients` clients (config,
# default 5) get up to DETAILED_REASONS lines each (the rest of their reasons named in one line),
# the others one line counting them by their weightiest reason; the caseload report shows the
# same first clients in full and the others in one line of IDs. The first DETAILED_WINS wins get
# a line each, the other clients with wins one line.
DETAILED_REASONS = 2
DETAILED_WINS = 8
REPORT_CHART_HEIGHT = 150  # two signs fit on an A4 page


def fmt(value: object, digits: int = 1) -> str:
    """A number for a table cell: blank for missing, no trailing '.0' on whole numbers."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def signed(value: float) -> str:
    """A change with its sign: +0.4, −1.2, 0.0 when it rounds to zero, or – when missing."""
    if value is None or math.isnan(value):
        return "–"
    text = f"{value:+.1f}"
    return "0.0" if text in ("+0.0", "-0.0") else text.replace("-", "−")


def base_context(analysis: Analysis, subject: str) -> dict:
    """The values every report shows: subject, period, clinic, rules."""
    period = analysis.period
    return {
        "subject": subject,
        "clinic_name": analysis.config.clinic_name,
        "period_label": period.label,
        "period_start": f"{period.start:%Y-%m-%d}",
        "period_end": f"{period.end:%Y-%m-%d}",
        "rules": _rules(analysis),
    }


def _rules(analysis: Analysis) -> dict[str, str]:
    """The rules the report used (the handover rule only when a handover is in it), and what
    the data itself asks it to state."""
    return {**describe_rules(analysis.config, analysis.outcomes,
                             handovers=not analysis.handovers.empty),
            **describe_sources(analysis)}


def describe_sources(analysis: Analysis) -> dict[str, str]:
    """What the data itself asks a report to state: the instrument mapping of an export, the
    SRS alliance alert rule, and a sign that no rating feeds (boundaries from attendance)."""
    ratings, config = analysis.ratings, analysis.config
    rules = {}
    present = tuple(ratings.attrs.get("instruments", ()))
    if present:
        lines = describe_mapping(config.instruments, present, config.scale.min, config.scale.max)
        rules["instruments"] = ("Ratings mapped from an instrument export (item codes only): "
                                + "; ".join(lines))
    if "srs" in ratings.columns and ratings["srs"].notna().any():
        rules["alliance"] = describe_alert_rule(config)
    if not present and ratings["boundaries_consistency"].isna().all():
        rules["boundaries"] = ("No Boundaries & consistency rating in the data: that sign is "
                               "read from attendance alone.")
    return rules


def therapist_context(analysis: Analysis, therapist_id: str) -> dict:
    """Context of the caseload report for one therapist (analysis already cut to them)."""
    ctx = base_context(analysis, f"therapist {therapist_id}")
    ctx["figures"] = headline_figures(analysis)
    lead = analysis.config.agenda.lead_clients
    listed = analysis.discussion
    ctx["discussion"] = [{"Rank": r.rank, "Client": r.client_id, "Reasons": "; ".join(r.reasons)}
                         for r in listed.iloc[:lead].itertuples()]
    rest = listed.iloc[lead:]
    ctx["discussion_rest"] = (
        f"Also on the list ({len(rest)}, in order): "
        + ", ".join(f"{r.client_id} ({r.top_reason.lower()})" for r in rest.itertuples())
        if len(rest) else "")
    ctx["signs"] = [_sign_section(analysis, sign) for sign in SIGNS]
    ctx["chart_key"] = CASELOAD_CHART_KEY
    ctx["ruptures"] = _rupture_rows(analysis.ruptures)
    ctx["gaps"] = [{"Client": r.client_id, "Sign": SIGN_LABELS[r.sign],
                    "Paired ratings": r.n_pairs,
                    "Mean gap (therapist − client)": signed(r.mean_gap)}
                   for r in analysis.gaps[analysis.gaps["flagged"]].itertuples()]
    ctx["handovers"] = _handover_rows(analysis.handovers)
    attendance = spec_attendance(analysis.ratings, start=analysis.period.start,
                                 end=analysis.period.end)
    attendance["height"] = 12 * len(analysis.attendance) + 20
    # print: a tick a week, no vertical grid (the spec's nested parts are shared: copy them)
    attendance["config"] = {**attendance["config"], "axisX": {
        **attendance["config"].get("axisX", {}), "grid": False,
        "tickCount": {"interval": "week", "step": 1}}}
    ctx["attendance_svg"] = chart_to_svg(
        attendance, label=f"Attendance chart, {analysis.period.label}: each client's scheduled "
                          "sessions by date, marked attended, cancelled or no-show.")
    ctx["attendance"] = _attendance_rows(analysis.attendance)
    ctx["attended_all"] = len(analysis.attendance) - len(ctx["attendance"])
    ctx["outcomes"] = _outcome_rows(analysis.outcomes)
    ctx["outcome_columns"] = OUTCOME_COLUMNS
    ctx["completeness"] = _completeness_rows(analysis.completeness)
    ctx["completeness_share"] = ctx["figures"][3][1]  # "rated by the client"
    ctx["notes"] = _note_rows(analysis) if analysis.config.privacy.include_notes else []
    return ctx


def _sign_section(analysis: Analysis, sign) -> dict:
    own = analysis.signs[(analysis.signs["sign"] == sign.key)
                         & (analysis.signs["rater"] == "client")
                         & (analysis.signs["concern_n"] > 0)]
    ruptured = analysis.ruptures.loc[analysis.ruptures["sign"] == sign.key, "client_id"]
    chart = spec_sign_caseload(
        analysis.ratings, sign.key, config=analysis.config,
        highlight=sorted(set(own["client_id"]) | set(ruptured)), ruptures=analysis.ruptures,
        start=analysis.period.start, end=analysis.period.end)
    chart["height"] = REPORT_CHART_HEIGHT
    lines = sorted(set(own["client_id"]) | set(ruptured))
    label = (f"{sign.label} chart, {analysis.period.label}: the caseload's middle half and "
             "median of client ratings, week by week"
             + (f"; a line for each of {', '.join(lines)}." if lines else "."))
    rows = [{"Client": r.client_id, "Latest": fmt(r.latest), "Period mean": fmt(r.mean_period),
             "Change": signed(r.change), "Concern ratings": int(r.concern_n)}
            for r in own.sort_values(["concern_n", "client_id"],
                                     ascending=[False, True]).itertuples()]
    return {"key": sign.key, "label": sign.label, "colour": sign.colour,
            "description": sign.description, "chart_svg": chart_to_svg(chart, label=label),
            "concerns": rows}


def _handover_rows(handovers: pd.DataFrame) -> list[str]:
    """One sentence per handed-over client the report shows."""
    out = []
    for h in handovers.sort_values("client_id").itertuples():
        if h.role == "current":
            out.append(f"{h.client_id}: handed over from {h.other_therapists}; with this "
                       f"therapist since {h.handover_date:%Y-%m-%d}. The whole course is shown.")
        else:
            out.append(f"{h.client_id}: handed over to {h.other_therapists} on "
                       f"{h.handover_date:%Y-%m-%d}. Only sessions up to {h.until:%Y-%m-%d} "
                       "are shown.")
    return out


def _rupture_rows(ruptures: pd.DataFrame) -> list[dict]:
    status = {"repaired": "repaired", "unrepaired": "not repaired", "open": "open"}
    return [{"Client": r.client_id, "Sign": SIGN_LABELS[r.sign], "Rater": r.rater,
             "Date": f"{r.start_date:%Y-%m-%d}", "Baseline": fmt(r.baseline),
             "Rating": fmt(r.score), "Depth": fmt(r.depth), "Sessions": int(r.length),
             "Status": status[r.status]}
            for r in ruptures.sort_values(["start_date", "client_id"]).itertuples()]


def _attendance_rows(attendance: pd.DataFrame) -> list[dict]:
    """Clients who missed a session or are at dropout risk (the chart shows everyone)."""
    attendance = attendance[(attendance["attended"] < attendance["sessions"])
                            | attendance["dropout_risk"]]
    return [{"Client": r.client_id, "Sessions": int(r.sessions), "Attended": int(r.attended),
             "Cancelled": int(r.cancelled), "No-shows": int(r.no_show),
             "Median days between": fmt(r.gap_median_days, 0),
             "Longest gap": fmt(r.longest_gap_days, 0),
             "Dropout risk": r.dropout_reason if r.dropout_risk else "no"}
            for r in attendance.sort_values("client_id").itertuples()]


OUTCOME_COLUMNS = ["Measure", "Clients", "Recovered", "Improved", "Unchanged", "Deteriorated",
                   "Harmed", "Worse during the period", "Not on track"]


def _outcome_rows(outcomes: pd.DataFrame) -> list[dict]:
    """One row per measure: the clients in each outcome category (first vs latest score)."""
    rows = []
    for label, part in outcomes.groupby("label", sort=True):
        row = {"Measure": label, "Clients": str(len(part))}
        for category in OUTCOME_COLUMNS[2:7]:
            row[category] = _ids(part.loc[part["category"] == category.lower(), "client_id"])
        row["Worse during the period"] = _ids(part.loc[part["worse_in_period"].astype(bool),
                                                       "client_id"])
        row["Not on track"] = _ids(part.loc[part["not_on_track"].astype(bool), "client_id"])
        rows.append(row)
    return rows


def _ids(clients: pd.Series) -> str:
    return ", ".join(sorted(clients)) if len(clients) else "–"


def _completeness_rows(completeness: pd.DataFrame) -> list[dict]:
    """Only the clients with something missing: low completeness or a session nobody rated."""
    completeness = completeness[completeness["low"] | (completeness["unrated_sessions"] > 0)]
    return [{"Client": r.client_id, "Attended": int(r.attended_sessions),
             "Rated by client": int(r.rated_by_client),
             "Share": f"{r.completeness:.0%}" if r.attended_sessions else "–",
             "Sessions with no rating": int(r.unrated_sessions)}
            for r in completeness.sort_values("client_id").itertuples()]


def _note_rows(analysis: Analysis) -> list[dict]:
    frame = analysis.ratings
    frame = frame[frame["note"].notna() & (frame["session_date"] >= analysis.period.start)]
    return [{"Client": r.client_id, "Date": f"{r.session_date:%Y-%m-%d}", "Rater": r.rater,
             "Note": r.note} for r in frame.itertuples()]


def supervision_context(analysis: Analysis, therapist_id: str) -> dict:
    """Context of the supervision brief for one supervisee (analysis already cut to them)."""
    ctx = base_context(analysis, f"supervisee {therapist_id}")
    wins = analysis.wins
    ctx["figures"] = [("clients seen", str(len(analysis.attendance))),
                      ("clients to discuss", str(len(analysis.discussion))),
                      ("wins", str(len(wins)))]
    items = [{"client": r.client_id, "top_reason": r.top_reason,
              "reasons": _brief_reasons(list(r.reasons), list(r.kinds))}
             for r in analysis.discussion.itertuples()]
    lead = analysis.config.agenda.lead_clients
    ctx["discussion"] = items[:lead]
    ctx["discussion_rest"] = summarise_rest(items[lead:])
    ctx["sign_changes"], fell = _sign_changes(analysis)
    ctx["handovers"] = _handover_rows(analysis.handovers)
    ctx["questions"] = [{"label": s.label, "questions": s.questions} for s in SIGNS
                        if s.key in fell]
    ctx["wins"] = [{"client": r.client_id, "text": r.text}
                   for r in wins.iloc[:DETAILED_WINS].itertuples()]
    more = list(dict.fromkeys(wins["client_id"].iloc[DETAILED_WINS:]))
    if more:
        n = len(wins) - DETAILED_WINS
        ctx["wins"].append({"client": f"{n} more win{'s' if n != 1 else ''}",
                            "text": f"{', '.join(more)} (details in the caseload report)"})
    return ctx


def summarise_rest(items: list[dict]) -> str:
    """One line for the clients below the lead ones: how many, by their weightiest reason."""
    if not items:
        return ""
    counts = pd.Series([i["top_reason"] for i in items]).value_counts(sort=False)
    order = [t for t in REASON_TITLES.values() if t in counts.index]
    parts = [f"{counts[t]} {t[0].lower() + t[1:]}" for t in order]
    who = "client" if len(items) == 1 else "clients"
    return (f"{len(items)} more {who} on the list, by their weightiest reason: "
            f"{', '.join(parts)} (details in the caseload report).")


def _brief_reasons(reasons: list[str], kinds: list[str]) -> list[str]:
    """At most DETAILED_REASONS lines: the weightiest reasons, then the others named in one."""
    if len(reasons) <= DETAILED_REASONS:
        return reasons
    keep = DETAILED_REASONS - 1
    others = dict.fromkeys(REASON_TITLES[k].lower() for k in kinds[keep:])
    return [*reasons[:keep], f"Also: {'; '.join(others)} (details in the caseload report)"]


def _sign_changes(analysis: Analysis) -> tuple[list[dict], set[str]]:
    """Per sign: the mean client rating now, and the change compared like with like: the mean
    of within-client changes over the clients rated in both periods (so a new client's low
    rating is not read as a fall)."""
    own = analysis.signs[analysis.signs["rater"] == "client"]
    rows, fell = [], set()
    for sign in SIGNS:
        part = own[own["sign"] == sign.key]
        both = part[part["mean_period"].notna() & part["previous_mean"].notna()]
        change = both["change"].mean() if len(both) else float("nan")
        if not math.isnan(change) and round(change, 1) < 0:  # falls by what the table shows
            fell.add(sign.key)
        rows.append({"Sign": sign.label, "Mean client rating": fmt(part["mean_period"].mean()),
                     "Change, same clients": signed(change),
                     "Rated in both periods": len(both),
                     "Clients with a concern rating": int((part["concern_n"] > 0).sum())})
    return rows, fell


def clinic_context(analysis: Analysis, ratings: pd.DataFrame) -> dict:
    """Context of the clinic monthly report: aggregates only, small cells suppressed
    (`workbook.analysis.clinic.publish_clinic` decides every figure; this only lays it out).

    `ratings` is the whole clinic's data (for the month-by-month trend before the period).
    """
    threshold = analysis.config.privacy.min_cell_size
    tables = publish_clinic(analysis, ratings)
    ctx = base_context(analysis, analysis.config.clinic_name)
    ctx["rules"] = {**describe_rules(analysis.config, analysis.current().outcomes,
                                     handovers=not analysis.handovers.empty),
                    **describe_sources(analysis)}
    ctx["min_cell"] = threshold
    ctx["complement"] = COMPLEMENT
    ctx["figures"] = tables.figures
    ctx["trend_svg"] = chart_to_svg(
        chart_sign_months(tables.chart_months, config=analysis.config),
        label="Chart of the clinic's mean client rating per sign, month by month, over the "
              "months in the table below (months over too few clients left out).")
    ctx["sign_columns"], ctx["sign_rows"] = tables.sign_columns, tables.sign_rows
    ctx["therapist_columns"] = tables.therapist_columns
    ctx["therapist_rows"] = tables.therapist_rows
    ctx["outcome_columns"], ctx["outcome_rows"] = tables.outcome_columns, tables.outcome_rows
    ctx["completeness_rows"] = tables.completeness_rows
    ctx["flag_rows"] = tables.flag_rows
    return ctx
