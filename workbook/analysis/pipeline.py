"""The one entry point of the analysis: validated ratings + config + period -> tidy frames.

Charts, notebooks and reports read the `Analysis` it returns; nothing downstream recomputes.
Every frame has client_id and therapist_id columns, so a clinic-wide analysis can be cut to one
therapist or supervisee (`Analysis.select`) without running it again. A client handed over from
one therapist to another has a view per therapist (`workbook.analysis.handover`): rows for the
current therapist over the whole course and rows for each former therapist over the course up to
their last session with the client; `Analysis.current` keeps one view per client (for clinic
figures, which count each client once).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd

from workbook.analysis.agenda import list_wins, rank_discussion
from workbook.analysis.alliance import analyse_alliance
from workbook.analysis.alliance_alert import empty_alerts, find_alliance_alerts
from workbook.analysis.attendance import summarise_attendance, summarise_completeness
from workbook.analysis.handover import (
    cut_former_views,
    empty_handovers,
    find_handovers,
    restore_views,
)
from workbook.analysis.outcomes import fit_outcome_model, summarise_outcomes
from workbook.analysis.periods import Period
from workbook.data.config import Config

FRAMES = ("ratings", "signs", "concerns", "ruptures", "gaps", "client_gaps", "attendance",
          "completeness", "outcomes", "discussion", "wins", "alliance_alerts", "handovers")


@dataclass(frozen=True)
class Analysis:
    """Everything computed for one period. `ratings` holds the in-scope rows up to period end."""

    config: Config
    period: Period
    ratings: pd.DataFrame
    signs: pd.DataFrame
    concerns: pd.DataFrame
    ruptures: pd.DataFrame
    gaps: pd.DataFrame
    client_gaps: pd.DataFrame
    attendance: pd.DataFrame
    completeness: pd.DataFrame
    outcomes: pd.DataFrame
    discussion: pd.DataFrame
    wins: pd.DataFrame
    alliance_alerts: pd.DataFrame = field(default_factory=empty_alerts)  # SRS alerts
    handovers: pd.DataFrame = field(default_factory=empty_handovers)

    @property
    def clients(self) -> list[str]:
        """Clients with a session in the period, sorted."""
        return sorted(self.attendance["client_id"].unique())

    @property
    def therapists(self) -> list[str]:
        """Therapists with a client session in the period, sorted."""
        return sorted(self.attendance["therapist_id"].unique())

    def select(self, *, therapist_id: str | None = None,
               clients: list[str] | None = None) -> Analysis:
        """The same analysis cut to one therapist's clients and/or a list of clients."""
        cut = {}
        for name in FRAMES:
            frame = getattr(self, name)
            keep = pd.Series(True, index=frame.index)
            if therapist_id is not None:
                keep &= frame["therapist_id"] == therapist_id
                if name == "ratings":  # the current therapist sees the whole course
                    keep |= frame["client_id"].isin(self._taken_over(therapist_id))
            if clients is not None:
                keep &= frame["client_id"].isin(clients)
            cut[name] = frame[keep]
        cut["discussion"] = _rerank(cut["discussion"])
        return replace(self, **cut)

    def _taken_over(self, therapist_id: str) -> list[str]:
        h = self.handovers
        return list(h.loc[(h["therapist_id"] == therapist_id) & (h["role"] == "current"),
                          "client_id"])

    def current(self) -> Analysis:
        """The analysis with one view per client: former therapists' views of handed-over
        clients left out (for figures that count each client once)."""
        former = self.handovers[self.handovers["role"] == "former"]
        if former.empty:
            return self
        drop = pd.MultiIndex.from_frame(former[["client_id", "therapist_id"]])
        cut = {}
        for name in FRAMES[1:-1]:
            frame = getattr(self, name)
            pairs = pd.MultiIndex.from_frame(frame[["client_id", "therapist_id"]])
            cut[name] = frame[~pairs.isin(drop)]
        return replace(self, **cut)


def _rerank(discussion: pd.DataFrame) -> pd.DataFrame:
    out = discussion.sort_values("rank").reset_index(drop=True)
    out["rank"] = range(1, len(out) + 1)
    return out


def analyse(ratings: pd.DataFrame, config: Config | None = None,
            period: Period | None = None) -> Analysis:
    """Run the whole analysis for a period (default: the whole data range)."""
    config = config or Config()
    if period is None:
        period = Period(ratings["session_date"].min(), ratings["session_date"].max())
    start, end = period.start, period.end
    upto = ratings[ratings["session_date"] <= end]
    model = fit_outcome_model(upto, config, end)
    seen = upto.loc[upto["session_date"] >= start, "client_id"].unique()
    upto = upto[upto["client_id"].isin(seen)].reset_index(drop=True)
    parts = _analyse_views(upto, config, start, end, model=model)
    handovers = find_handovers(upto, start, end)
    if (handovers["role"] == "former").any():
        former = _analyse_views(cut_former_views(upto, handovers), config, start, end,
                                spread=parts["outcomes"].attrs["spread"],
                                model=parts["outcomes"].attrs["model"])
        former["attendance"] = former["attendance"].assign(dropout_risk=False,
                                                           dropout_reason=None)
        parts = {name: _merge_views(parts[name], restore_views(former[name]))
                 for name in parts}
    parts["alliance_alerts"] = find_alliance_alerts(upto, config, start, end)
    parts["discussion"] = _rank(parts, config, handovers)
    parts["wins"] = list_wins(outcomes=parts["outcomes"], ruptures=parts["ruptures"])
    return Analysis(config=config, period=period, ratings=upto, handovers=handovers, **parts)


def _rank(parts: dict[str, pd.DataFrame] | Analysis, config: Config, handovers: pd.DataFrame,
          concern_rater: str = "client") -> pd.DataFrame:
    get = parts.get if isinstance(parts, dict) else lambda name: getattr(parts, name)
    return rank_discussion(
        outcomes=get("outcomes"), ruptures=get("ruptures"), attendance=get("attendance"),
        signs=get("signs"), gaps=get("gaps"), completeness=get("completeness"),
        concern_below=config.thresholds.concern_below,
        alliance_alerts=get("alliance_alerts"), handovers=handovers,
        concern_rater=concern_rater)


def rank_for_rater(analysis: Analysis, rater: str) -> Analysis:
    """The analysis with its discussion list ranked with concern ratings read from `rater`'s
    ratings (the app's rater filter; the client's is what `analyse` and the reports use).
    Cut it to a therapist or clients with `select` afterwards, or before: both rank alike."""
    if rater == "client":
        return analysis
    return replace(analysis, discussion=_rank(analysis, analysis.config, analysis.handovers,
                                              concern_rater=rater))


def _analyse_views(rows: pd.DataFrame, config: Config, start: pd.Timestamp, end: pd.Timestamp,
                   spread: dict | None = None, model=None) -> dict[str, pd.DataFrame]:
    """Every frame computed per view of a client, for these rows."""
    alliance = analyse_alliance(rows, config, start, end)
    return {
        "signs": alliance["summary"],
        "concerns": alliance["concerns"],
        "ruptures": alliance["ruptures"],
        "gaps": alliance["gaps"],
        "client_gaps": alliance["gaps_by_client"],
        "attendance": summarise_attendance(rows, config, start, end),
        "completeness": summarise_completeness(rows, config, start, end),
        "outcomes": summarise_outcomes(rows, config, end, start, spread=spread,
                                       model=model),
    }


def _merge_views(current: pd.DataFrame, former: pd.DataFrame) -> pd.DataFrame:
    """A frame's current views followed, per client, by its former therapists' views."""
    if former.empty:
        return current
    attrs = dict(current.attrs)
    both = pd.concat([current, former.astype(current.dtypes.to_dict(), errors="ignore")],
                     ignore_index=True)
    both = both.sort_values("client_id", kind="stable").reset_index(drop=True)
    both.attrs.update(attrs)
    return both


def describe_rules(config: Config, outcomes: pd.DataFrame | None = None,
                   handovers: bool = True) -> dict[str, str]:
    """The rules used, in plain words, for every report to state (`outcomes`: the measures'
    change methods, for the measures in the report; `handovers`: whether to state that rule)."""
    r, t = config.rupture, config.thresholds
    rules = {
        "concern": f"A concern rating is a client rating below {t.concern_below:g} on the "
                   f"{config.scale.min:g}–{config.scale.max:g} scale; on the discussion list "
                   "while current (the latest rating or the period mean on that sign below "
                   "it).",
        "rupture": f"Possible rupture: a rating at least max({r.min_drop_points:g} points, "
                   f"{r.min_drop_sd:g} within-client SD) below the mean of the same rater's "
                   f"previous {r.baseline_ratings} ratings (at least {r.min_baseline_ratings} "
                   f"needed). Repaired when a rating within the next {r.repair_window} rated "
                   f"sessions comes back to within {r.repair_tolerance:g} point of that mean. "
                   "Listed in every period it is open, ends or is repaired. Self-report dips are "
                   "noisy: these are prompts to ask, not findings.",
        "gap": f"Perspective gap: therapist minus client rating of the same session and sign; "
               f"a mean gap of {t.perspective_gap:g} points or more on any one sign is flagged.",
        "change": _change_rule(config, outcomes),
        "previous": "Change: against the previous calendar month (for a date range, as many "
                    "days before); a group's change is the mean of its clients' own changes.",
        "dropout": f"Dropout risk: {t.dropout_no_shows} no-shows in a row, or more than "
                   f"{t.dropout_gap_days} days without an attended session when the latest "
                   "session was not attended.",
        "not_on_track": _track_rule(config, outcomes),
        "handover": "After a handover the current therapist sees the whole course, marked; a "
                    "former therapist only the sessions up to the handover.",
    }
    if not handovers:
        rules.pop("handover")
    return rules


def _track_rule(config: Config, outcomes: pd.DataFrame | None) -> str:
    """Not on track: the expected treatment response, and the measures that fall back."""
    e, t = config.expected_response, config.thresholds
    text = ("Not on track: the latest score on a measure is worse than the expected-response "
            "band, the score that only a share of "
            f"{e.band:g} of similar clients in this clinic's own history did worse than at the "
            f"same point of treatment (from session {e.first_session}; similar: other "
            f"clients whose first score is within {e.intake_window:g} x the measure's range of "
            f"the client's, at least {e.min_similar} of them). Where a measure has fewer than "
            f"{e.min_courses} courses, or a client too few similar clients, the published rule "
            f"instead: {t.not_on_track_sessions} or more scores with no reliable improvement, "
            "or a reliable deterioration, for clients who started in the clinical range. "
            "The expected response is read from every course in the data up to the period "
            "end, finished ones included, never the client's own: each other client's latest "
            "score in the same band of sessions (1, 2, 3, 4-5, 6-7, 8-11, 12-15, 16-22, ...), "
            "counted from their first score. Limits: it describes this clinic's own clients "
            "and treatments, not a norm; ongoing courses count with the scores they have so "
            "far and short courses only in the sessions they reached; a flag is a prompt to "
            "review the course, not a prediction.")
    model = outcomes.attrs.get("model") if outcomes is not None else None
    if model is None or outcomes is None or outcomes.empty:
        return text
    labels = config.all_measures()
    for key in sorted(outcomes["measure"].unique()):
        n = model.courses.get(key, 0)
        how = ("expected response" if n >= e.min_courses
               else f"published rule (too few courses: {e.min_courses} needed)")
        text += f" {labels[key].label}: {n:,} course{'s' if n != 1 else ''}, {how}."
    return text


def _change_rule(config: Config, outcomes: pd.DataFrame | None) -> str:
    """Reliable change: the published thresholds, and how each other measure is judged."""
    text = ("Reliable change per outcome measure, first vs latest score, with the published "
            "reliable-change thresholds (PHQ-9 6, GAD-7 4, ORS 5, CORE-10 6, OQ-45 14 points) "
            "and clinical cutoffs (Jacobson & Truax 1991 categories).")
    extra = {k: m for k, m in config.measures.items() if m.reliable_change is None}
    if outcomes is not None and len(outcomes):
        used = outcomes.drop_duplicates("measure").set_index("measure")
        for key, measure in extra.items():
            if key in used.index:
                row = used.loc[key]
                limit = (f": a change of more than {row['threshold']:.1f} points is reliable"
                         if pd.notna(row["threshold"]) else ": no change is judged")
                text += f" {measure.label}: {row['method']}{limit}."
    elif extra:
        text += (f" {', '.join(m.label for m in extra.values())}: Jacobson & Truax (1991) "
                 "with the clinic's own pre-treatment SD.")
    return text + (" A reliable worsening at any score in the period is listed even when the "
                   "latest score is back.")
