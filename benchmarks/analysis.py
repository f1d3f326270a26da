"""Benchmark: the full analysis of 1,000,000 rating rows (target <= 5 s, ../shared/DESIGN.md).

Run as `.venv/bin/python benchmarks/analysis.py [--rows N] [--repeats N] [--baseline DIR]`. It
generates a synthetic clinic with the project's generator, loads it through `load_ratings` (not
timed here; see benchmarks/ingest.py), then times `analyse` over the whole data range and over
the last month. With `--baseline DIR` (another checkout, e.g. main's worktree) each timing runs in
a fresh process for this checkout and for DIR in turn, interleaved, on the same rows, and the
ratio is printed: on a shared machine the ratio is the figure to read.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
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


CHILD = """
import pickle, sys, time
from workbook.analysis.pipeline import analyse
ratings, periods = pickle.load(open(sys.argv[1], "rb"))
out = []
for period in periods:
    start = time.perf_counter()
    analyse(ratings, None, period)
    out.append(time.perf_counter() - start)
print(out)
"""


def compare(ratings, periods, labels, repeats: int, baseline: Path) -> None:
    """Best time per period for this checkout and the baseline, interleaved in fresh processes."""
    here = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "ratings.pickle"
        data.write_bytes(pickle.dumps((ratings, periods)))
        best = {"this": [float("inf")] * len(periods), "baseline": [float("inf")] * len(periods)}
        for _ in range(repeats):
            for name, root in (("this", here), ("baseline", baseline)):
                env = {**os.environ, "PYTHONPATH": str(root)}
                run = subprocess.run([sys.executable, "-c", CHILD, str(data)], env=env,
                                     capture_output=True, text=True, check=True)
                times = json.loads(run.stdout.strip().splitlines()[-1])
                best[name] = [min(a, b) for a, b in zip(best[name], times, strict=True)]
    for i, label in enumerate(labels):
        this, base = best["this"][i], best["baseline"][i]
        print(f"analyse, {label}: this {this:.2f} s, baseline {base:.2f} s, ratio "
              f"{this / base:.2f} (best of {repeats}, interleaved)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        ratings = make_ratings(args.rows, Path(tmp))
    whole = Period(ratings["session_date"].min(), ratings["session_date"].max())
    month = latest_complete_month(ratings, today=END.replace(day=28))
    print(f"rows: {len(ratings):,}  clients: {ratings['client_id'].nunique():,}  "
          f"therapists: {ratings['therapist_id'].nunique():,}")
    if args.baseline is not None:
        compare(ratings, [whole, month], ["whole range", f"month {month.label}"],
                args.repeats, args.baseline.resolve())
        return 0
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
