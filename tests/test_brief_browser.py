"""The supervision brief notebook in real JupyterLab, in headless Chromium (issue 14).

Run All on a copy of the notebook laid out like the repository (root/notebooks/, writing
`../reports`): the brief itself shows inline in its sandboxed frame, the notebook's own styles
are untouched by the report's, and a link under it opens the written PDF in a JupyterLab tab.
No console error, no request to another host. Uses tests/test_browser.py's JupyterLab setup;
skips without Chromium unless WORKBOOK_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest
from test_browser import (
    CHROMIUM_ARGS,
    LOCAL_HOSTS,
    ROOT,
    TIMEOUT_MS,
    find_chromium,
    free_port,
    prepare,
    run_all_cells,
    start_lab,
    stop_lab,
)

pytestmark = pytest.mark.browser


def copy_brief(root: Path) -> None:
    """The notebook beside the caseload review's copy, writing to <root>/reports."""
    nb = nbformat.read(ROOT / "notebooks" / "supervision_brief.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert 'out_dir = "reports"' in cell.source
    cell.source = cell.source.replace('out_dir = "reports"', 'out_dir = "../reports"')
    nbformat.write(nb, root / "notebooks" / "supervision_brief.ipynb")


def heading_size(page) -> str:
    """The computed font size of the notebook's own first heading (its markdown cell)."""
    return page.locator(".jp-MarkdownOutput h1").first.evaluate(
        "el => getComputedStyle(el).fontSize")


def test_supervision_brief_shows_inline_in_jupyterlab(tmp_path):
    chromium = find_chromium()
    from playwright.sync_api import sync_playwright

    port = free_port()
    root, env = prepare(tmp_path, port)
    copy_brief(root)
    lab = start_lab(tmp_path, env, port)
    errors: list[str] = []
    requests: list[str] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS,
                                         headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(f"http://127.0.0.1:{port}/lab/tree/notebooks/supervision_brief.ipynb")
            page.wait_for_selector(".jp-MarkdownOutput h1")
            before = heading_size(page)
            run_all_cells(page)
            brief = page.frame_locator("iframe.workbook-report")
            assert brief.locator("h1").inner_text() == "Supervision brief: supervisee T01"
            assert brief.locator("script").count() == 0
            assert heading_size(page) == before  # the report's CSS stays in its frame
            page.screenshot(path=str(tmp_path / "brief.png"))
            links = page.locator(".workbook-run a")
            names = [links.nth(i).inner_text() for i in range(links.count())]
            assert names == ["supervision-T01.pdf", "supervision-T01.html"]
            links.first.click()
            page.locator(".lm-TabBar-tabLabel", has_text="supervision-T01.pdf").wait_for()
            browser.close()
    finally:
        stop_lab(lab)
    written = (root / "reports" / "2026-10").iterdir()  # JupyterLab adds .ipynb_checkpoints/
    assert sorted(p.name for p in written if not p.name.startswith(".")) == [
        "supervision-T01.html", "supervision-T01.pdf"]
    remote = [u for u in requests if urlparse(u).scheme in ("http", "https", "ws", "wss")
              and urlparse(u).hostname not in LOCAL_HOSTS]
    assert remote == [], f"requests to other hosts: {remote}"
    assert errors == [], "console errors:\n" + "\n".join(errors)
    assert not (root / "notebooks" / "reports").exists()
