"""Benchmark: the full analysis of 1,000,000 rating rows (target <= 5 s, ../shared/DESIGN.md).

Run as `.venv/bin/python benchmarks/analysis.py [--rows N] [--repeats N]`. It generates a synthetic
clinic with the project's generator, loads it through `load_ratings` (not timed here; see
benchmarks/ingest.py), then times `analyse` over the whole data range and over the last month.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from workbook import load_ratings
from workbook.analysis.periods import Period, latest_complete_month
from workbook.analysis.pipeline import analyse
from workbook.data.example_data import generate_clinic, write_clinic

TARGET_SECONDS = 5.0
END = date(2025, 12, 31)


def make_ratings(rows: int, folder: Path):
    """A validated ratings frame of at least `rows` rows (then cut to exactly `rows` clients)."""
    therapists = max(1, rows // 1000)
    while True:
        frame = generate_clinic(therapists=therapists, clients_per_therapist=30, weeks=52,
                                seed=1, end=END, plant=False)
        if len(frame) >= rows:
            break
        therapists = int(therapists * rows / len(frame) * 1.05) + 1
    path = folder / "ratings.csv"
    write_clinic(frame.iloc[:rows], path)
    return load_ratings(path)


def time_best(func, repeats: int) -> float:
    """Best wall time of `repeats` calls."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        ratings = make_ratings(args.rows, Path(tmp))
    whole = Period(ratings["session_date"].min(), ratings["session_date"].max())
    month = latest_complete_month(ratings, today=END.replace(day=28))
    print(f"rows: {len(ratings):,}  clients: {ratings['client_id'].nunique():,}  "
          f"therapists: {ratings['therapist_id'].nunique():,}")
    failed = False
    for label, period in (("whole range", whole), (f"month {month.label}", month)):
        seconds = time_best(lambda p=period: analyse(ratings, None, p), args.repeats)
        verdict = "PASS" if seconds <= TARGET_SECONDS else "FAIL"
        failed |= verdict == "FAIL"
        print(f"analyse, {label}: {seconds:.2f} s (best of {args.repeats}; target <= "
              f"{TARGET_SECONDS:g} s) {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
