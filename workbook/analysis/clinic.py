"""Clinic aggregates for the monthly report: per sign, per month, per therapist; no client IDs.

Every aggregate over fewer than `privacy.min_cell_size` clients is suppressed
(workbook.analysis.suppress), with complementary suppression so a hidden cell cannot
be derived from a total.
"""

from __future__ import annotations

import pandas as pd

from workbook.analysis.pipeline import Analysis
from workbook.analysis.suppress import suppress_counts, suppress_group_means, suppressed_label
from workbook.data.signs import SIGN_KEYS, SIGN_LABELS

CATEGORIES = ("recovered", "improved", "unchanged", "deteriorated", "harmed")
TREND_MONTHS = 6


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


def sign_table(months: pd.DataFrame, threshold: int) -> tuple[list[str], list[dict]]:
    """Rows for the report: one per sign, a column per month; small months suppressed."""
    labels = [f"{m:%b %Y}" for m in sorted(months["month"].unique())]
    rows = []
    for key in SIGN_KEYS:
        part = months[months["sign"] == key].sort_values("month")
        row = {"Sign": SIGN_LABELS[key], **dict.fromkeys(labels, "–")}  # a month not rated
        for r in part.itertuples():  # by the month itself: a sign may lack some months
            row[f"{r.month:%b %Y}"] = (f"{r.mean:.1f}" if r.n >= threshold
                                       else suppressed_label(threshold))
        rows.append(row)
    return ["Sign", *labels], rows


def therapist_table(analysis: Analysis, threshold: int) -> tuple[list[str], list[dict]]:
    """Per-therapist clients and mean client rating per sign, with suppression.

    Counts of clients get complementary suppression against the clinic total; a therapist whose
    count is hidden has every mean hidden too, since each mean is over that many clients.
    """
    own = analysis.signs[analysis.signs["rater"] == "client"]
    means = own.pivot_table(index="therapist_id", columns="sign", values="mean_period",
                            aggfunc="mean").reindex(columns=list(SIGN_KEYS))
    counts = analysis.attendance.groupby("therapist_id")["client_id"].nunique()
    shown = suppress_counts(counts.to_frame("Clients"), threshold)["Clients"]
    overall = own.groupby("sign")["mean_period"].mean().reindex(list(SIGN_KEYS))
    rows = []
    for therapist in counts.index:
        hidden = isinstance(shown[therapist], str)
        row = {"Therapist": therapist, "Clients": shown[therapist]}
        for key in SIGN_KEYS:
            value = means.at[therapist, key] if therapist in means.index else float("nan")
            row[SIGN_LABELS[key]] = suppressed_label(threshold) if hidden else _mean(value)
        rows.append(row)
    total = {"Therapist": "Clinic", "Clients": shown["Total"]}
    total.update({SIGN_LABELS[k]: _mean(overall[k]) for k in SIGN_KEYS})
    rows.append(total)
    return ["Therapist", "Clients", *SIGN_LABELS.values()], _hide_lone_means(rows, threshold)


def _mean(value: float) -> str:
    return "–" if pd.isna(value) else f"{value:.1f}"


def _hide_lone_means(rows: list[dict], threshold: int) -> list[dict]:
    """Means are not sums, but with every n and the clinic mean shown, one hidden mean could
    be solved for: suppress_group_means hides a second one where needed."""
    label = suppressed_label(threshold)
    n = pd.Series({r["Therapist"]: r["Clients"] for r in rows[:-1]})
    if not n.map(lambda v: isinstance(v, str)).any():
        return rows
    n_num = n.map(lambda v: 1 if isinstance(v, str) else v)
    for key in SIGN_LABELS.values():
        values = pd.Series({r["Therapist"]: r[key] for r in rows[:-1]})
        values = values.map(lambda v: float("nan") if v in (label, "–") else float(v))
        values["Overall"] = 0.0
        counts = pd.concat([n_num, pd.Series({"Overall": int(n_num.sum())})])
        hidden = suppress_group_means(values, counts, threshold, overall="Overall")
        for r in rows[:-1]:
            if isinstance(hidden[r["Therapist"]], str):
                r[key] = label
    return rows


def outcome_table(analysis: Analysis, threshold: int) -> tuple[list[str], list[dict]]:
    """Clients per outcome category and measure, with small-cell suppression."""
    outcomes = analysis.outcomes[analysis.outcomes["category"].notna()]
    if outcomes.empty:
        return [], []
    counts = (pd.crosstab(outcomes["label"], outcomes["category"])
              .reindex(columns=list(CATEGORIES), fill_value=0))
    shown = suppress_counts(counts, threshold)
    columns = ["Measure", *[c.capitalize() for c in CATEGORIES], "Total"]
    rows = []
    for measure, r in shown.iterrows():
        row = {"Measure": measure}
        row.update({c.capitalize(): r[c] for c in CATEGORIES})
        row["Total"] = r["Total"]
        rows.append(row)
    return columns, rows
