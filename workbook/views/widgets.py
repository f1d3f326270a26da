"""The caseload review's filter panel: ipywidgets wired to `workbook.views.filters`, charts shown
with `alt.JupyterChart` in offline mode.

- Offline: `enable_offline()` makes every JupyterChart load Vega from a bundle made by
  vl-convert (no CDN), so the charts render in JupyterLab 4 (which does not show Vega-Lite 6
  itself) with no internet.
- Charts carry their rows inline (`workbook.views.charts`); `OfflineChart` sends the spec made by
  `workbook.views.svg.chart_spec`, which skips re-validating thousands of rows, so a large
  caseload neither hits Altair's 5,000-row limit nor slows each filter change. The charts have
  no selections or parameters, so JupyterChart's selection and parameter syncing is not used.
- Filters: therapist (Dropdown), clients (SelectMultiple; none selected shows all), signs
  (SelectMultiple: which sign charts are shown), rater (Dropdown: whose ratings the sign
  charts and the heatmap show) and dates (SelectionRangeSlider over the session days).
- Updates: each chart is built for all of the therapist's clients and cut to the selected
  clients in the spec (`workbook.views.filters.restrict_spec`), so a client change costs a few
  milliseconds; a therapist, rater or date change rebuilds the shown charts it affects (Altair
  construction: about 0.1 s a chart). A hidden sign chart is brought up to date when shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import altair as alt
import ipywidgets as w
import pandas as pd
import traitlets

from workbook.analysis.pipeline import Analysis
from workbook.data.signs import SIGN_KEYS, SIGNS
from workbook.views.filters import (
    FilterState,
    build_specs,
    chart_inputs,
    default_state,
    discussion_table,
    list_clients,
    list_dates,
    list_raters,
    restrict_spec,
    stale_charts,
    view_keys,
)
from workbook.views.svg import chart_spec

# vega-embed: draw SVG (text stays in the page), keep the export menu, and leave out the
# "Open in Vega Editor" action, which would send the chart's rows to a remote site.
EMBED_OPTIONS = {"renderer": "svg",
                 "actions": {"export": True, "source": False, "compiled": False, "editor": False}}


def enable_offline() -> None:
    """Make JupyterChart load its JavaScript from vl-convert's bundle, never from a CDN."""
    alt.JupyterChart.enable_offline(offline=True)


class OfflineChart(alt.JupyterChart):
    """A JupyterChart for the workbook's charts. `chart` is built for all of a therapist's
    clients and `clients` picks those shown (None: all): the spec sent to the page is
    `chart_spec(chart)` cut by `workbook.views.filters.restrict_spec`, so a client filter change
    does not rebuild the chart, and no row limit applies (the rows are already inline)."""

    clients = traitlets.Tuple(default_value=None, allow_none=True)

    def __init__(self, chart: alt.TopLevelMixin | None = None, **kwargs: Any) -> None:
        self._full_spec: dict[str, Any] | None = None
        super().__init__(chart, **kwargs)

    @traitlets.observe("chart")
    def _on_change_chart(self, change: Any) -> None:
        self.show_spec(None if change.new is None else chart_spec(change.new))

    def show_spec(self, spec: dict[str, Any] | None) -> None:
        """Show a Vega-Lite spec (as `chart_spec` or the spec_* builders make it) for all of
        a therapist's clients; `clients` still picks those shown."""
        self._full_spec = spec
        with self.hold_sync():
            self._selection_types = {}
            self._vl_selections = {}
            self._params = {}
            self._show()

    @traitlets.observe("clients")
    def _on_change_clients(self, change: Any) -> None:
        self._show()

    def _show(self) -> None:
        full = getattr(self, "_full_spec", None)
        self.spec = None if full is None else restrict_spec(full, self.clients)


class CaseloadPanel:
    """Filter controls and one chart widget per view, for one analysis.

    `controls` and `charts` are widget boxes to display; `state` is the current filter state;
    `discussion_frame()` the discussion list for it. Set any control's `.value` (in the browser
    or in Python) to update the charts.
    """

    def __init__(self, analysis: Analysis, therapist_id: str | None = None) -> None:
        enable_offline()
        self.analysis = analysis
        self.state = default_state(analysis, therapist_id)
        self._built: dict[str, tuple] = {}
        self._quiet = False
        self._make_controls()
        self.keys = view_keys(analysis)
        self.views = {key: OfflineChart(embed_options=EMBED_OPTIONS) for key in self.keys}
        self.controls = w.VBox([w.HBox([self.therapist, self.rater]), self.dates,
                                w.HBox([self.clients, self.signs])])
        self.charts = w.VBox([self.views[key] for key in self.keys])
        for control in (self.therapist, self.clients, self.signs, self.rater, self.dates):
            control.observe(self._on_change, names="value")
        self.refresh()

    def _make_controls(self) -> None:
        """The five filter widgets, set to the default state."""
        ratings, state = self.analysis.ratings, self.state
        wide = {"description_width": "initial"}
        self.therapist = w.Dropdown(options=self.analysis.therapists, value=state.therapist_id,
                                    description="Therapist", style=wide)
        clients = list_clients(ratings, state.therapist_id)
        self.clients = w.SelectMultiple(options=clients, value=clients, rows=8,
                                        description="Clients", style=wide)
        self.signs = w.SelectMultiple(options=[(s.label, s.key) for s in SIGNS], value=SIGN_KEYS,
                                      rows=5, description="Signs", style=wide)
        self.rater = w.Dropdown(options=list_raters(ratings), value=state.rater,
                                description="Rated by", style=wide)
        days = list_dates(ratings)
        self.dates = w.SelectionRangeSlider(
            options=[(f"{d:%Y-%m-%d}", d) for d in days], index=_span_index(days, state),
            description="Dates", style=wide, layout=w.Layout(width="640px"))

    def read_state(self) -> FilterState:
        """The filter state the controls show (no client selected means all clients)."""
        start, end = self.dates.value
        return FilterState(therapist_id=self.therapist.value,
                           clients=tuple(self.clients.value) or None,
                           signs=tuple(k for k in SIGN_KEYS if k in self.signs.value),
                           rater=self.rater.value, start=start, end=end)

    def _on_change(self, change: dict) -> None:
        if self._quiet:
            return
        if change["owner"] is self.therapist:
            self._show_clients(change["new"])
        self.refresh()

    def _show_clients(self, therapist_id: str) -> None:
        """Offer the new therapist's clients, all selected, without a refresh per change."""
        clients = list_clients(self.analysis.ratings, therapist_id)
        with self._hold():
            self.clients.value = ()
            self.clients.options = clients
            self.clients.value = tuple(clients)

    @contextmanager
    def _hold(self) -> Iterator[None]:
        self._quiet = True
        try:
            yield
        finally:
            self._quiet = False

    def refresh(self) -> list[str]:
        """Rebuild the charts the current filters change and show or hide the sign charts.
        Returns the keys of the charts rebuilt."""
        self.state = self.read_state()
        stale = stale_charts(self._built, self.state, self.keys)
        everyone = replace(self.state, clients=None)
        specs = build_specs(self.analysis, everyone, stale) if stale else {}
        for key, spec in specs.items():
            self.views[key].show_spec(spec)
            self._built[key] = chart_inputs(key, self.state)
        for key, view in self.views.items():
            shown = key not in SIGN_KEYS or key in self.state.signs
            view.layout.display = None if shown else "none"
            if shown:
                view.clients = self.state.clients
        return stale

    def discussion_frame(self) -> pd.DataFrame:
        """The ranked discussion list for the current therapist and clients."""
        return discussion_table(self.analysis, self.state)


def _span_index(days: list[pd.Timestamp], state: FilterState) -> tuple[int, int]:
    """Slider positions of the first and last session day within the state's dates."""
    start = days[0] if state.start is None else state.start
    end = days[-1] if state.end is None else state.end
    inside = [i for i, d in enumerate(days) if start <= d <= end]
    return (inside[0], inside[-1]) if inside else (0, len(days) - 1)

