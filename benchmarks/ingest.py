"""Benchmark: ingest + validate a 1,000,000-row ratings CSV (target <= 5 s, ../shared/DESIGN.md).

Run as `.venv/bin/python benchmarks/ingest.py [--rows N] [--keep DIR]`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from workbook import load_ratings
from workbook.data.columns import BUILTIN_MEASURE_KEYS
from workbook.data.signs import SIGN_KEYS

TARGET_SECONDS = 5.0
END = date(2025, 12, 31)


def synthetic_ratings(rows: int, seed: int = 0) -> pd.DataFrame:
    """A contract-valid frame of about `rows` rating rows: weekly sessions, client + therapist."""
    rng = np.random.default_rng(seed)
    weeks = 26
    sessions = max(1, rows // 2)
    clients = max(1, -(-sessions // weeks))
    client = np.repeat(np.arange(clients), weeks)[:sessions]
    week = np.tile(np.arange(weeks), clients)[:sessions]
    start = END - timedelta(weeks=weeks)
    dates = np.datetime64(start) + (week * 7 + client % 5).astype("timedelta64[D]")
    attendance = rng.choice(["attended", "cancelled", "no_show"], sessions, p=[0.85, 0.1, 0.05])
    frame = pd.DataFrame({
        "client_id": np.char.add("C", (client + 1).astype(str)),
        "therapist_id": np.char.add("T", (client // 30 + 1).astype(str)),
        "supervisor_id": np.char.add("S", (client // 300 + 1).astype(str)),
        "site": np.where(client % 2 == 0, "north", "south"),
        "session_date": pd.to_datetime(dates).strftime("%Y-%m-%d"),
        "session_number": week + 1,
        "attendance": attendance,
    })
    frame = pd.concat([frame.assign(rater="client"), frame.assign(rater="therapist")])
    n = len(frame)
    for key in SIGN_KEYS:
        frame[key] = rng.integers(4, 11, n).astype(float)
    for key in BUILTIN_MEASURE_KEYS[:3]:
        frame[key] = np.where(rng.random(n) < 0.2, rng.integers(0, 21, n), np.nan)
    frame.loc[frame["attendance"] != "attended", list(SIGN_KEYS)] = np.nan
    frame["note"] = ""
    return frame.iloc[:rows]


def write_ratings(rows: int, path: Path) -> str:
    """Write the benchmark CSV, with the project's generator when it is available."""
    try:
        from workbook.data.example_data import generate_clinic, write_clinic
    except ImportError:
        synthetic_ratings(rows).to_csv(path, index=False)
        return "numpy fallback generator"
    therapists = max(1, -(-rows // (30 * 52)))  # 26 weekly sessions, two raters, at most
    while True:
        frame = generate_clinic(therapists=therapists, clients_per_therapist=30, weeks=26,
                                seed=0, end=END, plant=False)
        if len(frame) >= rows:
            break
        therapists = int(therapists * rows / max(len(frame), 1) * 1.05) + 1
    write_clinic(frame.iloc[:rows], path)
    return f"workbook.data.example_data ({therapists} therapists x 30 clients x 26 weeks)"


def best_of(path: Path, repeats: int) -> tuple[int, float]:
    """Rows loaded and the best wall time of `repeats` loads."""
    times, rows = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        rows = len(load_ratings(path))
        times.append(time.perf_counter() - start)
    return rows, min(times)


def main(argv: list[str] | None = None) -> int:
    """Write the CSV, time load_ratings on it, print the figure against the target."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="folder to keep the CSV in (default: temp)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        path = folder / f"ratings_{args.rows}.csv"
        source = "existing file"
        if not path.exists():
            source = write_ratings(args.rows, path)
        print(f"data: {path} ({path.stat().st_size / 1e6:.0f} MB, {source})")
        rows, seconds = best_of(path, args.repeats)
    target = TARGET_SECONDS * args.rows / 1_000_000
    verdict = "PASS" if seconds <= target else "FAIL"
    print(f"rows: {rows:,}  seconds: {seconds:.2f}  rows/s: {rows / seconds:,.0f}  "
          f"target: <= {target:.2f} s  {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
