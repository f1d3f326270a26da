"""Benchmark: the Dask executor's own cost per task, without any rendering.

Run as `.venv/bin/python benchmarks/dask_gap.py [--tasks 40] [--seconds 0.3] [--workers 2]`.
Starts a local cluster (as benchmarks/monthly.py does), then runs TASKS tasks that each sleep
SECONDS with 200 KB of input and 300 KB of output (a report's size) through `DaskExecutor`,
twice, and prints the wall time against the ideal (TASKS x SECONDS / WORKERS) and the gap per
task on a worker: what the executor and the scheduler add between one report and the next,
connecting included.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def sleep_and_return(seconds: float, payload: bytes, size: int) -> bytes:
    """A stand-in for a report: data in, a file's bytes out."""
    time.sleep(seconds)
    return bytes(size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=0.3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])
    sys.path.insert(0, str(HERE))
    from dask_gap import sleep_and_return as task  # the workers import it by this name
    from monthly import start_cluster

    from workbook.runs.cluster import DaskExecutor
    from workbook.runs.pool import Task

    with tempfile.TemporaryDirectory(prefix="workbook-gap-") as tmp:
        address, procs = start_cluster(Path(tmp), args.workers)
        try:
            ideal = args.tasks * args.seconds / args.workers
            for run in (1, 2):
                tasks = [Task(f"t{i}", task, (args.seconds, bytes(200_000), 300_000))
                         for i in range(args.tasks)]
                start = time.monotonic()
                outcomes = list(DaskExecutor(address).run(tasks))
                wall = time.monotonic() - start
                assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
                gap = (wall - ideal) / (args.tasks / args.workers)
                print(f"run {run}: {args.tasks} tasks of {args.seconds} s on {args.workers} "
                      f"workers: {wall:.2f} s (ideal {ideal:.2f} s), {gap * 1000:.0f} ms per "
                      f"task on a worker")
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
