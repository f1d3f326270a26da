"""Benchmark: the kernel's share of a filter change in the caseload app, 30 clients x 26 weekly
sessions, client and therapist ratings.

Times, without a kernel or a browser, setting a control's `.value` in
`workbook.views.app.CaseloadApp` until the headline, the agenda and every shown chart hold what
the page is sent, median of several runs, for each kind of filter change, over the whole
record (the heaviest case). The page's share (drawing) is in benchmarks/app_browser.py; the
target for both together is <= 250 ms (../shared/DESIGN.md), so the kernel's budget here is
TARGET_MS.

Run as `.venv/bin/python benchmarks/filters.py [--runs N]`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from caseloads import weekly_caseload as caseload  # noqa: E402

from workbook.analysis.periods import Period
from workbook.data.config import Config
from workbook.data.signs import SIGN_KEYS
from workbook.views.app import CaseloadApp, open_caseloads

TARGET_MS = 120.0




def median_ms(change: Callable[[int], None], runs: int) -> float:
    """Median wall time of `change(i)` over `runs` runs (after one warm-up), in ms."""
    change(-1)
    times = []
    for i in range(runs):
        start = time.perf_counter()
        change(i)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per filter (median)")
    args = parser.parse_args(argv)
    ratings = caseload(phq9=False)
    last = ratings["session_date"].max()
    source = open_caseloads(ratings, Config(), therapist_id=None, supervisor_id=None,
                            only_therapist=False, month=Period(last.replace(day=1), last))
    start = time.perf_counter()
    app = CaseloadApp(source)
    app.preset.value = "all"
    print(f"{len(ratings):,} rating rows, {len(app.clients.options)} clients; "
          f"app built in {time.perf_counter() - start:.2f} s")
    clients = app.clients.options
    presets = ("all", "3m", "month")
    changes = {
        "clients": lambda i: setattr(app.clients, "value", clients[i % 5: 20 + i % 5]),
        "preset": lambda i: setattr(app.preset, "value", presets[i % 3]),
        "rater": lambda i: setattr(app.rater, "value", ("therapist", "client")[i % 2]),
        "signs": lambda i: setattr(app.signs, "value", SIGN_KEYS[: 1 + (i + 1) % 5]),
    }
    failed = []
    for name, change in changes.items():
        ms = median_ms(change, args.runs)
        verdict = "PASS" if ms <= TARGET_MS else "FAIL"
        failed += [name] if verdict == "FAIL" else []
        print(f"filter change ({name}): median {ms:.1f} ms over {args.runs} runs "
              f"(target <= {TARGET_MS:.0f} ms): {verdict}")
    print("FAIL: " + ", ".join(failed) if failed else "PASS: every filter change within target")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
