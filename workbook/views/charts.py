"""Chart builders: one pure function per view, from tidy frames to an Altair (Vega-Lite) chart.

The same builders feed the interactive notebook (`alt.JupyterChart`, offline) and the HTML/PDF
reports (inline SVG through `workbook.views.svg`). A chart is data: tests inspect
`chart.to_dict()`. Choices where the design is silent:

- Colour: each sign has one colour (`workbook.data.signs.SIGN_COLOURS`, Okabe-Ito) used for every
  mark of that sign. In a sign's trend chart every client's line is drawn in the sign's colour (a
  `detail` channel separates the lines) and each line ends with its client ID, so no per-client
  legend is needed. Attendance and outcome marks use colours outside the sign palette.
- Small data, deliberately: every builder first selects and aggregates down to the columns it
  plots and one row per plotted mark (or per client/sign for summaries), converts those rows to
  JSON-safe records (dates as ISO text, NaN as null) and embeds them in the spec's top-level
  `datasets`, named by a hash of their content; layers refer to them with `alt.NamedData`.
  Altair's 5,000-row limit is a data transformer that guards against embedding a whole
  DataFrame by accident; it applies only to DataFrame input, so the reduced rows pass without
  touching the global `alt.data_transformers` (never `disable_max_rows()`): a chart of 6,000
  or more marks builds and raises nothing. The records are attached last, by attribute, so
  Altair does not validate or deep-copy them at every chained call (that made a 50 x 52
  caseload chart take ~0.5 s to build). Data is always inline, never a URL, so charts render
  offline, and the same input gives the same spec.
- Filters: `clients` (IDs to keep; None keeps all), `start`/`end` (inclusive session dates;
  None leaves that side open) and, for sign trends, the `rater`.
- Layout: about 640 px wide for an A4 page; font "DejaVu Sans" (the PDF's font) in the config.
  Builders return a configured top-level chart (Chart, LayerChart or FacetChart).
- Outcome chart: the reliable-change band is drawn per client as a shaded rectangle spanning
  that client's dates in the window, from the client's first score ever (up to the window's
  end, as in the outcome figures) - reliable_change to first score + reliable_change
  (clipped to the measure's range): a point outside it is a reliable change from the start.
  The band is left out for a measure without a published reliable-change value, and the
  cutoff rule for a measure without a cutoff.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from workbook.data.config import Config
from workbook.data.measures import Measure
from workbook.data.signs import SIGN_COLOURS, SIGN_KEYS, SIGN_LABELS, get_sign
from workbook.views.svg import FONT, chart_spec

WIDTH = 560  # plot area; axis titles and labels bring the chart to about 640 px
HEIGHT = 240
CONCERN_GREY = "#BBBBBB"
RUPTURE_STATUS = {"repaired": "repaired", "unrepaired": "not repaired", "open": "open"}
ATTENDANCE_LABELS = {"attended": "Attended", "cancelled": "Cancelled", "no_show": "No-show"}
ATTENDANCE_COLOURS = ("#56B4E9", "#999999", "#000000")  # sky blue, grey, black
ATTENDANCE_SHAPES = ("circle", "square", "cross")

ChartLike = alt.Chart | alt.LayerChart | alt.FacetChart
# Dates are calendar days, held as ISO text (UTC midnight to Vega). A UTC time scale, with
# tooltips formatted in UTC, draws and names them the same in every time zone: a local scale
# would move ticks with daylight saving and show 30 Sep for 1 Oct west of Greenwich.
UTC = alt.Scale(type="utc")
CASELOAD_CHART_KEY = ("In each chart: the shaded band is the middle half of the caseload's "
                      "client ratings, week by week, and the dashed line their median; a line "
                      "is drawn for each client with a concern rating or a possible rupture on "
                      "that sign.")
DateLike = str | date | pd.Timestamp | None


# --- public builders ---------------------------------------------------------------------------


def chart_sign_trend(
    ratings: pd.DataFrame, sign: str, *, config: Config, ruptures: pd.DataFrame | None = None,
    clients: Iterable[str] | None = None, rater: str = "client", start: DateLike = None,
    end: DateLike = None,
) -> ChartLike:
    """One sign's ratings by one rater, a line per client over session dates, with the concern
    band and possible-rupture markers (`ruptures`: client_id, sign, rater, start_date, score,
    status)."""
    frames = _trend_frames(ratings, sign, config, ruptures, (rater, clients, start, end))
    return _trend_chart(frames, sign, config, rater)


def spec_sign_trend(
    ratings: pd.DataFrame, sign: str, *, config: Config, ruptures: pd.DataFrame | None = None,
    clients: Iterable[str] | None = None, rater: str = "client", start: DateLike = None,
    end: DateLike = None,
) -> dict[str, Any]:
    """`chart_sign_trend` as a Vega-Lite spec dict, fast (see `_cached_spec`)."""
    frames = _trend_frames(ratings, sign, config, ruptures, (rater, clients, start, end))
    return _cached_spec(("trend", sign, rater, _config_key(config), len(frames)), frames,
                        lambda f: _trend_chart(f, sign, config, rater))


def _trend_frames(ratings: pd.DataFrame, sign: str, config: Config,
                  ruptures: pd.DataFrame | None, where: tuple) -> list[pd.DataFrame]:
    """Concern band, ratings, last rating per client, and rupture markers if any."""
    rater, clients, start, end = where
    rows = _select(ratings, clients, start, end)
    rows = rows.loc[(rows["rater"] == rater) & rows[sign].notna(),
                    ["client_id", "session_date", "rater", sign]].rename(columns={sign: "score"})
    rows = rows.sort_values(["client_id", "session_date"], kind="stable")
    frames = [_band_frame(config), rows, rows.drop_duplicates("client_id", keep="last")]
    marks = _rupture_rows(ruptures, (sign, rater, clients, start, end))
    return frames + ([marks] if marks is not None else [])


def _trend_chart(frames: list[pd.DataFrame], sign: str, config: Config,
                 rater: str) -> ChartLike:
    info, data = get_sign(sign), _Data()
    band, rows, last = (data.add(f) for f in frames[:3])
    y = _rating_y(config)
    tips = [alt.Tooltip("client_id:N", title="Client"),
            _date_tip(),
            alt.Tooltip("score:Q", title="Rating"), alt.Tooltip("rater:N", title="Rater")]
    base = alt.Chart(rows).encode(x=_date_x(), y=y, detail="client_id:N")
    lines = base.mark_line(color=info.colour, strokeWidth=1.5, opacity=0.8)
    points = base.mark_point(color=info.colour, filled=True, size=30).encode(tooltip=tips)
    labels = alt.Chart(last).mark_text(
        align="left", dx=5, fontSize=10, color=info.colour).encode(
        x=_date_x(), y=y, text="client_id:N")
    layers = [*_concern_band(config, band), lines, points, labels]
    if len(frames) > 3:
        layers.append(_rupture_layer(data.add(frames[3]), y))
    return _finish(alt.layer(*layers), data, info.label)


def chart_sign_caseload(
    ratings: pd.DataFrame, sign: str, *, config: Config, highlight: Iterable[str] = (),
    ruptures: pd.DataFrame | None = None, rater: str = "client", start: DateLike = None,
    end: DateLike = None,
) -> ChartLike:
    """One sign across a caseload, for print: the middle half of the caseload's ratings week by
    week (a band) and its median (a dashed line), with a line per `highlight` client, the
    concern band and possible-rupture markers. Drawing every client is unreadable past a dozen
    and slow to lay out in a PDF; the clients worth a look are drawn, the rest are summarised.
    The chart has no subtitle: the report says once what the band, the dashed line and the
    lines are (CASELOAD_CHART_KEY)."""
    frames = _caseload_frames(ratings, sign, config, highlight, ruptures, (rater, start, end))
    return _caseload_chart(frames, sign, config)


def spec_sign_caseload(
    ratings: pd.DataFrame, sign: str, *, config: Config, highlight: Iterable[str] = (),
    ruptures: pd.DataFrame | None = None, rater: str = "client", start: DateLike = None,
    end: DateLike = None,
) -> dict[str, Any]:
    """`chart_sign_caseload` as a Vega-Lite spec dict, fast (see `_cached_spec`)."""
    frames = _caseload_frames(ratings, sign, config, highlight, ruptures, (rater, start, end))
    shape = tuple(f is not None for f in frames)
    return _cached_spec(("caseload", sign, _config_key(config), shape),
                        [f for f in frames if f is not None],
                        lambda f: _caseload_chart(frames, sign, config))


def _caseload_frames(ratings: pd.DataFrame, sign: str, config: Config, highlight: Iterable[str],
                     ruptures: pd.DataFrame | None, where: tuple) -> list[pd.DataFrame | None]:
    """Concern band, weekly quartiles, highlighted clients and their last ratings, ruptures
    (None where a layer is left out)."""
    rater, start, end = where
    rows = _select(ratings, None, start, end)
    rows = rows.loc[(rows["rater"] == rater) & rows[sign].notna(),
                    ["client_id", "session_date", sign]].rename(columns={sign: "score"})
    week = rows["session_date"] - pd.to_timedelta(rows["session_date"].dt.weekday, unit="D")
    if start is not None:  # a week that began before the period is drawn from its start
        week = week.clip(lower=pd.Timestamp(start).normalize())
    spread = rows.groupby(week.rename("session_date"))["score"].quantile(
        [0.25, 0.5, 0.75]).unstack().reset_index()
    if rows.empty:  # a sign nobody rated (e.g. not fed by an instrument export): no band
        spread = pd.DataFrame(columns=["session_date", 0.25, 0.5, 0.75])
    spread.columns = ["session_date", "q1", "median", "q3"]
    chosen = rows[rows["client_id"].isin(list(highlight))].sort_values(
        ["client_id", "session_date"], kind="stable")
    last = chosen.drop_duplicates("client_id", keep="last")
    marks = _rupture_rows(ruptures, (sign, rater, None, start, end))
    return [_band_frame(config), spread, chosen if len(chosen) else None,
            last if len(chosen) else None, marks]


def _caseload_chart(frames: list[pd.DataFrame | None], sign: str, config: Config) -> ChartLike:
    # print: a tick a week, no vertical grid, no title under the dates, and rating ticks at
    # the scale's ends, its middle and the concern threshold (fewer marks to lay out)
    info, data = get_sign(sign), _Data()
    band_data, spread = data.add(frames[0]), data.add(frames[1])
    ticks = sorted({config.scale.min, (config.scale.min + config.scale.max) / 2,
                    config.thresholds.concern_below, config.scale.max})
    x = alt.X("session_date:T", title=None, scale=UTC, axis=alt.Axis(
        format="%-d %b", grid=False, tickCount={"interval": "week", "step": 1}))
    title = f"Rating ({config.scale.min:g}-{config.scale.max:g})"
    y = alt.Y("score:Q", title=title, scale=_rating_scale(config), axis=alt.Axis(values=ticks))
    band = alt.Chart(spread).encode(x=x)
    layers = [*_concern_band(config, band_data),
              band.mark_area(color=info.colour, opacity=0.18).encode(
                  y=alt.Y("q1:Q", scale=_rating_scale(config), title=title,
                          axis=alt.Axis(values=ticks)), y2="q3:Q"),
              band.mark_line(color=info.colour, strokeDash=[5, 3], opacity=0.7).encode(
                  y=alt.Y("median:Q", scale=_rating_scale(config)))]
    if frames[2] is not None:
        base = alt.Chart(data.add(frames[2])).encode(x=x, y=y, detail="client_id:N")
        layers += [base.mark_line(color=info.colour, strokeWidth=1.8),
                   base.mark_point(color=info.colour, filled=True, size=28),
                   alt.Chart(data.add(frames[3])).mark_text(
                       align="left", dx=5, fontSize=10, color=info.colour).encode(
                       x=x, y=y, text="client_id:N")]
    if frames[4] is not None:
        layers.append(_rupture_layer(data.add(frames[4]), y, x))
    return _finish(alt.layer(*layers), data, info.label)


def chart_caseload_heatmap(latest: pd.DataFrame, *, config: Config) -> ChartLike:
    """Clients (rows) by the five signs (columns), coloured and labelled by the latest rating
    (`latest`: client_id, sign, latest)."""
    return _heatmap_chart(_heatmap_rows(latest), config)


def spec_caseload_heatmap(latest: pd.DataFrame, *, config: Config) -> dict[str, Any]:
    """`chart_caseload_heatmap` as a Vega-Lite spec dict, fast (see `_cached_spec`)."""
    rows = _heatmap_rows(latest)
    return _cached_spec(("heatmap", _config_key(config)), [rows],
                        lambda f: _heatmap_chart(f[0], config))


def _heatmap_rows(latest: pd.DataFrame) -> pd.DataFrame:
    rows = latest.loc[latest["sign"].isin(SIGN_KEYS) & latest["latest"].notna(),
                      ["client_id", "sign", "latest"]]
    return rows.assign(sign=rows["sign"].map(SIGN_LABELS))


def _heatmap_chart(rows: pd.DataFrame, config: Config) -> ChartLike:
    lo, hi, data = config.scale.min, config.scale.max, _Data()
    labels = [SIGN_LABELS[k] for k in SIGN_KEYS]
    x = alt.X("sign:N", title=None, sort=labels, scale=alt.Scale(domain=labels),
              axis=alt.Axis(orient="top", labelAngle=0, labelLineHeight=12, labelPadding=26,
                            labelExpr=_wrap_expr(labels, width=14, lines=3)))
    y = alt.Y("client_id:N", title="Client", sort="ascending")
    base = alt.Chart(data.add(rows)).encode(x=x, y=y)
    cells = base.mark_rect(stroke="white").encode(
        color=alt.Color("latest:Q", title="Latest rating",
                        scale=alt.Scale(scheme="viridis", domain=[lo, hi])),
        tooltip=[alt.Tooltip("client_id:N", title="Client"), alt.Tooltip("sign:N", title="Sign"),
                 alt.Tooltip("latest:Q", title="Latest rating")])
    text = base.mark_text(fontSize=11).encode(
        text=alt.Text("latest:Q", format=".0f"),
        color=alt.condition(f"datum.latest < {(lo + hi) / 2}", alt.value("white"),
                            alt.value("black")))
    chart = alt.layer(cells, text).properties(width=alt.Step(100), height=alt.Step(20))
    return _finish(chart, data, "Latest client rating per sign")


def chart_perspective_gap(
    ratings: pd.DataFrame, *, config: Config, clients: Iterable[str] | None = None,
    start: DateLike = None, end: DateLike = None,
) -> ChartLike:
    """Mean client and mean therapist rating of the same sessions, per client and sign, as a
    dumbbell (two points joined by a rule), one panel per sign."""
    return _gap_chart(_gap_means(_select(ratings, clients, start, end)), config)


def spec_perspective_gap(
    ratings: pd.DataFrame, *, config: Config, clients: Iterable[str] | None = None,
    start: DateLike = None, end: DateLike = None,
) -> dict[str, Any]:
    """`chart_perspective_gap` as a Vega-Lite spec dict, fast (see `_cached_spec`)."""
    rows = _gap_means(_select(ratings, clients, start, end))
    return _cached_spec(("gap", _config_key(config)), [rows], lambda f: _gap_chart(f[0], config))


def _gap_chart(rows: pd.DataFrame, config: Config, signs: Iterable[str] = SIGN_KEYS,
               title: str = "Client and therapist ratings of the same sessions") -> ChartLike:
    """The dumbbells of `_gap_means` rows, a panel per sign of `signs` (in that order)."""
    data = _Data()
    labels = [SIGN_LABELS[k] for k in signs]
    colour = alt.Color("sign:N", scale=_sign_scale(), legend=None)
    x = alt.X("client_mean:Q", title="Mean rating", scale=_rating_scale(config))
    y = alt.Y("client_id:N", title="Client", sort="ascending")
    tips = [alt.Tooltip("client_id:N", title="Client"), alt.Tooltip("sign:N", title="Sign"),
            alt.Tooltip("client_mean:Q", title="Client's mean", format=".1f"),
            alt.Tooltip("therapist_mean:Q", title="Therapist's mean", format=".1f"),
            alt.Tooltip("mean_gap:Q", title="Mean gap (therapist - client)", format="+.1f"),
            alt.Tooltip("n_pairs:Q", title="Sessions rated by both")]
    rule = alt.Chart().mark_rule(strokeWidth=2).encode(
        x=x, x2="therapist_mean:Q", y=y, color=colour, tooltip=tips)
    dots = alt.Chart().transform_fold(["client_mean", "therapist_mean"], as_=["who", "mean"]) \
        .transform_calculate(rater="datum.who == 'client_mean' ? 'Client' : 'Therapist'") \
        .mark_point(filled=True, size=50, opacity=1).encode(
            x=alt.X("mean:Q", title="Mean rating", scale=_rating_scale(config)), y=y,
            color=colour, tooltip=tips,
            shape=alt.Shape("rater:N", title="Rated by", scale=alt.Scale(
                domain=["Client", "Therapist"], range=["circle", "diamond"])))
    chart = alt.layer(rule, dots, data=data.add(rows)).properties(width=92, height=alt.Step(16))
    chart = chart.facet(column=alt.Column("sign:N", title=None, sort=labels, header=alt.Header(
        labelExpr=_wrap_expr(labels, width=14, field="datum.value"),
        labelFontWeight="bold", labelBaseline="bottom")), spacing=8)
    return _finish(chart, data, title)


def chart_attendance(
    ratings: pd.DataFrame, *, clients: Iterable[str] | None = None, start: DateLike = None,
    end: DateLike = None,
) -> ChartLike:
    """A timeline per client, one mark per session, coloured and shaped by attendance."""
    return _attendance_chart(_attendance_rows(ratings, clients, start, end))


def spec_attendance(
    ratings: pd.DataFrame, *, clients: Iterable[str] | None = None, start: DateLike = None,
    end: DateLike = None,
) -> dict[str, Any]:
    """`chart_attendance` as a Vega-Lite spec dict, fast (see `_cached_spec`)."""
    rows = _attendance_rows(ratings, clients, start, end)
    return _cached_spec(("attendance",), [rows], lambda f: _attendance_chart(f[0]))


def _attendance_rows(ratings: pd.DataFrame, clients: Iterable[str] | None, start: DateLike,
                     end: DateLike) -> pd.DataFrame:
    rows = _select(ratings, clients, start, end).sort_values(["client_id", "session_date"],
                                                             kind="stable")
    rows = rows.drop_duplicates(["client_id", "session_date"])[
        ["client_id", "session_date", "session_number", "attendance"]]
    return rows.assign(attendance=rows["attendance"].map(ATTENDANCE_LABELS))


def _attendance_chart(rows: pd.DataFrame, x: alt.X | None = None,
                      title: str = "Attendance") -> ChartLike:
    """One mark per session (`_attendance_rows`), a row per client; `x`: the date encoding."""
    domain, data = list(ATTENDANCE_LABELS.values()), _Data()
    chart = alt.Chart(data.add(rows)).mark_point(filled=True, size=60, opacity=1).encode(
        x=x or _date_x(), y=alt.Y("client_id:N", title="Client", sort="ascending"),
        color=alt.Color("attendance:N", title="Attendance",
                        scale=alt.Scale(domain=domain, range=list(ATTENDANCE_COLOURS))),
        shape=alt.Shape("attendance:N", title="Attendance",
                        scale=alt.Scale(domain=domain, range=list(ATTENDANCE_SHAPES))),
        tooltip=[alt.Tooltip("client_id:N", title="Client"),
                 _date_tip(),
                 alt.Tooltip("session_number:Q", title="Session"),
                 alt.Tooltip("attendance:N", title="Attendance")],
    ).properties(width=WIDTH, height=alt.Step(18))
    return _finish(chart, data, title)


def chart_outcome(
    ratings: pd.DataFrame, measure_key: str, *, config: Config,
    clients: Iterable[str] | None = None, start: DateLike = None, end: DateLike = None,
) -> ChartLike:
    """A measure's scores per client over session dates, with the clinical cutoff as a dashed
    rule and each client's reliable-change band around their first score."""
    frames = _outcome_frames(ratings, measure_key, config, (clients, start, end))
    return _outcome_chart(frames, measure_key, config)


def spec_outcome(
    ratings: pd.DataFrame, measure_key: str, *, config: Config,
    clients: Iterable[str] | None = None, start: DateLike = None, end: DateLike = None,
) -> dict[str, Any]:
    """`chart_outcome` as a Vega-Lite spec dict, fast (see `_cached_spec`)."""
    frames = _outcome_frames(ratings, measure_key, config, (clients, start, end))
    return _cached_spec(("outcome", measure_key, _config_key(config)), frames,
                        lambda f: _outcome_chart(f, measure_key, config))


def _outcome_frames(ratings: pd.DataFrame, measure_key: str, config: Config,
                    where: tuple) -> list[pd.DataFrame]:
    """Reliable-change bands and the cutoff (when the measure has them), scores, last scores."""
    measure = config.all_measures()[measure_key]
    rows = _measure_rows(_select(ratings, *where), measure_key)
    clients, _, end = where  # the band starts from each client's first score, not the window's
    history = _measure_rows(_select(ratings, clients, None, end), measure_key)
    frames = ([_change_band_frame(rows, measure, history)]
              if measure.reliable_change is not None else [])
    if measure.cutoff is not None:
        frames.append(pd.DataFrame({"cutoff": [measure.cutoff]}))
    return frames + [rows, rows.drop_duplicates("client_id", keep="last")]


def _outcome_chart(frames: list[pd.DataFrame], measure_key: str, config: Config) -> ChartLike:
    measure, data = config.all_measures()[measure_key], _Data()
    named = [data.add(f) for f in frames]
    y = alt.Y("score:Q", title=f"{measure.label} total ({measure.min:g}-{measure.max:g})",
              scale=alt.Scale(domain=[measure.min, measure.max], nice=False))
    layers = []
    if measure.reliable_change is not None:
        layers.append(_change_band_layer(named.pop(0)))
    if measure.cutoff is not None:
        layers += _cutoff_layers(named.pop(0), measure)
    rows, last = named
    base = alt.Chart(rows).encode(x=_date_x(), y=y, detail="client_id:N")
    tips = [alt.Tooltip("client_id:N", title="Client"),
            _date_tip(),
            alt.Tooltip("score:Q", title=measure.label)]
    layers += [base.mark_line(color="#333333", strokeWidth=1.5),
               base.mark_point(color="#333333", filled=True, size=30).encode(tooltip=tips),
               alt.Chart(last).mark_text(align="left", dx=5, fontSize=10).encode(
                   x=_date_x(), y=y, text="client_id:N")]
    return _finish(alt.layer(*layers), data, measure.label, _outcome_subtitle(measure))


def chart_sign_summary(signs_summary: pd.DataFrame, *, config: Config) -> ChartLike:
    """Mean period rating per sign as bars in the sign colours (`signs_summary`: sign, mean;
    a missing mean, e.g. a suppressed small cell, shows as "not shown")."""
    rows = signs_summary.loc[signs_summary["sign"].isin(SIGN_KEYS), ["sign", "mean"]]
    rows = rows.assign(sign=rows["sign"].map(SIGN_LABELS),
                       label=[f"{m:.1f}" if pd.notna(m) else "not shown" for m in rows["mean"]],
                       at=rows["mean"].fillna(config.scale.min))
    labels, data = [SIGN_LABELS[k] for k in SIGN_KEYS], _Data()
    y = alt.Y("sign:N", title=None, sort=labels, scale=alt.Scale(domain=labels))
    x = alt.X("mean:Q", title="Mean rating in the period", scale=_rating_scale(config))
    base = alt.Chart(data.add(rows)).encode(y=y)
    bars = base.mark_bar(height=alt.RelativeBandSize(0.7)).encode(
        x=x, color=alt.Color("sign:N", scale=_sign_scale(), legend=None),
        tooltip=[alt.Tooltip("sign:N", title="Sign"),
                 alt.Tooltip("mean:Q", title="Mean rating", format=".1f")])
    text = base.mark_text(align="left", dx=4, fontSize=11).encode(
        x=alt.X("at:Q", scale=_rating_scale(config)), text="label:N")
    concern = alt.Chart(data.add(pd.DataFrame({"y": [config.thresholds.concern_below]}))) \
        .mark_rule(strokeDash=[4, 3], color="#666666").encode(x=alt.X("y:Q"))
    chart = alt.layer(bars, concern, text).properties(width=440, height=alt.Step(28))
    return _finish(chart, data, "Mean rating per sign",
                   f"Dashed line: concern below {config.thresholds.concern_below:g}")


def chart_sign_months(months: pd.DataFrame, *, config: Config) -> ChartLike:
    """Month-over-month mean rating per sign, a line per sign in its colour (`months`: month,
    sign, mean; rows of suppressed small cells are left out by the caller)."""
    rows = months.loc[months["sign"].isin(SIGN_KEYS), ["month", "sign", "mean"]]
    rows = rows.assign(sign=rows["sign"].map(SIGN_LABELS))
    data = _Data()
    x = alt.X("month:T", title="Month", scale=UTC,
              axis=alt.Axis(format="%b %Y", tickCount="month"))
    # from a point below the concern line to the top: small wobbles are not drawn as cliffs
    low = max(config.scale.min, config.thresholds.concern_below - 1)
    y = alt.Y("mean:Q", title=f"Mean client rating ({config.scale.min:g}-{config.scale.max:g})",
              scale=alt.Scale(domain=[low, config.scale.max], nice=False))
    colour = alt.Color("sign:N", title="Sign", scale=_sign_scale())
    tips = [alt.Tooltip("sign:N", title="Sign"),
            alt.Tooltip("month:T", title="Month", format="%B %Y", formatType="utc"),
            alt.Tooltip("mean:Q", title="Mean rating", format=".1f")]
    base = alt.Chart(data.add(rows)).encode(x=x, y=y, color=colour, tooltip=tips)
    chart = alt.layer(base.mark_line(), base.mark_point(filled=True, size=40))
    return _finish(chart.properties(width=WIDTH, height=200), data,
                   "Mean client rating per sign, month by month")


# --- data helpers ------------------------------------------------------------------------------


def select_rows(ratings: pd.DataFrame, *, therapist_id: str | None = None,
                clients: Iterable[str] | None = None, rater: str | None = None,
                start: DateLike = None, end: DateLike = None,
                date_col: str = "session_date") -> pd.DataFrame:
    """Rows of one therapist, of these clients, by this rater, dated start..end (inclusive,
    whole days). None leaves that filter open; an empty `clients` keeps no row."""
    mask = np.ones(len(ratings), dtype=bool)
    if therapist_id is not None:
        mask &= (ratings["therapist_id"] == therapist_id).to_numpy()
    if clients is not None:
        mask &= ratings["client_id"].isin(list(clients)).to_numpy()
    if rater is not None:
        mask &= (ratings["rater"] == rater).to_numpy()
    day = ratings[date_col].dt.normalize()
    if start is not None:
        mask &= (day >= pd.Timestamp(start).normalize()).to_numpy()
    if end is not None:
        mask &= (day <= pd.Timestamp(end).normalize()).to_numpy()
    return ratings.loc[mask]


def _select(ratings: pd.DataFrame, clients: Iterable[str] | None, start: DateLike,
            end: DateLike, date_col: str = "session_date") -> pd.DataFrame:
    return select_rows(ratings, clients=clients, start=start, end=end, date_col=date_col)


class _Data:
    """A chart's inline datasets: each frame becomes JSON-safe records named by its position
    ("data-0", "data-1", ...); layers refer to them by name and `_finish` puts them at the top
    of the spec. Positional names keep a chart's structure independent of its rows, so a spec
    can be reused with new rows (`_cached_spec`)."""

    def __init__(self) -> None:
        self.sets: dict[str, list[dict]] = {}

    def add(self, frame: pd.DataFrame) -> alt.NamedData:
        """Store the frame's records; return the name layers use."""
        name = f"data-{len(self.sets)}"
        self.sets[name] = _records(frame)
        return alt.NamedData(name=name)


def _records(frame: pd.DataFrame) -> list[dict]:
    """Dates as ISO text, NaN as null, numpy scalars as Python ones (column by column, which
    is several times faster than DataFrame.to_dict on a chart's few thousand rows)."""
    columns = [_json_column(frame[col]) for col in frame.columns]
    names = [str(col) for col in frame.columns]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _json_column(col: pd.Series) -> list:
    """A column as JSON-ready values: ISO text for dates, None for missing values.

    Calendar days are written as "2026-10-01", which JavaScript reads as UTC midnight (a date
    with a time and no zone would be read as local time); a time of day gets a "Z"."""
    if pd.api.types.is_datetime64_any_dtype(col):
        values = col.to_numpy(dtype="datetime64[s]")
        days = values.astype("datetime64[D]")
        if (values == days).all() or np.isnat(values).all():
            text = np.datetime_as_string(days, unit="D")
        else:
            text = np.char.add(np.datetime_as_string(values, unit="s"), "Z")
        return [None if t in ("NaT", "NaTZ") else str(t) for t in text]
    out = col.tolist()  # numpy scalars become Python ones
    missing = col.isna().to_numpy()
    if missing.any():
        out = [None if m else v for v, m in zip(out, missing, strict=True)]
    return out


_SKELETONS: dict[tuple, dict[str, Any]] = {}


def _cached_spec(key: tuple, frames: list[pd.DataFrame],
                 build: Callable[[list[pd.DataFrame]], ChartLike]) -> dict[str, Any]:
    """A builder's spec for these frames without building Altair objects again.

    A chart's spec is its structure (marks, encodings, scales, titles: a function of `key`,
    never of the rows) plus its inline rows. The structure is built once per key with Altair
    and checked (`chart_spec`); later calls only turn the frames into records. Building the
    Altair objects costs ~50 ms a chart; this costs a few."""
    skeleton = _SKELETONS.get(key)
    if skeleton is None:
        spec = chart_spec(build(frames))
        skeleton = {k: v for k, v in spec.items() if k != "datasets"}
        _SKELETONS[key] = skeleton
    return {**skeleton, "datasets": {f"data-{i}": _records(f) for i, f in enumerate(frames)}}


def _config_key(config: Config) -> str:
    return config.model_dump_json()


def _gap_means(rows: pd.DataFrame) -> pd.DataFrame:
    """Per client and sign: mean client and therapist rating over sessions rated by both."""
    key = ["client_id", "session_date"]
    long = rows.loc[rows["rater"].isin(["client", "therapist"]), [*key, "rater", *SIGN_KEYS]]
    long = long.melt(id_vars=[*key, "rater"], var_name="sign", value_name="score").dropna()
    wide = long.pivot_table(index=[*key, "sign"], columns="rater", values="score",
                            aggfunc="mean").reindex(columns=["client", "therapist"]).dropna()
    out = wide.groupby(["client_id", "sign"]).agg(
        client_mean=("client", "mean"), therapist_mean=("therapist", "mean"),
        n_pairs=("client", "size")).reset_index()
    out["mean_gap"] = out["therapist_mean"] - out["client_mean"]
    out["sign"] = out["sign"].map(SIGN_LABELS)
    return out


def _measure_rows(rows: pd.DataFrame, key: str) -> pd.DataFrame:
    """One score per client and session: the first non-blank value across raters."""
    rows = rows.loc[rows[key].notna(), ["client_id", "session_date", key]]
    rows = rows.sort_values(["client_id", "session_date"], kind="stable")
    return rows.drop_duplicates(["client_id", "session_date"]).rename(columns={key: "score"})


# --- layer helpers -----------------------------------------------------------------------------


def _band_frame(config: Config) -> pd.DataFrame:
    return pd.DataFrame({"lo": [config.scale.min], "hi": [config.thresholds.concern_below]})


def _concern_band(config: Config, named: alt.NamedData) -> list[alt.Chart]:
    """A grey band from the bottom of the scale up to the concern threshold, labelled
    (`named`: the dataset of `_band_frame`)."""
    band = alt.Chart(named)
    rect = band.mark_rect(color=CONCERN_GREY, opacity=0.3).encode(
        y=alt.Y("lo:Q", scale=_rating_scale(config)), y2="hi:Q")
    text = band.mark_text(align="left", baseline="top", dx=4, dy=3, color="#555555",
                          fontSize=10).encode(x=alt.value(0), y=alt.Y("hi:Q"),
                                              text=alt.value("concern"))
    return [rect, text]


def _rupture_rows(ruptures: pd.DataFrame | None, where: tuple) -> pd.DataFrame | None:
    """Possible-rupture markers at (start_date, score), or None when there is nothing to mark
    (an empty layer would only add an empty legend and an empty date extent).
    `where` is (sign, rater, clients, start, end)."""
    if ruptures is None:
        return None
    sign, rater, clients, start, end = where
    rows = _select(ruptures, clients, start, end, date_col="start_date")
    rows = rows.loc[(rows["sign"] == sign) & (rows["rater"] == rater),
                    ["client_id", "start_date", "score", "status"]]
    if rows.empty:
        return None
    return rows.assign(status=rows["status"].map(RUPTURE_STATUS)).rename(
        columns={"start_date": "session_date"})


def _rupture_layer(named: alt.NamedData, y: alt.Y, x: alt.X | None = None) -> alt.Chart:
    """Shape and fill tell a possible rupture's status."""
    domain = list(RUPTURE_STATUS.values())
    shapes = alt.Scale(domain=domain, range=["circle", "triangle-down", "diamond"])
    fills = alt.Scale(domain=domain, range=["white", "black", "#999999"])
    return alt.Chart(named).mark_point(size=140, strokeWidth=1.5, stroke="black",
                                       opacity=1).encode(
        x=x or _date_x(), y=y,
        shape=alt.Shape("status:N", title="Possible rupture", scale=shapes),
        fill=alt.Fill("status:N", title="Possible rupture", scale=fills),
        tooltip=[alt.Tooltip("client_id:N", title="Client"),
                 _date_tip(),
                 alt.Tooltip("score:Q", title="Rating"),
                 alt.Tooltip("status:N", title="Possible rupture")])


def _change_band_frame(rows: pd.DataFrame, measure: Measure,
                       history: pd.DataFrame) -> pd.DataFrame:
    """Per client, their first score (in `history`: every score up to the window's end, so the
    same baseline as the outcome figures) +/- reliable change over the client's dates in
    `rows` (the window), clipped."""
    g = rows.groupby("client_id", sort=True)
    first = history.groupby("client_id", sort=True)["score"].first()
    bands = pd.DataFrame({"first": first.reindex(g.size().index),
                          "from": g["session_date"].min(),
                          "to": g["session_date"].max()}).reset_index()
    bands["low"] = (bands["first"] - measure.reliable_change).clip(lower=measure.min)
    bands["high"] = (bands["first"] + measure.reliable_change).clip(upper=measure.max)
    return bands


def _change_band_layer(named: alt.NamedData) -> alt.Chart:
    return alt.Chart(named).mark_rect(color="#56B4E9", opacity=0.12).encode(
        x=alt.X("from:T", scale=UTC), x2="to:T", y=alt.Y("low:Q"), y2="high:Q",
        tooltip=[alt.Tooltip("client_id:N", title="Client"),
                 alt.Tooltip("first:Q", title="First score"),
                 alt.Tooltip("low:Q", title="No reliable change from"),
                 alt.Tooltip("high:Q", title="No reliable change to")])


def _cutoff_layers(named: alt.NamedData, measure: Measure) -> list[alt.Chart]:
    """A dashed horizontal rule at the clinical cutoff, labelled at the left."""
    base = alt.Chart(named)
    rule = base.mark_rule(strokeDash=[6, 4], color="#666666").encode(y="cutoff:Q")
    text = base.mark_text(align="left", baseline="bottom", dx=4, dy=-2, fontSize=10,
                          color="#555555").encode(
        x=alt.value(0), y="cutoff:Q", text=alt.value(f"clinical cutoff ({measure.cutoff:g})"))
    return [rule, text]


def _outcome_subtitle(measure: Measure) -> list[str]:
    """Plain-words reading guide for an outcome chart."""
    lines = ["Higher is better." if measure.higher_is_better else "Lower is better."]
    if measure.reliable_change is not None:
        lines.append(f"Shaded: within {measure.reliable_change:g} points of the client's first "
                     "score (no reliable change).")
    return [" ".join(lines)]


# --- encodings and finishing -------------------------------------------------------------------


def _date_tip() -> alt.Tooltip:
    return alt.Tooltip("session_date:T", title="Session date", format="%d %b %Y",
                       formatType="utc")


def _date_x() -> alt.X:
    return alt.X("session_date:T", title="Session date", scale=UTC,
                 axis=alt.Axis(format="%-d %b"))


def _rating_scale(config: Config) -> alt.Scale:
    return alt.Scale(domain=[config.scale.min, config.scale.max], nice=False)


def _rating_y(config: Config) -> alt.Y:
    title = f"Rating ({config.scale.min:g}-{config.scale.max:g})"
    return alt.Y("score:Q", title=title, scale=_rating_scale(config))


def _sign_scale() -> alt.Scale:
    """Sign label -> the sign's colour, in SIGN_KEYS order."""
    return alt.Scale(domain=[SIGN_LABELS[k] for k in SIGN_KEYS],
                     range=[SIGN_COLOURS[k] for k in SIGN_KEYS])


def _wrap_expr(labels: list[str], width: int = 16, field: str = "datum.label",
               lines: int = 0) -> str:
    """A Vega expression that breaks long labels onto lines of about `width` characters; with
    `lines`, blank lines go first so every label ends on the same line (for a top axis)."""
    wrapped = {label: textwrap.wrap(label, width) for label in labels}
    wrapped = {k: [""] * (lines - len(v)) + v for k, v in wrapped.items()}
    return f"{json.dumps(wrapped)}[{field}] || {field}"


def _finish(chart: ChartLike, data: _Data, title: str,
            subtitle: str | list[str] | None = None) -> ChartLike:
    """Title, the report font, a quiet view frame, and the datasets at the top of the spec
    (set last and by attribute, so Altair neither validates nor deep-copies the rows again)."""
    params = alt.TitleParams(title, anchor="start", fontSize=14,
                             **({"subtitle": subtitle} if subtitle else {}))
    if isinstance(chart, alt.LayerChart) and chart.width is alt.Undefined:
        chart = chart.properties(width=WIDTH, height=HEIGHT)
    chart = chart.properties(title=params).configure(font=FONT).configure_view(
        stroke=None).configure_legend(orient="bottom", direction="horizontal")
    chart.datasets = dict(data.sets)
    return chart
