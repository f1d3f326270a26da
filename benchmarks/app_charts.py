"""Benchmark: the app's chart builders (workbook.views.app_charts, workbook.views.course) at 30
clients x 26 weekly sessions, client and therapist ratings, PHQ-9 on client rows.

Prints, per builder, the median wall time of a call after the first (the first builds the
spec's structure with Altair, later calls only reduce and inline the rows): target a few ms.
Each call gets the same rows a filter change would hand it (the whole therapist's frame).

Run as `.venv/bin/python benchmarks/app_charts.py [--runs N]`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from workbook.analysis.pipeline import analyse
from workbook.data.columns import BASE_ORDER, BUILTIN_MEASURE_KEYS
from workbook.data.config import Config
from workbook.data.signs import SIGN_KEYS
from workbook.views import app_charts as A
from workbook.views.app_rows import latest_ratings
from workbook.views.course import course_specs
from workbook.views.filters import latest_scores

START = pd.Timestamp("2026-04-06")
WEEKS = 26


def caseload(clients: int = 30, weeks: int = WEEKS, seed: int = 0) -> pd.DataFrame:
    """One therapist's typed ratings: weekly sessions, client + therapist, ~8% missed."""
    rng = np.random.default_rng(seed)
    n = clients * weeks
    client = np.repeat(np.arange(clients), weeks)
    week = np.tile(np.arange(weeks), clients)
    attendance = rng.choice(["attended", "cancelled", "no_show"], n, p=[0.92, 0.04, 0.04])
    base = pd.DataFrame({
        "client_id": [f"C{c + 1:04d}" for c in client], "therapist_id": "T01",
        "supervisor_id": None, "site": None,
        "session_date": START + pd.to_timedelta(week * 7 + client % 5, unit="D"),
        "session_number": week + 1, "attendance": attendance, "note": None})
    frames = []
    for rater, lift in (("client", 0.0), ("therapist", 0.4)):
        frame = base.assign(rater=rater)
        for key in SIGN_KEYS:
            scores = np.clip(np.round(rng.normal(8.0 + lift, 1.5, n)), 0, 10)
            frame[key] = np.where(attendance == "attended", scores, np.nan)
        for key in BUILTIN_MEASURE_KEYS:
            frame[key] = np.nan
        if rater == "client":
            phq9 = np.clip(np.round(rng.normal(15 - week * 0.3, 4)), 0, 27)
            frame["phq9"] = np.where(attendance == "attended", phq9, np.nan)
        frames.append(frame)
    frame = pd.concat(frames)[list(BASE_ORDER)]
    return frame.sort_values(["client_id", "session_date", "rater"], ignore_index=True)


def median_ms(call: Callable[[], object], runs: int) -> float:
    """Median wall time of `call()` over `runs` runs after one warm-up, in ms."""
    call()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    config = Config()
    rows = caseload()
    end = START + pd.Timedelta(days=7 * WEEKS - 1)
    analysis = analyse(rows, config)
    highlight = sorted(analysis.discussion["client_id"])[:6]
    latest = latest_scores(rows[rows["rater"] == "client"])
    span = {"start": START, "end": end}
    calls = {
        "spec_caseload_sign (6 highlighted, ruptures)": lambda: A.spec_caseload_sign(
            rows, "trust_safety", config=config, rater="client", highlight=highlight,
            ruptures=analysis.ruptures, **span),
        "spec_caseload_sign (30 highlighted)": lambda: A.spec_caseload_sign(
            rows, "trust_safety", config=config, rater="client",
            highlight=sorted(rows["client_id"].unique()), **span),
        "spec_latest_heatmap": lambda: A.spec_latest_heatmap(latest, config=config,
                                                             rater="client"),
        "filters.latest_scores + spec_latest_heatmap": lambda: A.spec_latest_heatmap(
            latest_scores(rows[rows["rater"] == "client"]), config=config, rater="client"),
        "app_rows.latest_ratings + spec_latest_heatmap": lambda: A.spec_latest_heatmap(
            latest_ratings(rows, rater="client", **span), config=config, rater="client"),
        "spec_gap_app": lambda: A.spec_gap_app(rows, config=config, signs=SIGN_KEYS, **span),
        "spec_attendance_app": lambda: A.spec_attendance_app(rows, **span),
        "spec_outcome_app (phq9)": lambda: A.spec_outcome_app(rows, "phq9", config=config,
                                                              **span),
        "spec_message": lambda: A.spec_message("PHQ-9", "No PHQ-9 scores."),
        "course_specs (all of one client's charts)": lambda: course_specs(
            analysis.ratings, analysis.ruptures, config=config, client_id="C0007", **span),
    }
    print(f"30 clients x {WEEKS} weekly sessions, client + therapist ratings "
          f"({len(rows)} rows); median of {args.runs} calls after the first, ms")
    for name, call in calls.items():
        print(f"{name:46s} {median_ms(call, args.runs):7.2f}")


if __name__ == "__main__":
    main()
