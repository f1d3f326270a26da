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
import pandas as pd

from workbook.data.config import Config
from workbook.data.signs import SIGN_COLOURS, SIGN_KEYS, SIGN_LABELS
from workbook.views.app_charts import (
    WIDTH,
    _attendance_spec,
    _date_x,
    _outcome_spec,
    _rating_y,
    _with_window,
    choose_date_ticks,
    choose_window,
    spec_message,
)
from workbook.views.charts import (
    RUPTURE_STATUS,
    DateLike,
    _band_frame,
    _cached_spec,
    _concern_band,
    _config_key,
    _Data,
    _date_tip,
    _finish,
    _rupture_layer,
    _select,
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
    mine = ratings.loc[ratings["client_id"] == client_id]
    if end is not None:
        mine = _select(mine, None, None, end)
    window = choose_window(start, end, [mine["session_date"]])
    shown = _select(mine, None, *window)
    episodes = _episodes(ruptures, client_id, window)
    specs = {"course:signs": spec_course_signs(shown, episodes, config=config,
                                               client_id=client_id, window=window),
             "course:gap": spec_course_gap(shown, config=config, client_id=client_id,
                                           window=window),
             "course:attendance": _attendance_spec(
                 shown, start=window[0], end=window[1], who=client_id,
                 title=f"{client_id}: sessions by attendance")}
    for key in config.all_measures():
        if key in mine and mine[key].notna().any():
            specs[f"course:outcome:{key}"] = _outcome_spec(
                mine, key, config=config, start=window[0], end=window[1], who=client_id,
                title=f"{client_id}: {config.all_measures()[key].label}")
    return specs


def _episodes(ruptures: pd.DataFrame | None, client_id: str,
              window: tuple[pd.Timestamp, pd.Timestamp]) -> pd.DataFrame:
    """The client's rupture episodes that overlap the window, their span cut to it."""
    columns = ["client_id", "sign", "rater", "start_date", "end_date", "score", "status"]
    if ruptures is None or ruptures.empty:
        return pd.DataFrame(columns=columns)
    rows = ruptures.loc[ruptures["client_id"] == client_id, columns]
    rows = rows[(rows["start_date"].dt.normalize() <= window[1])
                & (rows["end_date"].dt.normalize() >= window[0])]
    return rows.assign(status=rows["status"].map(RUPTURE_STATUS),
                       rater=rows["rater"].map(lambda r: RATER_LABELS.get(r, r.title())),
                       span_from=rows["start_date"].clip(lower=window[0]),
                       span_to=rows["end_date"].clip(upper=window[1]))


# --- the five signs --------------------------------------------------------------------------


def spec_course_signs(rows: pd.DataFrame, episodes: pd.DataFrame, *, config: Config,
                      client_id: str,
                      window: tuple[pd.Timestamp, pd.Timestamp]) -> dict[str, Any]:
    """A panel per sign the client or therapist rated in the window: both raters' ratings as
    two lines, the concern band, and rupture episodes (shaded span, marker at the dip)."""
    title = f"{client_id}: the five signs, rated by the client and the therapist"
    panels = []
    for sign in SIGN_KEYS:
        scores = _sign_scores(rows, sign)
        if scores.empty:
            continue
        mine = episodes[episodes["sign"] == sign]
        marks = mine[(mine["start_date"] >= window[0]) & (mine["start_date"] <= window[1])]
        marks = marks[["client_id", "start_date", "rater", "score", "status"]]
        panels.append((sign, scores, mine, marks.rename(columns={"start_date": "session_date"})))
    if not panels:
        return spec_message(title, f"No ratings of {client_id} by the client or the therapist "
                                   "in this period.")
    frames = [_band_frame(config)]
    shape = []
    for sign, scores, spans, marks in panels:
        frames.append(scores)
        shape.append((sign, len(spans) > 0, len(marks) > 0))
        frames += [f for f, has in ((spans, len(spans)), (marks, len(marks))) if has]
    ticks = choose_date_ticks(*window)
    key = ("course-signs", _config_key(config), ticks, tuple(shape))
    spec = _cached_spec(key, frames, lambda f: _signs_chart(f, shape, config, ticks, title))
    return _with_window(spec, window)


def _sign_scores(rows: pd.DataFrame, sign: str) -> pd.DataFrame:
    """The client's and therapist's ratings of a sign: client_id, session_date, rater, score."""
    out = rows.loc[rows["rater"].isin(list(RATER_LABELS)) & rows[sign].notna(),
                   ["client_id", "session_date", "rater", sign]].rename(columns={sign: "score"})
    out = out.sort_values(["rater", "session_date"], kind="stable")
    return out.assign(rater=out["rater"].map(RATER_LABELS))


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


def spec_course_gap(rows: pd.DataFrame, *, config: Config, client_id: str,
                    window: tuple[pd.Timestamp, pd.Timestamp]) -> dict[str, Any]:
    """Therapist minus client rating of each session both rated, a panel per sign."""
    title = f"{client_id}: perspective gap, therapist minus client, per session"
    gaps = session_gaps(rows)
    if gaps.empty:
        return spec_message(title, f"No sessions of {client_id} rated by both the client and "
                                   "the therapist in this period.")
    ticks = choose_date_ticks(*window)
    key = ("course-gap", _config_key(config), ticks)
    spec = _cached_spec(key, [gaps], lambda f: _gap_chart(f[0], config, ticks, title))
    return _with_window(spec, window)


def session_gaps(rows: pd.DataFrame) -> pd.DataFrame:
    """Per session date and sign rated by both: client_id, session_date, sign (label), gap
    (therapist minus client)."""
    both = rows[rows["rater"].isin(["client", "therapist"])]
    long = both.melt(id_vars=["client_id", "session_date", "rater"], value_vars=list(SIGN_KEYS),
                     var_name="sign", value_name="score").dropna(subset=["score"])
    wide = long.pivot_table(index=["client_id", "session_date", "sign"], columns="rater",
                            values="score", aggfunc="mean")
    wide = wide.reindex(columns=["client", "therapist"]).dropna().reset_index()
    out = wide.assign(gap=wide["therapist"] - wide["client"])
    out["order"] = out["sign"].map({k: i for i, k in enumerate(SIGN_KEYS)})
    out = out.sort_values(["order", "session_date"], kind="stable")
    out["sign"] = out["sign"].map(SIGN_LABELS)
    return out[["client_id", "session_date", "sign", "client", "therapist", "gap"]]


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
