"""Benchmark: the caseload review app (`workbook review`) in Debian Chromium, one therapist with
30 clients x 26 weekly sessions, client and therapist ratings (targets, ../shared/DESIGN.md:
ready <= 10 s cold; a filter event to every chart and the agenda updated <= 250 ms).

(a) From starting `workbook review --no-browser` to the ready page in Chromium (a fresh server,
    kernel and page each run; the browser process is started before the clock), cold: once with
    an empty ~/.cache/workbook (HOME and XDG_CACHE_HOME in a fresh temp folder) and once with the
    cache warm. Ready is the app contract's (`.wb-app`, every visible `.wb-chart` drawn at its
    version).
(b) For each filter (clients, preset, rater, signs): from the filter's change event, dispatched
    in the page, to every visible `.wb-chart` drawn at its new version and the agenda's text
    changed (not for signs: the agenda follows therapist, clients, dates and rater), timed in
    the page (performance.now, a MutationObserver), median of --runs runs alternating between
    two values; for the preset every chart over time (not the heatmap of latest scores).

Run as `.venv/bin/python benchmarks/app_browser.py [--runs N] [--starts N]`.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from appdriver import (  # noqa: E402
    find_chromium,
    launch_chromium,
    start_review,
    stop_review,
    wait_ready,
    wait_shown,
    watch_page,
)
from caseloads import weekly_caseload as caseload  # noqa: E402

from workbook.data.signs import SIGN_KEYS  # noqa: E402

READY_TARGET_S = 10.0
FILTER_TARGET_MS = 250.0




def wait_page_ready(page, marks: dict[str, float] | None = None) -> None:
    """Wait for the ready page; `marks` gets the time.monotonic() when Voila showed the
    executed notebook."""
    wait_shown(page)
    if marks is not None:
        marks["shown"] = time.monotonic()
    wait_ready(page)


def time_start(browser, data: Path, env: dict[str, str]) -> tuple[float, str]:
    """Seconds from starting `workbook review` to the ready page, and where the time went
    (URL printed, notebook executed and shown, charts drawn)."""
    app = start_review(["--data", str(data)], env=env)
    try:
        url_at = time.monotonic()
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        marks: dict[str, float] = {}
        page.goto(app.url)
        wait_page_ready(page, marks)
        ready_at = time.monotonic()
        page.close()
        phases = (f"URL {url_at - app.started:.1f} s, shown +{marks['shown'] - url_at:.1f} s, "
                  f"ready +{ready_at - marks['shown']:.1f} s")
        return ready_at - app.started, phases
    finally:
        stop_review(app)


# In the page: set a <select>'s values, dispatch `change`, resolve with the ms until every
# visible .wb-chart is drawn at its version, the visible ones of `keys` (null: all) at a version
# other than before, and (agendaToo) the agenda's text changed.
TIME_FILTER_JS = """async ([selector, values, keys, agendaToo]) => {
    const select = document.querySelector(selector);
    const charts = () => [...document.querySelectorAll('.wb-chart')]
        .filter(c => c.offsetParent !== null);
    const before = Object.fromEntries(charts().map(c => [c.dataset.key, c.dataset.rendered]));
    const agenda = document.querySelector('.wb-agenda').innerText;
    const done = () => {
        const shown = charts();
        if (!shown.every(c => c.dataset.rendered === c.dataset.version)) return false;
        const wanted = shown.filter(c => !keys || keys.includes(c.dataset.key));
        return wanted.length > 0 && wanted.every(c => c.dataset.rendered !== before[c.dataset.key])
            && (!agendaToo || document.querySelector('.wb-agenda').innerText !== agenda);
    };
    return await new Promise((resolve, reject) => {
        const observer = new MutationObserver(() => {
            if (done()) { observer.disconnect(); resolve(performance.now() - t0); }
        });
        observer.observe(document.body, {subtree: true, childList: true, attributes: true,
                                         characterData: true});
        setTimeout(() => { observer.disconnect(); reject(new Error('no update in 20 s')); },
                   20000);
        for (const o of select.options) o.selected = values.includes(o.value);
        const t0 = performance.now();
        select.dispatchEvent(new Event('change', {bubbles: true}));
    });
}"""

def options(page, selector: str) -> list[dict]:
    return page.locator(selector).evaluate(
        "s => [...s.options].map(o => ({value: o.value, text: o.textContent.toLowerCase(),"
        " selected: o.selected}))")


def filter_cases(page) -> dict[str, tuple[str, list, list, list | None, bool]]:
    """Each filter kind: its select, two values to alternate between, the charts it must
    re-render (None: every visible one) and whether the agenda must change (issue 14: it
    follows therapist, clients, dates and rater; not signs)."""
    clients = [o["value"] for o in options(page, ".wb-clients select")]
    preset = options(page, ".wb-preset select")
    month = next(o["value"] for o in preset if re.search(r"(this|latest).month", o["text"]))
    three = next(o["value"] for o in preset if re.search(r"3.months", o["text"]))
    over_time = [k for k in chart_keys(page) if k != "heatmap"]
    raters = [o["value"] for o in options(page, ".wb-rater select")]
    signs = [o["value"] for o in options(page, ".wb-signs select")]
    return {
        "clients": (".wb-clients select", [clients[0]], [], None, True),
        "preset/dates": (".wb-preset select", [three], [month], over_time, True),
        "rater": (".wb-rater select", [raters[-1]], [raters[0]], [*SIGN_KEYS, "heatmap"], True),
        "signs": (".wb-signs select", [signs[0]], signs, ["heatmap", "gap"], False),
    }


def chart_keys(page) -> list[str]:
    """The keys of the visible charts."""
    return page.evaluate("() => [...document.querySelectorAll('.wb-chart')]"
                         ".filter(c => c.offsetParent !== null).map(c => c.dataset.key)")


def time_filters(page, runs: int) -> dict[str, list[float] | str]:
    """ms per filter change, `runs` per kind (alternating values), after one warm-up pair; or
    why a kind could not be timed."""
    from playwright.sync_api import Error

    times: dict[str, list[float] | str] = {}
    for kind, (selector, first, second, keys, agenda) in filter_cases(page).items():
        times[kind] = []
        for i in range(runs + 2):
            values = first if i % 2 == 0 else second
            try:
                ms = page.evaluate(TIME_FILTER_JS, [selector, values, keys, agenda])
            except Error as exc:
                times[kind] = f"{selector} -> {values}: {str(exc).splitlines()[0]}"
                break
            if i >= 2:
                times[kind].append(ms)
    return times


def report_starts(label: str, seconds: list[float]) -> None:
    worst = max(seconds)
    print(f"  {label:<32} {', '.join(f'{s:.1f}' for s in seconds):<18} s   target "
          f"<= {READY_TARGET_S:.0f} s   {'PASS' if worst <= READY_TARGET_S else 'FAIL'}")


def report_filter(kind: str, times: list[float] | str) -> None:
    if isinstance(times, str):
        print(f"  {kind:<14} not timed: {times}   target <= {FILTER_TARGET_MS:.0f} ms   FAIL")
        return
    median = statistics.median(times)
    print(f"  {kind:<14} median {median:7.1f} ms  (min {min(times):.0f}, max {max(times):.0f},"
          f" n={len(times)})   target <= {FILTER_TARGET_MS:.0f} ms   "
          f"{'PASS' if median <= FILTER_TARGET_MS else 'FAIL'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed changes per filter (median)")
    parser.add_argument("--starts", type=int, default=1, help="cold starts of each kind")
    args = parser.parse_args(argv)
    chromium = find_chromium()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="wb-app-bench-") as tmp:
        data = Path(tmp) / "caseload.csv"
        frame = caseload(phq9=False).assign(supervisor_id="S1", site="north")
        frame.to_csv(data, index=False, date_format="%Y-%m-%d")
        print(f"{len(frame):,} rating rows, {frame['client_id'].nunique()} clients x "
              f"{frame['session_number'].max()} sessions, client + therapist ratings")
        with sync_playwright() as pw:
            browser = launch_chromium(pw, chromium)
            empty, warm, phases = [], [], []
            for i in range(args.starts):
                home = Path(tmp) / f"home{i}"
                (home / ".cache").mkdir(parents=True)
                seconds, where = time_start(browser, data, {
                    "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")})
                empty.append(seconds)
                phases.append(f"empty: {where}")
            for _ in range(args.starts):
                seconds, where = time_start(browser, data, {})
                warm.append(seconds)
                phases.append(f"warm: {where}")
            print("(a) `workbook review` to the ready page (app readiness), fresh server, "
                  "kernel and page:")
            report_starts("empty ~/.cache/workbook", empty)
            report_starts("warm cache", warm)
            for line in phases:
                print(f"      {line}")
            measure_filters(browser, data, args.runs)
            browser.close()
    return 0


def measure_filters(browser, data: Path, runs: int) -> None:
    """(b): one server and page; each filter kind timed in the page."""
    app = start_review(["--data", str(data)])
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        log = watch_page(page)
        page.goto(app.url)
        wait_page_ready(page)
        print("(b) filter event to every visible chart re-rendered and the agenda updated "
              "(app):")
        for name, times in time_filters(page, runs).items():
            report_filter(name, times)
        print(f"  page: {len(log.requests)} requests, {len(log.remote_requests())} to other "
              f"hosts, {len(log.console)} console errors/warnings")
        for message, count in collections.Counter(m[:140] for m in log.console).most_common(6):
            print(f"    {count} x {message}")
    finally:
        stop_review(app)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
