"""Drive `workbook review` (the caseload review app served by Voilà) in Debian Chromium.

Shared by tests/test_app_browser.py, tests/test_review.py and benchmarks/app_browser.py:

- `start_review(args)` starts `python -m workbook review --no-browser ...` on a free port in
  its own session and returns once it printed its URL; `stop_review(app)` sends SIGTERM and
  returns the exit code.
- `launch_chromium(pw)` starts Debian's Chromium with tests/test_browser.py's arguments
  (never `playwright install`); `watch_page(page)` collects console errors and warnings, page
  errors and every request's URL into a `PageLog`.
- `wait_ready(page)` waits for the page the app contract (issue 14) calls ready: `.wb-app`
  exists and every visible `.wb-chart` has data-rendered == data-version; `wait_shown(page)` only
  for Voilà to have shown the executed notebook. `chart_versions(page)` reads every chart's
  data-rendered; `wait_rendered_after(page, before, keys)` waits until those charts are drawn at
  a newer version than in `before`.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from test_browser import CHROMIUM_ARGS, LOCAL_HOSTS, chromium_path, find_chromium

ROOT = Path(__file__).resolve().parent.parent
__all__ = ["App", "PageLog", "chromium_path", "find_chromium", "start_review", "stop_review",
           "launch_chromium", "watch_page", "wait_shown", "wait_ready", "chart_versions",
           "wait_rendered_after", "agenda_text", "source_on_screen"]
URL_LINE = re.compile(r"(http://127\.0\.0\.1:(\d+)/\?token=([A-Za-z0-9_-]+))")
TIMEOUT_MS = 60_000


@dataclass
class App:
    """A running `workbook review`: its process, URL (with token), port and token."""

    process: subprocess.Popen
    url: str
    port: int
    token: str
    started: float  # time.monotonic() when the command was started

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


@dataclass
class PageLog:
    """What a page did: console errors and warnings, page errors, request URLs."""

    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def remote_requests(self) -> list[str]:
        """Requests to a host other than 127.0.0.1/localhost (data: and blob: are local)."""
        return [u for u in self.requests if urlparse(u).scheme not in ("data", "blob", "about")
                and urlparse(u).hostname not in LOCAL_HOSTS]


def start_review(args: Sequence[str] = (), env: dict[str, str] | None = None,
                 timeout: float = 60.0) -> App:
    """`workbook review --no-browser ARGS` in its own session; returns once it printed the
    URL line (the server then accepts connections). Fails with its output if it exits."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "workbook", "review", "--no-browser", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        env={**os.environ, **(env or {})}, start_new_session=True)
    seen: list[str] = []
    deadline = started + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        found = URL_LINE.search(line)
        if found:
            return App(process, found.group(1), int(found.group(2)), found.group(3), started)
    stop_review_process(process)
    raise RuntimeError("workbook review did not print its URL:\n" + "".join(seen)[-3000:])


def stop_review(app: App, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
    """Send `sig` to `workbook review` (only to it: it stops Voilà itself); its exit code."""
    return stop_review_process(app.process, sig, timeout)


def stop_review_process(process: subprocess.Popen, sig: int = signal.SIGTERM,
                        timeout: float = 30.0) -> int:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:  # a test failure, not a hang: kill the session
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    if process.stdout:
        process.stdout.close()
    return process.returncode


def launch_chromium(pw, chromium: str):
    """Debian's Chromium (headless), with the project's arguments."""
    return pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)


def watch_page(page, log: PageLog | None = None) -> PageLog:
    """Collect the page's console errors and warnings, page errors and requests."""
    log = log or PageLog()
    page.on("console", lambda m: m.type in ("error", "warning")
            and log.console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: log.console.append(f"page error: {e}"))
    page.on("request", lambda r: log.requests.append(r.url))
    return log


SHOWN_JS = """() => !document.getElementById('loading')
    && !!document.getElementById('rendered_cells')
    && document.getElementById('rendered_cells').style.display !== 'none'"""

READY_JS = """() => {
    if (!document.querySelector('.wb-app')) return false;
    const charts = [...document.querySelectorAll('.wb-chart')]
        .filter(c => c.offsetParent !== null);
    return charts.every(c => c.dataset.version !== undefined
                             && c.dataset.rendered === c.dataset.version);
}"""

VERSIONS_JS = """() => Object.fromEntries([...document.querySelectorAll('.wb-chart')]
    .map(c => [c.dataset.key, {version: c.dataset.version, rendered: c.dataset.rendered,
                               visible: c.offsetParent !== null}]))"""


def wait_shown(page, timeout_ms: int = TIMEOUT_MS) -> None:
    """Voilà has executed the notebook and shown its outputs (its spinner is gone), and no
    widget is still "Loading widget..."."""
    page.wait_for_function(SHOWN_JS, timeout=timeout_ms, polling=50)
    page.wait_for_function("() => !document.body.innerText.includes('Loading widget...')",
                           timeout=timeout_ms, polling=50)


def wait_ready(page, timeout_ms: int = TIMEOUT_MS) -> None:
    """The app is ready (contract): `.wb-app` exists and every visible `.wb-chart` has
    data-rendered == data-version."""
    page.wait_for_function(READY_JS, timeout=timeout_ms, polling=20)


def chart_versions(page) -> dict[str, dict]:
    """Every `.wb-chart` by data-key: its version, rendered version and visibility."""
    return page.evaluate(VERSIONS_JS)


def wait_rendered_after(page, before: dict[str, dict], keys: Iterable[str] | None = None,
                        timeout_ms: int = TIMEOUT_MS) -> None:
    """Wait until the charts `keys` (default: every visible one) are drawn at a version other
    than in `before`, and every visible chart is drawn at its version."""
    page.wait_for_function(
        """([before, keys]) => {
            const charts = [...document.querySelectorAll('.wb-chart')]
                .filter(c => c.offsetParent !== null);
            if (!charts.every(c => c.dataset.rendered === c.dataset.version)) return false;
            const wanted = keys || charts.map(c => c.dataset.key);
            return wanted.every(k => {
                const c = charts.find(e => e.dataset.key === k);
                return c && (!before[k] || c.dataset.rendered !== before[k].rendered);
            });
        }""", arg=[before, list(keys) if keys is not None else None], timeout=timeout_ms,
        polling=10)


def agenda_text(page) -> str:
    """The live agenda's text (its client rows in order, with their reasons)."""
    return page.locator(".wb-agenda").inner_text()


def source_on_screen(page) -> list[str]:
    """What of the notebook's code and plumbing is visible: any code cell's input area,
    editor or prompt; any `pre`/`code` block that reads like Python; any text naming
    papermill, `globals()` or "Run All" (a markdown cell's rendered text is allowed)."""
    return page.evaluate("""() => {
        const seen = el => el.offsetParent !== null && el.getClientRects().length > 0;
        const out = [];
        const inputs = '.jp-CodeCell .jp-InputArea, .jp-CodeCell .jp-Cell-inputWrapper,'
            + ' .jp-InputArea-editor, .jp-InputPrompt, .jp-CodeMirrorEditor';
        for (const el of document.querySelectorAll(inputs)) {
            if (seen(el)) out.push('input: ' + el.textContent.slice(0, 80));
        }
        const python = /(^|\\n)\\s*(from \\S+ import|import \\w|def \\w+\\(|\\w+ = \\w+\\()/;
        for (const el of document.querySelectorAll('pre, code')) {
            if (seen(el) && python.test(el.textContent)) {
                out.push('source: ' + el.textContent.slice(0, 80));
            }
        }
        const plumbing = /papermill|globals\\(\\)|Run All|open_caseload_review/;
        const text = document.body.innerText;
        const hit = text.match(plumbing);
        if (hit) out.push('plumbing: ' + text.slice(Math.max(0, hit.index - 40), hit.index + 40));
        return out;
    }""")
