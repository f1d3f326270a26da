"""The caseload app's chart builders: Vega-Lite spec dicts that read at 30 clients.

Built on the print charts' helpers (`workbook.views.charts`): rows reduced to one per mark,
inline and JSON-safe, each spec's structure built once with Altair and reused with new rows
(as `charts._cached_spec` does), and the rows reduced with numpy (`workbook.views.app_rows`),
so a builder call costs a few milliseconds. What differs from print:

- Dates: the x scale is the window `start`..`end` (a top-level parameter `x_window`, in UTC
  milliseconds, read by the scale's `domainRaw`), the same for every chart of the app whatever
  rows it has; ticks and format are chosen from the window's length (`choose_date_ticks`) so
  labels fit from a week to years, with Vega's greedy overlap removal as a backstop.
- Labels: a highlighted client's name sits in a column at the right of the plot, next to its
  last point's height but spread (`place_labels`) so that any two are at least LABEL_GAP px
  apart and all are inside the plot (the plot grows when many clients are labelled); a dotted
  leader joins each label to its last point. Positions are computed here, in the chart's pixels
  (encodings with `scale: null`).
- Every mark of a client carries `client_id` in its datum (the app's click handler reads it);
  titles name the rater ("Trust & safety, rated by the client").
- The caseload band is a step per calendar week (a rect from the week's Monday, or the window's
  start, to the next Monday, or the window's end, spanning the week's middle half, and its
  median as a dashed rule), so a week's window shows it too.
- Heatmap: four classes from `heat_classes` (two warm below thresholds.concern_below, two cool
  at or above it) named in the legend, dark text on light cells and white on dark, and the
  cells below the threshold outlined in black (not colour alone).
- No chart draws empty axes: with nothing to draw a builder returns `spec_message`, a title and
  a plain sentence, and empty layers are left out (no Vega "Infinite extent" warning).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from workbook.data.config import Config
from workbook.data.signs import SIGN_KEYS, SIGN_LABELS, get_sign
from workbook.views import app_rows as R
from workbook.views.app_rows import Table
from workbook.views.charts import (
    ATTENDANCE_LABELS,
    RUPTURE_STATUS,
    DateLike,
    _attendance_chart,
    _change_band_layer,
    _concern_band,
    _config_key,
    _cutoff_layers,
    _Data,
    _date_tip,
    _finish,
    _gap_chart,
    _outcome_subtitle,
    _rating_scale,
    _rupture_layer,
    _wrap_expr,
)
from workbook.views.svg import chart_spec

WIDTH = 520  # plot area; the label column and the axes bring a chart to about 640 px
HEIGHT = 240
LABEL_GAP = 12  # px between two labels' centres, at least
LABEL_MARGIN = 6  # px kept between a label's centre and the plot's top or bottom
LABEL_X = 8  # px from the plot's right edge to the labels' left
WINDOW = "x_window"  # the top-level parameter holding the x domain
RATER_NAMES = {"client": "the client", "therapist": "the therapist",
               "supervisor": "the supervisor", "observer": "an observer"}
DAY_FORMAT, MONTH_FORMAT = "%-d %b", "%b %Y"
# (longest window in days, tick interval, step, format): at most ~10 ticks on WIDTH px, each
# label at most ~7 px a character plus 6 px between (a month taken as 28 days)
DATE_TICKS = ((9, "day", 1, DAY_FORMAT), (18, "day", 2, DAY_FORMAT),
              (63, "week", 1, DAY_FORMAT), (126, "week", 2, DAY_FORMAT),
              (200, "month", 1, MONTH_FORMAT), (420, "month", 2, MONTH_FORMAT),
              (660, "month", 3, MONTH_FORMAT), (1300, "month", 6, MONTH_FORMAT))
# The heatmap's classes, concern (warm) to good (cool), and the ink readable on each.
HEAT_COLOURS = ("#B2182B", "#F4A582", "#92C5DE", "#2166AC")
HEAT_INK = ("white", "black", "black", "white")


# --- messages and words ----------------------------------------------------------------------


_SKELETONS: dict[tuple, dict[str, Any]] = {}


def assemble(key: tuple, tables: list[Table | list[dict]],
             build: Callable[[list[pd.DataFrame]], alt.TopLevelMixin]) -> dict[str, Any]:
    """A spec: its structure (everything but the rows: a function of `key`) built once with
    Altair by `build` (given the tables as frames, which it only names) and checked, then the
    tables' rows inline as "data-0", "data-1", ... (as `charts._cached_spec`)."""
    sets = [t if isinstance(t, list) else R.to_records(t) for t in tables]
    skeleton = _SKELETONS.get(key)
    if skeleton is None:
        spec = chart_spec(build([pd.DataFrame(rows) for rows in sets]))
        skeleton = {k: v for k, v in spec.items() if k != "datasets"}
        _SKELETONS[key] = skeleton
    return {**skeleton, "datasets": {f"data-{i}": rows for i, rows in enumerate(sets)}}


def spec_message(title: str, message: str) -> dict[str, Any]:
    """A chart with no axes: the title and a plain sentence (for a chart with nothing to draw)."""
    return assemble(("app-message", title), [[{"message": message}]],
                    lambda f: _message_chart(title))


def _message_chart(title: str) -> alt.Chart:
    data = _Data()
    named = data.add(pd.DataFrame({"message": [""]}))
    chart = alt.Chart(named).mark_text(align="left", baseline="middle", fontSize=12,
                                       color="#444444").encode(
        x=alt.value(0), y=alt.value(14), text="message:N")
    return _finish(chart.properties(width=WIDTH, height=28), data, title)


def name_rater(rater: str) -> str:
    """The rater in words: "the client", "the therapist", ..."""
    return RATER_NAMES.get(rater, f"the {rater}")


# --- dates -----------------------------------------------------------------------------------


def choose_window(start: DateLike, end: DateLike,
                  dates: Iterable[Any]) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The x domain: start..end, a side left open taken from the dates drawn; at least a day."""
    known = [d for d in (np.asarray(d, dtype="datetime64[D]") for d in dates) if len(d)]
    lo = pd.Timestamp(start).normalize() if start is not None else (
        pd.Timestamp(min(d.min() for d in known)) if known else None)
    hi = pd.Timestamp(end).normalize() if end is not None else (
        pd.Timestamp(max(d.max() for d in known)) if known else None)
    lo = lo if lo is not None else hi
    if lo is None:
        lo = hi = pd.Timestamp("1970-01-01")
    return lo, max(hi, lo + pd.Timedelta(days=1))


def choose_date_ticks(start: pd.Timestamp, end: pd.Timestamp) -> tuple[str, str, int]:
    """(format, tick interval, step) whose labels fit the window's length on WIDTH px."""
    days = (end - start).days
    for longest, interval, step, fmt in DATE_TICKS:
        if days <= longest:
            return fmt, interval, step
    return "%Y", "year", 1


def _date_x(ticks: tuple[str, str, int], field: str = "session_date",
            title: str | None = "Session date") -> alt.X:
    fmt, interval, step = ticks
    return alt.X(f"{field}:T", title=title, scale=alt.Scale(
        type="utc", domainRaw=alt.ExprRef(WINDOW)), axis=alt.Axis(
        format=fmt, tickCount={"interval": interval, "step": step}, labelOverlap="greedy",
        labelSeparation=6, labelFlush=True))


def _millis(day: pd.Timestamp) -> int:
    return int(pd.Timestamp(day).value // 1_000_000)


def _with_window(spec: dict[str, Any], window: tuple[pd.Timestamp, pd.Timestamp],
                 height: float | None = None) -> dict[str, Any]:
    """The spec with its x domain (and, for a layered chart, its plot height) set."""
    spec["params"] = [{"name": WINDOW, "value": [_millis(window[0]), _millis(window[1])]}]
    if height is not None:
        spec["height"] = height
    return spec


# --- labels ----------------------------------------------------------------------------------


def place_labels(wanted: Sequence[float], *, low: float, high: float,
                 gap: float = LABEL_GAP) -> list[float]:
    """Label centres (px, as `wanted`) as near to `wanted` as they can be with any two at least
    `gap` apart and all within low..high (which must hold them: high - low >= gap * (n - 1)).

    Labels keep their order; a run of labels that would crowd is spread evenly around the
    mean of where its labels want to be, then moved inside the range (clusters merged until
    none overlap: the least-squares placement of ordered labels)."""
    order = sorted(range(len(wanted)), key=lambda i: (wanted[i], i))
    clusters: list[list] = []  # [first position, indexes in order, sum of wanted - k * gap]
    for i in order:
        clusters.append([0.0, [i], float(wanted[i])])
        _settle(clusters[-1], low, high, gap)
        while len(clusters) > 1 and (clusters[-2][0] + gap * len(clusters[-2][1])
                                     > clusters[-1][0] + 1e-9):
            last = clusters.pop()
            prev = clusters[-1]
            k = len(prev[1])
            prev[2] += last[2] - gap * k * len(last[1])
            prev[1] += last[1]
            _settle(prev, low, high, gap)
    out = [0.0] * len(wanted)
    for first, members, _ in clusters:
        for k, i in enumerate(members):
            out[i] = first + gap * k
    return out


def _settle(cluster: list, low: float, high: float, gap: float) -> None:
    """Place a cluster's first label at its members' mean wish, kept inside low..high."""
    n = len(cluster[1])
    cluster[0] = min(max(cluster[2] / n, low), max(high - gap * (n - 1), low))


def fit_height(n_labels: int, base: float = HEIGHT) -> float:
    """A plot height that holds `n_labels` labels LABEL_GAP apart inside the margins."""
    return max(base, LABEL_GAP * max(n_labels - 1, 0) + 2 * LABEL_MARGIN)


def label_frame(last: Table, *, window: tuple[pd.Timestamp, pd.Timestamp],
                domain: tuple[float, float], height: float) -> Table:
    """Per client (`last`: client_id, session_date, score of the last point): the last point
    in pixels (x_px, y_px) and the label's centre (label_y), spread by `place_labels`."""
    t0, t1 = (_millis(t) for t in window)
    lo, hi = domain
    when = last["session_date"].astype("datetime64[ms]").astype(np.int64)
    x_px = WIDTH * (when - t0) / (t1 - t0)
    y_px = height * (hi - last["score"].astype(float)) / (hi - lo)
    label_y = place_labels(y_px.tolist(), low=LABEL_MARGIN, high=height - LABEL_MARGIN)
    return {"client_id": last["client_id"], "x_px": x_px, "y_px": y_px,
            "label_x": np.full(len(x_px), float(WIDTH + LABEL_X)),
            "label_y": np.asarray(label_y, dtype=float)}


def _label_layers(named: alt.NamedData, colour: str) -> list[alt.Chart]:
    """A dotted leader from each client's last point to their label, and the label."""
    base = alt.Chart(named)
    px = {"scale": None}
    leader = base.mark_rule(color=colour, strokeWidth=0.8, strokeDash=[1, 2], opacity=0.7).encode(
        x=alt.X("x_px:Q", **px), y=alt.Y("y_px:Q", **px), x2="label_x:Q", y2="label_y:Q")
    text = base.mark_text(align="left", baseline="middle", dx=2, fontSize=10,
                          color=colour).encode(
        x=alt.X("label_x:Q", **px), y=alt.Y("label_y:Q", **px), text="client_id:N",
        tooltip=[alt.Tooltip("client_id:N", title="Client")])
    return [leader, text]


# --- one sign across the caseload ------------------------------------------------------------


def spec_caseload_sign(
    rows: pd.DataFrame, sign: str, *, config: Config, rater: str, start: DateLike,
    end: DateLike, highlight: Iterable[str] = (), ruptures: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """One sign's ratings by `rater` across the clients in `rows` (one therapist's, every
    rater): the caseload band (middle half per week, a step a week) and its dashed median,
    the concern band, a line per `highlight` client with a label at the right, and their
    possible ruptures."""
    info = get_sign(sign)
    title = f"{info.label}, rated by {name_rater(rater)}"
    frames = _caseload_sign_frames(rows, sign, (rater, start, end), list(highlight), ruptures)
    if frames is None:
        return spec_message(title, f"No {info.label} ratings by {name_rater(rater)} for these "
                                   "clients in this period.")
    window = choose_window(start, end, [frames["spread"]["session_date"]])
    n_labelled = R.size(frames["last"])
    height = fit_height(n_labelled)
    parts = [_band_rows(config), frames["spread"]]
    if n_labelled:
        labels = label_frame(frames["last"], window=window, height=height,
                             domain=(config.scale.min, config.scale.max))
        parts += [frames["chosen"], labels]
    if frames["marks"] is not None:
        parts.append(frames["marks"])
    ticks = choose_date_ticks(*window)
    shape = (n_labelled > 0, frames["marks"] is not None)
    key = ("app-caseload", sign, rater, _config_key(config), ticks, shape)
    spec = assemble(key, parts, lambda f: _caseload_sign_chart(
        f, info, config, ticks, shape, title))
    return _with_window(spec, window, height)


def _band_rows(config: Config) -> list[dict]:
    """The concern band's one row (as `charts._band_frame`)."""
    return [{"lo": config.scale.min, "hi": config.thresholds.concern_below}]


def _caseload_sign_frames(rows: pd.DataFrame, sign: str, where: tuple, highlight: list[str],
                          ruptures: pd.DataFrame | None) -> dict[str, Any] | None:
    """The rater's ratings' weekly spread, the highlighted clients' ratings and last ratings,
    and their ruptures; None when the rater rated nobody on this sign in the window."""
    rater, start, end = where
    table = R.take(rows, ["client_id", "session_date", sign], start=start, end=end,
                   rater=rater, present=sign)
    if not R.size(table):
        return None
    table["score"] = table.pop(sign).astype(float)
    wanted = np.isin(table["client_id"], np.asarray(highlight, dtype=object))
    chosen = R.sort_by_client(R.pick(table, wanted))
    return {"spread": R.weekly_quartiles(table["session_date"], table["score"], start, end),
            "chosen": chosen, "last": R.last_per_client(chosen),
            "marks": rupture_marks(ruptures, sign, rater, highlight, (start, end))}


def rupture_marks(ruptures: pd.DataFrame | None, sign: str, rater: str,
                  clients: Iterable[str] | None, window: tuple) -> Table | None:
    """Possible-rupture markers of these clients at (start_date, score) with their status in
    words, or None when there is none (as `charts._rupture_rows`)."""
    if ruptures is None or ruptures.empty:
        return None
    table = R.take(ruptures, ["client_id", "start_date", "score", "status", "sign"],
                   start=window[0], end=window[1], rater=rater, clients=clients,
                   date_col="start_date")
    table = R.pick(table, table.pop("sign") == sign)
    if not R.size(table):
        return None
    return {"client_id": table["client_id"], "session_date": table["start_date"],
            "score": table["score"].astype(float),
            "status": np.asarray([RUPTURE_STATUS.get(v, v) for v in table["status"]],
                                 dtype=object)}


def _caseload_sign_chart(frames: list[pd.DataFrame], info: Any, config: Config,
                         ticks: tuple, shape: tuple[bool, bool], title: str) -> alt.LayerChart:
    data = _Data()
    named = [data.add(f) for f in frames]
    x, y = _date_x(ticks), _rating_y(config)
    band = alt.Chart(named[1]).encode(x=x, x2="until:T")
    tips = [alt.Tooltip("session_date:T", title="Week from", format="%d %b %Y",
                        formatType="utc"),
            alt.Tooltip("q1:Q", title="Lower quartile", format=".1f"),
            alt.Tooltip("median:Q", title="Median", format=".1f"),
            alt.Tooltip("q3:Q", title="Upper quartile", format=".1f")]
    layers = [*_concern_band(config, named[0]),
              band.mark_rect(color=info.colour, opacity=0.18).encode(
                  y=alt.Y("q1:Q", scale=_rating_scale(config), title=_rating_title(config)),
                  y2="q3:Q", tooltip=tips),
              band.mark_rule(color=info.colour, strokeDash=[5, 3], opacity=0.8,
                             strokeWidth=1.5).encode(
                  y=alt.Y("median:Q", scale=_rating_scale(config)), tooltip=tips)]
    rest = named[2:]
    if shape[0]:
        chosen, labels = rest[:2]
        rest = rest[2:]
        base = alt.Chart(chosen).encode(x=x, y=y, detail="client_id:N")
        layers += [base.mark_line(color=info.colour, strokeWidth=1.8),
                   base.mark_point(color=info.colour, filled=True, size=28, opacity=1).encode(
                       tooltip=[alt.Tooltip("client_id:N", title="Client"), _date_tip(),
                                alt.Tooltip("score:Q", title="Rating")]),
                   *_label_layers(labels, info.colour)]
    if shape[1]:
        layers.append(_rupture_layer(rest[0], y, x))
    chart = alt.layer(*layers).properties(width=WIDTH, height=HEIGHT)
    return _finish(chart, data, title)


def _rating_title(config: Config) -> str:
    return f"Rating ({config.scale.min:g}-{config.scale.max:g})"


def _rating_y(config: Config) -> alt.Y:
    return alt.Y("score:Q", title=_rating_title(config), scale=_rating_scale(config))


# --- latest rating per client and sign -------------------------------------------------------


def spec_latest_heatmap(latest: pd.DataFrame, *, config: Config, rater: str,
                        signs: Sequence[str] = SIGN_KEYS) -> dict[str, Any]:
    """Clients (rows) by the given signs (columns), each cell the client's latest rating by
    `rater` (`latest`: client_id, sign, latest), coloured concern (warm, below
    thresholds.concern_below, and outlined) to good (cool)."""
    signs = [s for s in SIGN_KEYS if s in set(signs)]
    title = f"Latest rating by {name_rater(rater)}, per sign"
    cells = heatmap_cells(latest, config, signs)
    if not R.size(cells):
        what = "for the chosen signs " if signs else ""
        return spec_message(title, f"No ratings by {name_rater(rater)} {what}for these clients "
                                   "in this period." if signs else "No sign is chosen.")
    key = ("app-heatmap", rater, tuple(signs), _config_key(config))
    return assemble(key, [cells], lambda f: _heatmap_chart(f[0], config, signs, title))


def heat_classes(config: Config) -> tuple[list[float], list[str]]:
    """The heatmap's class edges and their legend labels, two below the concern threshold
    (concern) and two at or above it (good)."""
    c, lo, hi = config.thresholds.concern_below, config.scale.min, config.scale.max
    edges = [c - (c - lo) / 4, c, c + (hi - c) / 2]
    labels = [f"below {edges[0]:g}: concern", f"{edges[0]:g} to under {c:g}: concern",
              f"{c:g} to under {edges[2]:g}: good", f"{edges[2]:g} and above: good"]
    return edges, labels


def heatmap_cells(latest: pd.DataFrame, config: Config,
                  signs: Sequence[str] = SIGN_KEYS) -> Table:
    """One row per cell: client_id, sign (label), latest, its class, ink and concern flag."""
    client, sign = latest["client_id"].to_numpy(), latest["sign"].to_numpy()
    value = latest["latest"].to_numpy(dtype=float, na_value=np.nan)
    keep = np.isin(sign, np.asarray(list(signs), dtype=object)) & ~np.isnan(value)
    value = value[keep]
    edges, labels = heat_classes(config)
    k = np.searchsorted(np.asarray(edges), value, side="right")
    return {"client_id": client[keep],
            "sign": np.asarray([SIGN_LABELS[v] for v in sign[keep]], dtype=object),
            "latest": value, "level": np.asarray(labels, dtype=object)[k],
            "ink": np.asarray(HEAT_INK, dtype=object)[k],
            "concern": value < config.thresholds.concern_below}


def _heatmap_chart(rows: pd.DataFrame, config: Config, signs: list[str],
                   title: str) -> alt.LayerChart:
    data = _Data()
    labels = [SIGN_LABELS[k] for k in signs]
    _, levels = heat_classes(config)
    x = alt.X("sign:N", title=None, sort=labels, scale=alt.Scale(domain=labels),
              axis=alt.Axis(orient="top", labelAngle=0, labelLineHeight=12, labelPadding=26,
                            labelExpr=_wrap_expr(labels, width=14, lines=3)))
    y = alt.Y("client_id:N", title="Client", sort="ascending")
    tips = [alt.Tooltip("client_id:N", title="Client"), alt.Tooltip("sign:N", title="Sign"),
            alt.Tooltip("latest:Q", title="Latest rating"), alt.Tooltip("level:N", title="Reads")]
    base = alt.Chart(data.add(rows)).encode(x=x, y=y, tooltip=tips)
    cells = base.mark_rect(stroke="white", strokeWidth=1).encode(
        color=alt.Color("level:N", title="Latest rating", sort=levels,
                        scale=alt.Scale(domain=levels, range=list(HEAT_COLOURS)),
                        legend=alt.Legend(orient="bottom", direction="horizontal",
                                          columns=2, symbolType="square")))
    outline = base.transform_filter("datum.concern").mark_rect(
        fill=None, stroke="black", strokeWidth=2.5)
    text = base.mark_text(fontSize=11).encode(
        text=alt.Text("latest:Q", format=".0f"), color=alt.Color("ink:N", scale=None))
    chart = alt.layer(cells, outline, text).properties(width=alt.Step(96), height=alt.Step(20))
    return _finish(chart, data, title, f"Outlined: below {config.thresholds.concern_below:g}, "
                                       "a concern.")


# --- perspective gap, attendance, outcomes ---------------------------------------------------


def spec_gap_app(rows: pd.DataFrame, *, config: Config, signs: Sequence[str], start: DateLike,
                 end: DateLike) -> dict[str, Any]:
    """Per client and chosen sign, the mean client and mean therapist rating of the sessions
    both rated in the window, as a dumbbell, a panel per sign."""
    signs = [s for s in SIGN_KEYS if s in set(signs)]
    title = "Perspective gap: client and therapist ratings of the same sessions"
    means = R.gap_means(rows, signs, start=start, end=end)
    means["sign"] = np.asarray([SIGN_LABELS[k] for k in means["sign"]], dtype=object)
    if not R.size(means):
        return spec_message(title, "No sign is chosen." if not signs else
                            "No sessions rated by both the client and the therapist in this "
                            "period.")
    key = ("app-gap", tuple(signs), _config_key(config))
    return assemble(key, [means], lambda f: _gap_chart(f[0], config, signs, title))


def spec_attendance_app(rows: pd.DataFrame, *, start: DateLike, end: DateLike) -> dict[str, Any]:
    """A timeline per client, one mark per session, coloured and shaped by attendance."""
    return _attendance_spec(rows, start=start, end=end)


def _attendance_spec(rows: pd.DataFrame, *, start: DateLike, end: DateLike,
                     title: str = "Attendance",
                     who: str = "these clients") -> dict[str, Any]:
    """`spec_attendance_app` with its title, and `who` for the message of an empty chart."""
    marks = attendance_marks(rows, start=start, end=end)
    if not R.size(marks):
        return spec_message(title, f"No sessions for {who} in this period.")
    window = choose_window(start, end, [marks["session_date"]])
    ticks = choose_date_ticks(*window)
    spec = assemble(("app-attendance", ticks, title), [marks],
                    lambda f: _attendance_chart(f[0], _date_x(ticks), title))
    return _with_window(spec, window)


def attendance_marks(rows: pd.DataFrame, *, start: DateLike, end: DateLike) -> Table:
    """One mark per client and session day (the first row of it), attendance in words (as
    `charts._attendance_rows`)."""
    table = R.sort_by_client(R.take(rows, ["client_id", "session_date", "session_number",
                                           "attendance"], start=start, end=end))
    ids, days = table["client_id"], table["session_date"]
    new = np.r_[True, (ids[1:] != ids[:-1]) | (days[1:] != days[:-1])] if len(ids) else []
    table = R.pick(table, np.asarray(new, dtype=bool))
    table["attendance"] = np.asarray([ATTENDANCE_LABELS.get(a, a) for a in
                                      table["attendance"]], dtype=object)
    return table


def spec_outcome_app(rows: pd.DataFrame, measure_key: str, *, config: Config, start: DateLike,
                     end: DateLike) -> dict[str, Any]:
    """A measure's scores per client over the window, the clinical cutoff, and each client's
    reliable-change band around their first score ever (up to `end`); labels at the right."""
    return _outcome_spec(rows, measure_key, config=config, start=start, end=end)


def _outcome_spec(rows: pd.DataFrame, measure_key: str, *, config: Config, start: DateLike,
                  end: DateLike, who: str = "these clients",
                  title: str | None = None) -> dict[str, Any]:
    """`spec_outcome_app`; `who` names the clients in the message of an empty chart, `title`
    replaces the measure's label as the title."""
    measure = config.all_measures()[measure_key]
    title = title or measure.label
    frames = outcome_tables(rows, measure_key, config, start=start, end=end)
    scores = frames[-1]
    if not R.size(scores):
        return spec_message(title, f"No {measure.label} scores for {who} in this period.")
    window = choose_window(start, end, [scores["session_date"]])
    last = R.last_per_client(scores)
    height = fit_height(R.size(last))
    labels = label_frame(last, window=window, domain=(measure.min, measure.max), height=height)
    ticks = choose_date_ticks(*window)
    key = ("app-outcome", measure_key, _config_key(config), ticks, title)
    spec = assemble(key, [*frames, labels],
                    lambda f: _outcome_chart(f, measure_key, config, ticks, title))
    return _with_window(spec, window, height)


def outcome_tables(rows: pd.DataFrame, measure_key: str, config: Config, *, start: DateLike,
                   end: DateLike) -> list[Table | list[dict]]:
    """Each client's reliable-change band over their dates in the window, from their first
    score ever up to `end` (when the measure has a reliable change), the cutoff (when it has
    one) and the scores in the window, sorted by client (as `charts._outcome_frames`)."""
    measure = config.all_measures()[measure_key]
    history = R.session_scores(rows, measure_key, end=end)
    scores = history if start is None else R.pick(
        history, history["session_date"] >= R.day(start))
    tables: list[Table | list[dict]] = []
    if measure.reliable_change is not None:
        firsts = R.first_per_client(history)
        first = dict(zip(firsts["client_id"].tolist(), firsts["score"].tolist(), strict=True))
        start_of, end_of = R.first_per_client(scores), R.last_per_client(scores)
        base = np.asarray([first[c] for c in start_of["client_id"]], dtype=float)
        tables.append({"client_id": start_of["client_id"], "first": base,
                       "from": start_of["session_date"], "to": end_of["session_date"],
                       "low": np.maximum(base - measure.reliable_change, measure.min),
                       "high": np.minimum(base + measure.reliable_change, measure.max)})
    if measure.cutoff is not None:
        tables.append([{"cutoff": measure.cutoff}])
    return [*tables, scores]


def _outcome_chart(frames: list[pd.DataFrame], measure_key: str, config: Config,
                   ticks: tuple, title: str) -> alt.LayerChart:
    measure, data = config.all_measures()[measure_key], _Data()
    named = [data.add(f) for f in frames]
    x = _date_x(ticks)
    y = alt.Y("score:Q", title=f"{measure.label} total ({measure.min:g}-{measure.max:g})",
              scale=alt.Scale(domain=[measure.min, measure.max], nice=False))
    layers: list[alt.Chart] = []
    if measure.reliable_change is not None:
        layers.append(_change_band_layer(named.pop(0)).encode(x=_date_x(ticks, "from")))
    if measure.cutoff is not None:
        layers += _cutoff_layers(named.pop(0), measure)
    scores, labels = named
    base = alt.Chart(scores).encode(x=x, y=y, detail="client_id:N")
    tips = [alt.Tooltip("client_id:N", title="Client"), _date_tip(),
            alt.Tooltip("score:Q", title=measure.label)]
    layers += [base.mark_line(color="#333333", strokeWidth=1.5),
               base.mark_point(color="#333333", filled=True, size=30, opacity=1).encode(
                   tooltip=tips),
               *_label_layers(labels, "#333333")]
    chart = alt.layer(*layers).properties(width=WIDTH, height=HEIGHT)
    return _finish(chart, data, title, _outcome_subtitle(measure))


