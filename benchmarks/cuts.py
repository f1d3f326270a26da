"""Benchmark: what the monthly batch hands each worker, and what it costs the client to make it.

Run as `.venv/bin/python benchmarks/cuts.py [--therapists 100] [--sample 20]`. Generates a
clinic of N therapists x 30 clients x 26 weeks, analyses October 2026 and prints, for a sample of
therapists, the time to cut the analysis to one therapist (`Analysis.select`, as the batch does
for each report) and to pickle it (as it is sent to a worker), the cut's size, the clinic
report's payload (the whole analysis and the ratings) and the client's RSS. Run it at two sizes
to see how the cut grows with the clinic (BENCHMARKS.md, "Internet scale"). No target: figures
for the plan.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import tempfile
import time
from pathlib import Path

import psutil

from workbook.analysis.periods import parse_month
from workbook.analysis.pipeline import analyse
from workbook.data.config import load_config
from workbook.data.example_data import generate_clinic, write_clinic
from workbook.data.ingest import load_ratings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--therapists", type=int, default=100)
    parser.add_argument("--sample", type=int, default=20)
    args = parser.parse_args(argv)
    config = load_config(None)
    with tempfile.TemporaryDirectory(prefix="workbook-cuts-") as tmp:
        path = write_clinic(generate_clinic(therapists=args.therapists, clients_per_therapist=30,
                                            weeks=26, seed=7), Path(tmp) / "clinic.csv")
        ratings = load_ratings(path, config)
    start = time.perf_counter()
    analysis = analyse(ratings, config, parse_month("2026-10"))
    print(f"{args.therapists} therapists, {len(ratings):,} rows; the month's analysis "
          f"{time.perf_counter() - start:.2f} s")
    sample = sorted(ratings["therapist_id"].unique())[: args.sample]
    start = time.perf_counter()
    sizes = [len(pickle.dumps(analysis.select(therapist_id=t), protocol=5)) for t in sample]
    each = (time.perf_counter() - start) / len(sample)
    print(f"one therapist's cut + pickle: {each * 1000:.1f} ms (mean of {len(sample)}), "
          f"{sorted(sizes)[len(sizes) // 2] / 1e3:.0f} KB (median)")
    start = time.perf_counter()
    clinic = pickle.dumps((analysis, ratings), protocol=5)
    print(f"the clinic report's payload: {len(clinic) / 1e6:.0f} MB, pickled in "
          f"{time.perf_counter() - start:.2f} s")
    print(f"client RSS: {psutil.Process().memory_info().rss / 1e9:.2f} GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
