"""The frontier of "not on track" rules (issue 15): several rules judged from one pass.

Run as `.venv/bin/python benchmarks/track_rules.py [--seeds 1 2]`. Counts, not timings. Each
seed is the clinic of `benchmarks/expected_response.py` (100 therapists x 30 clients x 26
weeks, realistic courses, patterns planted). The package's analysis runs once per supervision
month and once per week, with the configured model; every rule below is then judged from that
analysis's own outcomes and fitted model (the clinic's history up to the period end), so the
rules differ only in the flag:

- `band q`: the latest judged score worse than the expected q-quantile band (main: q = 0.25;
  0.30 and 0.35 to show what the catch rate needs);
- `2 in a row q`: the latest two scores both judged and both worse than their bands (a
  persistent deviation, as OQ-Analyst's alerts weigh a course rather than one score);
- `2 in a row 0.25 or 1 below 0.10`: either, so a far-off score is not left waiting a week;
- `beyond band by k SEM`: the latest score worse than the 0.25 band by more than k standard
  errors of measurement, SEM = published reliable-change points / (1.96 x sqrt 2);
- `clinical start`: any of the above, only for courses whose intake was in the clinical range;
- illustrations, not candidates: a band judged only up to session 8 or 11 (the flag lapses
  later while the client is no better: what the signal and catch targets together reward) and
  no not-on-track flag at all (the list's floor from the other reasons).

Every rule keeps the package's fallback (the published rule where the model cannot judge).
Per rule and seed: the share of clients seen on the discussion list (the other reasons kept as
they are), the signal rate (clients and courses), the catch rate before the last session over
the issue's denominator and over the courses with a judged score before the last session (the
ones any rule could flag), over courses with 4+ scores, and recovered ever flagged. Rule `band
0.25` is checked against the package's own `not_on_track` at every period (`mismatch`).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from expected_response import END, WEEKS, months, weeks_of

from workbook import load_ratings
from workbook.analysis.expected import EXPECTED, TOO_EARLY, judge_rows
from workbook.analysis.handover import SEPARATOR
from workbook.analysis.outcomes import _first_last, _stack_scores
from workbook.analysis.pipeline import analyse
from workbook.data.config import Config
from workbook.data.example_data import generate_clinic_and_truth, write_clinic

BANDS = (0.35, 0.30, 0.25, 0.20, 0.15, 0.10)
FAR = 0.10
SEM_FACTORS = (1.0, 1.645)
EARLY = 8  # the illustration's last judged session
Z = 1.959964


def picked_scores(ratings: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Every score the outcomes use (one per client, measure and session), with its session
    counted from the intake, as `workbook.analysis.outcomes` picks them."""
    measures = config.all_measures()
    keys = sorted(k for k in measures if k in ratings.columns)
    codes, clients = pd.factorize(ratings["client_id"], sort=True)
    days = ratings["session_date"].to_numpy("datetime64[D]").astype(np.int64)
    scores = _stack_scores(ratings, keys, codes, days, np.ones(len(ratings), dtype=bool))
    _, p = _first_last(scores, np.iinfo(np.int64).min, np.ones(len(keys)))
    return pd.DataFrame({"client_id": np.asarray(clients, dtype=object)[p["client"]],
                         "measure": np.asarray(keys, dtype=object)[p["measure"]],
                         "day": p["date"], "session": p["session"], "value": p["value"]})


def previous_scores(picked: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    """Per client and measure: the score before the latest one dated up to `end`."""
    day = int(np.datetime64(pd.Timestamp(end).normalize(), "D").astype(np.int64))
    upto = picked[picked["day"] <= day]
    back = upto.groupby(["client_id", "measure"], sort=False).cumcount(ascending=False)
    prev = upto[back.to_numpy() == 1]
    return prev.rename(columns={"session": "prev_session", "value": "prev_score"})[
        ["client_id", "measure", "prev_session", "prev_score"]]


def judge(outcomes: pd.DataFrame, picked: pd.DataFrame, end: pd.Timestamp,
          config: Config) -> pd.DataFrame:
    """Per outcome row: the flag of every rule (columns named by rule), `could` (some score
    judged) and `mismatch` (rule `band 0.25` against the package's flag)."""
    model = outcomes.attrs["model"]
    rows = outcomes.copy()
    rows["base_id"] = rows["client_id"].str.split(SEPARATOR, n=1).str[0]
    prev = previous_scores(picked, end).rename(columns={"client_id": "base_id"})
    rows = rows.merge(prev, on=["base_id", "measure"], how="left")
    rows.index = outcomes.index
    measures = config.all_measures()
    worse_dir = rows["measure"].map({k: -1.0 if m.higher_is_better else 1.0
                                     for k, m in measures.items()}).to_numpy()
    sem = rows["measure"].map({k: (m.reliable_change or math.nan) / (Z * math.sqrt(2))
                               for k, m in measures.items()}).to_numpy()
    fallback = rows["not_on_track"].to_numpy() & ~(rows["track_rule"] == EXPECTED).to_numpy()
    e = config.expected_response
    earlier = rows[rows["prev_score"].notna()
                   & (rows["prev_session"] >= e.first_session)].assign(
        latest_score=lambda f: f["prev_score"], session=lambda f: f["prev_session"])
    latest_off, prev_off, expected = {}, {}, None
    for q in BANDS:
        c = config.model_copy(update={"expected_response": e.model_copy(update={"band": q})})
        now = judge_rows(rows, model, c)
        latest_off[q] = ((now["track_rule"] == EXPECTED) & now["off_track"]).to_numpy()
        if q == 0.25:
            expected = now["expected"].to_numpy()
            could = (now["track_rule"] != TOO_EARLY).to_numpy()
        before = judge_rows(earlier, model, c)
        hit = pd.Series(False, index=rows.index)
        hit.loc[earlier.index] = ((before["track_rule"] == EXPECTED)
                                  & before["off_track"]).to_numpy()
        prev_off[q] = hit.to_numpy()
    beyond = (rows["latest_score"].to_numpy() - expected) * worse_dir
    clinical = rows["clinical_first"].to_numpy(dtype=bool)
    flags = {f"band {q:.2f}": latest_off[q] for q in BANDS}
    for q in (0.25, 0.20):
        flags[f"2 in a row {q:.2f}"] = latest_off[q] & prev_off[q]
    flags["2 in a row 0.25 or 1 below 0.10"] = (latest_off[0.25] & prev_off[0.25]
                                                | latest_off[FAR])
    for k in SEM_FACTORS:
        with np.errstate(invalid="ignore"):
            flags[f"beyond band by {k:g} SEM"] = latest_off[0.25] & (beyond > k * sem)
    for name in ("band 0.25", "band 0.20", "2 in a row 0.25 or 1 below 0.10",
                 "beyond band by 1 SEM"):
        flags[f"clinical start, {name}"] = flags[name] & clinical
    session = rows["session"].to_numpy()
    for q, last in ((0.25, EARLY), (0.25, 11), (0.30, EARLY), (0.35, EARLY)):
        flags[f"illustration: band {q:.2f}, sessions {e.first_session}-{last} only"] = (
            latest_off[q] & (session <= last))
    out = pd.DataFrame({name: flag | fallback for name, flag in flags.items()},
                       index=rows.index)
    out["illustration: no not-on-track flag at all"] = False
    out["could"] = could
    out["mismatch"] = out["band 0.25"].to_numpy() != rows["not_on_track"].to_numpy()
    return out


def monthly(ratings: pd.DataFrame, picked: pd.DataFrame, config: Config, poor_keys: set
            ) -> tuple[dict[str, dict[str, float]], int, float]:
    """Per rule: list share, signal rate (clients, courses), the share of the flagged courses
    that end with no reliable change or worse (`precision`) and of those courses flagged at
    the month's end (`poor_flagged`), mean over the months; and the mean share of the courses
    seen that end so."""
    sums: dict[str, dict[str, list[float]]] = {}
    mismatches, poor_share = 0, []
    for period in months(ratings):
        a = analyse(ratings, config, period).current()
        seen = set(a.attendance["client_id"])
        d = a.discussion
        other = set(d.loc[d["kinds"].map(lambda k: bool(set(k) - {"not_on_track"})),
                          "client_id"])
        o = a.outcomes
        flags = judge(o, picked, pd.Timestamp(period.end), config)
        mismatches += int(flags["mismatch"].sum())
        in_seen = o["client_id"].isin(seen).to_numpy()
        clients = o.loc[in_seen, "client_id"]
        base = o["client_id"].str.split(SEPARATOR, n=1).str[0]
        poor = np.array([k in poor_keys for k in zip(base, o["measure"], strict=True)])
        poor_share.append((poor & in_seen).sum() / max(in_seen.sum(), 1))
        for rule in flags.columns.drop(["could", "mismatch"]):
            hit = flags[rule].to_numpy() & in_seen
            listed = len((other | set(o.loc[hit, "client_id"])) & seen) / len(seen)
            s = sums.setdefault(rule, {"listed": [], "signal": [], "signal_course": [],
                                       "precision": [], "poor_flagged": []})
            s["precision"].append((hit & poor).sum() / max(hit.sum(), 1))
            s["poor_flagged"].append((hit & poor).sum() / max((poor & in_seen).sum(), 1))
            s["listed"].append(listed)
            s["signal"].append(o.loc[hit, "client_id"].nunique() / max(clients.nunique(), 1))
            s["signal_course"].append(hit.sum() / max(in_seen.sum(), 1))
    return ({r: {k: float(np.mean(v)) for k, v in s.items()} for r, s in sums.items()},
            mismatches, float(np.mean(poor_share)))


def weekly(ratings: pd.DataFrame, picked: pd.DataFrame, config: Config
           ) -> tuple[dict[str, set], dict[str, set], set, int]:
    """Per rule: (client, measure) flagged at a week's end before the client's last session,
    and flagged at any week's end; and the pairs with a judged score at a week's end before
    the last session (the ones some rule could flag)."""
    last_session = ratings.groupby("client_id")["session_date"].max()
    before: dict[str, set] = {}
    ever: dict[str, set] = {}
    could: set = set()
    mismatches = 0
    for period in weeks_of(ratings):
        o = analyse(ratings, config, period).current().outcomes
        flags = judge(o, picked, pd.Timestamp(period.end), config)
        mismatches += int(flags["mismatch"].sum())
        base = o["client_id"].str.split(SEPARATOR, n=1).str[0]
        ahead = (base.map(last_session) > pd.Timestamp(period.end)).to_numpy()
        keys = list(zip(base, o["measure"], strict=True))
        could |= {keys[i] for i in np.flatnonzero(ahead & flags["could"].to_numpy())}
        for rule in flags.columns.drop(["could", "mismatch"]):
            hit = flags[rule].to_numpy()
            before.setdefault(rule, set()).update(keys[i] for i in np.flatnonzero(hit & ahead))
            ever.setdefault(rule, set()).update(keys[i] for i in np.flatnonzero(hit))
    return before, ever, could, mismatches


def run_seed(seed: int, config: Config, folder: Path) -> tuple[pd.DataFrame, dict]:
    """One row per rule with the frontier figures of one clinic, and the denominators."""
    frame, truth = generate_clinic_and_truth(therapists=100, clients_per_therapist=30,
                                             weeks=WEEKS, seed=seed, end=END, plant=True,
                                             courses="realistic")
    ratings = load_ratings(write_clinic(frame, folder / f"clinic-{seed}.csv"))
    picked = picked_scores(ratings, config)
    ended = truth[(truth["course"] != "planted") & (truth["last_week"] < WEEKS - 1)]
    poor = ended[ended["outcome"].isin(["no_change", "deteriorated"])]
    poor_keys = set(zip(poor["client_id"], poor["measure"], strict=True))
    every = truth[(truth["course"] != "planted")
                  & truth["outcome"].isin(["no_change", "deteriorated"])]
    month, mis_m, poor_seen = monthly(ratings, picked, config,
                                      set(zip(every["client_id"], every["measure"],
                                              strict=True)))
    before, ever, could, mis_w = weekly(ratings, picked, config)
    judgeable = poor_keys & could
    four = set(zip(*(poor.loc[poor["n_scores"] >= 4, c] for c in ("client_id", "measure")),
                   strict=True))
    started = poor.apply(lambda r: config.all_measures()[r["measure"]].is_clinical(
        r["first_score"]), axis=1).astype(bool)
    clinical = set(zip(poor.loc[started, "client_id"], poor.loc[started, "measure"],
                       strict=True))
    worse = set(zip(*(poor.loc[poor["outcome"] == "deteriorated", c]
                      for c in ("client_id", "measure")), strict=True))
    recovered = set(zip(*(ended.loc[ended["outcome"] == "recovered", c]
                          for c in ("client_id", "measure")), strict=True))
    rows = []
    for rule, m in month.items():
        rows.append({"rule": rule, **m,
                     "caught": len(poor_keys & before[rule]) / len(poor_keys),
                     "caught_judgeable": len(judgeable & before[rule]) / len(judgeable),
                     "caught_4plus": len(four & before[rule]) / len(four),
                     "caught_clinical": len(clinical & before[rule]) / len(clinical),
                     "caught_worse": len(worse & before[rule]) / len(worse),
                     "recovered_flagged": len(recovered & ever[rule]) / len(recovered)})
    n = {"poor": len(poor_keys), "judgeable": len(judgeable), "four": len(four),
         "recovered": len(recovered), "clinical": len(clinical), "worse": len(worse),
         "mismatch_months": mis_m, "poor_seen": poor_seen, "mismatch_weeks": mis_w,
         "rows": len(ratings)}
    return pd.DataFrame(rows), n


def passes(r: pd.Series) -> bool:
    """All four of the issue's targets."""
    return (r["listed"] <= 0.25 and 0.10 <= r["signal"] <= 0.20 and r["caught"] >= 0.80
            and r["recovered_flagged"] <= 0.15)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    config = Config()
    tables = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            table, n = run_seed(seed, config, Path(tmp))
            print(f"seed {seed}: {n['rows']:,} rows; no change/deteriorated n = {n['poor']}, "
                  f"with a judged score before the last session n = {n['judgeable']}, 4+ "
                  f"scores n = {n['four']}, started in the clinical range n = "
                  f"{n['clinical']}, deteriorated n = {n['worse']}; recovered n = "
                  f"{n['recovered']}; rule band 0.25 "
                  f"differs from the package's flag in {n['mismatch_months']} month rows and "
                  f"{n['mismatch_weeks']} week rows; courses seen in a month that end (or "
                  f"stand at the data's end) with no reliable change or worse: "
                  f"{n['poor_seen']:.1%}")
            tables.append(table.assign(seed=seed))
    both = pd.concat(tables, ignore_index=True)
    print("| rule | " + " | ".join(f"seed {s}" for s in args.seeds) + " |")
    print("rule: listed / signal clients (courses) / caught (judgeable, 4+, clinical start, "
          "deteriorated) / recovered / flags on courses ending poorly / of those courses "
          "flagged at a month's end")
    for rule, part in both.groupby("rule", sort=False):
        cells = []
        for r in part.itertuples(index=False):
            cells.append(f"{r.listed:.1%} / {r.signal:.1%} ({r.signal_course:.1%}) / "
                         f"{r.caught:.1%} ({r.caught_judgeable:.1%}, {r.caught_4plus:.1%}, "
                         f"{r.caught_clinical:.1%}, {r.caught_worse:.1%}) / "
                         f"{r.recovered_flagged:.1%} / {r.precision:.1%} / "
                         f"{r.poor_flagged:.1%}")
        ok = all(passes(r) for _, r in part.iterrows())
        print(f"| {rule} | " + " | ".join(cells) + f" | {'ALL FOUR' if ok else 'no'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
