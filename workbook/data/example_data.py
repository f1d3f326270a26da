"""A seeded generator of synthetic clinics: codes only, never real people.

`generate_clinic` returns one row per rating event in the data contract's columns (see
`workbook.data.columns`), built with vectorised numpy so a million rows take a few seconds.
With `plant=True` it also writes the documented example patterns into the clients named in
`PLANTED` (see `data/examples/README.md`); their events fall in the last four weekly sessions
before `end` (October 2026 with the default `end`), with months of steady history before.

Background texture: clients start at staggered weeks and some finish; alliance ratings cluster
high (mostly 7-10) with small noise, therapists rating about half a point above clients; some
clients carry PHQ-9, GAD-7 and ORS totals (every session or every other one), most improving;
about 6% of sessions are cancelled or missed; a few rows carry a short harmless note.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from workbook.data.courses import (
    draw_realistic_measures,
    draw_realistic_ratings,
    mark_dropouts,
    plan_realistic,
    truth_frame,
)
from workbook.data.errors import ParameterError
from workbook.data.signs import SIGN_KEYS

COLUMNS = (
    "client_id", "therapist_id", "supervisor_id", "site", "session_date", "session_number",
    "rater", "attendance", *SIGN_KEYS, "phq9", "gad7", "ors", "note",
)
MEASURE_KEYS = ("phq9", "gad7", "ors")
MEASURE_MAX = np.array([27, 21, 40])
ATTENDANCE = np.array(["attended", "cancelled", "no_show"], dtype=object)
RATERS = np.array(["client", "therapist"], dtype=object)
SITES = ("north", "south", "central")

NOTES_ATTENDED = np.array([
    "homework reviewed", "talked about sleep", "reviewed goals", "practised breathing exercise",
    "discussed work stress", "planned next steps", "used the thought record",
    "talked about family visit", "set a small weekly goal", "checked in on mood diary",
], dtype=object)
NOTES_MISSED = np.array([
    "rebooked for next week", "left a voicemail", "client unwell", "travel disruption",
], dtype=object)
NOTE_SHARE = 0.12

# With the default of 10 clients per therapist, caseloads vary around 10 (5 to 16) so the
# example shows both suppressed (<11 clients) and reported therapist aggregates.
DEFAULT_CLIENTS = 10
CASELOAD_SPREAD = (6, -5, 2, -3, 4, -1, 1, -4)

# Pattern name -> client IDs. The events are in the last 4 weekly sessions before `end`.
PLANTED: dict[str, list[str]] = {
    "repaired_rupture": ["C0004"],
    "unrepaired_rupture": ["C0025"],
    "reliable_deterioration": ["C0009"],
    "recovery": ["C0028"],
    "perspective_gap": ["C0012"],
    "dropout_risk": ["C0031"],
    "missing_ratings": ["C0015"],
    "steady_control": ["C0002", "C0023", "C0044", "C0047", "C0066"],
}
REPAIRED_SIGN = "collaboration_respect"
UNREPAIRED_SIGN = "trust_safety"
MIN_PLANT_WEEKS = 16

_SIGN = {key: i for i, key in enumerate(SIGN_KEYS)}
_DAY = np.timedelta64(1, "D")


@dataclass
class _Sessions:
    """One entry per scheduled session, sorted by client then week."""

    client: np.ndarray  # client index
    week: np.ndarray  # week index, 0 .. weeks-1
    attend: np.ndarray  # index into ATTENDANCE
    client_rating: np.ndarray  # (sessions, 5) float, NaN when blank
    therapist_rating: np.ndarray  # (sessions, 5) float, NaN when blank
    measures: np.ndarray  # (sessions, 3) float on the client row, NaN when blank
    client_row: np.ndarray  # bool: the session has a client row
    number: np.ndarray  # session number, 1 .. within the client's course


@dataclass(frozen=True)
class _Script:
    """A planted client's sessions, written out by hand."""

    start: int  # first week
    stop: int  # one past the last week
    attend: np.ndarray
    client_rating: np.ndarray
    therapist_rating: np.ndarray
    measures: np.ndarray
    client_row: np.ndarray


def generate_clinic(*, therapists: int = 8, clients_per_therapist: int = 10, weeks: int = 39,
                    seed: int = 0, end: date = date(2026, 10, 31), supervisors: int = 3,
                    plant: bool = True, courses: str = "simple") -> pd.DataFrame:
    """Return a synthetic clinic, one row per rating event, deterministic for `seed`.

    Sessions are weekly over `weeks` weeks ending on or before `end`. With `plant`, the
    clients in PLANTED carry the patterns documented in data/examples/README.md. `courses`
    "realistic" draws outcome courses and dropouts from published base rates
    (workbook.data.courses); "simple" is the example clinic's texture.
    """
    return generate_clinic_and_truth(therapists=therapists,
                                     clients_per_therapist=clients_per_therapist, weeks=weeks,
                                     seed=seed, end=end, supervisors=supervisors, plant=plant,
                                     courses=courses)[0]


def generate_clinic_and_truth(*, therapists: int = 8, clients_per_therapist: int = 10,
                              weeks: int = 39, seed: int = 0, end: date = date(2026, 10, 31),
                              supervisors: int = 3, plant: bool = True,
                              courses: str = "simple") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The clinic of `generate_clinic` and, beside it, each client's ground truth per measure
    (workbook.data.courses.truth_frame; with "simple" courses: the outcome only)."""
    check_arguments(therapists, clients_per_therapist, weeks, supervisors)
    if courses not in ("simple", "realistic"):
        raise ParameterError(f"courses: expected simple or realistic, got {courses!r}")
    rng = np.random.default_rng(seed)
    sizes = size_caseloads(therapists, clients_per_therapist)
    therapist = np.repeat(np.arange(therapists), sizes)
    start, stop, lag = plan_courses(rng, len(therapist), weeks, weekday_lags(end))
    plan = None
    if courses == "realistic":
        plan = plan_realistic(np.random.default_rng([seed, 2]), len(therapist), weeks)
        start, stop = plan.start.copy(), plan.stop.copy()
    scripts: dict[int, _Script] = {}
    if plant:
        check_plantable(therapist, sizes, weeks)
        scripts = script_planted(np.random.default_rng([seed, 1]), weeks)
    for idx, script in scripts.items():
        start[idx], stop[idx], lag[idx] = script.start, script.stop, planted_lag(end)
    sessions = draw_sessions(rng, start, stop)
    if plan is not None:
        apply_realistic(np.random.default_rng([seed, 3]), sessions, plan, start)
    for idx, script in scripts.items():
        apply_script(sessions, idx, script)
    frame = assemble_frame(rng, sessions, therapist, lag, weeks, end, supervisors)
    ids = make_ids("C", len(therapist), 4)
    if plan is None:
        plan = plan_realistic(np.random.default_rng([seed, 2]), len(therapist), weeks)
        plan = replace(plan, course=np.full(len(therapist), -1), dropout=np.zeros(
            len(therapist), dtype=bool))
    truth = truth_frame(ids, plan, sessions.client, sessions.measures, sessions.week)
    truth.loc[truth["client_id"].isin([ids[i] for i in scripts]), "course"] = "planted"
    return frame, truth


def apply_realistic(rng: np.random.Generator, sessions: _Sessions, plan, start: np.ndarray
                    ) -> None:
    """Replace the drawn measures, alliance ratings and course ends with the realistic ones."""
    t = sessions.week - start[sessions.client]
    sessions.attend = mark_dropouts(plan, sessions.client, t, sessions.attend)
    sessions.measures = draw_realistic_measures(rng, plan, sessions.client, t)
    sessions.client_rating, sessions.therapist_rating = draw_realistic_ratings(
        rng, sessions.client, t, len(plan.course), len(SIGN_KEYS))
    missed = sessions.attend != 0
    sessions.client_rating[missed] = np.nan
    sessions.therapist_rating[missed] = np.nan
    sessions.measures[missed] = np.nan


def check_arguments(therapists: int, clients_per_therapist: int, weeks: int,
                    supervisors: int) -> None:
    """Refuse sizes below 1 with a ParameterError naming the argument."""
    given = {"therapists": therapists, "clients_per_therapist": clients_per_therapist,
             "weeks": weeks, "supervisors": supervisors}
    for name, value in given.items():
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ParameterError(f"{name}: expected a whole number of 1 or more, got {value!r}")


def check_plantable(therapist: np.ndarray, sizes: np.ndarray, weeks: int) -> None:
    """Refuse to plant when a planted client is missing or the history is too short."""
    needed = max(int(cid[1:]) for ids in PLANTED.values() for cid in ids)
    if len(therapist) < needed or weeks < MIN_PLANT_WEEKS:
        raise ParameterError(
            f"planting the example patterns needs at least {needed} clients and "
            f"{MIN_PLANT_WEEKS} weeks (got {len(therapist)} clients, {weeks} weeks); "
            "use plant=False (--no-plant) for a smaller clinic")
    owners = therapist[[int(cid[1:]) - 1 for ids in PLANTED.values() for cid in ids]]
    if sizes[owners].min() < 3:
        raise ParameterError("planting needs 3 or more clients per therapist; use plant=False")


def size_caseloads(therapists: int, clients_per_therapist: int) -> np.ndarray:
    """Clients per therapist: spread around 10 for the default, otherwise exactly as asked."""
    sizes = np.full(therapists, clients_per_therapist, dtype=np.int64)
    if clients_per_therapist == DEFAULT_CLIENTS:
        sizes += np.resize(np.array(CASELOAD_SPREAD), therapists)
    return sizes


def weekday_lags(end: date) -> np.ndarray:
    """Days before `end` (0-6) that fall on a weekday: the session day within each week."""
    lags = np.arange(7)
    weekday = (np.datetime64(end, "D") - lags * _DAY - np.datetime64("1970-01-05")) // _DAY % 7
    return lags[weekday < 5]


def planted_lag(end: date) -> int:
    """The planted clients' session day: the middle weekday of the week (a Wednesday)."""
    lags = weekday_lags(end)
    return int(lags[len(lags) // 2])


def plan_courses(rng: np.random.Generator, n: int, weeks: int,
                 lags: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Staggered first weeks, some courses finishing early, one weekday per client."""
    start = np.floor(rng.random(n) ** 1.5 * weeks * 0.7).astype(np.int64)
    length = rng.integers(8, 26, n)
    finishes = rng.random(n) < 0.3
    stop = np.where(finishes, np.minimum(start + length, weeks), weeks)
    lag = lags[rng.integers(0, len(lags), n)]
    return start, stop, lag


def draw_sessions(rng: np.random.Generator, start: np.ndarray, stop: np.ndarray) -> _Sessions:
    """Expand courses into weekly sessions and draw attendance, ratings and measures."""
    count = stop - start
    client = np.repeat(np.arange(len(start)), count)
    first = np.repeat(np.cumsum(count) - count, count)
    t = np.arange(len(client)) - first  # session index within the course
    week = start[client] + t
    attend = draw_attendance(rng, client, t, count)
    client_rating, therapist_rating = draw_ratings(rng, client, t, len(start))
    measures = draw_measures(rng, client, t, len(start))
    missed = attend != 0
    client_rating[missed] = np.nan
    therapist_rating[missed] = np.nan
    measures[missed] = np.nan
    return _Sessions(client, week, attend, client_rating, therapist_rating, measures,
                     np.ones(len(client), dtype=bool), t + 1)


def draw_attendance(rng: np.random.Generator, client: np.ndarray, t: np.ndarray,
                    count: np.ndarray) -> np.ndarray:
    """0 attended, 1 cancelled, 2 no_show; a course's first and last sessions are attended."""
    no_show_rate = 0.035 * rng.gamma(2.0, 0.5, len(count))
    cancel_rate = 0.03 * rng.gamma(2.0, 0.5, len(count))
    u = rng.random(len(client))
    attend = np.where(u < no_show_rate[client], 2,
                      np.where(u < no_show_rate[client] + cancel_rate[client], 1, 0))
    ends = (t == 0) | (t == count[client] - 1)
    return np.where(ends, 0, attend).astype(np.int8)


def draw_ratings(rng: np.random.Generator, client: np.ndarray, t: np.ndarray,
                 n: int) -> tuple[np.ndarray, np.ndarray]:
    """Client and therapist ratings of the five signs: high, slowly rising, small noise."""
    level = np.clip(rng.normal(8.6, 0.55, n), 6.8, 9.6)
    sign_offset = rng.normal(0.0, 0.3, (n, len(SIGN_KEYS)))
    lift = rng.normal(0.55, 0.2, n)  # therapists rate a little higher
    slope = np.clip(rng.normal(0.01, 0.01, n), -0.01, 0.03)
    mean = np.minimum(level[client] + slope[client] * t, 9.7)[:, None] + sign_offset[client]
    shape = (len(client), len(SIGN_KEYS))
    by_client = mean + rng.normal(0.0, 0.35, shape)
    by_therapist = mean + lift[client, None] + rng.normal(0.0, 0.3, shape)
    return np.clip(np.rint(by_client), 0, 10), np.clip(np.rint(by_therapist), 0, 10)


def draw_measures(rng: np.random.Generator, client: np.ndarray, t: np.ndarray,
                  n: int) -> np.ndarray:
    """PHQ-9, GAD-7 and ORS totals for some clients, most improving gradually."""
    has = rng.random((n, 3)) < np.array([0.45, 0.7, 0.25])
    has[:, 1] &= has[:, 0]  # GAD-7 only alongside PHQ-9
    every_other = rng.random(n) < 0.4
    first = np.column_stack([rng.normal(13, 4, n), rng.normal(10, 3.5, n), rng.normal(21, 6, n)])
    first = np.clip(first, [7, 5, 5], [24, 19, 30])
    kind = rng.random(n)  # 75% improve, 20% stay level, 5% worsen a little
    share = np.where(kind < 0.75, rng.uniform(0.3, 0.6, n), 0.0)
    worse = np.where(kind >= 0.95, rng.uniform(1, 3, n), 0.0)
    room = np.column_stack([first[:, 0], first[:, 1], 38 - first[:, 2]])
    gain = share[:, None] * room - worse[:, None]
    gain[:, 2] *= -1  # ORS: higher is better
    tau = rng.uniform(6, 15, n)
    progress = (1 - np.exp(-t / tau[client]))[:, None]
    noise = rng.normal(0.0, [1.3, 1.1, 2.0], (len(client), 3))
    scores = np.clip(np.rint(first[client] - gain[client] * progress + noise), 0, MEASURE_MAX)
    on = has[client] & ((t % 2 == 0) | ~every_other[client])[:, None]
    return np.where(on, scores, np.nan)


def script_planted(rng: np.random.Generator, weeks: int) -> dict[int, _Script]:
    """Client index -> the hand-written sessions of each planted pattern."""
    makers = {
        "repaired_rupture": script_repaired_rupture,
        "unrepaired_rupture": script_unrepaired_rupture,
        "reliable_deterioration": script_deterioration,
        "recovery": script_recovery,
        "perspective_gap": script_perspective_gap,
        "dropout_risk": script_dropout,
        "missing_ratings": script_missing_ratings,
        "steady_control": script_steady,
    }
    scripts: dict[int, _Script] = {}
    for name, ids in PLANTED.items():
        for cid in ids:
            start = 0 if name == "steady_control" else int(rng.integers(0, 4))
            stop = weeks - 2 if name == "dropout_risk" else weeks
            scripts[int(cid[1:]) - 1] = makers[name](rng, start, stop)
    return scripts


def script_steady(rng: np.random.Generator, start: int, stop: int) -> _Script:
    """Every session attended and rated 9 or 10 by both raters; no outcome measures."""
    n = stop - start
    shape = (n, len(SIGN_KEYS))
    return _Script(start, stop, np.zeros(n, dtype=np.int8),
                   rng.integers(9, 11, shape).astype(float),
                   rng.integers(9, 11, shape).astype(float),
                   np.full((n, len(MEASURE_KEYS)), np.nan), np.ones(n, dtype=bool))


def set_dip(script: _Script, sign: str, client: list[int], therapist: list[int]) -> _Script:
    """Baseline 9 for three sessions, then the given last four ratings on one sign."""
    s = _SIGN[sign]
    script.client_rating[-7:-4, s] = 9
    script.therapist_rating[-7:-4, s] = 9
    script.client_rating[-4:, s] = client
    script.therapist_rating[-4:, s] = therapist
    return script


def script_repaired_rupture(rng: np.random.Generator, start: int, stop: int) -> _Script:
    """Client collaboration 9, 9, 9 then 5, 7, 9, 9 in the last four sessions."""
    return set_dip(script_steady(rng, start, stop), REPAIRED_SIGN, [5, 7, 9, 9], [8, 8, 9, 9])


def script_unrepaired_rupture(rng: np.random.Generator, start: int, stop: int) -> _Script:
    """Trust 9, 9, 9 then 5, 6, 6, 5 (client) and 6, 7, 7, 6 (therapist): no return."""
    return set_dip(script_steady(rng, start, stop), UNREPAIRED_SIGN, [5, 6, 6, 5], [6, 7, 7, 6])


def script_deterioration(rng: np.random.Generator, start: int, stop: int) -> _Script:
    """PHQ-9 every session: 11-13 for months, rising over the last ten sessions to 21."""
    script = script_steady(rng, start, stop)
    n = stop - start
    phq = 12.0 + rng.integers(-1, 2, n)
    phq[-10:] = np.rint(np.linspace(13, 21, 10))
    phq[0], phq[-1] = 12, 21
    script.measures[:, 0] = phq
    return script


def script_recovery(rng: np.random.Generator, start: int, stop: int) -> _Script:
    """PHQ-9 every other session (ending on the last): 17 falling gradually to 5."""
    script = script_steady(rng, start, stop)
    n = stop - start
    at = np.arange(n - 1, -1, -2)[::-1]
    x = np.linspace(0, 1, len(at))
    phq = np.clip(np.rint(5 + 12 * (1 - x) ** 1.5 + rng.integers(-1, 2, len(at))), 5, 17)
    phq[0], phq[-1] = 17, 5
    script.measures[at, 0] = phq
    return script


def script_perspective_gap(rng: np.random.Generator, start: int, stop: int) -> _Script:
    """Client rates every sign 6 or 7; the therapist rates exactly 3 points higher."""
    script = script_steady(rng, start, stop)
    script.client_rating[:] = rng.integers(6, 8, script.client_rating.shape)
    script.therapist_rating[:] = script.client_rating + 3
    return script


def script_dropout(rng: np.random.Generator, start: int, stop: int) -> _Script:
    """Steady sessions, then the last two are no-shows (the course stops two weeks early)."""
    script = script_steady(rng, start, stop)
    script.attend[-2:] = 2
    script.client_rating[-2:] = np.nan
    script.therapist_rating[-2:] = np.nan
    return script


def script_missing_ratings(rng: np.random.Generator, start: int, stop: int) -> _Script:
    """Steady sessions; every other one of the last 20 has no client row (therapist only)."""
    script = script_steady(rng, start, stop)
    script.client_row[-20::2] = False
    script.client_rating[~script.client_row] = np.nan
    return script


def apply_script(sessions: _Sessions, idx: int, script: _Script) -> None:
    """Overwrite one client's drawn sessions with its planted script."""
    lo, hi = np.searchsorted(sessions.client, [idx, idx + 1])
    sessions.attend[lo:hi] = script.attend
    sessions.client_rating[lo:hi] = script.client_rating
    sessions.therapist_rating[lo:hi] = script.therapist_rating
    sessions.measures[lo:hi] = script.measures
    sessions.client_row[lo:hi] = script.client_row


def make_ids(prefix: str, n: int, width: int) -> np.ndarray:
    """Codes like C0001 .. (zero-padded to at least `width` digits), as an object array."""
    width = max(width, len(str(n)))
    return np.array([f"{prefix}{i:0{width}d}" for i in range(1, n + 1)], dtype=object)


def stack_rows(sessions: _Sessions) -> tuple[np.ndarray, np.ndarray]:
    """Session index and rater (0 client, 1 therapist) of each row, in contract order."""
    client_rows = np.flatnonzero(sessions.client_row)
    therapist_rows = np.flatnonzero(sessions.attend == 0)
    session = np.concatenate([client_rows, therapist_rows])
    rater = np.repeat(np.array([0, 1], dtype=np.int8), [len(client_rows), len(therapist_rows)])
    order = np.argsort(session * 2 + rater, kind="stable")
    return session[order], rater[order]


def to_int_column(values: np.ndarray) -> pd.arrays.IntegerArray:
    """A float array with NaN as a nullable Int64 column (blank cells in every format)."""
    missing = np.isnan(values)
    return pd.arrays.IntegerArray(np.where(missing, 0, values).astype(np.int64), missing)


def draw_notes(rng: np.random.Generator, attend: np.ndarray) -> np.ndarray:
    """A short harmless note on about one row in eight, None elsewhere."""
    n = len(attend)
    pick = rng.random(n) < NOTE_SHARE
    said = NOTES_ATTENDED[rng.integers(0, len(NOTES_ATTENDED), n)]
    missed = NOTES_MISSED[rng.integers(0, len(NOTES_MISSED), n)]
    return np.where(pick, np.where(attend == 0, said, missed), None)


def assemble_frame(rng: np.random.Generator, sessions: _Sessions, therapist: np.ndarray,
                   lag: np.ndarray, weeks: int, end: date, supervisors: int) -> pd.DataFrame:
    """Turn sessions into one row per rating event, in COLUMNS order."""
    session, rater = stack_rows(sessions)
    client = sessions.client[session]
    who = therapist[client]
    days_back = 7 * (weeks - 1 - sessions.week[session]) + lag[client]
    day = np.datetime64(end, "D") - days_back * _DAY
    attend = sessions.attend[session]
    is_client = (rater == 0)[:, None]
    ratings = np.where(is_client, sessions.client_rating[session],
                       sessions.therapist_rating[session])
    measures = np.where(is_client, sessions.measures[session], np.nan)
    n_therapists = int(therapist.max()) + 1
    columns = {
        "client_id": make_ids("C", len(therapist), 4)[client],
        "therapist_id": make_ids("T", n_therapists, 2)[who],
        "supervisor_id": make_ids("S", supervisors, 1)[who % supervisors],
        "site": np.array(SITES, dtype=object)[who % len(SITES)],
        "session_date": day.astype("datetime64[ns]"),
        "session_number": sessions.number[session],
        "rater": RATERS[rater],
        "attendance": ATTENDANCE[attend],
    }
    columns.update({key: to_int_column(ratings[:, i]) for i, key in enumerate(SIGN_KEYS)})
    columns.update({key: to_int_column(measures[:, i]) for i, key in enumerate(MEASURE_KEYS)})
    columns["note"] = draw_notes(rng, attend)
    return pd.DataFrame(columns, columns=list(COLUMNS))


def write_clinic(df: pd.DataFrame, path: str | Path) -> Path:
    """Write the clinic atomically as .csv (UTF-8, ISO dates, no index), .xlsx or .parquet."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx", ".parquet"):
        raise ParameterError(f"{path}: expected a .csv, .xlsx or .parquet file name")
    if suffix == ".xlsx" and len(df) >= 1_048_576:
        raise ParameterError(f"{path}: {len(df):,} rows do not fit in an Excel sheet; use .csv")
    # A fresh name in the same folder (not mkstemp, whose 0600 mode would stick to the file).
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        write_format(df, tmp, suffix)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_truth(truth: pd.DataFrame, path: str | Path) -> Path:
    """Write the ground truth beside the ratings, atomically, as CSV."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        truth.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_format(df: pd.DataFrame, path: Path, suffix: str) -> None:
    """Write `df` to `path` in the format named by `suffix`."""
    if suffix == ".csv":
        df.to_csv(path, index=False, encoding="utf-8", date_format="%Y-%m-%d",
                  lineterminator="\n")
    elif suffix == ".parquet":
        df.to_parquet(path, index=False)
    else:
        with pd.ExcelWriter(path, engine="openpyxl", date_format="YYYY-MM-DD",
                            datetime_format="YYYY-MM-DD") as writer:
            df.to_excel(writer, index=False, sheet_name="ratings")
