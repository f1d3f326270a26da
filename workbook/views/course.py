"""STAND-IN until the `charts` branch lands."""

from __future__ import annotations

from typing import Any

from workbook.views import charts as c


def course_specs(ratings, ruptures, *, config, client_id, start=None, end=None
                 ) -> dict[str, dict[str, Any]]:
    specs = {"course:attendance": c.spec_attendance(ratings, clients=[client_id], end=end)}
    for key in config.all_measures():
        if key in ratings and ratings[key].notna().any():
            specs[f"course:outcome:{key}"] = c.spec_outcome(ratings, key, config=config,
                                                            clients=[client_id], end=end)
    return specs
