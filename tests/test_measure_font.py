"""Charts measured with the small copy of DejaVu Sans are byte for byte the charts measured with
DejaVu Sans itself (workbook.views.measure_font): the copy only makes vl-convert faster.

The oracle is vl-convert on the same Vega spec with the real font; the charts are the example
clinic's report charts and generated text of every kind the copy covers, in both weights."""

from __future__ import annotations

import vl_convert as vlc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbook.data.signs import SIGN_KEYS
from workbook.views import charts, measure_font, svg


def _plain(vega: dict) -> str:
    svg.register_fonts()
    return vlc.vega_to_svg(vega, allowed_base_urls=[])


def _report_specs(analysis) -> list[dict]:
    cut = analysis.select(therapist_id=analysis.therapists[0])
    specs = [charts.spec_sign_caseload(cut.ratings, sign, config=cut.config,
                                       highlight=sorted(cut.ruptures["client_id"]),
                                       ruptures=cut.ruptures, start=cut.period.start,
                                       end=cut.period.end) for sign in SIGN_KEYS]
    specs.append(charts.spec_attendance(cut.ratings, start=cut.period.start,
                                        end=cut.period.end))
    return [svg.compile_vega({**s, "config": {**s.get("config", {}), "aria": False}})
            for s in specs]


def test_the_measuring_copy_is_in_use_where_dejavu_is():
    assert svg.register_fonts()
    assert measure_font.MEASURE_FAMILY in svg._registered  # noqa: SLF001
    assert charts.FONT == svg.FONT


def test_report_charts_are_the_same_svg_measured_with_the_copy(example):
    specs = _report_specs(example.analysis)
    for vega in specs:
        assert svg._measured(vega) is not None  # noqa: SLF001 - the copy really stood in
        assert svg._vega_to_svg(vega) == _plain(vega)  # noqa: SLF001


def _text_chart(labels: list[str], weight: str) -> dict:
    rows = [{"i": i, "t": text} for i, text in enumerate(labels)]
    return {
        "$schema": "https://vega.github.io/schema/vega/v6.json", "padding": 5,
        "autosize": {"type": "pad"}, "width": 300, "height": 20 * len(labels),
        "data": [{"name": "d", "values": rows}],
        "scales": [{"name": "y", "type": "band", "domain": {"data": "d", "field": "t"},
                    "range": "height"}],
        "axes": [{"scale": "y", "orient": "left", "labelFont": svg.FONT,
                  "labelFontWeight": weight, "labelOverlap": True}],
        "marks": [{"type": "text", "from": {"data": "d"}, "encode": {"update": {
            "text": {"field": "t"}, "x": {"value": 10}, "y": {"scale": "y", "field": "t"},
            "font": {"value": svg.FONT}, "fontWeight": {"value": weight},
            "limit": {"value": 120}}}}],
    }


covered = st.text(st.sampled_from(sorted(measure_font.COVERED)), min_size=1, max_size=24)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(labels=st.lists(covered, min_size=1, max_size=6, unique=True),
       weight=st.sampled_from(["normal", "bold"]))
def test_any_covered_text_measures_the_same(labels, weight):
    vega = _text_chart(labels + ["AVAToWaVfi fl", "Tr. Yo, LT"], weight)  # kerning pairs
    assert svg._measured(vega) is not None  # noqa: SLF001
    assert svg._vega_to_svg(vega) == _plain(vega)  # noqa: SLF001


def test_text_the_copy_lacks_is_measured_with_dejavu_itself():
    for labels, weight in ((["C01", "漢字"], "normal"), (["ǅ", "\u0301a"], "bold"),
                           (["C01"], "300"), ([measure_font.MEASURE_FAMILY], "normal")):
        vega = _text_chart(labels, weight)
        assert svg._measured(vega) is None, (labels, weight)  # noqa: SLF001
        assert svg._vega_to_svg(vega) == _plain(vega)  # noqa: SLF001
    italic = _text_chart(["C01"], "normal")
    italic["marks"][0]["encode"]["update"]["fontStyle"] = {"value": "italic"}
    assert svg._measured(italic) is None  # noqa: SLF001


def test_the_copy_is_made_once_and_kept(tmp_path):
    first = measure_font.measure_font_dir(svg.DEJAVU_DIR, tmp_path)
    assert first is not None and sorted(p.name for p in first.iterdir()) == sorted(
        measure_font.FACES)
    stamp = {p.name: p.stat().st_mtime_ns for p in first.iterdir()}
    again = measure_font.measure_font_dir(svg.DEJAVU_DIR, tmp_path)
    assert again == first and stamp == {p.name: p.stat().st_mtime_ns for p in again.iterdir()}
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no temporary folder left


def test_no_copy_when_it_cannot_be_made(tmp_path):
    assert measure_font.measure_font_dir(tmp_path / "no-fonts", tmp_path) is None
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    assert measure_font.measure_font_dir(svg.DEJAVU_DIR, blocked) is None
