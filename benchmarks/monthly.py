"""Benchmark: the monthly batch at clinic scale, side by side with a per-therapist pipeline.

Run as `.venv/bin/python benchmarks/monthly.py [--baseline N] [--therapists 100]`.

1. Generates a clinic of 100 therapists x 30 clients x 26 weekly sessions (client and therapist
   ratings) with `workbook example-data`.
2. Runs `workbook monthly` on it and prints wall time, CPU time, peak memory (largest process and
   the whole process tree) and reports per second. Targets (../shared/DESIGN.md): <= 60 s wall,
   <= 1.5 GB peak.
3. Runs the baseline a user would otherwise write, for N therapists (default 10): papermill
   executes benchmarks/baseline_therapist.ipynb (the same analysis and charts) per therapist,
   then `jupyter nbconvert --to html --no-input` converts it. Prints the baseline's time per
   therapist and the ratio per report (target >= 30x, issue 17), measured in the same run.
4. With `--scheduler`, starts a local Dask cluster (`dask scheduler` and `--dask-workers` single-
   threaded `dask worker`s on 127.0.0.1, default 2, as many as the local pool's processes), runs
   the same month with `workbook monthly --scheduler` into another folder, checks its PDFs are
   byte-identical to the local run's, and prints its wall time, the cluster's peak memory and
   its overhead against the local pool (target <= 15%).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
BASELINE_NOTEBOOK = HERE / "baseline_therapist.ipynb"
TARGET_WALL, TARGET_RATIO, TARGET_MEMORY_GB, TARGET_DASK_OVERHEAD = 60.0, 30.0, 1.5, 0.15


class TreeSampler(threading.Thread):
    """Samples the RSS of a process and its children until stopped."""

    def __init__(self, pid: int, every: float = 0.1):
        super().__init__(daemon=True)
        self.root, self.every = psutil.Process(pid), every
        self.largest = self.total = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            sizes = []
            for proc in procs:
                try:
                    sizes.append(proc.memory_info().rss)
                except psutil.NoSuchProcess:
                    continue
            if sizes:
                self.largest = max(self.largest, max(sizes))
                self.total = max(self.total, sum(sizes))
            self.stopped.wait(self.every)


def run_measured(cmd: list[str]) -> dict:
    """Run a command; return wall and CPU seconds (itself and children) and peak memory."""
    before = psutil.Process().cpu_times()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = TreeSampler(proc.pid)
    sampler.start()
    output, _ = proc.communicate()
    wall = time.perf_counter() - start
    sampler.stopped.set()
    sampler.join()
    after = psutil.Process().cpu_times()
    cpu = (after.children_user - before.children_user) + (after.children_system
                                                          - before.children_system)
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{output}")
    return {"wall": wall, "cpu": cpu, "largest": sampler.largest, "total": sampler.total}


def run_baseline(data: Path, month: str, therapists: list[str], out: Path) -> float:
    """papermill + nbconvert per therapist; return the wall seconds for all of them."""
    start = time.perf_counter()
    for therapist in therapists:
        executed = out / f"baseline-{therapist}.ipynb"
        subprocess.run([str(BIN / "papermill"), str(BASELINE_NOTEBOOK), str(executed),
                        "-p", "data", str(data), "-r", "therapist_id", therapist,
                        "-r", "month", month, "-k", "python3", "--no-progress-bar"],
                       check=True, capture_output=True)
        subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input",
                        str(executed)], check=True, capture_output=True)
    return time.perf_counter() - start


def start_cluster(folder: Path, workers: int) -> tuple[str, list[subprocess.Popen]]:
    """A Dask scheduler on 127.0.0.1 (a free port) and `workers` single-threaded workers."""
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
           "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0"}
    log = open(folder / "cluster.log", "w")  # noqa: SIM115 - lives as long as the cluster
    common = dict(env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    info = folder / "scheduler.json"
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port",
                               "0", "--no-dashboard", "--scheduler-file", str(info)], **common)]
    while not info.exists():
        time.sleep(0.1)
    address = json.loads(info.read_text())["address"]
    procs += [subprocess.Popen([str(BIN / "dask"), "worker", address, "--host", "127.0.0.1",
                                "--nthreads", "1", "--no-dashboard", "--local-directory",
                                str(folder / f"w{i}")], **common) for i in range(workers)]
    from distributed import Client

    with Client(address, timeout=60) as client:
        client.wait_for_workers(workers, timeout=120)
    return address, procs


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a running process and all its descendants so far."""
    total = 0.0
    try:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return total
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob("*.pdf")}


def run_on_cluster(cmd: list[str], tmp: Path, workers: int, month: str) -> dict:
    """`cmd` with --scheduler on a fresh local cluster; its figures and the cluster's peak."""
    folder = tmp / "cluster"
    folder.mkdir()
    address, procs = start_cluster(folder, workers)
    samplers = [TreeSampler(p.pid) for p in procs]
    for sampler in samplers:
        sampler.start()
    try:
        out = tmp / "reports-dask"
        measured = run_measured([*cmd[:cmd.index("--out")], "--out", str(out),
                                 "--scheduler", address])
        measured["cluster_cpu"] = sum(tree_cpu(p.pid) for p in procs)
    finally:
        for sampler in samplers:
            sampler.stopped.set()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)
    measured["cluster_total"] = sum(s.total for s in samplers)
    measured["digests"] = digests(out / month)
    return measured


def gb(n: int) -> float:
    return n / 1024**3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--therapists", type=int, default=100)
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--weeks", type=int, default=26)
    parser.add_argument("--baseline", type=int, default=10, help="therapists in the baseline")
    parser.add_argument("--jobs", type=int, help="worker processes for workbook monthly")
    parser.add_argument("--scheduler", action="store_true",
                        help="also run the month on a local Dask cluster and compare")
    parser.add_argument("--dask-workers", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="workbook-bench-") as tmp:
        tmp = Path(tmp)
        data = tmp / "clinic.csv"
        subprocess.run([str(BIN / "workbook"), "example-data", "--out", str(data),
                        "--therapists", str(args.therapists), "--clients-per-therapist",
                        str(args.clients), "--weeks", str(args.weeks), "--seed", "7"],
                       check=True)
        month = "2026-10"
        cmd = [str(BIN / "workbook"), "monthly", "--data", str(data), "--month", month,
               "--out", str(tmp / "reports")]
        if args.jobs:
            cmd += ["--jobs", str(args.jobs)]
        batch = run_measured(cmd)
        reports = len(list((tmp / "reports" / month).glob("*.pdf")))
        names = sorted(p.stem.removeprefix("therapist-")
                       for p in (tmp / "reports" / month).glob("therapist-*.pdf"))
        dask = run_on_cluster(cmd, tmp, args.dask_workers, month) if args.scheduler else None
        local_digests = digests(tmp / "reports" / month)
        base_wall = run_baseline(data, month, names[: args.baseline], tmp)
    per_report = batch["wall"] / reports
    per_baseline = base_wall / max(1, min(args.baseline, len(names)))
    ratio = per_baseline / per_report
    checks = [("wall", batch["wall"] <= TARGET_WALL), ("ratio", ratio >= TARGET_RATIO),
              ("memory", gb(batch["total"]) <= TARGET_MEMORY_GB)]
    print(f"machine: {psutil.cpu_count()} cores, {gb(psutil.virtual_memory().total):.0f} GB")
    print(f"monthly batch: {reports} PDFs ({args.therapists} therapists + clinic)")
    print(f"  wall {batch['wall']:.1f} s (target <= {TARGET_WALL:g} s), CPU {batch['cpu']:.1f} s")
    print(f"  peak memory: largest process {gb(batch['largest']):.2f} GB, whole tree "
          f"{gb(batch['total']):.2f} GB (target <= {TARGET_MEMORY_GB} GB)")
    print(f"  {reports / batch['wall']:.2f} reports/s, {per_report:.2f} s per report")
    print(f"baseline (papermill + nbconvert per therapist, {min(args.baseline, len(names))} "
          f"therapists): {per_baseline:.2f} s per therapist")
    print(f"ratio per report: {ratio:.1f}x faster (target >= {TARGET_RATIO:g}x)")
    if dask is not None:
        overhead = dask["wall"] / batch["wall"] - 1
        same = dask["digests"] == local_digests
        print(f"dask ({args.dask_workers} workers x 1 thread on 127.0.0.1): wall "
              f"{dask['wall']:.1f} s, CPU of the command {dask['cpu']:.1f} s and of the cluster "
              f"(its start-up included) {dask['cluster_cpu']:.1f} s; peak memory: "
              f"command tree {gb(dask['total']):.2f} GB, cluster {gb(dask['cluster_total']):.2f}"
              f" GB; overhead vs the local pool {overhead:+.1%} (target <= "
              f"{TARGET_DASK_OVERHEAD:.0%}); PDFs byte-identical to the local run's: {same}")
        checks += [("dask overhead", overhead <= TARGET_DASK_OVERHEAD), ("dask bytes", same)]
    for name, ok in checks:
        print(f"{name}: {'PASS' if ok else 'FAIL'}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
