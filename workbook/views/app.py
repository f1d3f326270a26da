"""The caseload review as an app: headline figures, a live agenda, filters, a chart per view
and one client's course, all following the filters (`CaseloadApp`).

- What is reachable: `therapists` (the caseloads this app may show: one with `workbook review
  --therapist`, a supervisor's supervisees, or all). Every value the page sends back (a
  therapist, a clicked client) is checked against it in the kernel.
- Periods: a preset (latest month, last 3 months, since a date, the whole record) or the weeks
  picked on the slider. A new period is analysed once (the whole clinic's analysis, as the
  reports do, so the agenda says what they say) and kept; clients, signs and rater only cut it.
- Charts are drawn in the page by `workbook.views.vega_widget.VegaView`; a chart is sent again
  only when its spec changed. The notebook also shows a static copy of the app (headline,
  agenda, charts as SVG) for viewers that run no widget code; the live page hides it.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import ipywidgets as w
import pandas as pd

from workbook.analysis.headline import headline_figures
from workbook.analysis.periods import Period, latest_complete_month
from workbook.analysis.pipeline import Analysis, analyse, rank_for_rater
from workbook.data.config import Config
from workbook.data.errors import ParameterError
from workbook.data.signs import SIGN_KEYS, SIGNS
from workbook.views import app_html
from workbook.views.app_specs import build_course_specs, build_view_specs, course_keys
from workbook.views.filters import FilterState, list_clients, list_raters, view_keys
from workbook.views.vega_widget import ClickableHTML, VegaRuntime, VegaView

PRESETS = (("Latest month", "month"), ("Last 3 months", "3m"), ("Since a date", "since"),
           ("Whole record", "all"), ("Weeks chosen below", "weeks"))
RATER_LABELS = {"client": "Client", "therapist": "Therapist"}
CUTS_KEPT = 16


@dataclass(frozen=True)
class Caseloads:
    """The data behind the app and the caseloads it may show."""

    ratings: pd.DataFrame
    config: Config
    therapists: tuple[str, ...]
    default_period: Period


class CaseloadApp:
    """The app for one or more caseloads; display it (the notebook's last cell)."""

    def __init__(self, source: Caseloads, therapist_id: str | None = None) -> None:
        if not source.therapists:
            raise ParameterError("no therapist to show: none has a session in the data")
        self.source = source
        self._analyses: dict[tuple, Analysis] = {}
        self._shown: dict[str, tuple] = {}  # view key -> the inputs its spec was built for
        self._ranked: dict[tuple, Analysis] = {}
        self._cuts: dict[tuple, Analysis] = {}
        self._quiet = True  # no refresh while the controls are made
        self.course_client: str | None = None
        self._weeks = _week_starts(source.ratings)
        therapist = therapist_id or source.therapists[0]
        if therapist not in source.therapists:
            raise ParameterError(f"therapist_id {therapist!r} is not one this app may show")
        self._make_controls(therapist)
        self._make_views()
        self.widget = self._layout()
        self._quiet = False
        self.refresh()

    # --- building ------------------------------------------------------------------------------

    def _make_controls(self, therapist: str) -> None:
        src, wide = self.source, {"description_width": "initial"}
        self.therapist = w.Dropdown(options=list(src.therapists), value=therapist,
                                    description="Therapist", style=wide,
                                    disabled=len(src.therapists) == 1)
        month = src.default_period
        self.preset = w.Dropdown(options=[(f"Latest month ({month.label})" if v == "month"
                                           else label, v) for label, v in PRESETS],
                                 value="month", description="Period", style=wide)
        self.since = w.DatePicker(value=(month.start - pd.DateOffset(months=2)).date(),
                                  description="Since", style=wide,
                                  layout=w.Layout(display="none"))
        labels = [(f"{d:%-d %b %Y}", d) for d in self._weeks]
        self.weeks = w.SelectionRangeSlider(options=labels, index=(0, len(labels) - 1),
                                            description="Weeks", readout=False, style=wide,
                                            layout=w.Layout(width="520px"))
        self.weeks_label = w.HTML()
        self.clients = w.SelectMultiple(options=[], rows=8, description="Clients", style=wide)
        self.signs = w.SelectMultiple(options=[(s.label, s.key) for s in SIGNS], value=SIGN_KEYS,
                                      rows=5, description="Signs", style=wide)
        raters = list_raters(src.ratings)
        self.rater = w.Dropdown(options=[(RATER_LABELS.get(r, r.capitalize()), r) for r in raters],
                                value=raters[0], description="Rated by", style=wide)
        for name in ("therapist", "preset", "since", "weeks", "clients", "signs", "rater"):
            control = getattr(self, name)
            control.add_class(f"wb-{name}")
            control.observe(self._on_change, names="value")
        self._show_clients(therapist)
        self._set_period(month)

    def _make_views(self) -> None:
        self.keys = view_keys(self._analysis(self.source.default_period))
        self.views = {key: VegaView(key) for key in self.keys}
        self.header = w.HTML()
        self.tiles = w.HTML(layout=w.Layout(width="100%"))
        self.agenda = ClickableHTML(layout=w.Layout(width="100%"))
        self.agenda.add_class("wb-agenda")
        self.course_head = ClickableHTML()
        self.close_course = w.Button(description="Close course")
        self.close_course.on_click(lambda _: self.show_course(None))
        self.course_views = {key: VegaView(key) for key in course_keys(self.source.config)}
        self.course = w.VBox([w.HBox([self.course_head, self.close_course]),
                              *self.course_views.values()], layout=w.Layout(display="none"))
        self.course.add_class("wb-course")
        for view in (self.agenda, *self.views.values(), *self.course_views.values()):
            view.on_client(self.show_course)

    def _layout(self) -> w.VBox:
        self.runtime = VegaRuntime(css=app_html.APP_CSS)
        filters = w.HBox([w.VBox([self.therapist, self.rater, self.preset, self.since]),
                          w.VBox([self.weeks, self.weeks_label]), self.clients, self.signs])
        filters.add_class("wb-filters")
        self.tiles.add_class("wb-headline")
        charts = w.VBox([w.HTML('<h2 class="wb-h">Charts</h2>'), *self.views.values()])
        app = w.VBox([self.runtime, self.header, filters, self.tiles, self.agenda, self.course,
                      charts], layout=w.Layout(width="100%"))
        app.add_class("wb-app")
        return app

    # --- state ---------------------------------------------------------------------------------

    def read_state(self) -> FilterState:
        """What the controls show (no client selected means all clients)."""
        period = self.period
        return FilterState(therapist_id=self.therapist.value,
                           clients=tuple(self.clients.value) or None,
                           signs=tuple(k for k in SIGN_KEYS if k in self.signs.value),
                           rater=self.rater.value, start=period.start, end=period.end)

    def _on_change(self, change: dict) -> None:
        if self._quiet:
            return
        owner = change["owner"]
        with self._hold():
            if owner is self.therapist:
                self._show_clients(change["new"])
            elif owner in (self.preset, self.since):
                self.since.layout.display = None if self.preset.value == "since" else "none"
                self._set_period(self._preset_period())
            elif owner is self.weeks:
                self.preset.value = "weeks"
                self._set_period(self._weeks_period(), move_slider=False)
        self.refresh()

    @contextmanager
    def _hold(self) -> Iterator[None]:
        self._quiet, before = True, self._quiet
        try:
            yield
        finally:
            self._quiet = before

    def _show_clients(self, therapist: str) -> None:
        if therapist not in self.source.therapists:  # the page can only send listed ones
            raise ParameterError(f"therapist {therapist!r} is not one this app may show")
        self.clients.value = ()
        self.clients.options = list_clients(self.source.ratings, therapist)

    def _preset_period(self) -> Period:
        """The period a preset names, within the data."""
        month, first, last = (self.source.default_period, self._weeks[0],
                              self.source.ratings["session_date"].max().normalize())
        choice = self.preset.value
        if choice == "3m":
            return Period(month.start - pd.DateOffset(months=2), month.end)
        if choice == "since":
            start = pd.Timestamp(self.since.value or month.start)
            return Period(min(start, last), last)
        if choice == "all":
            return Period(first, last)
        if choice == "weeks":
            return self._weeks_period()
        return month

    def _weeks_period(self) -> Period:
        lo, hi = self.weeks.value
        last = self.source.ratings["session_date"].max().normalize()
        return Period(lo, min(hi + pd.Timedelta(days=6), max(last, lo)))

    def _set_period(self, period: Period, move_slider: bool = True) -> None:
        self.period = period
        if move_slider:
            inside = [i for i, d in enumerate(self._weeks)
                      if d + pd.Timedelta(days=6) >= period.start and d <= period.end]
            if inside:
                self.weeks.index = (inside[0], inside[-1])
        self.weeks_label.value = (f'<span class="wb-note">{period.start:%-d %b %Y} – '
                                  f"{period.end:%-d %b %Y}</span>")

    def _analysis(self, period: Period) -> Analysis:
        """The whole clinic's analysis of a period, made once."""
        key = (period.start, period.end)
        if key not in self._analyses:
            self._analyses[key] = analyse(self.source.ratings, self.source.config, period)
        return self._analyses[key]

    # --- showing -------------------------------------------------------------------------------

    def refresh(self) -> list[str]:
        """Bring the headline, agenda, charts and open course up to date with the controls.
        Returns the keys of the charts sent to the page again."""
        state = self.read_state()
        self.state = state
        mine = self._caseload(state)
        everyone = mine if state.clients is None else self._caseload(replace(state, clients=None))
        total, shown = everyone.attendance["client_id"].nunique(), mine.attendance[
            "client_id"].nunique()  # clients with a session in the period, as the tiles count
        self.header.value = app_html.title_html(state.therapist_id, self.period.label, shown,
                                                total)
        self.tiles.value = app_html.tiles_html(headline_figures(mine, state.rater))
        self.agenda.show(app_html.agenda_html(mine.discussion, state.rater))
        sent = self._show_views(mine, state)
        if self.course_client is not None:
            self._show_course_views(mine, state)
        return sent

    def _caseload(self, state: FilterState) -> Analysis:
        """The period's analysis, ranked for the rater, cut to the therapist and clients (the
        last few cuts are kept: going back and forth costs nothing)."""
        key = (state.start, state.end, state.rater, state.therapist_id, state.clients)
        if key not in self._cuts:
            ranked = self._ranked.get(key[:3])
            if ranked is None:
                ranked = rank_for_rater(self._analysis(self.period), state.rater)
                self._ranked[key[:3]] = ranked
            self._cuts[key] = ranked.select(
                therapist_id=state.therapist_id,
                clients=None if state.clients is None else list(state.clients))
            while len(self._cuts) > CUTS_KEPT:
                self._cuts.pop(next(iter(self._cuts)))
        return self._cuts[key]

    def _show_views(self, mine: Analysis, state: FilterState) -> list[str]:
        """Show the views the signs filter keeps; rebuild those whose inputs changed."""
        visible = [k for k in self.keys if k not in SIGN_KEYS or k in state.signs]
        for key, view in self.views.items():
            view.layout.display = None if key in visible else "none"
        stale = [k for k in visible if self._shown.get(k) != _view_inputs(k, state)]
        specs = build_view_specs(mine, state, stale)
        for key in stale:
            self._shown[key] = _view_inputs(key, state)
        return [key for key, spec in specs.items() if self._send(self.views[key], spec)]

    def _send(self, view: VegaView, spec: dict[str, Any]) -> bool:
        """Send a spec unless the page already shows it."""
        if view.spec == spec:
            return False
        view.show(spec)
        return True

    def show_course(self, client_id: str | None) -> None:
        """Open one client's course below the agenda (None closes it). Only a client of the
        caseload shown can be opened."""
        if client_id is not None and client_id not in self.clients.options:
            return  # not this caseload's client: the page cannot open it
        self.course_client = client_id
        self.course.layout.display = "none" if client_id is None else None
        if client_id is not None:
            self._show_course_views(self._caseload(self.state), self.state)

    def _show_course_views(self, mine: Analysis, state: FilterState) -> None:
        client = self.course_client
        reasons = mine.discussion.loc[mine.discussion["client_id"] == client, "reasons"]
        self.course_head.show(app_html.course_title_html(
            client, self.period.label, list(reasons.iloc[0]) if len(reasons) else []))
        specs = build_course_specs(mine, client, state)
        first = True
        for key, view in self.course_views.items():
            view.layout.display = None if key in specs else "none"
            if key in specs:
                view.scroll_into_view = first
                first = False
                self._send(view, specs[key])

    # --- display -------------------------------------------------------------------------------

    def _ipython_display_(self) -> None:
        from IPython.display import HTML, display

        bundle = self.widget._repr_mimebundle_()
        bundle["text/plain"] = ("Caseload review app: run the notebook (or trust it) to see it "
                                "here; a copy as it was when it ran follows.")
        display(bundle, raw=True)
        if not _in_voila():
            display(HTML(self.static_html()))

    def static_html(self) -> str:
        """The app as it stands, without widgets: title, tiles, agenda, charts as SVG."""
        from workbook.views.svg import chart_to_svg

        parts = [self.header.value, self.tiles.value, self.agenda.html]
        for view in self.views.values():
            if view.layout.display != "none" and view.spec is not None:
                svg = chart_to_svg(view.spec)
                parts.append(f'<figure class="wb-static-chart">{svg}</figure>')
        note = ('<p class="wb-note">A copy of the caseload review as it was when this notebook '
                "ran; open it in JupyterLab with its kernel to use the filters.</p>")
        style = f"<style>{app_html.STATIC_CSS}</style>"
        return f'<div class="wb-static">{style}{note}{"".join(parts)}</div>'


def _view_inputs(key: str, state: FilterState) -> tuple:
    """What a view's spec depends on: therapist, clients and period always; the rater for the
    sign charts and the heatmap; the signs for the heatmap and the gap chart."""
    common = (state.therapist_id, state.clients, state.start, state.end)
    if key in SIGN_KEYS:
        return (*common, state.rater)
    if key == "heatmap":
        return (*common, state.rater, state.signs)
    if key == "gap":
        return (*common, state.signs)
    return common


def _in_voila() -> bool:
    """True in a kernel Voilà started (it names itself in SERVER_SOFTWARE)."""
    return os.environ.get("SERVER_SOFTWARE", "").startswith("voila")


def _week_starts(ratings: pd.DataFrame) -> list[pd.Timestamp]:
    """Mondays from the first session's week to the last's."""
    days = ratings["session_date"].dt.normalize()
    first = days.min() - pd.Timedelta(days=int(days.min().weekday()))
    return list(pd.date_range(first, days.max(), freq="7D"))


def open_caseloads(ratings: pd.DataFrame, config: Config, *, therapist_id: str | None,
                   supervisor_id: str | None, only_therapist: bool, month: Period | None,
                   today: date | None = None) -> Caseloads:
    """The caseloads reachable under these parameters (minimum necessary)."""
    known = sorted(ratings["therapist_id"].dropna().unique())
    if therapist_id is not None and therapist_id not in known:
        close = difflib.get_close_matches(therapist_id, known, n=3)
        hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(known[:20])}"
        raise ParameterError(f"therapist_id {therapist_id!r} has no session in the data ({hint})")
    if only_therapist:
        reachable = [t for t in known if t == therapist_id]
    elif supervisor_id is not None:
        rows = ratings[ratings["supervisor_id"] == supervisor_id]
        reachable = sorted(rows["therapist_id"].dropna().unique())
    else:
        reachable = known
    if not reachable:
        who = (f"therapist {therapist_id!r}" if only_therapist
               else f"supervisor {supervisor_id!r}" if supervisor_id else "this data")
        raise ParameterError(f"{who}: no caseload with a session in the data")
    period = month or latest_complete_month(ratings, today)
    return Caseloads(ratings=ratings, config=config, therapists=tuple(reachable),
                     default_period=period)
