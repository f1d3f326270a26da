"""The app's chart builders (workbook.views.app_charts), tested against plain pandas references:
label placement, highlighted clients' last scores, the caseload band's quartiles, heatmap concern
cells, date axes, messages for empty charts, Vega-Lite validity and rendering."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pandas as pd
import pytest
import vl_convert as vlc
from altair.vegalite.v6.schema.core import load_schema
from caseloads import START
from caseloads import weekly_caseload as caseload
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbook.data.config import Config, parse_config
from workbook.data.signs import SIGN_KEYS, SIGN_LABELS
from workbook.views import app_charts as A
from workbook.views.filters import latest_scores
from workbook.views.svg import chart_to_svg, compile_vega, vegalite_version

CONFIG = Config()
MIN_GAP = 12  # px: no two labels closer (issue 14)
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
_VALIDATOR = None




def _end(weeks: int) -> pd.Timestamp:
    return START + pd.Timedelta(days=7 * weeks - 1)


def _dataset(spec: dict, *fields: str) -> list[dict]:
    """The one inline dataset whose rows have all these fields."""
    found = [rows for rows in spec["datasets"].values()
             if rows and all(f in rows[0] for f in fields)]
    assert len(found) == 1, (fields, [list(r[0]) for r in spec["datasets"].values() if r])
    return found[0]


def _is_message(spec: dict) -> bool:
    rows = list(spec["datasets"].values())
    return spec.get("mark", {}).get("type") == "text" and len(rows) == 1 \
        and set(rows[0][0]) == {"message"}


def _height(spec: dict) -> float:
    return spec["height"]


def check_renders(spec: dict, capfd) -> str:
    """Valid Vega-Lite (the schema Altair uses), no Vega-Lite warning, no empty dataset (an
    empty dataset behind a scale is what makes Vega warn "Infinite extent"), and an SVG."""
    global _VALIDATOR
    if _VALIDATOR is None:
        schema = load_schema()
        _VALIDATOR = jsonschema.validators.validator_for(schema)(schema)
    errors = [e.message for e in _VALIDATOR.iter_errors(spec)]
    assert not errors, errors[:3]
    assert all(len(rows) > 0 for rows in spec["datasets"].values())
    capfd.readouterr()
    vlc.vegalite_to_vega(spec, vl_version=vegalite_version(), show_warnings=True)
    out, err = capfd.readouterr()
    assert "WARN" not in out + err, out + err
    svg = chart_to_svg(spec)
    assert svg.startswith("<svg")
    return svg


def _highlight(rows: pd.DataFrame, n: int) -> list[str]:
    return sorted(rows["client_id"].unique())[:n]


# --- labels ----------------------------------------------------------------------------------


@SETTINGS
@given(st.lists(st.floats(-100, 400, allow_nan=False), min_size=0, max_size=30))
def test_place_labels_are_apart_inside_and_in_order(wanted):
    high = A.fit_height(len(wanted)) - A.LABEL_MARGIN
    placed = A.place_labels(wanted, low=A.LABEL_MARGIN, high=high)
    order = sorted(range(len(wanted)), key=lambda i: (wanted[i], i))
    ys = [placed[i] for i in order]
    assert all(b - a >= MIN_GAP - 1e-6 for a, b in zip(ys, ys[1:], strict=False))
    assert all(A.LABEL_MARGIN - 1e-6 <= y <= high + 1e-6 for y in ys)


@SETTINGS
@given(st.lists(st.floats(0, 200, allow_nan=False), min_size=1, max_size=12))
def test_place_labels_leave_labels_that_fit_where_they_are(wanted):
    spaced = sorted({round(w / 12) * 12 + 6 for w in wanted})  # already 12 apart, inside
    assert A.place_labels(spaced, low=6, high=234) == pytest.approx(spaced)


def test_place_labels_spread_a_tie_around_its_place():
    assert A.place_labels([100.0, 100.0, 100.0], low=0, high=240) == [88.0, 100.0, 112.0]
    assert A.place_labels([0.0, 0.0], low=6, high=234) == [6.0, 18.0]
    assert A.place_labels([240.0, 240.0], low=6, high=234) == [222.0, 234.0]


@SETTINGS
@given(clients=st.integers(1, 30), weeks=st.integers(1, 26), seed=st.integers(0, 10_000),
       n_highlight=st.integers(0, 30), sign=st.sampled_from(SIGN_KEYS))
def test_caseload_labels_never_collide_and_last_scores_match_pandas(clients, weeks, seed,
                                                                      n_highlight, sign):
    rows = caseload(clients, weeks, seed)
    chosen = _highlight(rows, n_highlight)
    spec = A.spec_caseload_sign(rows, sign, config=CONFIG, rater="client", start=START,
                                end=_end(weeks), highlight=chosen)
    mine = rows[(rows["rater"] == "client") & rows[sign].notna()]
    if mine.empty:
        assert _is_message(spec)
        return
    reference = mine[mine["client_id"].isin(chosen)].sort_values("session_date") \
        .groupby("client_id")[sign].last()
    if reference.empty:
        assert not any("label_y" in r[0] for r in spec["datasets"].values() if r)
        return
    labels = _dataset(spec, "label_y")
    ys = sorted(r["label_y"] for r in labels)
    assert all(b - a >= MIN_GAP - 1e-6 for a, b in zip(ys, ys[1:], strict=False))
    assert all(0 <= y <= _height(spec) for y in ys)
    lo, hi = CONFIG.scale.min, CONFIG.scale.max
    last = {r["client_id"]: hi - r["y_px"] * (hi - lo) / _height(spec) for r in labels}
    assert last == pytest.approx(reference.to_dict())
    points = pd.DataFrame(_dataset(spec, "client_id", "session_date", "score"))
    assert points.groupby("client_id")["score"].last().to_dict() == reference.to_dict()


@SETTINGS
@given(clients=st.integers(1, 30), weeks=st.integers(1, 26), seed=st.integers(0, 10_000),
       offset=st.integers(0, 10))
def test_caseload_band_quartiles_equal_a_reference(clients, weeks, seed, offset):
    rows = caseload(clients, weeks, seed)
    start = START + pd.Timedelta(days=offset)  # a week cut by the window's start
    spec = A.spec_caseload_sign(rows, "empathy_understanding", config=CONFIG, rater="therapist",
                                start=start, end=_end(weeks))
    mine = rows[(rows["rater"] == "therapist") & rows["empathy_understanding"].notna()
                & (rows["session_date"] >= start)]
    if mine.empty:
        assert _is_message(spec)
        return
    reference = {}
    for day, score in zip(mine["session_date"], mine["empathy_understanding"], strict=True):
        monday = max(day - pd.Timedelta(days=day.weekday()), start)
        reference.setdefault(f"{monday:%Y-%m-%d}", []).append(score)
    band = {r["session_date"]: (r["q1"], r["median"], r["q3"])
            for r in _dataset(spec, "q1", "median", "q3")}
    assert band.keys() == reference.keys()
    for week, scores in reference.items():
        assert band[week] == pytest.approx(tuple(np.percentile(scores, [25, 50, 75])))


def test_caseload_sign_marks_of_a_client_carry_client_id_and_title_names_rater(capfd):
    rows = caseload()
    ruptures = pd.DataFrame({
        "client_id": ["C0001", "C0002", "C0003"], "sign": "trust_safety",
        "rater": "client", "start_date": START + pd.to_timedelta([14, 21, 28], unit="D"),
        "score": [3.0, 4.0, 2.0], "status": ["repaired", "unrepaired", "open"]})
    spec = A.spec_caseload_sign(rows, "trust_safety", config=CONFIG, rater="client",
                                start=START, end=_end(26), highlight=["C0001", "C0002"],
                                ruptures=ruptures)
    assert spec["title"]["text"] == "Trust & safety, rated by the client"
    marks = _dataset(spec, "status")  # the highlighted clients' ruptures only
    assert {(r["client_id"], r["status"]) for r in marks} == {("C0001", "repaired"),
                                                              ("C0002", "not repaired")}
    for rows_ in spec["datasets"].values():
        if not any(k in rows_[0] for k in ("q1", "lo")):  # the band and concern band aside
            assert all(r["client_id"] in ("C0001", "C0002") for r in rows_)
    therapist = A.spec_caseload_sign(rows, "trust_safety", config=CONFIG, rater="therapist",
                                     start=START, end=_end(26))
    assert therapist["title"]["text"] == "Trust & safety, rated by the therapist"
    check_renders(spec, capfd)


def test_caseload_sign_x_domain_is_the_window():
    rows = caseload(5, 8)
    spec = A.spec_caseload_sign(rows, "trust_safety", config=CONFIG, rater="client",
                                start="2026-01-01", end="2026-03-31")
    value = {p["name"]: p["value"] for p in spec["params"]}[A.WINDOW]
    assert value == [pd.Timestamp("2026-01-01").value // 10**6,
                     pd.Timestamp("2026-03-31").value // 10**6]
    assert '"domainRaw": {"expr": "x_window"}' in json.dumps(spec)


# --- dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize("days", [0, 6, 9, 13, 18, 30, 61, 63, 91, 126, 182, 200, 250, 365, 420,
                                  500, 660, 900, 1300, 2000, 4000])
def test_date_ticks_fit_the_width(days):
    start = pd.Timestamp("2026-01-01")
    fmt, interval, step = A.choose_date_ticks(start, start + pd.Timedelta(days=days))
    shortest = {"day": 1, "week": 7, "month": 28, "year": 365}[interval] * step
    ticks = days // shortest + 1  # at most
    label_px = 7.0 * len(pd.Timestamp("2026-09-30").strftime(fmt.replace("%-d", "%d")))
    assert ticks * (label_px + 6) <= A.WIDTH


def _axis_labels(spec: dict) -> list[list[tuple[float, str]]]:
    """Each axis's shown labels (x, text), from Vega's scenegraph (hidden ones left out)."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("role") == "axis-label":
                found.append([(i["x"], i["text"]) for i in node["items"]
                              if i.get("opacity", 1) != 0])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(vlc.vega_to_scenegraph(compile_vega(spec)))
    return found


@pytest.mark.parametrize("days", [6, 13, 30, 91, 182, 365])
def test_date_labels_drawn_do_not_collide(days):
    """In Vega's scenegraph: neighbouring date labels (centred) are further apart than half of
    both labels' widths (DejaVu Sans 10 px: under 6.5 px a character)."""
    weeks = days // 7 + 1
    rows = caseload(4, weeks)
    spec = A.spec_attendance_app(rows, start=START, end=START + pd.Timedelta(days=days))
    axes = [labels for labels in _axis_labels(spec) if len({x for x, _ in labels}) > 1]
    assert len(axes) == 1 and len(axes[0]) >= 2
    shown = sorted(axes[0])
    for (x1, t1), (x2, t2) in zip(shown, shown[1:], strict=False):
        assert x2 - x1 > 6.5 * (len(str(t1)) + len(str(t2))) / 2 + 4, (t1, t2)


# --- heatmap ---------------------------------------------------------------------------------


@SETTINGS
@given(clients=st.integers(1, 30), seed=st.integers(0, 10_000),
       signs=st.sets(st.sampled_from(SIGN_KEYS), min_size=1),
       concern=st.sampled_from([6.0, 7.5, 8.0, 9.0]))
def test_heatmap_concern_cells_are_exactly_those_below_the_threshold(clients, seed, signs,
                                                                      concern):
    config = parse_config({"thresholds": {"concern_below": concern}})
    latest = latest_scores(caseload(clients, 3, seed).query("rater == 'client'"))
    spec = A.spec_latest_heatmap(latest, config=config, rater="client", signs=signs)
    wanted = latest[latest["sign"].isin(signs) & latest["latest"].notna()]
    if wanted.empty:  # e.g. one client who attended none of their sessions
        assert _is_message(spec)
        return
    cells = _dataset(spec, "latest", "concern")
    labels = {SIGN_LABELS[k] for k in signs}
    assert {r["sign"] for r in cells} <= labels
    assert len(cells) == len(wanted)
    below = {(r["client_id"], r["sign"]) for r in cells if r["concern"]}
    reference = wanted[wanted["latest"] < concern]
    assert below == set(zip(reference["client_id"], reference["sign"].map(SIGN_LABELS),
                            strict=True))
    assert all(r["level"].endswith("concern") == r["concern"] for r in cells)


def test_heatmap_outlines_concern_cells_in_the_svg_and_names_the_rater(capfd):
    latest = latest_scores(caseload(12, 4).query("rater == 'therapist'"))
    spec = A.spec_latest_heatmap(latest, config=CONFIG, rater="therapist",
                                 signs=("trust_safety", "outcomes_progress"))
    assert spec["title"]["text"] == "Latest rating by the therapist, per sign"
    x = spec["layer"][0]["encoding"]["x"]["scale"]["domain"]
    assert x == [SIGN_LABELS["trust_safety"], SIGN_LABELS["outcomes_progress"]]
    svg = check_renders(spec, capfd)
    outlined = svg.count('stroke="black" stroke-width="2.5"')
    n_concern = sum(r["concern"] for r in _dataset(spec, "concern"))
    assert n_concern > 0 and outlined == n_concern
    legend = spec["layer"][0]["encoding"]["color"]["scale"]["domain"]
    assert legend == ["below 6: concern", "6 to under 8: concern", "8 to under 9: good",
                      "9 and above: good"]
    assert all("client_id" in r for r in _dataset(spec, "concern"))


# --- gap, attendance, outcome ----------------------------------------------------------------


def test_gap_app_only_the_given_signs_and_a_title(capfd):
    rows = caseload(6, 6)
    spec = A.spec_gap_app(rows, config=CONFIG, signs=["collaboration_respect", "trust_safety"],
                          start=START, end=_end(6))
    means = _dataset(spec, "mean_gap")
    assert {r["sign"] for r in means} == {SIGN_LABELS["trust_safety"],
                                          SIGN_LABELS["collaboration_respect"]}
    assert spec["facet"]["column"]["sort"] == [SIGN_LABELS["trust_safety"],
                                               SIGN_LABELS["collaboration_respect"]]
    assert "Perspective gap" in spec["title"]["text"]
    check_renders(spec, capfd)


def test_outcome_app_band_from_the_first_score_ever(capfd):
    rows = caseload(5, 12)
    start = START + pd.Timedelta(weeks=6)
    spec = A.spec_outcome_app(rows, "phq9", config=CONFIG, start=start, end=_end(12))
    scored = rows[rows["phq9"].notna()].sort_values("session_date")
    first = scored.groupby("client_id")["phq9"].first()
    bands = {r["client_id"]: (r["low"], r["high"]) for r in _dataset(spec, "low", "high")}
    assert bands == {c: (max(f - 6, 0), min(f + 6, 27)) for c, f in first.items()}
    assert _dataset(spec, "cutoff") == [{"cutoff": 10.0}]
    labels = sorted(r["label_y"] for r in _dataset(spec, "label_y"))
    assert all(b - a >= MIN_GAP - 1e-6 for a, b in zip(labels, labels[1:], strict=False))
    check_renders(spec, capfd)


def test_every_builder_renders_at_30_clients(capfd):
    rows = caseload()
    end = _end(26)
    latest = latest_scores(rows[rows["rater"] == "client"])
    specs = [A.spec_caseload_sign(rows, s, config=CONFIG, rater="client", start=START, end=end,
                                  highlight=_highlight(rows, 5)) for s in SIGN_KEYS]
    specs += [A.spec_latest_heatmap(latest, config=CONFIG, rater="client"),
              A.spec_gap_app(rows, config=CONFIG, signs=SIGN_KEYS, start=START, end=end),
              A.spec_attendance_app(rows, start=START, end=end),
              A.spec_outcome_app(rows, "phq9", config=CONFIG, start=START, end=end)]
    aggregates = [{"lo", "hi"}, {"session_date", "until", "q1", "median", "q3"}, {"cutoff"}]
    for spec in specs:
        assert not _is_message(spec)
        check_renders(spec, capfd)
        for rows_ in spec["datasets"].values():  # a client's marks carry client_id
            assert "client_id" in rows_[0] or set(rows_[0]) in aggregates, rows_[0]


# --- empty charts ----------------------------------------------------------------------------


def test_empty_inputs_give_a_message(capfd):
    rows = caseload(3, 4).iloc[:0]
    end = _end(4)
    specs = {
        "sign": A.spec_caseload_sign(rows, "trust_safety", config=CONFIG, rater="client",
                                     start=START, end=end, highlight=["C0001"]),
        "heatmap": A.spec_latest_heatmap(latest_scores(rows), config=CONFIG, rater="client"),
        "no signs": A.spec_latest_heatmap(latest_scores(caseload(3, 4)), config=CONFIG,
                                          rater="client", signs=()),
        "gap": A.spec_gap_app(rows, config=CONFIG, signs=SIGN_KEYS, start=START, end=end),
        "attendance": A.spec_attendance_app(rows, start=START, end=end),
        "outcome": A.spec_outcome_app(caseload(3, 4, phq9=False), "phq9", config=CONFIG,
                                      start=START, end=end),
        "no therapist": A.spec_gap_app(caseload(3, 4, raters=("client",)), config=CONFIG,
                                       signs=SIGN_KEYS, start=START, end=end),
        "observer": A.spec_caseload_sign(caseload(3, 4), "trust_safety", config=CONFIG,
                                         rater="observer", start=START, end=end),
    }
    for name, spec in specs.items():
        assert _is_message(spec), name
        check_renders(spec, capfd)
    message = next(iter(specs["outcome"]["datasets"].values()))[0]["message"]
    assert message == "No PHQ-9 scores for these clients in this period."
    assert specs["observer"]["title"]["text"] == "Trust & safety, rated by an observer"


def test_message_has_no_axes():
    spec = A.spec_message("PHQ-9", "No PHQ-9 scores for these clients in this period.")
    vega = compile_vega(spec)
    assert not vega.get("axes") and not vega.get("scales") and not vega.get("legends")
    assert spec["title"]["text"] == "PHQ-9"
    assert "No PHQ-9 scores for these clients in this period." in chart_to_svg(spec)
