"""Benchmark: ingest + validate 1,000,000 rating rows (target <= 5 s each, ../shared/DESIGN.md):
a ratings CSV (the baseline), the same rows from SQLite and from PostgreSQL (a throwaway cluster
on 127.0.0.1, see tests/pgserver.py), and a wide SRS+ORS export (FIT-style) mapped onto the signs.
Each is printed with its ratio to the CSV baseline of the same run (the machine is shared).

Run as `.venv/bin/python benchmarks/ingest.py [--rows N] [--keep DIR] [--only csv,sqlite,...]`.
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
from workbook.data.config import Config
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


def fill_store(url: str, csv_path: Path) -> float:
    """Write the CSV's rows into the store's table at `url` (setup; seconds taken)."""
    from workbook.data.sources import store
    from workbook.data.sources.database import open_engine
    from workbook.data.sources.urls import parse_location

    start = time.perf_counter()
    ratings = load_ratings(csv_path)
    location = parse_location(url, table_required=True)
    engine = open_engine(location, create=True)
    with engine.begin() as conn:
        from sqlalchemy import MetaData

        table = store.ratings_table(MetaData(), location.table, None, Config())
        table.create(conn)
        store._insert(conn, table, store._records(ratings), location)
    engine.dispose()
    return time.perf_counter() - start


def write_srs_ors(rows: int, path: Path, seed: int = 0) -> None:
    """A wide FIT-style export: one row per session, SRS1-4, Total_SRS, ORSQ1-4, Total_ORS."""
    rng = np.random.default_rng(seed)
    weeks = 26
    client = np.arange(rows) // weeks
    week = np.arange(rows) % weeks
    dates = np.datetime64(END - timedelta(weeks=weeks)) + (week * 7 + client % 5).astype(
        "timedelta64[D]")
    frame = pd.DataFrame({
        "client_id": np.char.add("C", (client + 1).astype(str)),
        "therapist_id": np.char.add("T", (client // 30 + 1).astype(str)),
        "session_date": pd.to_datetime(dates).strftime("%Y-%m-%d")})
    srs = rng.integers(60, 101, (rows, 4)) / 10
    ors = rng.integers(20, 101, (rows, 4)) / 10
    for name, items in (("SRS", srs), ("ORSQ", ors)):
        for i in range(4):
            frame[f"{name}{i + 1}"] = items[:, i]
        frame[f"Total_{name[:3]}"] = items.sum(axis=1).round(1)
    frame.to_csv(path, index=False)


def timed(source) -> tuple[int, float]:
    start = time.perf_counter()
    rows = len(load_ratings(source))
    return rows, time.perf_counter() - start


def run(name: str, source, csv_path: Path | None, repeats: int, target: float) -> bool:
    """Time `source`, alternating with the CSV baseline (the machine is shared: the load
    changes within a run), and print the best of each and their ratio."""
    times, base = [], []
    rows = 0
    for _ in range(repeats):
        if csv_path is not None:
            base.append(timed(csv_path)[1])
        rows, seconds = timed(source)
        times.append(seconds)
    seconds = min(times)
    ratio = (f"  x{seconds / min(base):.2f} of the CSV ({min(base):.2f} s alongside)"
             if base else "")
    verdict = "PASS" if seconds <= target else "FAIL"
    print(f"{name:<22} rows: {rows:,}  seconds: {seconds:.2f}  rows/s: {rows / seconds:,.0f}"
          f"{ratio}  target: <= {target:.2f} s  {verdict}", flush=True)
    return verdict == "PASS"


def main(argv: list[str] | None = None) -> int:
    """Write the inputs, time load_ratings on each, print the figures against the target."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="folder to keep the inputs in (default: temp)")
    parser.add_argument("--only", default="csv,sqlite,postgresql,srs-ors",
                        help="which sources to time (the CSV baseline always runs)")
    args = parser.parse_args(argv)
    wanted = set(args.only.split(","))
    target = TARGET_SECONDS * args.rows / 1_000_000
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        path = folder / f"ratings_{args.rows}.csv"
        source = "existing file"
        if not path.exists():
            source = write_ratings(args.rows, path)
        print(f"data: {path} ({path.stat().st_size / 1e6:.0f} MB, {source})")
        ok &= run("csv (baseline)", path, None, args.repeats, target)
        if "sqlite" in wanted:
            db = folder / f"ratings_{args.rows}.db"
            url = f"sqlite:///{db}?table=ratings"
            if source != "existing file" or not db.exists():  # a kept store is reused
                db.unlink(missing_ok=True)
                print(f"sqlite: store filled in {fill_store(url, path):.1f} s (setup, not "
                      "timed)")
            ok &= run("sqlite", url, path, args.repeats, target)
        if "postgresql" in wanted:
            ok &= _postgresql(path, args.repeats, target)
        if "srs-ors" in wanted:
            export = folder / f"srs_ors_{args.rows}.csv"
            if not export.exists():
                write_srs_ors(args.rows, export)
            ok &= run("srs+ors wide export", export, path, args.repeats, target)
    return 0 if ok else 1


def _postgresql(path: Path, repeats: int, target: float) -> bool:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from pgserver import find_bindir, running_cluster

    if find_bindir() is None:
        print("postgresql: no server binaries (apt-get install postgresql); not timed")
        return False
    with running_cluster() as url:
        url += "?table=ratings"
        print(f"postgresql: store filled in {fill_store(url, path):.1f} s (setup, not timed)")
        return run("postgresql", url, path, repeats, target)


if __name__ == "__main__":
    sys.exit(main())
