"""One client's course, for the app's drill-down: the five signs over time with rupture episodes,
the perspective gap per session, attendance, and each outcome measure.

`course_specs` takes the whole analysis frames and cuts them to the client first: no other
client's row reaches a course chart. The window start..end sets every chart's x domain; with no
start the course runs from the client's first session, with no end to their latest. Only
ratings dated up to `end` are used. Outcome bands start from the client's first score ever (up
to `end`), whatever the window, as in the outcome figures. The sign charts show the client's
and the therapist's ratings (other raters' rows are left out; rupture episodes of any rater
are drawn, the rater in the tooltip). Specs are built like the app's others
(`workbook.views.app_charts`): structure cached, rows inline, a plain message where a chart has
nothing to draw.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from workbook.data.config import Config
from workbook.data.signs import SIGN_COLOURS, SIGN_KEYS, SIGN_LABELS
from workbook.views import app_rows as R
from workbook.views.app_charts import (
    WIDTH,
    _attendance_spec,
    _date_x,
    _outcome_spec,
    _rating_y,
    _with_window,
    assemble,
    choose_date_ticks,
    choose_window,
    spec_message,
)
from workbook.views.app_rows import Table
from workbook.views.charts import (
    RUPTURE_STATUS,
    DateLike,
    _concern_band,
    _config_key,
    _Data,
    _date_tip,
    _finish,
    _rupture_layer,
    _sign_scale,
    _wrap_expr,
)

PANEL_HEIGHT = 70
RATER_LABELS = {"client": "Client", "therapist": "Therapist"}
RATER_DASHES = ([1, 0], [5, 3])
RATER_SHAPES = ("circle", "diamond")
EPISODE_GREY = "#999999"


def course_specs(ratings: pd.DataFrame, ruptures: pd.DataFrame | None, *, config: Config,
                 client_id: str, start: DateLike = None,
                 end: DateLike = None) -> dict[str, dict[str, Any]]:
    """The client's course charts by key: "course:signs", "course:gap", "course:attendance",
    and "course:outcome:<measure>" for each measure the client has a score on up to `end`."""
    mine = ratings[ratings["client_id"].to_numpy() == client_id]
    if end is not None:
        mine = mine[mine["session_date"].to_numpy(dtype="datetime64[D]") <= R.day(end)]
    window = choose_window(start, end, [mine["session_date"].to_numpy(dtype="datetime64[D]")])
    columns = ["client_id", "session_date", "rater", *SIGN_KEYS]
    shown = R.take(mine, columns, start=window[0], end=window[1])
    episodes = course_episodes(ruptures, client_id, window)
    specs = {"course:signs": spec_course_signs(shown, episodes, config=config,
                                               client_id=client_id, window=window),
             "course:gap": spec_course_gap(shown, config=config, client_id=client_id,
                                           window=window),
             "course:attendance": _attendance_spec(
                 mine, start=window[0], end=window[1], who=client_id,
                 title=f"{client_id}: sessions by attendance")}
    for key, measure in config.all_measures().items():
        if key in mine and mine[key].notna().any():
            specs[f"course:outcome:{key}"] = _outcome_spec(
                mine, key, config=config, start=window[0], end=window[1], who=client_id,
                title=f"{client_id}: {measure.label}")
    return specs


def course_episodes(ruptures: pd.DataFrame | None, client_id: str,
                    window: tuple[pd.Timestamp, pd.Timestamp]) -> Table:
    """The client's rupture episodes that overlap the window (sign as its key, status and
    rater in words), with their span cut to it (span_from, span_to)."""
    columns = ["client_id", "sign", "rater", "start_date", "end_date", "score", "status"]
    if ruptures is None or ruptures.empty:
        return {c: np.asarray([], dtype="datetime64[D]" if c.endswith("date") else object)
                for c in [*columns, "span_from", "span_to"]}
    table = R.take(ruptures, columns, end=window[1], clients=[client_id],
                   date_col="start_date")
    table["end_date"] = table["end_date"].astype("datetime64[D]")
    lo, hi = R.day(window[0]), R.day(window[1])
    table = R.pick(table, table["end_date"] >= lo)
    table["status"] = np.asarray([RUPTURE_STATUS.get(v, v) for v in table["status"]],
                                 dtype=object)
    table["rater"] = np.asarray([RATER_LABELS.get(r, str(r).title()) for r in table["rater"]],
                                dtype=object)
    table["score"] = table["score"].astype(float)
    table["span_from"] = np.maximum(table["start_date"], lo)
    table["span_to"] = np.minimum(table["end_date"], hi)
    return table


# --- the five signs --------------------------------------------------------------------------


def spec_course_signs(rows: Table, episodes: Table, *, config: Config, client_id: str,
                      window: tuple[pd.Timestamp, pd.Timestamp]) -> dict[str, Any]:
    """A panel per sign the client or therapist rated in the window (`rows`: the client's, in
    it): both raters' ratings as two lines, the concern band, and rupture episodes (shaded
    span, marker at the dip)."""
    title = f"{client_id}: the five signs, rated by the client and the therapist"
    lo, hi = R.day(window[0]), R.day(window[1])
    tables: list[Table | list[dict]] = [[{"lo": config.scale.min,
                                          "hi": config.thresholds.concern_below}]]
    shape = []
    for sign in SIGN_KEYS:
        scores = sign_scores(rows, sign)
        if not R.size(scores):
            continue
        spans = R.pick(episodes, episodes["sign"] == sign)
        dips = (spans["start_date"] >= lo) & (spans["start_date"] <= hi)
        marks = {"client_id": spans["client_id"][dips], "session_date": spans["start_date"][dips],
                 "rater": spans["rater"][dips], "score": spans["score"][dips],
                 "status": spans["status"][dips]}
        spans = {k: v for k, v in spans.items() if k != "sign"}
        shape.append((sign, R.size(spans) > 0, R.size(marks) > 0))
        tables += [t for t in (scores, spans, marks) if t is scores or R.size(t)]
    if not shape:
        return spec_message(title, f"No ratings of {client_id} by the client or the therapist "
                                   "in this period.")
    ticks = choose_date_ticks(*window)
    key = ("course-signs", _config_key(config), ticks, tuple(shape))
    spec = assemble(key, tables, lambda f: _signs_chart(f, shape, config, ticks, title))
    return _with_window(spec, window)


def sign_scores(rows: Table, sign: str) -> Table:
    """The client's and therapist's ratings of a sign (client_id, session_date, rater in words,
    score), by rater then date."""
    raters = rows["rater"]
    keep = np.isin(raters, np.asarray(list(RATER_LABELS), dtype=object)) & ~np.isnan(
        rows[sign].astype(float))
    table = {"client_id": rows["client_id"][keep], "session_date": rows["session_date"][keep],
             "rater": np.asarray([RATER_LABELS[r] for r in raters[keep]], dtype=object),
             "score": rows[sign][keep].astype(float)}
    return R.pick(table, np.lexsort((table["session_date"], table["rater"])))


def _signs_chart(frames: list[pd.DataFrame], shape: list[tuple], config: Config, ticks: tuple,
                 title: str) -> alt.VConcatChart:
    data = _Data()
    named = [data.add(f) for f in frames]
    band, rest = named[0], named[1:]
    panels = []
    for n, (sign, has_spans, has_marks) in enumerate(shape):
        scores, rest = rest[0], rest[1:]
        layers = [*_concern_band(config, band)]
        if has_spans:
            layers.append(_episode_layer(rest[0], ticks))
            rest = rest[1:]
        layers += _rater_layers(scores, sign, config, ticks, last=n == len(shape) - 1)
        if has_marks:
            layers.append(_rupture_layer(rest[0], _rating_y(config).axis(tickCount=3),
                                         _date_x(ticks)))
            rest = rest[1:]
        panels.append(alt.layer(*layers).properties(
            width=WIDTH, height=PANEL_HEIGHT,
            title=alt.TitleParams(SIGN_LABELS[sign], anchor="start", fontSize=12,
                                  color=SIGN_COLOURS[sign])))
    chart = alt.vconcat(*panels, spacing=10)
    return _finish(chart, data, title)


def _rater_layers(scores: alt.NamedData, sign: str, config: Config, ticks: tuple,
                  last: bool) -> list[alt.Chart]:
    """The client's and therapist's lines and points in the sign's colour, told apart by the
    line's dash (the legend, "Rated by") and the point's shape (client: circle, therapist:
    diamond)."""
    raters = list(RATER_LABELS.values())
    x = _date_x(ticks, title="Session date" if last else None)
    y = _rating_y(config).axis(tickCount=3).title(None)
    base = alt.Chart(scores).encode(x=x, y=y, detail="rater:N")
    dash = alt.StrokeDash("rater:N", title="Rated by", scale=alt.Scale(
        domain=raters, range=list(RATER_DASHES)))
    tips = [alt.Tooltip("client_id:N", title="Client"), _date_tip(),
            alt.Tooltip("rater:N", title="Rated by"), alt.Tooltip("score:Q", title="Rating")]
    colour = SIGN_COLOURS[sign]
    points = [base.transform_filter(alt.datum.rater == rater).mark_point(
        color=colour, filled=True, size=36, opacity=1, shape=shape).encode(tooltip=tips)
        for rater, shape in zip(raters, RATER_SHAPES, strict=True)]
    return [base.mark_line(color=colour, strokeWidth=1.6).encode(strokeDash=dash), *points]


def _episode_layer(spans: alt.NamedData, ticks: tuple) -> alt.Chart:
    """A possible-rupture episode as a grey span from its dip to its end or repair."""
    return alt.Chart(spans).mark_rect(color=EPISODE_GREY, opacity=0.25).encode(
        x=_date_x(ticks, "span_from"), x2="span_to:T",
        tooltip=[alt.Tooltip("client_id:N", title="Client"),
                 alt.Tooltip("rater:N", title="Rated by"),
                 alt.Tooltip("status:N", title="Possible rupture"),
                 alt.Tooltip("start_date:T", title="From", format="%d %b %Y", formatType="utc"),
                 alt.Tooltip("end_date:T", title="To", format="%d %b %Y", formatType="utc")])


# --- perspective gap per session -------------------------------------------------------------


def spec_course_gap(rows: Table, *, config: Config, client_id: str,
                    window: tuple[pd.Timestamp, pd.Timestamp]) -> dict[str, Any]:
    """Therapist minus client rating of each session both rated, a panel per sign."""
    title = f"{client_id}: perspective gap, therapist minus client, per session"
    gaps = session_gaps(rows)
    if not R.size(gaps):
        return spec_message(title, f"No sessions of {client_id} rated by both the client and "
                                   "the therapist in this period.")
    ticks = choose_date_ticks(*window)
    key = ("course-gap", _config_key(config), ticks)
    spec = assemble(key, [gaps], lambda f: _gap_chart(f[0], config, ticks, title))
    return _with_window(spec, window)


def session_gaps(rows: Table) -> Table:
    """Per session day and sign rated by both (one client's `rows`): client_id, session_date,
    sign (label), the client's and therapist's rating and the gap (therapist minus client),
    by sign then date."""
    days, at = np.unique(rows["session_date"], return_inverse=True)
    who = rows["client_id"][:1]
    parts: dict[str, list] = {k: [] for k in ("session_date", "sign", "client", "therapist")}
    for sign in SIGN_KEYS:
        client, therapist = (R.pair_means(at, len(days), rows[sign], rows["rater"] == rater)
                             for rater in ("client", "therapist"))
        both = ~np.isnan(client) & ~np.isnan(therapist)
        for name, values in zip(parts, (days[both], np.full(both.sum(), SIGN_LABELS[sign],
                                                             dtype=object),
                                        client[both], therapist[both]), strict=True):
            parts[name].append(values)
    out = {k: np.concatenate(v) if v else np.asarray([]) for k, v in parts.items()}
    n = len(out["sign"])
    return {"client_id": np.repeat(who.astype(object), n) if len(who) else
            np.asarray([], dtype=object), **out, "gap": out["therapist"] - out["client"]}


def _gap_chart(rows: pd.DataFrame, config: Config, ticks: tuple, title: str) -> alt.FacetChart:
    data = _Data()
    labels = [SIGN_LABELS[k] for k in SIGN_KEYS]
    x = _date_x(ticks)
    limit = config.thresholds.perspective_gap
    y = alt.Y("gap:Q", title="Gap (points)", axis=alt.Axis(tickCount=3))
    colour = alt.Color("sign:N", scale=_sign_scale(), legend=None)
    tips = [alt.Tooltip("client_id:N", title="Client"), _date_tip(),
            alt.Tooltip("sign:N", title="Sign"),
            alt.Tooltip("client:Q", title="Client's rating"),
            alt.Tooltip("therapist:Q", title="Therapist's rating"),
            alt.Tooltip("gap:Q", title="Gap (therapist - client)", format="+.1f")]
    base = alt.Chart().encode(x=x)
    layers = [alt.Chart().mark_rule(color="#888888").encode(y=alt.datum(0)),
              base.mark_rule(strokeWidth=2).encode(y=y, y2=alt.datum(0), color=colour),
              base.mark_point(filled=True, size=36, opacity=1).encode(
                  y=y, color=colour, tooltip=tips)]
    if limit is not None:
        layers += [alt.Chart().mark_rule(strokeDash=[4, 3], color="#BBBBBB").encode(
                       y=alt.datum(v))
                   for v in (limit, -limit)]
    chart = alt.layer(*layers, data=data.add(rows)).properties(width=WIDTH, height=50)
    chart = chart.facet(row=alt.Row("sign:N", title=None, sort=labels, header=alt.Header(
        labelAngle=0, labelAlign="left", labelAnchor="start", labelOrient="top",
        labelFontWeight="bold", labelExpr=_wrap_expr(labels, width=40, field="datum.value"))),
        spacing=6)
    subtitle = (f"Dashed: a gap of {limit:g} points either way." if limit is not None else None)
    return _finish(chart, data, title, subtitle)
