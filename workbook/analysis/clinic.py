"""Clinic aggregates for the monthly report: per sign, per month, per therapist; no client IDs.

`publish_clinic` returns everything the clinic report publishes (tiles, tables, chart data) as
text, small cells already suppressed, so that the report and the disclosure audit read the very
same figures. Every aggregate over fewer than `privacy.min_cell_size` clients is suppressed,
counted for that very cell: a sign mean by the clients with a client rating of that sign in that
month (per therapist and for the clinic), a count by its own value, a clinic percentage by the
clients seen. "<11" marks a small cell; COMPLEMENT marks a cell hidden only to protect another,
chosen against an exact integer-programming reader (workbook.analysis.suppress).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workbook.analysis.agenda import REASON_ORDER, REASON_TITLES
from workbook.analysis.pipeline import Analysis
from workbook.analysis.suppress import (
    COMPLEMENT,
    protect_counts,
    protect_means,
    suppress_counts,
    suppressed_label,
)
from workbook.data.signs import SIGN_KEYS, SIGN_LABELS

CATEGORIES = ("recovered", "improved", "unchanged", "deteriorated", "harmed")
WITHHELD = {"Measure": "withheld"}  # the only row of a table too small to publish safely
TREND_MONTHS = 6


@dataclass
class ClinicTables:
    """Everything the clinic report publishes, as printed."""

    figures: list[tuple[str, str]]
    sign_columns: list[str]
    sign_rows: list[dict]
    therapist_columns: list[str]
    therapist_rows: list[dict]
    outcome_columns: list[str]
    outcome_rows: list[dict]
    completeness_rows: list[dict]
    flag_rows: list[dict] = field(default_factory=list)  # clients per reason of the list
    chart_months: pd.DataFrame = field(default_factory=pd.DataFrame)  # month, sign, mean


def summarise_sign_months(ratings: pd.DataFrame, end: pd.Timestamp,
                          months: int = TREND_MONTHS) -> pd.DataFrame:
    """Mean client rating per sign and month over the last `months` months up to `end`.

    The mean is over clients (each client's own monthly mean first), with n = clients rated.
    Columns: month (Timestamp, first day), sign, mean, n.
    """
    first = (end.replace(day=1) - pd.DateOffset(months=months - 1)).normalize()
    own = ratings[(ratings["rater"] == "client") & ratings["session_date"].between(first, end)]
    month = own["session_date"].dt.to_period("M").dt.start_time
    long = (own.assign(month=month)[["client_id", "month", *SIGN_KEYS]]
            .melt(id_vars=["client_id", "month"], var_name="sign", value_name="score")
            .dropna(subset=["score"]))
    per_client = long.groupby(["month", "sign", "client_id"], sort=True)["score"].mean()
    out = per_client.groupby(["month", "sign"]).agg(["mean", "size"]).reset_index()
    return out.rename(columns={"size": "n"})


def sign_table(months: pd.DataFrame, threshold: int,
               fixed: dict[tuple[pd.Timestamp, str], str] | None = None
               ) -> tuple[list[str], list[dict]]:
    """Rows for the report: one per sign, a column per month, each value under its own month;
    a month over fewer than `threshold` clients suppressed; `fixed` gives the text of cells
    decided elsewhere (the period's month, protected with the per-therapist table)."""
    stamps = sorted(months["month"].unique())
    labels = {pd.Timestamp(m): f"{pd.Timestamp(m):%b %Y}" for m in stamps}
    cells = {(pd.Timestamp(r.month), r.sign): _mean_text(r.mean, r.n, threshold)
             for r in months.itertuples()}
    cells.update(fixed or {})
    rows = []
    for key in SIGN_KEYS:
        row = {"Sign": SIGN_LABELS[key]}
        row.update({label: cells.get((month, key), "–") for month, label in labels.items()})
        rows.append(row)
    return ["Sign", *labels.values()], rows


def _mean_text(mean: float, n: int, threshold: int) -> str:
    if n == 0 or pd.isna(mean):
        return "–"
    return f"{mean:.1f}" if n >= threshold else suppressed_label(threshold)


def publish_clinic(analysis: Analysis, ratings: pd.DataFrame) -> ClinicTables:
    """Every figure of the clinic report for the analysis period, suppressed and protected.
    `ratings` is the whole clinic's data (for the month-by-month trend before the period)."""
    threshold = analysis.config.privacy.min_cell_size
    current = analysis.current()
    clients = current.attendance["client_id"].nunique()
    count_cols, count_rows, clinic_count = _therapist_counts(analysis, clients, threshold)
    means, clinic_means = _therapist_means(analysis, current, threshold)
    rows = [{"Therapist": t, "Clients": count_rows[t], **means[t]} for t in count_cols]
    rows.append({"Therapist": "Clinic", "Clients": clinic_count, **clinic_means})
    months = summarise_sign_months(ratings, analysis.period.end)
    month = analysis.period.start.normalize().replace(day=1)
    fixed = {(month, k): clinic_means[SIGN_LABELS[k]] for k in SIGN_KEYS}
    sign_columns, sign_rows = sign_table(months, threshold, fixed)
    outcome_columns, outcome_rows = outcome_table(current, threshold)
    return ClinicTables(
        figures=_figures(analysis, current, clinic_count, threshold),
        sign_columns=sign_columns, sign_rows=sign_rows,
        therapist_columns=["Therapist", "Clients", *SIGN_LABELS.values()],
        therapist_rows=rows, outcome_columns=outcome_columns, outcome_rows=outcome_rows,
        completeness_rows=_completeness(current, clients >= threshold, threshold),
        chart_months=_chart_months(months, threshold, fixed),
        flag_rows=flag_rates(current, threshold))


def _therapist_counts(analysis: Analysis, clients: int, threshold: int
                      ) -> tuple[list[str], dict[str, object], object]:
    """Clients per therapist and the clinic's, protected as one line (a handed-over client
    counts under each therapist who saw them, once in the clinic's)."""
    counts = analysis.attendance.groupby("therapist_id")["client_id"].nunique().sort_index()
    values = np.append(counts.to_numpy(dtype=np.int64), clients)
    line = list(range(len(values)))
    lower = np.append(np.ones(len(counts), dtype=np.int64), 0)
    primary, hidden, _ = protect_counts(values, [line], threshold,
                                        offsets=[int(counts.sum() - clients)], lower=lower)
    text = [_count_text(v, p, h, threshold) for v, p, h in zip(values, primary, hidden,
                                                                 strict=True)]
    return list(counts.index), dict(zip(counts.index, text[:-1], strict=True)), text[-1]


def _count_text(value: int, primary: bool, hidden: bool, threshold: int) -> object:
    if primary:
        return suppressed_label(threshold)
    return COMPLEMENT if hidden else int(value)


def _therapist_means(analysis: Analysis, current: Analysis, threshold: int
                     ) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Mean client rating per therapist and sign and the clinic's, each suppressed by the
    clients with a client rating behind it, then protected sign by sign."""
    own = analysis.signs[(analysis.signs["rater"] == "client")
                         & analysis.signs["mean_period"].notna()]
    therapists = sorted(analysis.attendance["therapist_id"].unique())
    clinic = current.signs[(current.signs["rater"] == "client")
                           & current.signs["mean_period"].notna()]
    scale = (analysis.config.scale.min, analysis.config.scale.max)
    out = {t: {} for t in therapists}
    overall = {}
    for key in SIGN_KEYS:
        label = SIGN_LABELS[key]
        part = own[own["sign"] == key].groupby("therapist_id")["mean_period"]
        mean = part.mean().reindex(therapists).to_numpy(dtype=float)
        n = part.size().reindex(therapists, fill_value=0).to_numpy(dtype=np.int64)
        whole = clinic.loc[clinic["sign"] == key, "mean_period"]
        primary, hidden, whole_primary, whole_hidden = protect_means(
            mean, n, threshold, float(whole.mean()) if len(whole) else float("nan"),
            len(whole), scale)
        for i, t in enumerate(therapists):
            out[t][label] = _protected_mean(mean[i], n[i], primary[i], hidden[i], threshold)
        overall[label] = _protected_mean(float(whole.mean()) if len(whole) else float("nan"),
                                         len(whole), whole_primary, whole_hidden, threshold)
    return out, overall


def _protected_mean(mean: float, n: int, primary: bool, hidden: bool, threshold: int) -> str:
    if n == 0:
        return "–"
    if primary:
        return suppressed_label(threshold)
    return COMPLEMENT if hidden else f"{mean:.1f}"


def outcome_table(analysis: Analysis, threshold: int) -> tuple[list[str], list[dict]]:
    """Clients per outcome category and measure, with small-cell suppression; no columns and
    the one row WITHHELD when even with every cell hidden its labels would pin a count."""
    outcomes = analysis.outcomes[analysis.outcomes["category"].notna()]
    if outcomes.empty:
        return [], []
    counts = (pd.crosstab(outcomes["label"], outcomes["category"])
              .reindex(columns=list(CATEGORIES), fill_value=0))
    shown = suppress_counts(counts, threshold)
    if not shown.attrs["safe"]:
        return [], [WITHHELD]
    columns = ["Measure", *[c.capitalize() for c in CATEGORIES], "Total"]
    rows = []
    for measure, r in shown.iterrows():
        row = {"Measure": measure}
        row.update({c.capitalize(): r[c] for c in CATEGORIES})
        row["Total"] = r["Total"]
        rows.append(row)
    return columns, rows


def _count(value: int, threshold: int) -> str:
    """A count of clients: shown when 0 or at least the threshold, else suppressed."""
    return str(value) if value == 0 or value >= threshold else suppressed_label(threshold)


def _figures(analysis: Analysis, current: Analysis, clients_text: object,
             threshold: int) -> list[tuple[str, str]]:
    """The headline tiles; each count of clients suppressed by its own value, the clients
    seen as in the per-therapist table, sessions only over enough clients."""
    att = current.attendance
    enough = att["client_id"].nunique() >= threshold
    live = current.ruptures.loc[current.ruptures["status"].isin(["unrepaired", "open"]),
                                "client_id"].nunique()
    return [
        ("therapists", str(len(analysis.therapists))),
        ("clients seen", str(clients_text)),
        ("sessions attended", str(int(att["attended"].sum())) if enough
         else suppressed_label(threshold)),
        ("clients to discuss", _count(current.discussion["client_id"].nunique(), threshold)),
        ("clients with a possible rupture not repaired", _count(live, threshold)),
        ("clients at dropout risk", _count(int(att.loc[att["dropout_risk"], "client_id"]
                                               .nunique()), threshold)),
    ]


def flag_rates(current: Analysis, threshold: int) -> list[dict]:
    """Per reason of the discussion list: the clients with that reason (any line, not only the
    weightiest) and their share of the clients seen; a count suppressed by its own value, a
    share only beside a shown count over enough clients seen. Not on track also as a share of
    the clients with an outcome measure."""
    seen = current.attendance["client_id"].nunique()
    kinds = current.discussion[["client_id", "kinds"]].explode("kinds")
    measured = current.outcomes["client_id"].nunique()
    rows = []
    for kind in REASON_ORDER:
        n = int(kinds.loc[kinds["kinds"] == kind, "client_id"].nunique())
        shown = _count(n, threshold)
        share = f"{n / seen:.0%}" if shown.isdigit() and seen >= threshold else "–"
        of_measured = "–"
        if kind == "not_on_track" and shown.isdigit() and measured >= threshold:
            of_measured = f"{n / measured:.0%} of {measured} with a measure"
        rows.append({"Reason": REASON_TITLES[kind], "Clients": shown,
                     "Share of clients seen": share, "Note": of_measured})
    return rows


def _completeness(current: Analysis, enough: bool, threshold: int) -> list[dict]:
    """Clinic attendance and completeness; every figure hidden over fewer clients than the
    threshold."""
    att, comp = current.attendance, current.completeness
    sessions, attended = att["sessions"].sum(), att["attended"].sum()
    rated = comp["rated_by_client"].sum()

    def share(part: float, whole: float) -> str:
        if not enough:
            return suppressed_label(threshold)
        return f"{part / whole:.0%}" if whole else "–"

    def total(value: float) -> str:
        return str(int(value)) if enough else suppressed_label(threshold)

    return [
        {"Figure": "Sessions scheduled", "Value": total(sessions)},
        {"Figure": "Attended", "Value": share(attended, sessions)},
        {"Figure": "Cancelled", "Value": share(att["cancelled"].sum(), sessions)},
        {"Figure": "No-shows", "Value": share(att["no_show"].sum(), sessions)},
        {"Figure": "Attended sessions rated by the client", "Value": share(rated, attended)},
        {"Figure": "Attended sessions with no rating at all",
         "Value": total(comp["unrated_sessions"].sum())},
    ]


def _chart_months(months: pd.DataFrame, threshold: int,
                  fixed: dict[tuple[pd.Timestamp, str], str]) -> pd.DataFrame:
    """The trend chart's points: the shown months only, rounded like the table."""
    keep = [r.n >= threshold and fixed.get((pd.Timestamp(r.month), r.sign), "0")[0].isdigit()
            for r in months.itertuples()]
    shown = months[np.array(keep, dtype=bool)] if len(months) else months
    return shown.assign(mean=shown["mean"].round(1))[["month", "sign", "mean"]]
