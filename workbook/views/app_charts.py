"""STAND-IN until the `charts` branch lands: the app's builders over the existing ones."""

from __future__ import annotations

from typing import Any

from workbook.views import charts as c


def spec_message(title: str, message: str) -> dict[str, Any]:
    return {"$schema": "https://vega.github.io/schema/vega-lite/v6.json",
            "title": title, "data": {"values": [{"text": message}]},
            "mark": {"type": "text", "align": "left", "fontSize": 13},
            "encoding": {"text": {"field": "text"}}, "width": 560, "height": 30,
            "config": {"view": {"stroke": None}}}


def spec_caseload_sign(rows, sign, *, config, rater, start, end, highlight=(), ruptures=None):
    return c.spec_sign_caseload(rows, sign, config=config, highlight=highlight,
                                ruptures=ruptures, rater=rater, start=start, end=end)


def spec_latest_heatmap(latest, *, config, rater, signs):
    if latest.empty:
        return spec_message("Latest rating per sign", "No ratings for these filters.")
    return c.spec_caseload_heatmap(latest, config=config)


def spec_gap_app(rows, *, config, signs, start, end):
    return c.spec_perspective_gap(rows, config=config, start=start, end=end)


def spec_attendance_app(rows, *, start, end):
    return c.spec_attendance(rows, start=start, end=end)


def spec_outcome_app(rows, measure_key, *, config, start, end):
    if c.select_rows(rows, start=start, end=end)[measure_key].isna().all():
        return spec_message(measure_key, "No scores for these clients in this period.")
    return c.spec_outcome(rows, measure_key, config=config, start=start, end=end)
