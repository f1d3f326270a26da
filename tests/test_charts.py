"""Chart specs tested as data (chart.to_dict()), and SVG rendering through vl-convert."""

from __future__ import annotations

import re

import altair as alt
import numpy as np
import pandas as pd
import pytest

from workbook.data.columns import BASE_ORDER, BUILTIN_MEASURE_KEYS
from workbook.data.config import Config, parse_config
from workbook.data.signs import SIGN_COLOURS, SIGN_KEYS, SIGN_LABELS
from workbook.views.charts import (
    chart_attendance,
    chart_caseload_heatmap,
    chart_outcome,
    chart_perspective_gap,
    chart_sign_summary,
    chart_sign_trend,
)
from workbook.views.svg import chart_spec, chart_to_svg

CONFIG = Config()
START = pd.Timestamp("2026-01-05")


def _ratings(n_clients: int = 3, n_sessions: int = 6, raters=("client", "therapist")):
    """A typed ratings frame per workbook.data.columns: weekly sessions, session 3 a no-show,
    client C000's session 5 cancelled; the therapist rates one point above the client;
    PHQ-9 on client rows of attended sessions, falling by 2 a session from 20."""
    rows = []
    for c in range(n_clients):
        for s in range(n_sessions):
            att = "no_show" if s == 2 else "cancelled" if (c, s) == (0, 4) else "attended"
            for rater in raters:
                row = {"client_id": f"C{c:03d}", "therapist_id": "T01", "supervisor_id": None,
                       "site": None, "session_date": START + pd.Timedelta(weeks=s),
                       "session_number": s + 1, "rater": rater, "attendance": att, "note": None}
                base = 8.0 + (c % 2) + (rater == "therapist")
                row |= {k: (base if att == "attended" else np.nan) for k in SIGN_KEYS}
                row |= {m: np.nan for m in BUILTIN_MEASURE_KEYS}
                if rater == "client" and att == "attended":
                    row["phq9"] = 20.0 - 2 * s
                rows.append(row)
    frame = pd.DataFrame(rows)[list(BASE_ORDER)]
    return frame.sort_values(["client_id", "session_date", "rater"], ignore_index=True)


def _ruptures():
    return pd.DataFrame({
        "client_id": ["C000", "C001", "C002", "C001"],
        "sign": ["trust_safety", "trust_safety", "trust_safety", "empathy_understanding"],
        "rater": ["client"] * 4,
        "start_date": START + pd.to_timedelta([7, 21, 28, 7], unit="D"),
        "score": [4.0, 5.0, 3.0, 2.0],
        "status": ["repaired", "unrepaired", "open", "open"],
    })


def _layers(spec: dict) -> list[dict]:
    """Every single-view spec inside a (possibly layered or faceted) spec."""
    inner = spec.get("spec", spec)
    if "layer" in inner:
        return [leaf for layer in inner["layer"] for leaf in _layers(layer)]
    return [inner]


def _mark(layer: dict) -> str:
    mark = layer["mark"]
    return mark["type"] if isinstance(mark, dict) else mark


def _values(spec: dict, layer: dict) -> list[dict]:
    return spec["datasets"][layer.get("data", spec.get("data"))["name"]]


# --- sign trend -----------------------------------------------------------------------------


def test_sign_trend_lines_points_and_colour_of_the_sign():
    spec = chart_sign_trend(_ratings(), "trust_safety", config=CONFIG).to_dict()
    layers = _layers(spec)
    assert spec["title"]["text"] == "Trust & safety"
    assert spec["config"]["font"] == "DejaVu Sans"
    line = next(la for la in layers if _mark(la) == "line")
    assert line["mark"]["color"] == SIGN_COLOURS["trust_safety"]
    enc = line["encoding"]
    assert enc["x"]["field"] == "session_date" and enc["x"]["type"] == "temporal"
    assert enc["x"]["title"] == "Session date"
    assert enc["y"]["field"] == "score" and enc["y"]["title"] == "Rating (0-10)"
    assert enc["y"]["scale"]["domain"] == [0, 10]
    assert enc["detail"]["field"] == "client_id"
    # one row per client rating of an attended session: 3 clients x 5 attended, C000 one fewer
    rows = _values(spec, line)
    assert len(rows) == 14
    assert set(rows[0]) == {"client_id", "session_date", "rater", "score"}
    assert {r["rater"] for r in rows} == {"client"}
    point = next(la for la in layers if _mark(la) == "point" and "tooltip" in la["encoding"])
    tips = {t["title"] for t in point["encoding"]["tooltip"]}
    assert tips == {"Client", "Session date", "Rating", "Rater"}


def test_sign_trend_filters_rater_clients_and_dates():
    end = START + pd.Timedelta(weeks=3)
    chart = chart_sign_trend(_ratings(), "trust_safety", config=CONFIG, rater="therapist",
                             clients=["C001"], start="2026-01-12", end=end)
    spec = chart.to_dict()
    rows = _values(spec, next(la for la in _layers(spec) if _mark(la) == "line"))
    assert {(r["client_id"], r["rater"]) for r in rows} == {("C001", "therapist")}
    assert [r["session_date"][:10] for r in rows] == ["2026-01-12", "2026-01-26"]
    assert all(r["score"] == 10.0 for r in rows)


def test_concern_band_at_configured_threshold():
    config = parse_config({"thresholds": {"concern_below": 6.5}, "scale": {"min": 1, "max": 7}})
    spec = chart_sign_trend(_ratings(), "empathy_understanding", config=config).to_dict()
    rect = next(la for la in _layers(spec) if _mark(la) == "rect")
    assert rect["encoding"]["y"]["field"] == "lo" and rect["encoding"]["y2"]["field"] == "hi"
    assert _values(spec, rect) == [{"lo": 1.0, "hi": 6.5}]
    label = next(la for la in _layers(spec) if _mark(la) == "text" and "value" in
                 la["encoding"]["text"])
    assert label["encoding"]["text"]["value"] == "concern"
    line = next(la for la in _layers(spec) if _mark(la) == "line")
    assert line["encoding"]["y"]["title"] == "Rating (1-7)"


def test_rupture_markers_with_statuses_for_this_sign_only():
    spec = chart_sign_trend(_ratings(), "trust_safety", config=CONFIG,
                            ruptures=_ruptures()).to_dict()
    marks = [la for la in _layers(spec) if "shape" in la.get("encoding", {})]
    assert len(marks) == 1
    enc = marks[0]["encoding"]
    assert enc["shape"]["title"] == enc["fill"]["title"] == "Possible rupture"
    assert enc["shape"]["scale"]["domain"] == ["repaired", "not repaired", "open"]
    rows = _values(spec, marks[0])
    assert [(r["client_id"], r["status"], r["score"]) for r in rows] == [
        ("C000", "repaired", 4.0), ("C001", "not repaired", 5.0), ("C002", "open", 3.0)]
    assert rows[0]["session_date"] == "2026-01-12"  # a calendar day: UTC midnight to Vega


def test_no_ruptures_argument_means_no_rupture_layer():
    spec = chart_sign_trend(_ratings(), "trust_safety", config=CONFIG).to_dict()
    assert not [la for la in _layers(spec) if "shape" in la.get("encoding", {})]


# --- heatmap, perspective gap, attendance, outcome, summary ---------------------------------


def test_caseload_heatmap_cells_and_scale():
    latest = pd.DataFrame({"client_id": ["C000", "C000", "C001"],
                           "sign": ["trust_safety", "outcomes_progress", "trust_safety"],
                           "latest": [9.0, 5.0, np.nan]})
    spec = chart_caseload_heatmap(latest, config=CONFIG).to_dict()
    rect = next(la for la in _layers(spec) if _mark(la) == "rect")
    colour = rect["encoding"]["color"]
    assert colour["field"] == "latest" and colour["scale"]["domain"] == [0, 10]
    assert colour["scale"]["scheme"] == "viridis"
    assert rect["encoding"]["x"]["scale"]["domain"] == [SIGN_LABELS[k] for k in SIGN_KEYS]
    assert _values(spec, rect) == [
        {"client_id": "C000", "sign": "Trust & safety", "latest": 9.0},
        {"client_id": "C000", "sign": "Positive outcomes & progress", "latest": 5.0}]
    assert any(_mark(la) == "text" for la in _layers(spec))


def test_perspective_gap_dumbbell_per_client_and_sign():
    spec = chart_perspective_gap(_ratings(), config=CONFIG).to_dict()
    assert spec["facet"]["column"]["field"] == "sign"
    rows = spec["datasets"][spec["data"]["name"]]
    assert len(rows) == 3 * 5
    first = rows[0]
    assert first["client_mean"] == 8.0 and first["therapist_mean"] == 9.0
    assert first["mean_gap"] == 1.0 and first["n_pairs"] == 4
    layers = _layers(spec)
    assert {_mark(la) for la in layers} == {"rule", "point"}
    colour = layers[0]["encoding"]["color"]["scale"]
    assert colour["range"] == [SIGN_COLOURS[k] for k in SIGN_KEYS]
    tips = {t["title"] for t in layers[0]["encoding"]["tooltip"]}
    assert "Mean gap (therapist - client)" in tips


def test_perspective_gap_without_therapist_ratings_is_empty_not_an_error():
    spec = chart_perspective_gap(_ratings(raters=("client",)), config=CONFIG).to_dict()
    assert spec["datasets"][spec["data"]["name"]] == []


def test_attendance_one_mark_per_session_colour_and_shape():
    spec = chart_attendance(_ratings()).to_dict()
    enc = spec["encoding"]
    assert spec["mark"]["type"] == "point"
    assert enc["color"]["scale"]["domain"] == ["Attended", "Cancelled", "No-show"]
    assert len(set(enc["shape"]["scale"]["range"])) == 3
    rows = spec["datasets"][spec["data"]["name"]]
    assert len(rows) == 3 * 6
    counts = pd.Series([r["attendance"] for r in rows]).value_counts().to_dict()
    assert counts == {"Attended": 14, "No-show": 3, "Cancelled": 1}


def test_outcome_cutoff_rule_and_reliable_change_bands():
    spec = chart_outcome(_ratings(), "phq9", config=CONFIG, clients=["C000", "C001"]).to_dict()
    layers = _layers(spec)
    assert spec["title"]["text"] == "PHQ-9"
    rule = next(la for la in layers if _mark(la) == "rule")
    assert _values(spec, rule) == [{"cutoff": 10.0}]
    band = next(la for la in layers if _mark(la) == "rect")
    bands = _values(spec, band)
    assert [(b["client_id"], b["first"], b["low"], b["high"]) for b in bands] == [
        ("C000", 20.0, 14.0, 26.0), ("C001", 20.0, 14.0, 26.0)]
    line = next(la for la in layers if _mark(la) == "line")
    assert line["encoding"]["y"]["scale"]["domain"] == [0, 27]
    assert len(_values(spec, line)) == 4 + 5


def test_outcome_band_is_clipped_to_the_measure_range():
    ratings = _ratings()
    ratings.loc[(ratings["client_id"] == "C002") & (ratings["phq9"] == 20), "phq9"] = 25.0
    spec = chart_outcome(ratings, "phq9", config=CONFIG, clients=["C002"]).to_dict()
    band = next(la for la in _layers(spec) if _mark(la) == "rect")
    assert [(b["low"], b["high"]) for b in _values(spec, band)] == [(19.0, 27.0)]


def test_outcome_without_scores_is_empty_not_an_error():
    spec = chart_outcome(_ratings(), "gad7", config=CONFIG).to_dict()
    band = next(la for la in _layers(spec) if _mark(la) == "rect")
    assert _values(spec, band) == []


def test_sign_summary_bars_in_sign_colours():
    summary = pd.DataFrame({"sign": list(SIGN_KEYS), "mean": [8.1, 7.5, np.nan, 9.0, 6.2]})
    spec = chart_sign_summary(summary, config=CONFIG).to_dict()
    bar = next(la for la in _layers(spec) if _mark(la) == "bar")
    assert bar["encoding"]["color"]["scale"]["range"] == [SIGN_COLOURS[k] for k in SIGN_KEYS]
    rows = _values(spec, bar)
    assert [r["label"] for r in rows] == ["8.1", "7.5", "not shown", "9.0", "6.2"]
    assert rows[2]["mean"] is None


# --- large inputs and inline data -----------------------------------------------------------


def test_more_than_5000_rows_build_without_changing_global_limit():
    big = _ratings(n_clients=120, n_sessions=50, raters=("client",))
    assert len(big) > 5_000
    trend = chart_sign_trend(big, "trust_safety", config=CONFIG).to_dict()
    line = next(la for la in _layers(trend) if _mark(la) == "line")
    assert len(_values(trend, line)) == 120 * 49 - 1 > 5_000
    attendance = chart_attendance(big).to_dict()
    assert len(attendance["datasets"][attendance["data"]["name"]]) == 6_000
    with pytest.raises(alt.MaxRowsError):  # the global guard is still on
        alt.Chart(big[["client_id"]]).mark_point().to_dict()


def test_chart_spec_equals_to_dict():
    chart = chart_sign_trend(_ratings(), "trust_safety", config=CONFIG, ruptures=_ruptures())
    assert chart_spec(chart) == chart.to_dict()
    plain = alt.Chart(pd.DataFrame({"a": [1, 2]})).mark_point().encode(x="a:Q")
    assert chart_spec(plain) == plain.to_dict()


def test_data_is_inline_never_a_url():
    chart = chart_sign_trend(_ratings(), "trust_safety", config=CONFIG, ruptures=_ruptures())
    text = chart.to_json()
    assert '"url"' not in text


# --- SVG --------------------------------------------------------------------------------------


def test_chart_to_svg_is_inline_offline_and_deterministic():
    chart = chart_sign_trend(_ratings(), "trust_safety", config=CONFIG, ruptures=_ruptures())
    svg = chart_to_svg(chart)
    assert svg.startswith("<svg ") and svg.rstrip().endswith("</svg>")
    assert not svg.startswith("<?xml")
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", svg))
    assert urls <= {"http://www.w3.org/2000/svg"}
    assert 'font-family="DejaVu Sans' in svg or "font-family: DejaVu Sans" in svg
    assert "Trust &amp; safety" in svg
    assert chart_to_svg(chart) == svg


def test_every_builder_renders_to_svg():
    ratings = _ratings()
    latest = pd.DataFrame({"client_id": ["C000"], "sign": ["trust_safety"], "latest": [7.0]})
    summary = pd.DataFrame({"sign": ["trust_safety"], "mean": [8.0]})
    for chart in (chart_caseload_heatmap(latest, config=CONFIG),
                  chart_perspective_gap(ratings, config=CONFIG), chart_attendance(ratings),
                  chart_outcome(ratings, "phq9", config=CONFIG),
                  chart_sign_summary(summary, config=CONFIG)):
        assert chart_to_svg(chart).startswith("<svg ")


# --- spec_* builders: the same spec as the Altair builders, without rebuilding Altair objects


def _spec_pairs(ratings, ruptures):
    config = Config()
    from workbook.views import charts as C
    return [
        (C.chart_sign_trend(ratings, "trust_safety", config=config, ruptures=ruptures),
         lambda: C.spec_sign_trend(ratings, "trust_safety", config=config, ruptures=ruptures)),
        (C.chart_sign_caseload(ratings, "trust_safety", config=config, highlight=["C001"],
                               ruptures=ruptures),
         lambda: C.spec_sign_caseload(ratings, "trust_safety", config=config,
                                      highlight=["C001"], ruptures=ruptures)),
        (C.chart_perspective_gap(ratings, config=config),
         lambda: C.spec_perspective_gap(ratings, config=config)),
        (C.chart_attendance(ratings), lambda: C.spec_attendance(ratings)),
    ]


@pytest.mark.parametrize("n_clients", [2, 4])
def test_spec_builders_equal_the_chart_builders(n_clients):
    ratings = _ratings(n_clients=n_clients)
    for chart, spec in _spec_pairs(ratings, _ruptures()):
        assert spec() == chart_spec(chart)


def test_spec_builders_reuse_the_structure(monkeypatch):
    from workbook.views import charts as C
    config = Config()
    first = C.spec_sign_trend(_ratings(n_clients=2), "empathy_understanding", config=config,
                              rater="therapist")

    def fail(*args, **kwargs):
        raise AssertionError("Altair objects built again")

    monkeypatch.setattr(C, "_trend_chart", fail)
    again = C.spec_sign_trend(_ratings(n_clients=3), "empathy_understanding", config=config,
                              rater="therapist")
    assert {k: v for k, v in again.items() if k != "datasets"} == {
        k: v for k, v in first.items() if k != "datasets"}
    clients = {r["client_id"] for rows in again["datasets"].values() for r in rows
               if "client_id" in r}
    assert len(clients) == 3


def test_svg_drops_inert_attributes_and_keeps_accessibility():
    svg = chart_to_svg(chart_attendance(_ratings()))
    assert ' class="' not in svg and " pointer-events=" not in svg and ' opacity="1"' not in svg
    assert ' role="' in svg and " aria-" in svg


def test_svg_from_a_reused_vega_compile_equals_a_fresh_conversion():
    import vl_convert as vlc

    from workbook.views.charts import spec_attendance, spec_sign_caseload
    from workbook.views.svg import _clean, vegalite_version

    config = Config()
    for n_clients in (2, 3, 5):  # the first call compiles, the later ones reuse it
        ratings = _ratings(n_clients=n_clients)
        for spec in (spec_attendance(ratings),
                     spec_sign_caseload(ratings, "trust_safety", config=config,
                                        highlight=["C001"], ruptures=_ruptures())):
            # report SVG carries no per-mark ARIA text (chart_to_svg turns it off)
            quiet = {**spec, "config": {**spec.get("config", {}), "aria": False}}
            fresh = vlc.vegalite_to_svg(quiet, vl_version=vegalite_version(),
                                        allowed_base_urls=[])
            assert chart_to_svg(spec) == _clean(fresh)
            assert "axis for a" not in chart_to_svg(spec)  # no per-axis or per-mark ARIA text
            labelled = chart_to_svg(spec, label='Chart of "C001" & <others>')
            assert labelled.startswith(
                '<svg role="img" aria-label="Chart of &quot;C001&quot; &amp; &lt;others&gt;" ')


def test_the_same_chart_draws_the_same_svg_whatever_was_drawn_before():
    """Vega numbers colour-legend gradients by a counter of the process; a report's bytes must
    not depend on the charts drawn before it (one report alone, or in a month's batch)."""
    import altair as alt

    def legend(values):
        return alt.Chart(alt.Data(values=[{"x": i, "v": v} for i, v in enumerate(values)])
                         ).mark_rect().encode(x="x:O", color="v:Q")

    first = chart_to_svg(legend([1, 5, 9]))
    other = chart_to_svg(legend([2, 3]))
    again = chart_to_svg(legend([1, 5, 9]))
    assert first == again and "gradient-" in first and "gradient_" not in first
    ids = [set(re.findall(r'id="(gradient-[^"]+)"', svg)) for svg in (first, other)]
    assert ids[0] and ids[1] and not ids[0] & ids[1]  # two charts in one page: two ids
    assert all(f"url(#{i})" in first for i in ids[0])


def test_clip_paths_are_named_from_the_chart_not_the_process_counter():
    """The same for clip paths (a mark with clip=true): clip8 or clip16 before."""
    import altair as alt

    def clipped(values):
        return alt.Chart(alt.Data(values=[{"x": i, "y": v} for i, v in enumerate(values)])
                         ).mark_line(clip=True).encode(
            x="x:Q", y=alt.Y("y:Q", scale=alt.Scale(domain=[0, 5])))

    first = chart_to_svg(clipped([1, 7, 3]))
    other = chart_to_svg(clipped([2, 9]))
    again = chart_to_svg(clipped([1, 7, 3]))
    assert first == again and re.search(r'id="clip-[0-9a-f]{12}-0"', first)
    assert not re.search(r'"clip\d+"|#clip\d+\)', first)
    ids = [set(re.findall(r'<clipPath id="([^"]+)"', svg)) for svg in (first, other)]
    assert ids[0] and ids[1] and not ids[0] & ids[1]
    assert all(f"url(#{i})" in first for i in ids[0])
