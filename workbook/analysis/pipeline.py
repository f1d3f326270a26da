"""The one entry point of the analysis: validated ratings + config + period -> tidy frames.

Charts, notebooks and reports read the `Analysis` it returns; nothing downstream recomputes.
Every frame has client_id and therapist_id columns, so a clinic-wide analysis can be cut to one
therapist or supervisee (`Analysis.select`) without running it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd

from workbook.analysis.agenda import list_wins, rank_discussion
from workbook.analysis.alliance import analyse_alliance
from workbook.analysis.alliance_alert import empty_alerts, find_alliance_alerts
from workbook.analysis.attendance import summarise_attendance, summarise_completeness
from workbook.analysis.outcomes import summarise_outcomes
from workbook.analysis.periods import Period
from workbook.data.config import Config

FRAMES = ("ratings", "signs", "concerns", "ruptures", "gaps", "client_gaps", "attendance",
          "completeness", "outcomes", "discussion", "wins", "alliance_alerts")


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
            if clients is not None:
                keep &= frame["client_id"].isin(clients)
            cut[name] = frame[keep]
        cut["discussion"] = _rerank(cut["discussion"])
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
    seen = upto.loc[upto["session_date"] >= start, "client_id"].unique()
    upto = upto[upto["client_id"].isin(seen)].reset_index(drop=True)
    alliance = analyse_alliance(upto, config, start, end)
    parts = {
        "signs": alliance["summary"],
        "concerns": alliance["concerns"],
        "ruptures": alliance["ruptures"],
        "gaps": alliance["gaps"],
        "client_gaps": alliance["gaps_by_client"],
        "attendance": summarise_attendance(upto, config, start, end),
        "completeness": summarise_completeness(upto, config, start, end),
        "outcomes": summarise_outcomes(upto, config, end),
    }
    parts["alliance_alerts"] = find_alliance_alerts(upto, config, start, end)
    parts["discussion"] = rank_discussion(
        outcomes=parts["outcomes"], ruptures=parts["ruptures"], attendance=parts["attendance"],
        concerns=parts["concerns"], gaps=parts["client_gaps"],
        completeness=parts["completeness"], concern_below=config.thresholds.concern_below,
        alliance_alerts=parts["alliance_alerts"])
    parts["wins"] = list_wins(outcomes=parts["outcomes"], ruptures=parts["ruptures"])
    return Analysis(config=config, period=period, ratings=upto, **parts)


def describe_rules(config: Config) -> dict[str, str]:
    """The rules used, in plain words, for every report to state."""
    r, t = config.rupture, config.thresholds
    return {
        "concern": f"A concern rating is a client rating below {t.concern_below:g} on the "
                   f"{config.scale.min:g}–{config.scale.max:g} scale.",
        "rupture": f"Possible rupture: a rating at least max({r.min_drop_points:g} points, "
                   f"{r.min_drop_sd:g} within-client SD) below the mean of the same rater's "
                   f"previous {r.baseline_ratings} ratings (at least {r.min_baseline_ratings} "
                   f"needed). Repaired when a rating within the next {r.repair_window} rated "
                   f"sessions comes back to within {r.repair_tolerance:g} point of that mean. "
                   "Self-report dips are noisy: these are prompts to ask, not findings.",
        "gap": f"Perspective gap: therapist minus client rating of the same session and sign; "
               f"a mean gap of {t.perspective_gap:g} points or more is flagged.",
        "change": "Reliable change per outcome measure, first vs latest score, with the "
                  "published reliable-change thresholds (PHQ-9 6, GAD-7 4, ORS 5, CORE-10 6, "
                  "OQ-45 14 points) and clinical cutoffs (Jacobson & Truax 1991 categories).",
        "dropout": f"Dropout risk: {t.dropout_no_shows} no-shows in a row, or more than "
                   f"{t.dropout_gap_days} days without an attended session when the latest "
                   "session was not attended.",
        "not_on_track": f"Not on track: {t.not_on_track_sessions} or more scores on a measure "
                        "with no reliable improvement, or any reliable deterioration.",
    }

