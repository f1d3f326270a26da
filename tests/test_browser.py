"""The caseload review in real JupyterLab, in headless Chromium, with no internet needed.

Starts JupyterLab on 127.0.0.1 (free port, no token, every Jupyter folder temporary, the
project's settings overrides from the environment) on a copy of the notebook and the example
data, runs all cells, waits for every chart, changes the client filter and checks the charts and
the agenda change, saves, shuts the kernel down and reopens the notebook: the charts show from
the saved widget state; so does papermill's output of the same notebook. No console error or
warning, no request to any other host and no news toast (the project's settings overrides).
Chromium is Debian's (/usr/bin/chromium), driven by Playwright (never `playwright install`).
Without Chromium the test skips, unless WORKBOOK_REQUIRE_BROWSER=1 (CI): then fails.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

from workbook.data.signs import SIGNS

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
TIMEOUT_MS = 60_000


def chromium_path() -> str | None:
    """Debian's Chromium, or None."""
    found = shutil.which("chromium")
    return found or (CHROMIUM if Path(CHROMIUM).is_file() else None)


def find_chromium() -> str:
    """Chromium's path when it and Playwright are present; else skip, or fail when
    WORKBOOK_REQUIRE_BROWSER=1 (CI)."""
    path, why = chromium_path(), "Chromium not found (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        path, why = None, "the playwright Python package is not installed"
    if path is None:
        if os.environ.get("WORKBOOK_REQUIRE_BROWSER") == "1":
            pytest.fail(f"WORKBOOK_REQUIRE_BROWSER=1 but {why}")
        pytest.skip(why)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(tmp: Path, port: int) -> tuple[Path, dict[str, str]]:
    """A root folder with the notebook and example data, and a private Jupyter setup."""
    root = tmp / "root"
    (root / "notebooks").mkdir(parents=True)
    shutil.copy(ROOT / "notebooks" / "caseload_review.ipynb", root / "notebooks")
    shutil.copytree(ROOT / "data" / "examples", root / "data" / "examples")
    jp = {name: tmp / name for name in ("path", "config", "data", "runtime", "ipython",
                                        "settings", "workspaces")}
    kernel = jp["path"] / "kernels" / "python3"
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3", "language": "python"}))
    jp["config"].mkdir(parents=True)
    (jp["config"] / "jupyter_server_config.json").write_text(json.dumps({
        "ServerApp": {"ip": "127.0.0.1", "port": port, "port_retries": 0,
                      "open_browser": False, "root_dir": str(root),
                      "allow_root": os.geteuid() == 0},
        "IdentityProvider": {"token": ""},
        "PasswordIdentityProvider": {"hashed_password": ""},
        # no news_url/check_for_updates_class here: the project's settings overrides
        # (jupyter/overrides.json, installed by the Makefile) must keep the news toast away
        "LabApp": {"extension_manager": "readonly"},
    }))
    panel = jp["settings"] / "@jupyterlab" / "notebook-extension"
    panel.mkdir(parents=True)  # start the notebook's kernel without asking
    (panel / "tracker.jupyterlab-settings").write_text(json.dumps({"autoStartDefaultKernel": True}))
    env = {**os.environ, "JUPYTER_PATH": str(jp["path"]), "JUPYTER_CONFIG_DIR": str(jp["config"]),
           "JUPYTER_DATA_DIR": str(jp["data"]), "JUPYTER_RUNTIME_DIR": str(jp["runtime"]),
           "IPYTHONDIR": str(jp["ipython"]), "JUPYTERLAB_SETTINGS_DIR": str(jp["settings"]),
           "JUPYTERLAB_WORKSPACES_DIR": str(jp["workspaces"])}
    return root, env


def start_lab(tmp: Path, env: dict[str, str], port: int) -> subprocess.Popen:
    """JupyterLab in its own process group; returns once it answers on /api/status."""
    log = (tmp / "jupyterlab.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "jupyterlab"], env=env, cwd=tmp,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2):
                return proc
        except OSError:
            time.sleep(0.3)
    stop_lab(proc)
    pytest.fail(f"JupyterLab did not start:\n{(tmp / 'jupyterlab.log').read_text()[-3000:]}")


def stop_lab(proc: subprocess.Popen) -> None:
    """Stop JupyterLab and its kernels (its own process group): TERM, then KILL."""
    for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            proc.poll()  # reap the server, so only live members keep the group
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


CHARTS_DRAWN = """() => { const c = [...document.querySelectorAll('.wb-chart')]
  .filter(e => e.offsetParent !== null);
  return c.length > 5 && c.every(e => e.dataset.rendered && e.dataset.rendered === e.dataset.version
                                      && e.querySelector('svg')); }"""


def sign_chart(page, key: str):
    """The app's chart element for a view key (a sign key, "heatmap", ...)."""
    return page.locator(f".wb-chart[data-key='{key}']").first


def watch(page, errors: list[str], requests: list[str]) -> None:
    """Collect console errors and warnings, page errors and every request."""
    page.on("console", lambda m: m.type in ("error", "warning")
            and errors.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("request", lambda r: requests.append(r.url))


def test_caseload_review_in_jupyterlab(tmp_path):
    """Run All in JupyterLab: the app draws, a filter changes the charts and the agenda; saved,
    its kernel shut down and reopened, the notebook shows the charts from the saved widget
    state, with no "model not found"; no request leaves 127.0.0.1, no console error or
    warning, no news toast."""
    chromium = find_chromium()
    from playwright.sync_api import sync_playwright

    port = free_port()
    root, env = prepare(tmp_path, port)
    execute_copy(root, env)
    lab = start_lab(tmp_path, env, port)
    errors: list[str] = []
    requests: list[str] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS,
                                         headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            watch(page, errors, requests)
            page.goto(f"http://127.0.0.1:{port}/lab/tree/notebooks/caseload_review.ipynb")
            run_all_cells(page)
            check_filters(page, tmp_path)
            check_no_news_toast(page)
            save_and_shut_down(page)
            page.close()
            check_reopened(browser, port, errors, requests, tmp_path)
            check_reopened(browser, port, errors, requests, tmp_path, "executed.ipynb")
            browser.close()
    finally:
        stop_lab(lab)
    saved = json.loads((root / "notebooks" / "caseload_review.ipynb").read_text())
    assert "application/vnd.jupyter.widget-state+json" in saved["metadata"]["widgets"]
    remote = [u for u in requests
              if urlparse(u).scheme not in ("data", "blob") and urlparse(u).hostname
              not in LOCAL_HOSTS]
    assert remote == [], f"requests to other hosts: {remote}"
    assert errors == [], "console errors and warnings:\n" + "\n".join(errors)


def run_all_cells(page) -> None:
    """Wait for the kernel (accepting a kernel dialog if one shows), then Run > Run All Cells."""
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    accept = page.locator(".jp-Dialog .jp-mod-accept")
    idle = page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    deadline, calm = time.monotonic() + 40, 0
    while calm < 4 and time.monotonic() < deadline:  # idle and no dialog for 2 s
        if accept.count():
            accept.first.click()
            calm = 0
        calm = calm + 1 if idle.count() and not accept.count() else 0
        page.wait_for_timeout(500)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def check_filters(page, tmp_path: Path) -> None:
    """Every chart drawn; one client chosen: the sign chart and the agenda change; the
    static copy is hidden in the live page."""
    page.wait_for_function(CHARTS_DRAWN)
    for sign in SIGNS:
        assert sign_chart(page, sign.key).locator("svg").count() >= 1
    hidden = page.evaluate("() => [...document.querySelectorAll('.wb-static')].every("
                           "e => e.offsetParent === null)")
    assert hidden, "the static copy shows beside the live app"
    chart = sign_chart(page, "attendance")
    before = chart.get_attribute("data-rendered")
    agenda = page.locator(".wb-agenda tr[data-client]")
    rows = agenda.count()
    options = page.locator(".wb-clients select option")
    assert options.count() >= 2
    first = options.nth(0).inner_text()
    page.locator(".wb-clients select").select_option(label=first)
    page.wait_for_function("([b]) => document.querySelector(\".wb-chart[data-key='attendance']\")"
                           ".dataset.rendered !== b", arg=[before])
    page.wait_for_function(CHARTS_DRAWN)
    assert agenda.count() <= 1 < rows or rows <= 1
    assert set(agenda.evaluate_all("rs => rs.map(r => r.dataset.client)")) <= {first}
    page.screenshot(path=str(tmp_path / "caseload_review.png"))


def save_and_shut_down(page) -> None:
    """Save (widget state with it, from the project's settings), then shut the kernel down."""
    page.locator(".jp-Notebook").first.click()
    page.keyboard.press("Control+s")
    page.wait_for_function("() => !document.querySelector('.jp-mod-dirty')")
    shut_down_kernels(page)


def shut_down_kernels(page) -> None:
    """End every session (and its kernel) of the server, through its REST API."""
    left = page.evaluate("""async () => {
      const x = document.cookie.match(/_xsrf=([^;]+)/);
      const headers = {"X-XSRFToken": x ? decodeURIComponent(x[1]) : ""};
      for (const s of await (await fetch("/api/sessions")).json())
        await fetch("/api/sessions/" + s.id, {method: "DELETE", headers});
      return (await (await fetch("/api/kernels")).json()).length; }""")
    assert left == 0


def execute_copy(root: Path, env: dict[str, str]) -> None:
    """A papermill run of the notebook (defaults), beside it as executed.ipynb, trusted as its
    user would (`jupyter trust`: JupyterLab shows no widget of an untrusted notebook, only the
    static copy)."""
    folder = root / "notebooks"
    executed = folder / "executed.ipynb"
    subprocess.run([sys.executable, "-m", "papermill", str(folder / "caseload_review.ipynb"),
                    str(executed), "-k", "python3", "--no-progress-bar", "--cwd", str(folder)],
                   env=env, check=True, capture_output=True, timeout=180)
    subprocess.run([sys.executable, "-m", "jupyter", "trust", str(executed)], env=env,
                   check=True, capture_output=True, timeout=60)


def check_reopened(browser, port: int, errors: list[str], requests: list[str],
                   tmp_path: Path, name: str = "caseload_review.ipynb") -> None:
    """A notebook opened with no kernel behind its widgets (the saved one, or papermill's
    output): the charts are drawn from the stored widget state, nothing says a model is
    missing, and the kernel it starts is shut down again."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    watch(page, errors, requests)
    page.goto(f"http://127.0.0.1:{port}/lab/tree/notebooks/{name}?reset")
    page.wait_for_function(CHARTS_DRAWN)
    assert page.get_by_text("model not found").count() == 0
    assert page.locator(".wb-agenda tr[data-client]").count() >= 1
    page.screenshot(path=str(tmp_path / f"reopened-{name}.png"))
    shut_down_kernels(page)
    page.close()


def check_no_news_toast(page) -> None:
    """JupyterLab never asks about (or shows) Jupyter news: the settings overrides say
    fetchNews "false" (without them a toast asks "Would you like to get notified about
    official Jupyter news?" over the charts)."""
    toasts = page.locator(".Toastify__toast, .jp-Notification-Toast").all_inner_texts()
    assert not [t for t in toasts if "news" in t.lower()], toasts
    assert page.get_by_text("official Jupyter news").count() == 0


def test_without_chromium_skips_unless_required(monkeypatch):
    monkeypatch.setitem(globals(), "chromium_path", lambda: None)
    monkeypatch.delenv("WORKBOOK_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Chromium not found"):
        find_chromium()
    monkeypatch.setenv("WORKBOOK_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="WORKBOOK_REQUIRE_BROWSER=1 but Chromium"):
        find_chromium()
