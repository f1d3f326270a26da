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
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from caseloads import START  # noqa: E402
from caseloads import weekly_caseload as caseload  # noqa: E402

from workbook.analysis.pipeline import analyse
from workbook.data.config import Config
from workbook.data.signs import SIGN_KEYS
from workbook.views import app_charts as A
from workbook.views.app_rows import latest_ratings
from workbook.views.course import course_specs
from workbook.views.filters import latest_scores

WEEKS = 26




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
