"""The caseload app without a kernel: set a control's .value (as the page does), read what the
page is sent (agenda HTML, headline tiles, chart specs), and compare with the analysis run
directly (the oracle), on a generated clinic with several therapists, months and raters."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pandas as pd
import pytest
import traitlets

from workbook.analysis.attendance import summarise_completeness
from workbook.analysis.headline import headline_figures
from workbook.analysis.periods import Period, parse_month
from workbook.analysis.pipeline import analyse
from workbook.data.config import Config
from workbook.data.errors import ParameterError
from workbook.data.example_data import generate_clinic, write_clinic
from workbook.data.ingest import load_ratings
from workbook.data.signs import SIGN_KEYS
from workbook.views import vega_widget
from workbook.views.app import CaseloadApp, open_caseloads
from workbook.views.vega_widget import ClickableHTML, VegaRuntime, VegaView

OCT = parse_month("2026-10")


@pytest.fixture(scope="module")
def ratings(tmp_path_factory):
    frame = generate_clinic(therapists=3, clients_per_therapist=8, weeks=30, seed=3, plant=False)
    return load_ratings(write_clinic(frame, tmp_path_factory.mktemp("app") / "clinic.csv"))


@pytest.fixture(scope="module")
def source(ratings):
    return open_caseloads(ratings, Config(), therapist_id=None, supervisor_id=None,
                          only_therapist=False, month=OCT)


@pytest.fixture()
def app(source):
    return CaseloadApp(source)


def agenda_clients(app: CaseloadApp) -> list[str]:
    return re.findall(r'<tr data-client="([^"]+)"', app.agenda.html)


def expected_agenda(ratings, period, therapist, clients=None, rater="client") -> list[str]:
    """The oracle: the pipeline run for that period, cut and ranked as the reports do."""
    from workbook.analysis.pipeline import rank_for_rater
    cut = rank_for_rater(analyse(ratings, Config(), period), rater).select(
        therapist_id=therapist, clients=clients)
    return list(cut.discussion["client_id"])


def chart_clients(view: VegaView) -> set[str]:
    return {r["client_id"] for rows in view.spec.get("datasets", {}).values() for r in rows
            if isinstance(r, dict) and "client_id" in r}


def test_starts_on_first_therapist_latest_month_all_clients(app, ratings):
    assert app.therapist.value == "T01" and app.therapist.options == ("T01", "T02", "T03")
    assert app.preset.value == "month" and app.period == OCT
    own = sorted(ratings.loc[ratings["therapist_id"] == "T01", "client_id"].unique())
    assert list(app.clients.options) == own and app.clients.value == ()
    assert agenda_clients(app) == expected_agenda(ratings, OCT, "T01")
    assert "Therapist T01 · October 2026" in app.header.value


def test_header_counts_clients_with_a_session_in_the_period(source, ratings):
    """Not every client the therapist ever had: those with a session in the period (as the
    'clients seen' tile), before and after a choice of clients; none in a month without one."""
    def seen(period, clients=None):
        rows = ratings[(ratings["therapist_id"] == "T01")
                       & ratings["session_date"].between(period.start, period.end)]
        ids = set(rows["client_id"])
        return len(ids if clients is None else ids & set(clients))

    app = CaseloadApp(source)
    assert f"{seen(OCT)} clients with a session" in app.header.value
    chosen = app.clients.options[:3]
    app.clients.value = chosen
    assert f"{seen(OCT, chosen)} of {seen(OCT)} clients" in app.header.value
    early = replace(source, default_period=parse_month("2025-01"))
    assert "0 clients with a session" in CaseloadApp(early).header.value


def test_agenda_follows_clients(app, ratings):
    chosen = app.clients.options[:3]
    app.clients.value = chosen
    assert agenda_clients(app) == expected_agenda(ratings, OCT, "T01", list(chosen))


def test_agenda_and_charts_follow_period_presets(app, ratings):
    app.preset.value = "3m"
    three = Period(pd.Timestamp("2026-08-01"), pd.Timestamp("2026-10-31"))
    assert app.period == three
    assert agenda_clients(app) == expected_agenda(ratings, three, "T01")
    days = [r["session_date"] for r in app.views["attendance"].spec["datasets"]["data-0"]]
    assert min(days) >= "2026-08-01" and max(days) <= "2026-10-31"
    app.preset.value = "since"
    app.since.value = pd.Timestamp("2026-09-15").date()
    since = Period(pd.Timestamp("2026-09-15"), ratings["session_date"].max().normalize())
    assert app.period == since
    assert agenda_clients(app) == expected_agenda(ratings, since, "T01")


def test_weeks_slider_sets_a_period_of_whole_weeks(app):
    lo, hi = app.weeks.options[3][1], app.weeks.options[6][1]
    app.weeks.value = (lo, hi)
    assert app.preset.value == "weeks"
    assert app.period.start == lo and app.period.end == hi + pd.Timedelta(days=6)
    assert lo.weekday() == 0


def test_agenda_follows_rater(app, ratings):
    app.rater.value = "therapist"
    assert agenda_clients(app) == expected_agenda(ratings, OCT, "T01", rater="therapist")
    assert "Client ratings below" not in app.agenda.html
    assert "rated by the therapist" in app.tiles.value


def test_therapist_change_offers_their_clients_and_agenda(app, ratings):
    app.clients.value = app.clients.options[:2]
    app.therapist.value = "T02"
    own = sorted(ratings.loc[ratings["therapist_id"] == "T02", "client_id"].unique())
    assert list(app.clients.options) == own and app.clients.value == ()
    assert agenda_clients(app) == expected_agenda(ratings, OCT, "T02")
    for key, view in app.views.items():
        if view.layout.display != "none":
            assert chart_clients(view) <= set(own), key


def test_only_therapist_reaches_one_caseload(ratings):
    one = open_caseloads(ratings, Config(), therapist_id="T02", supervisor_id=None,
                         only_therapist=True, month=OCT)
    app = CaseloadApp(one, therapist_id="T02")
    assert app.therapist.options == ("T02",) and app.therapist.disabled
    with pytest.raises(traitlets.TraitError):
        app.therapist.value = "T01"  # what a crafted message from the page would try
    other = ratings.loc[ratings["therapist_id"] == "T01", "client_id"].iloc[0]
    app.show_course(other)
    assert app.course_client is None and app.course.layout.display == "none"


def test_supervisor_reaches_their_supervisees(ratings):
    sup = ratings["supervisor_id"].dropna().iloc[0]
    theirs = sorted(ratings.loc[ratings["supervisor_id"] == sup, "therapist_id"].unique())
    source = open_caseloads(ratings, Config(), therapist_id=None, supervisor_id=sup,
                            only_therapist=False, month=OCT)
    assert list(source.therapists) == theirs
    with pytest.raises(ParameterError, match="supervisor 'S99'"):
        open_caseloads(ratings, Config(), therapist_id=None, supervisor_id="S99",
                       only_therapist=False, month=OCT)


def test_click_in_agenda_or_chart_opens_the_clients_course(app):
    client = agenda_clients(app)[0]
    app.agenda._on_message(app.agenda, {"event": "client", "client": client}, [])
    assert app.course_client == client and app.course.layout.display is None
    shown = [v for v in app.course_views.values() if v.layout.display != "none"]
    assert shown and all(chart_clients(v) <= {client} for v in shown)
    assert f"Client {client}" in app.course_head.html
    other = app.clients.options[-1]
    app.views["attendance"]._on_message(None, {"event": "client", "client": other}, [])
    assert app.course_client == other
    app.show_course(None)
    assert app.course.layout.display == "none"


def test_signs_filter_hides_sign_charts(app):
    app.signs.value = ("trust_safety",)
    shown = {k for k, v in app.views.items() if v.layout.display != "none"}
    assert "trust_safety" in shown and not shown & set(SIGN_KEYS[1:])
    assert {"heatmap", "gap", "attendance"} <= shown


def test_unchanged_specs_are_not_sent_again(app):
    versions = {k: v.version for k, v in app.views.items()}
    sent = app.refresh()
    assert sent == [] and versions == {k: v.version for k, v in app.views.items()}
    app.rater.value = "therapist"
    assert "attendance" not in app.refresh() and versions["trust_safety"] < \
        app.views["trust_safety"].version


def test_headline_rated_by_rater_matches_completeness(ratings):
    """'rated by the client' two ways: the completeness summary and the rater count."""
    from workbook.analysis.headline import _rated_sessions
    cut = analyse(ratings, Config(), OCT).select(therapist_id="T01")
    comp = summarise_completeness(cut.ratings, Config(), OCT.start, OCT.end)
    assert _rated_sessions(cut, "client") == comp["rated_by_client"].sum()
    labels = dict(headline_figures(cut, "therapist"))
    assert "rated by the therapist" in labels


def test_view_sends_spec_as_json_with_a_new_version():
    view = VegaView("x")
    view.show({"mark": "point", "data": {"values": [{"client_id": "C1"}]}})
    assert view.version == 1 and json.loads(view.spec_json)["mark"] == "point"
    with pytest.raises(ValueError):
        view.show({"value": float("nan")})  # Vega would read NaN as an error


def test_html_view_sends_only_changes():
    view = ClickableHTML()
    view.show("<p>a</p>")
    view.show("<p>a</p>")
    assert view.version == 1
    seen = []
    view.on_client(seen.append)
    view._on_message(view, {"event": "client", "client": "C7"}, [])
    view._on_message(view, {"event": "other"}, [])
    assert seen == ["C7"]


def test_runtime_bundle_made_once_and_cached(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(vega_widget.vlc, "javascript_bundle",
                        lambda snippet, vl_version=None: calls.append(snippet) or "/*b*/")
    first = vega_widget.runtime_bundle(tmp_path)
    assert vega_widget.runtime_bundle(tmp_path) == first and len(calls) == 1
    assert first.startswith("/*b*/") and "export default" in first


def test_bundle_is_carried_once_per_app(app):
    runtimes = [c for c in app.widget.children if isinstance(c, VegaRuntime)]
    assert len(runtimes) == 1 and len(runtimes[0]._esm) > 500_000
    assert all(len(v._esm) < 5_000 for v in (*app.views.values(), app.agenda))


def test_static_copy_has_agenda_and_charts_and_no_script(app):
    html = app.static_html()
    assert html.count("<svg") == sum(v.layout.display != "none" for v in app.views.values())
    for client in agenda_clients(app):
        assert f'data-client="{client}"' in html
    assert "<script" not in html.lower() and "https://" not in html.replace(
        "http://www.w3.org/2000/svg", "")


def test_data_text_is_escaped(source):
    from workbook.views import app_html
    frame = pd.DataFrame({"rank": [1], "client_id": ['C1"><script>'],
                          "reasons": [["<b>x</b>"]]})
    out = app_html.agenda_html(frame, "client")
    assert "<script>" not in out and "&lt;b&gt;x&lt;/b&gt;" in out
