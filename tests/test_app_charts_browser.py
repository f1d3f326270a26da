"""The app's chart specs drawn by vega-embed in Debian Chromium (Playwright, offline): no Vega
warning or error in the console (e.g. "Infinite extent"), an SVG for each, no request made.
Skips without Chromium unless WORKBOOK_REQUIRE_BROWSER=1 (see tests/test_browser.py)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import vl_convert as vlc
from test_app_charts import START, caseload
from test_browser import CHROMIUM_ARGS, find_chromium

from workbook.analysis.pipeline import analyse
from workbook.data.config import Config
from workbook.data.signs import SIGN_KEYS
from workbook.views import app_charts as A
from workbook.views.course import course_specs
from workbook.views.filters import latest_scores
from workbook.views.svg import vegalite_version

pytestmark = pytest.mark.browser
CONFIG = Config()


def _specs() -> dict[str, dict]:
    """Every builder's spec at 30 clients x 26 weeks, a week's window, and empty inputs."""
    rows = caseload(30, 26)
    end = START + pd.Timedelta(days=7 * 26 - 1)
    analysis = analyse(rows, CONFIG)
    highlight = sorted(rows["client_id"].unique())[:6]
    latest = latest_scores(rows[rows["rater"] == "client"])
    specs = {f"sign:{s}": A.spec_caseload_sign(
        rows, s, config=CONFIG, rater="client", start=START, end=end, highlight=highlight,
        ruptures=analysis.ruptures) for s in SIGN_KEYS}
    week = end - pd.Timedelta(days=6)
    specs |= {
        "sign:week": A.spec_caseload_sign(rows, "trust_safety", config=CONFIG, rater="therapist",
                                          start=week, end=end, highlight=highlight),
        "heatmap": A.spec_latest_heatmap(latest, config=CONFIG, rater="client"),
        "gap": A.spec_gap_app(rows, config=CONFIG, signs=SIGN_KEYS[:3], start=START, end=end),
        "attendance": A.spec_attendance_app(rows, start=week, end=end),
        "outcome": A.spec_outcome_app(rows, "phq9", config=CONFIG, start=START, end=end),
        "outcome:empty": A.spec_outcome_app(rows, "gad7", config=CONFIG, start=START, end=end),
        "sign:empty": A.spec_caseload_sign(rows.iloc[:0], "trust_safety", config=CONFIG,
                                           rater="client", start=START, end=end),
        "heatmap:empty": A.spec_latest_heatmap(latest.iloc[:0], config=CONFIG, rater="client"),
    }
    specs |= course_specs(analysis.ratings, analysis.ruptures, config=CONFIG,
                          client_id="C0003", start=START + pd.Timedelta(weeks=8), end=end)
    return specs


def test_app_charts_draw_in_chromium_without_warnings():
    chromium = find_chromium()
    from playwright.sync_api import sync_playwright

    specs = _specs()
    bundle = vlc.javascript_bundle(None, vl_version=vegalite_version())
    page_html = "<!doctype html><html><body><div id='charts'></div></body></html>"
    messages, requests = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("console", lambda m: messages.append((m.type, m.text)))
            page.on("pageerror", lambda e: messages.append(("pageerror", str(e))))
            page.on("request", lambda r: requests.append(r.url))
            page.set_content(page_html)
            page.add_script_tag(content=bundle)
            drawn = page.evaluate("""async (specs) => {
                const out = {};
                for (const [key, spec] of Object.entries(specs)) {
                    const div = document.createElement('div');
                    document.getElementById('charts').appendChild(div);
                    await vegaEmbed(div, spec, {renderer: 'svg', actions: false});
                    out[key] = div.querySelectorAll('svg').length;
                }
                return out;
            }""", json.loads(json.dumps(specs)))
        finally:
            browser.close()
    assert drawn == dict.fromkeys(specs, 1)
    assert [m for m in messages if m[0] in ("warning", "error", "pageerror")] == []
    assert [u for u in requests if not u.startswith(("about:", "data:"))] == []
