"""Realistic outcome courses for the synthetic clinics, with each client's ground truth.

Published base rates the draws follow (routine-practice figures, e.g. Hansen, Lambert & Forman
2002; Delgadillo et al. 2014; Lambert 2013 for deterioration; Swift & Greenberg 2012 for
dropout; Haas et al. 2002 and Lutz et al. 2014 for early change predicting outcome):

- about half of the clients reliably improve and a third to 40% recover, 5-10% reliably
  deteriorate, the rest show no reliable change;
- responders improve fast early (most of their change in the first 4-8 sessions), so early
  change predicts the outcome;
- about 20% drop out: the course stops after 3-10 sessions with one or two no-shows, more
  often among clients who are not improving;
- client-rated alliance clusters near the top of the scale with a long low tail, as the Session
  Rating Scale does in routine practice (Duncan et al. 2003: about a quarter of the sessions
  below 36/40, the rest at or above it): on the five signs' 0-10 scale a session's mean is
  below 9 (36/40) in about a quarter of the sessions, and most ratings are 9 or 10.

Each client has a latent course (`responder`, `partial`, `deteriorator`) shared by all their
measures; PHQ-9 totals for about 60% of the clients, GAD-7 for most of them as well, ORS for
about a quarter, every session or (30%) every other session. `truth_frame` gives, per client
and measure, the latent course, dropout, and the eventual outcome of the whole course (the
published-threshold category of the last score against the first; `single_score` when the
measure was scored once, so there is no course to judge); it is kept beside the ratings, never
in them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbook.data.measures import BUILTIN_MEASURES

MEASURES = ("phq9", "gad7", "ors")
COURSES = np.array(["responder", "partial", "deteriorator"], dtype=object)
COURSE_SHARES = (0.55, 0.35, 0.10)
DROPOUT = {"responder": 0.13, "partial": 0.3, "deteriorator": 0.35}
# intake mean, SD, low, high; noise SD; direction (-1: lower is better)
INTAKE = {"phq9": (15.5, 4.5, 5, 27), "gad7": (12.5, 4.0, 3, 21), "ors": (19.0, 6.0, 4, 34)}
NOISE = {"phq9": 1.6, "gad7": 1.3, "ors": 2.2}
# client-rated alliance: a client's level is 10.2 minus a gamma draw (a ceiling and a long low
# tail), each sign offset from it, each rating with a little noise; therapists a bit higher
ALLIANCE_TOP, ALLIANCE_TAIL = 10.2, (1.2, 0.75)


@dataclass(frozen=True)
class Courses:
    """Per client: latent course index, dropout, first and last week, measures carried."""

    course: np.ndarray
    dropout: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    has: np.ndarray  # (clients, 3) bool
    every_other: np.ndarray
    gain: np.ndarray  # (clients, 3) points of improvement at the plateau (negative: worse)
    tau: np.ndarray  # sessions to about 63% of the gain
    intake: np.ndarray  # (clients, 3)


def plan_realistic(rng: np.random.Generator, n: int, weeks: int) -> Courses:
    """Latent courses, starts, planned lengths and dropouts for `n` clients."""
    course = rng.choice(3, size=n, p=COURSE_SHARES)
    start = np.floor(rng.random(n) ** 1.3 * weeks * 0.75).astype(np.int64)
    planned = rng.integers(10, 25, n)
    drop_p = np.array([DROPOUT[c] for c in COURSES])[course]
    dropout = rng.random(n) < drop_p
    length = np.where(dropout, rng.integers(3, 11, n), planned)
    stop = np.minimum(start + length, weeks)
    dropout &= start + length <= weeks  # a course still going at the end has not dropped out
    has = np.zeros((n, 3), dtype=bool)
    has[:, 0] = rng.random(n) < 0.6
    has[:, 1] = has[:, 0] & (rng.random(n) < 0.75)
    has[:, 2] = rng.random(n) < 0.25
    intake = np.column_stack([np.clip(rng.normal(m, s, n), lo, hi)
                              for m, s, lo, hi in (INTAKE[k] for k in MEASURES)])
    room = np.column_stack([intake[:, 0], intake[:, 1], 40 - intake[:, 2]])
    share = np.select([course == 0, course == 1],
                      [rng.uniform(0.45, 0.85, n), rng.uniform(-0.1, 0.25, n)],
                      -rng.uniform(0.3, 0.6, n))
    gain = share[:, None] * room
    worse = course == 2
    gain[worse] = -np.column_stack([rng.uniform(6, 10, n), rng.uniform(4, 7, n),
                                    rng.uniform(5, 9, n)])[worse]
    tau = np.select([course == 0, course == 1], [rng.uniform(1.5, 4.5, n),
                                                 rng.uniform(4, 12, n)], rng.uniform(2, 6, n))
    return Courses(course, dropout, start, stop, has, rng.random(n) < 0.3, gain, tau, intake)


def draw_realistic_measures(rng: np.random.Generator, plan: Courses, client: np.ndarray,
                            t: np.ndarray) -> np.ndarray:
    """(sessions, 3) totals following each client's latent course, NaN where not scored."""
    progress = 1 - np.exp(-t / plan.tau[client])
    direction = np.array([-1.0, -1.0, 1.0])
    mean = plan.intake[client] + direction * plan.gain[client] * progress[:, None]
    noise = rng.normal(0.0, [NOISE[k] for k in MEASURES], (len(client), 3))
    top = np.array([BUILTIN_MEASURES[k].max for k in MEASURES])
    scores = np.clip(np.rint(mean + noise), 0, top)
    scores[t == 0] = np.rint(plan.intake[client[t == 0]])
    on = plan.has[client] & ((t % 2 == 0) | ~plan.every_other[client])[:, None]
    return np.where(on, scores, np.nan)


def draw_realistic_ratings(rng: np.random.Generator, client: np.ndarray, t: np.ndarray,
                           n: int, signs: int) -> tuple[np.ndarray, np.ndarray]:
    """(sessions, signs) client and therapist ratings on 0-10: high with a long low tail (about
    a quarter of the sessions' client means below 9), slowly rising, therapists about half a
    point higher."""
    level = ALLIANCE_TOP - rng.gamma(*ALLIANCE_TAIL, n)
    offset = rng.normal(0.0, 0.3, (n, signs))
    slope = np.clip(rng.normal(0.01, 0.01, n), -0.01, 0.03)
    lift = rng.normal(0.55, 0.2, n)
    mean = np.minimum(level[client] + slope[client] * t, ALLIANCE_TOP)[:, None] + offset[client]
    by_client = mean + rng.normal(0.0, 0.45, (len(client), signs))
    by_therapist = mean + lift[client, None] + rng.normal(0.0, 0.35, (len(client), signs))
    return np.clip(np.rint(by_client), 0, 10), np.clip(np.rint(by_therapist), 0, 10)


def mark_dropouts(plan: Courses, client: np.ndarray, t: np.ndarray,
                  attend: np.ndarray) -> np.ndarray:
    """Attendance with each dropout's last one or two sessions as no-shows (0 attended,
    2 no_show); a course's first session stays attended."""
    count = (plan.stop - plan.start)[client]
    missed = plan.dropout[client] & (t >= np.maximum(count - 2, 1))
    out = attend.copy()
    out[missed] = 2
    finished = ~plan.dropout[client] & (t == count - 1)
    out[finished] = 0
    return out


def truth_frame(ids: np.ndarray, plan: Courses, sessions_client: np.ndarray,
                measures: np.ndarray, week: np.ndarray) -> pd.DataFrame:
    """Per client and measure scored: latent course, dropout, first and last score and week,
    and the eventual outcome by the measure's published threshold and cutoff."""
    rows = []
    for m, key in enumerate(MEASURES):
        scored = ~np.isnan(measures[:, m])
        if not scored.any():
            continue
        c, v, w = sessions_client[scored], measures[scored, m], week[scored]
        first = np.r_[True, c[1:] != c[:-1]]
        last = np.r_[c[1:] != c[:-1], True]
        part = pd.DataFrame({"client_id": ids[c[first]], "measure": key,
                             "course": np.where(plan.course[c[first]] >= 0,
                                                COURSES[plan.course[c[first]] % 3], "simple"),
                             "dropout": plan.dropout[c[first]],
                             "first_score": v[first], "last_score": v[last],
                             "first_week": w[first], "last_week": w[last],
                             "n_scores": np.diff(np.r_[np.flatnonzero(first), len(c)])})
        part["outcome"] = _outcome(part, BUILTIN_MEASURES[key])
        rows.append(part)
    return pd.concat(rows, ignore_index=True).sort_values(["client_id", "measure"],
                                                          ignore_index=True)


def _outcome(part: pd.DataFrame, measure) -> np.ndarray:
    """recovered / improved / no_change / deteriorated, last score against the first;
    single_score for a course with one score, which has no change to judge (as the package's
    outcomes give no category for it)."""
    better = (part["last_score"] - part["first_score"]) * (1 if measure.higher_is_better else -1)
    reliable = measure.reliable_change
    clinical = (part["first_score"] < measure.cutoff if measure.higher_is_better
                else part["first_score"] >= measure.cutoff)
    out_now = (part["last_score"] >= measure.cutoff if measure.higher_is_better
               else part["last_score"] < measure.cutoff)
    return np.select([part["n_scores"] < 2, (better >= reliable) & clinical & out_now,
                      better >= reliable, -better >= reliable],
                     ["single_score", "recovered", "improved", "deteriorated"], "no_change")
