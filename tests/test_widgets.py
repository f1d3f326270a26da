"""The filter panel's wiring, without a kernel: set a widget's .value, read the charts' data."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import pytest
from test_filters import START, make_ratings  # tests/ is on sys.path under pytest

from workbook.analysis.periods import Period
from workbook.analysis.pipeline import analyse
from workbook.data.config import Config
from workbook.data.signs import SIGN_KEYS
from workbook.views.charts import chart_sign_trend
from workbook.views.filters import CHART_KEYS
from workbook.views.svg import chart_spec
from workbook.views.widgets import EMBED_OPTIONS, CaseloadPanel, OfflineChart

CLIENTS = {"C1": "T01", "C2": "T01", "C4": "T01", "C3": "T02"}


@pytest.fixture(scope="module")
def review():
    ratings = make_ratings(CLIENTS)
    return analyse(ratings, Config(), Period(START, START + pd.Timedelta(weeks=5)))


@pytest.fixture()
def panel(review):
    return CaseloadPanel(review)


def rows(view: OfflineChart, field: str = "score") -> list[dict]:
    """The chart's inline rows that carry `field`."""
    return [r for rs in view.spec["datasets"].values() for r in rs if field in r]


def clients_in(view: OfflineChart) -> set[str]:
    return {r["client_id"] for r in rows(view, "client_id")}


def test_panel_starts_with_first_therapist_all_clients(panel):
    assert panel.therapist.value == "T01"
    assert panel.therapist.options == ("T01", "T02")
    assert panel.clients.options == ("C1", "C2", "C4")
    assert panel.clients.value == ("C1", "C2", "C4")
    assert panel.signs.value == SIGN_KEYS
    assert panel.rater.value == "client" and panel.rater.options == ("client", "therapist")
    assert panel.dates.value == (START, START + pd.Timedelta(weeks=5))
    assert list(panel.views) == list(CHART_KEYS)
    for key, view in panel.views.items():
        assert view.spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v6")
        assert clients_in(view) == {"C1", "C2", "C4"}, key


def test_changing_clients_changes_every_chart_data(panel):
    before = {k: v.spec for k, v in panel.views.items()}
    panel.clients.value = ("C2",)
    for key, view in panel.views.items():
        assert clients_in(view) == {"C2"}, key
        assert view.spec != before[key]
    assert panel.state.clients == ("C2",)
    panel.clients.value = ()  # nothing selected: everyone
    assert clients_in(panel.views["attendance"]) == {"C1", "C2", "C4"}
    assert panel.state.clients is None


def test_client_change_does_not_rebuild(panel, monkeypatch):
    import workbook.views.widgets as widgets

    def fail(*args, **kwargs):
        raise AssertionError("rebuilt")

    monkeypatch.setattr(widgets, "build_specs", fail)
    panel.clients.value = ("C1", "C4")
    assert clients_in(panel.views["trust_safety"]) == {"C1", "C4"}


def test_changing_rater_rebuilds_sign_charts_and_heatmap(panel):
    gap_before = panel.views["gap"].spec
    assert {r["score"] for r in rows(panel.views["empathy_understanding"])} == {6.0, 7.0, 8.0}
    panel.rater.value = "therapist"
    assert {r["score"] for r in rows(panel.views["empathy_understanding"])} == {7.0, 8.0, 9.0}
    assert {r["rater"] for r in rows(panel.views["trust_safety"])} == {"therapist"}
    assert {r["latest"] for r in rows(panel.views["heatmap"], "latest")} == {7.0, 8.0, 9.0}
    assert panel.views["gap"].spec is gap_before  # the gap chart has no rater


def test_changing_dates_cuts_every_chart(panel):
    panel.dates.value = (START + pd.Timedelta(weeks=1), START + pd.Timedelta(weeks=2))
    days = {r["session_date"][:10] for r in rows(panel.views["attendance"], "attendance")}
    assert days == {"2026-01-12", "2026-01-19"}
    days = {r["session_date"][:10] for r in rows(panel.views["trust_safety"])}
    assert days == {"2026-01-12", "2026-01-19"}
    assert panel.state.start == START + pd.Timedelta(weeks=1)


def test_changing_therapist_offers_their_clients(panel):
    panel.clients.value = ("C2",)
    panel.therapist.value = "T02"
    assert panel.clients.options == ("C3",) and panel.clients.value == ("C3",)
    for key, view in panel.views.items():
        assert clients_in(view) == {"C3"}, key
    assert set(panel.discussion_frame()["Client"]) <= {"C3"}


def test_signs_hide_and_show_sign_charts(panel):
    panel.signs.value = ("trust_safety",)
    shown = {k for k, v in panel.views.items() if v.layout.display != "none"}
    assert shown == {"trust_safety", "heatmap", "gap", "attendance"}
    panel.rater.value = "therapist"  # hidden charts wait until shown
    assert {r["rater"] for r in rows(panel.views["outcomes_progress"])} == {"client"}
    panel.signs.value = SIGN_KEYS
    assert all(v.layout.display != "none" for v in panel.views.values())
    assert {r["rater"] for r in rows(panel.views["outcomes_progress"])} == {"therapist"}


def test_second_therapist_by_parameter(review):
    panel = CaseloadPanel(review, therapist_id="T02")
    assert panel.clients.options == ("C3",)
    assert clients_in(panel.views["gap"]) == {"C3"}


def test_offline_mode_and_embed_options(panel):
    view = panel.views["trust_safety"]
    assert alt.JupyterChart._is_offline
    assert "esm.sh" not in view._esm and "cdn.jsdelivr" not in view._esm
    assert view.embed_options == EMBED_OPTIONS
    assert view.embed_options["actions"]["editor"] is False


def _big_chart(n_clients: int = 60, weeks: int = 110):
    """A sign chart of 6,600 points, beyond Altair's default 5,000-row limit."""
    dates = START + pd.to_timedelta(np.arange(weeks) * 7, unit="D")
    frame = pd.DataFrame({
        "client_id": np.repeat([f"C{i:03d}" for i in range(n_clients)], weeks),
        "session_date": np.tile(dates, n_clients), "rater": "client",
        "trust_safety": np.tile(np.arange(weeks) % 11, n_clients).astype(float)})
    return chart_sign_trend(frame, "trust_safety", config=Config())


def test_jupyterchart_accepts_more_than_5000_rows():
    chart = _big_chart()
    assert alt.data_transformers.options.get("max_rows", 5000) == 5000
    for cls in (alt.JupyterChart, OfflineChart):
        view = cls(chart)
        assert max(len(rs) for rs in view.spec["datasets"].values()) == 6600
    assert OfflineChart(chart).spec == chart_spec(chart)


def test_offline_chart_clients_and_reset():
    chart = _big_chart(n_clients=3, weeks=4)
    view = OfflineChart(chart, clients=("C001",))
    assert clients_in(view) == {"C001"}
    view.clients = None
    assert clients_in(view) == {"C000", "C001", "C002"}
    view.chart = None
    assert view.spec is None
