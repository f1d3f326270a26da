"""A deliberately plain reference implementation of the analysis, written from DESIGN.md.

Row by row, with dicts, lists and loops, no vectorisation, so that it can be read against the
design sentence by sentence. `reference(ratings, config, period)` returns the same frames as
`workbook.analysis.pipeline.analyse`, for tests/test_reference.py to compare on generated
caseloads. Where the design leaves a choice, it follows the conventions the package documents
in its module docstrings (the within-client SD includes the dip; a client's current therapist is
the one of their latest session; a former therapist's view stops at their last session).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict

import numpy as np
import pandas as pd

from workbook.data.columns import RATERS
from workbook.data.signs import SIGN_KEYS

EPS = 1e-9
Z = 1.959964
ATTENDED = "attended"


def _day(value) -> pd.Timestamp:
    return pd.Timestamp(value).normalize()


def previous_period(start: pd.Timestamp, end: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The previous calendar month for a month, else as many days just before."""
    month_end = start + pd.offsets.MonthEnd(0)
    if start.day == 1 and end == month_end:
        first = (start - pd.Timedelta(days=1)).replace(day=1)
        return first, start - pd.Timedelta(days=1)
    return start - (end - start) - pd.Timedelta(days=1), start - pd.Timedelta(days=1)


def mean(values):
    return sum(values) / len(values) if values else math.nan


# --- views ---------------------------------------------------------------------------------------


def sessions_of(rows: list[dict]) -> list[dict]:
    """One dict per session date: date, therapist, attendance (raters agree on both)."""
    out = {}
    for r in sorted(rows, key=lambda r: r["session_date"]):
        out.setdefault(r["session_date"], {"date": r["session_date"],
                                           "therapist": r["therapist_id"],
                                           "attendance": r["attendance"]})
    return [out[d] for d in sorted(out)]


def views_of(client: str, rows: list[dict], start, end) -> list[dict]:
    """The client's current therapist's view and each former therapist's (with a session in
    the period): who, until when, and the handover row."""
    sessions = sessions_of(rows)
    current = sessions[-1]["therapist"]
    order = []
    for s in sessions:
        if s["therapist"] not in order:
            order.append(s["therapist"])
    views = [{"therapist": current, "until": end, "role": "current"}]
    if len(order) == 1:
        return views
    others = [t for t in order if t != current]
    back = len(sessions) - 1
    while back > 0 and sessions[back - 1]["therapist"] == current:
        back -= 1
    views[0]["handover"] = (client, current, "current", ", ".join(others),
                            sessions[back]["date"], end)
    for t in others:
        mine = [i for i, s in enumerate(sessions) if s["therapist"] == t]
        if not any(sessions[i]["date"] >= start for i in mine):
            continue
        last = mine[-1]
        nxt = next(s["date"] for s in sessions[last + 1:] if s["therapist"] != t)
        views.append({"therapist": t, "until": sessions[last]["date"], "role": "former",
                      "handover": (client, t, "former", ", ".join(x for x in order if x != t),
                                   nxt, sessions[last]["date"])})
    return views


# --- per sign ------------------------------------------------------------------------------------


def series_of(rows: list[dict], sign: str) -> dict[str, list[dict]]:
    """Each rater's non-blank ratings of the sign, in date order."""
    out = defaultdict(list)
    for r in sorted(rows, key=lambda r: r["session_date"]):
        if not math.isnan(r[sign]):
            out[r["rater"]].append(r)
    return out


def slope(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return math.nan
    mx = mean([x for x, _ in points])
    my = mean([y for _, y in points])
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx <= 0:
        return math.nan
    return sum((x - mx) * (y - my) for x, y in points) / sxx


def sign_rows(client, viewer, rows, config, start, end) -> list[dict]:
    prev_start, prev_end = previous_period(start, end)
    out = []
    for sign in SIGN_KEYS:
        for rater, ratings in sorted(series_of(rows, sign).items(), key=_rater_order):
            now = [r[sign] for r in ratings if r["session_date"] >= start]
            before = [r[sign] for r in ratings if prev_start <= r["session_date"] <= prev_end]
            last_n = ratings[-config.thresholds.trend_ratings:]
            m_now, m_before = mean(now), mean(before)
            out.append({
                "therapist_id": viewer, "client_id": client, "sign": sign, "rater": rater,
                "n_period": len(now),
                "latest": ratings[-1][sign] if now else math.nan,
                "latest_date": ratings[-1]["session_date"] if now else pd.NaT,
                "mean_period": m_now,
                "trend": slope([(float(r["session_number"]), r[sign]) for r in last_n]),
                "previous_mean": m_before, "change": m_now - m_before,
                "concern_n": sum(1 for v in now if v < config.thresholds.concern_below),
                "min_period": min(now) if now else math.nan,
            })
    return out


def _rater_order(item):
    rater = item[0]
    return (RATERS.index(rater) if rater in RATERS else len(RATERS), rater)


def concern_rows(client, viewer, rows, config, start) -> list[dict]:
    out = []
    for r in rows:
        if r["session_date"] < start:
            continue
        for sign in SIGN_KEYS:
            if r[sign] < config.thresholds.concern_below:
                out.append({"client_id": client, "therapist_id": viewer,
                            "session_date": r["session_date"],
                            "session_number": r["session_number"], "rater": r["rater"],
                            "sign": sign, "score": r[sign]})
    return out


def rupture_rows(client, viewer, rows, config, start) -> list[dict]:
    rule, out = config.rupture, []
    for sign in SIGN_KEYS:
        for rater, ratings in sorted(series_of(rows, sign).items(), key=_rater_order):
            y = [r[sign] for r in ratings]
            sd = statistics.stdev(y) if len(y) >= 2 else math.nan
            need = rule.min_drop_points if math.isnan(sd) else max(rule.min_drop_points,
                                                                   rule.min_drop_sd * sd)
            covered = -1
            for i in range(len(y)):
                before = y[max(0, i - rule.baseline_ratings):i]
                if len(before) < rule.min_baseline_ratings:
                    continue
                base = mean(before)
                if base - y[i] < need - EPS or i <= covered:
                    continue
                later = len(y) - 1 - i
                repair = next((j for j in range(1, rule.repair_window + 1)
                               if j <= later and y[i + j] >= base - rule.repair_tolerance - EPS),
                              None)
                if repair is not None:
                    status, span = "repaired", repair
                elif later >= rule.repair_window:
                    status, span = "unrepaired", rule.repair_window
                else:
                    status, span = "open", later
                covered = i + span
                if status != "open" and ratings[i + span]["session_date"] < start:
                    continue  # ended before the period
                out.append({
                    "client_id": client, "therapist_id": viewer, "sign": sign, "rater": rater,
                    "start_date": ratings[i]["session_date"],
                    "start_session": ratings[i]["session_number"], "baseline": base,
                    "score": y[i], "depth": base - y[i], "length": span + 1,
                    "end_date": ratings[i + span]["session_date"],
                    "repair_date": ratings[i + span]["session_date"] if repair else pd.NaT,
                    "status": status,
                })
    return out


def gap_rows(client, viewer, rows, config, start) -> list[dict]:
    by_day = defaultdict(dict)
    for r in rows:
        if r["session_date"] >= start:
            by_day[r["session_date"]][r["rater"]] = r
    out = []
    for sign in SIGN_KEYS:
        gaps = [d["therapist"][sign] - d["client"][sign] for d in by_day.values()
                if "therapist" in d and "client" in d
                and not math.isnan(d["therapist"][sign] - d["client"][sign])]
        if gaps:
            g = mean(gaps)
            out.append({"therapist_id": viewer, "client_id": client, "sign": sign,
                        "n_pairs": len(gaps), "mean_gap": g,
                        "flagged": abs(g) >= config.thresholds.perspective_gap - EPS})
    return out


def pooled_gap(client, viewer, gaps: list[dict]) -> list[dict]:
    if not gaps:
        return []
    n = sum(g["n_pairs"] for g in gaps)
    return [{"client_id": client, "therapist_id": viewer, "n_pairs": n,
             "mean_gap": sum(g["mean_gap"] * g["n_pairs"] for g in gaps) / n,
             "flagged": any(g["flagged"] for g in gaps)}]


# --- attendance and completeness ----------------------------------------------------------------


def attendance_row(client, viewer, rows, config, start, end, former: bool) -> dict:
    sessions = sessions_of(rows)
    period = [s for s in sessions if s["date"] >= start]
    kinds = [s["attendance"] for s in period]
    attended_days = [s["date"] for s in sessions if s["attendance"] == ATTENDED]
    before = [d for d in attended_days if d < start]
    chain = ([before[-1]] if before else []) + [d for d in attended_days if d >= start]
    gaps = [float((b - a).days) for a, b in zip(chain, chain[1:], strict=False)]
    run = 0
    for s in reversed(sessions):
        if s["attendance"] != "no_show":
            break
        run += 1
    last = attended_days[-1] if attended_days else pd.NaT
    since = float((end - last).days) if attended_days else math.nan
    idle = since if attended_days else float((end - sessions[0]["date"]).days)
    t = config.thresholds
    by_gap = idle > t.dropout_gap_days and sessions[-1]["attendance"] != ATTENDED
    by_runs = run >= t.dropout_no_shows
    risk = (by_gap or by_runs) and not former
    n = len(period)
    return {
        "client_id": client, "therapist_id": viewer, "sessions": n,
        "attended": kinds.count(ATTENDED), "cancelled": kinds.count("cancelled"),
        "no_show": kinds.count("no_show"), "attendance_rate": kinds.count(ATTENDED) / n,
        "no_show_rate": kinds.count("no_show") / n,
        "cancellation_rate": kinds.count("cancelled") / n,
        "gap_median_days": float(np.median(gaps)) if gaps else math.nan,
        "gap_iqr_days": (float(np.percentile(gaps, 75) - np.percentile(gaps, 25))
                         if gaps else math.nan),
        "longest_gap_days": max(gaps) if gaps else math.nan,
        "last_attended": last, "days_since_attended": since, "consecutive_no_shows": run,
        "dropout_risk": risk,
    }


def completeness_row(client, viewer, rows, config, start) -> dict:
    by_day = defaultdict(list)
    for r in rows:
        if r["session_date"] >= start:
            by_day[r["session_date"]].append(r)
    attended = rated = unrated = 0
    for day_rows in by_day.values():
        if day_rows[0]["attendance"] != ATTENDED:
            continue
        attended += 1
        has = [any(not math.isnan(r[s]) for s in SIGN_KEYS) for r in day_rows]
        rated += any(h and r["rater"] == "client" for h, r in zip(has, day_rows, strict=True))
        unrated += not any(has)
    share = rated / attended if attended else math.nan
    return {"client_id": client, "therapist_id": viewer, "attended_sessions": attended,
            "rated_by_client": rated, "completeness": share, "unrated_sessions": unrated,
            "low": (not math.isnan(share)) and share < config.thresholds.completeness_min}


# --- outcomes ------------------------------------------------------------------------------------


def scores_of(rows: list[dict], key: str) -> list[tuple[pd.Timestamp, float]]:
    """One score per session: the first non-blank in rater order client, therapist, ..."""
    best = {}
    for r in rows:
        if key in r and not math.isnan(r[key]):
            rank = RATERS.index(r["rater"]) if r["rater"] in RATERS else len(RATERS)
            if r["session_date"] not in best or rank < best[r["session_date"]][0]:
                best[r["session_date"]] = (rank, r[key])
    return [(d, best[d][1]) for d in sorted(best)]


def numbered_scores_of(rows: list[dict], key: str) -> list[tuple[pd.Timestamp, float, int]]:
    """(date, score, session counted from the first score) per session, as scores_of picks."""
    best = {}
    for r in rows:
        if key in r and not math.isnan(r[key]):
            rank = RATERS.index(r["rater"]) if r["rater"] in RATERS else len(RATERS)
            if r["session_date"] not in best or rank < best[r["session_date"]][0]:
                best[r["session_date"]] = (rank, r[key], int(r["session_number"]))
    days = sorted(best)
    if not days:
        return []
    first = best[days[0]][2]
    return [(d, best[d][1], max(1, best[d][2] - first + 1)) for d in days]


def band_of(session: int) -> int:
    """The largest b with 2 ** (b / 2) <= session (half-octave bands)."""
    b = 0
    while 2 ** ((b + 1) / 2) <= session + 1e-9:
        b += 1
    return b


def model_entries(by_client: dict, config) -> tuple[dict, dict]:
    """Per measure: [(client, band, intake, latest score in that band)] over every course, and
    the number of courses with two or more scores."""
    entries, courses = defaultdict(list), defaultdict(int)
    for c, rows in by_client.items():
        for key in config.all_measures():
            scores = numbered_scores_of(rows, key)
            if not scores:
                continue
            courses[key] += len(scores) >= 2
            last = {}
            for _, value, session in scores:
                last[band_of(session)] = value
            entries[key] += [(c, b, scores[0][1], v) for b, v in last.items()]
    return entries, courses


def quantile(values: list[float], q: float) -> float:
    values = sorted(values)
    position = q * (len(values) - 1)
    lo = math.floor(position + 1e-9)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (position - lo) * (values[hi] - values[lo])


def track(client, key, measure, scores, config, model) -> dict:
    """The expected-response judgement of a client's latest score (see analysis.expected)."""
    e = config.expected_response
    entries, courses = model
    out = {"expected": math.nan, "n_similar": 0, "similar_from": math.nan,
           "similar_to": math.nan, "track_rule": "few_courses", "off_track": False}
    if courses[key] < e.min_courses:
        return out
    intake, (_, latest, session) = scores[0][1], scores[-1]
    if session < e.first_session:
        return {**out, "track_rule": "too_early"}
    width = e.intake_window * (measure.max - measure.min)
    pool = [v for c, b, x, v in entries[key]
            if c != client and b == band_of(session) and abs(x - intake) <= width + 1e-9]
    if len(pool) < e.min_similar:
        return {**out, "n_similar": len(pool), "track_rule": "few_similar"}
    q = e.band if measure.higher_is_better else 1 - e.band
    expected = quantile(pool, q)
    worse = (latest < expected - 1e-9 if measure.higher_is_better else latest > expected + 1e-9)
    return {"expected": expected, "n_similar": len(pool),
            "similar_from": math.ceil(intake - width - 1e-9),
            "similar_to": math.floor(intake + width + 1e-9), "track_rule": "expected",
            "off_track": worse}


def is_clinical(measure, score: float) -> bool:
    if measure.cutoff is None:
        return False
    return score < measure.cutoff if measure.higher_is_better else score >= measure.cutoff


def change_rule(key, measure, config, spread) -> tuple[float, bool]:
    """(threshold in points, strict comparison); NaN when no rule can be applied."""
    if measure.reliable_change is not None:
        return float(measure.reliable_change), False
    pre = spread.get(key, [])
    if len(pre) < 2 or statistics.stdev(pre) <= 0:
        return math.nan, True
    r = measure.reliability if measure.reliability is not None else config.thresholds.reliability
    return Z * math.sqrt(2) * statistics.stdev(pre) * math.sqrt(1 - r), True


def reaches(amount: float, threshold: float, strict: bool) -> bool:
    if math.isnan(threshold):
        return False
    return amount > threshold if strict else amount >= threshold - 1e-9


def outcome_rows(client, viewer, rows, config, start, spread, model) -> list[dict]:
    out = []
    for key, measure in sorted(config.all_measures().items()):
        scores = scores_of(rows, key)
        if not scores:
            continue
        judged = track(client, key, measure, numbered_scores_of(rows, key), config, model)
        (d0, first), (d1, last) = scores[0], scores[-1]
        threshold, strict = change_rule(key, measure, config, spread)
        better = 1.0 if measure.higher_is_better else -1.0
        category, change = None, math.nan
        if len(scores) >= 2 and not math.isnan(threshold):
            change = last - first
            up, down = (reaches(change * better, threshold, strict),
                        reaches(-change * better, threshold, strict))
            if up and is_clinical(measure, first) and not is_clinical(measure, last):
                category = "recovered"
            elif down and not is_clinical(measure, first) and is_clinical(measure, last):
                category = "harmed"
            else:
                category = "improved" if up else "deteriorated" if down else "unchanged"
        in_period = [(d, v) for d, v in scores if d >= start]
        worst = None
        for d, v in in_period:  # the worst, the earliest on ties
            if worst is None or (v - first) * -better > (worst[1] - first) * -better:
                worst = (d, v)
        improved = category in ("recovered", "improved")
        worse = category in ("deteriorated", "harmed")
        out.append({
            "client_id": client, "therapist_id": viewer, "measure": key,
            "first_date": d0, "first_score": first, "latest_date": d1, "latest_score": last,
            "n_scores": len(scores), "change": change, "category": category,
            "reliable_improvement": improved, "reliable_deterioration": worse,
            "clinical_first": is_clinical(measure, first),
            "clinical_latest": is_clinical(measure, last),
            "not_on_track": (
                judged["off_track"] if judged["track_rule"] == "expected"
                else judged["track_rule"] in ("few_courses", "few_similar")
                and not math.isnan(threshold)
                and len(scores) >= config.thresholds.not_on_track_sessions
                and (not improved or worse)
                and (measure.cutoff is None or is_clinical(measure, first))),
            "session": numbered_scores_of(rows, key)[-1][2],
            **{k: v for k, v in judged.items() if k != "off_track"},
            "threshold": threshold,
            "worst_date": worst[0] if worst else pd.NaT,
            "worst_score": worst[1] if worst else math.nan,
            "worse_in_period": (worst is not None
                                and reaches((first - worst[1]) * better, threshold, strict)),
        })
    return out


# --- the discussion list and wins --------------------------------------------------------------

ORDER = ("deterioration", "trust_rupture", "rupture", "dropout", "not_on_track", "concern",
         "gap", "missing")


def kinds_of(view: dict) -> list[str]:
    kinds = []
    for o in view["outcomes"]:
        if o["category"] in ("deteriorated", "harmed") or o["worse_in_period"]:
            kinds.append("deterioration")
        if o["not_on_track"] and o["category"] not in ("deteriorated", "harmed"):
            kinds.append("not_on_track")
    for e in view["ruptures"]:
        if e["status"] in ("unrepaired", "open"):
            kinds.append("trust_rupture" if e["sign"] == "trust_safety" else "rupture")
    if view["attendance"]["dropout_risk"]:
        kinds.append("dropout")
    below = view["config"].thresholds.concern_below
    if any(s["rater"] == "client" and s["n_period"] > 0
           and (s["latest"] < below or s["mean_period"] < below) for s in view["signs"]):
        kinds.append("concern")  # current: the latest client rating or the period mean
    kinds += ["gap" for g in view["gaps"] if g["flagged"]]
    if view["completeness"]["low"]:
        kinds.append("missing")
    return sorted(kinds, key=ORDER.index)


def discussion_rows(views: list[dict]) -> list[dict]:
    listed = []
    for v in views:
        kinds = kinds_of(v)
        if kinds:
            if "handover" in v:
                kinds.append("handover")
            weight = sum(1 << (len(ORDER) - 1 - ORDER.index(k)) for k in set(kinds)
                         if k in ORDER)
            listed.append({"client_id": v["client"], "therapist_id": v["therapist"],
                           "kinds": kinds, "weight": weight})
    listed.sort(key=lambda r: (-r["weight"], r["client_id"], r["therapist_id"]))
    for i, r in enumerate(listed, 1):
        r["rank"] = i
    return listed


def win_rows(views: list[dict]) -> list[dict]:
    out = []
    for v in views:
        out += [{"client_id": v["client"], "therapist_id": v["therapist"], "kind": o["category"]}
                for o in v["outcomes"] if o["category"] in ("recovered", "improved")]
        out += [{"client_id": v["client"], "therapist_id": v["therapist"], "kind": "repaired"}
                for e in v["ruptures"] if e["status"] == "repaired"]
    return out


# --- the whole analysis --------------------------------------------------------------------------


def reference(ratings: pd.DataFrame, config, start, end) -> dict[str, pd.DataFrame]:
    """Every frame of `analyse` for the period start..end, computed row by row."""
    start, end = _day(start), _day(end)
    records = [r for r in ratings.to_dict("records") if r["session_date"] <= end]
    by_client = defaultdict(list)
    for r in records:
        by_client[r["client_id"]].append(r)
    seen = sorted(c for c, rows in by_client.items() if any(r["session_date"] >= start
                                                            for r in rows))
    plans = [(c, v) for c in seen for v in views_of(c, by_client[c], start, end)]
    spread = defaultdict(list)  # first scores of the clinic's clients with two or more
    for c, v in plans:
        if v["role"] == "current":
            for key in config.all_measures():
                scores = scores_of(by_client[c], key)
                if len(scores) >= 2:
                    spread[key].append(scores[0][1])
    model = model_entries(by_client, config)
    views = []
    for c, v in plans:
        rows = [r for r in by_client[c] if r["session_date"] <= v["until"]]
        t = v["therapist"]
        gaps = gap_rows(c, t, rows, config, start)
        view = {"client": c, "therapist": t,
                "signs": sign_rows(c, t, rows, config, start, end),
                "concerns": concern_rows(c, t, rows, config, start),
                "ruptures": rupture_rows(c, t, rows, config, start),
                "gaps": gaps, "client_gaps": pooled_gap(c, t, gaps),
                "attendance": attendance_row(c, t, rows, config, start, end,
                                             v["role"] == "former"),
                "completeness": completeness_row(c, t, rows, config, start),
                "outcomes": outcome_rows(c, t, rows, config, start, spread, model),
                "config": config}
        if "handover" in v:
            view["handover"] = v["handover"]
        views.append(view)
    frames = {name: pd.DataFrame([row for v in views for row in v[name]])
              for name in ("signs", "concerns", "ruptures", "gaps", "client_gaps", "outcomes")}
    frames["attendance"] = pd.DataFrame([v["attendance"] for v in views])
    frames["completeness"] = pd.DataFrame([v["completeness"] for v in views])
    frames["discussion"] = pd.DataFrame(discussion_rows(views))
    frames["wins"] = pd.DataFrame(win_rows(views))
    frames["handovers"] = pd.DataFrame([v["handover"] for v in views if "handover" in v],
                                       columns=["client_id", "therapist_id", "role",
                                                "other_therapists", "handover_date", "until"])
    return frames
