"""Validation of "not on track" (expected treatment response) on generated clinics.

Run as `.venv/bin/python benchmarks/expected_response.py [--seeds 1 2 ...]`. Each seed is a
clinic of 100 therapists x 30 clients x 26 weekly sessions with realistic courses
(`generate_clinic_and_truth(courses="realistic")`: published base rates, each client's
eventual outcome kept beside the data) and the example patterns planted. Every calendar month
with a full month of history before it is analysed as a supervision month would be, and the
figures of issue 15 are printed per seed against their targets:

- share of clients with a session in the month on the discussion list (<= 25%, mean of months),
  also without the clients listed for concern ratings alone, and the share the brief and the
  caseload report show in full (at most `agenda.lead_clients` per therapist);
- not-on-track signal rate: clients flagged not on track among the clients with an outcome
  measure seen in the month (10-20%, mean of months), also per course (client and measure);
- of the ended courses (last score before the data's last week) with a change to judge (two or
  more scores) whose eventual outcome is no reliable change or reliable deterioration, the share
  flagged not on track at the end of some week (the analysis run week by week, as a clinic
  checking before each session would) before the client's last session, attended or not
  (>= 80%); also the stricter share flagged from a score before the course's last score, and
  over the courses with at least 4 scores;
- of the ended courses that end recovered, the share ever flagged not on track (<= 15%);
- the planted patterns found in the last month and no steady control on the list.

A course scored once has no change (the outcomes give it no category; the truth file calls it
`single_score`) and is in neither share.
Courses are counted per client and measure (PHQ-9, GAD-7, ORS). The model's settings are the
defaults of `workbook.yml` unless `--band` is given.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd

from workbook import load_ratings
from workbook.analysis.periods import Period
from workbook.analysis.pipeline import analyse
from workbook.data.config import Config
from workbook.data.example_data import PLANTED, generate_clinic_and_truth, write_clinic

END = date(2026, 10, 31)
WEEKS = 26
TUNED = (1, 2)
HELD_OUT = (3, 4, 5)
TARGETS = {"listed": (None, 0.25), "signal": (0.10, 0.20), "caught": (0.80, None),
           "recovered_flagged": (None, 0.15)}
HEADLINE = tuple(TARGETS)  # the four figures; the indented ones are context


def months(ratings: pd.DataFrame) -> list[Period]:
    """Calendar months from the second full month of data to the end."""
    first = ratings["session_date"].min() + pd.offsets.MonthBegin(2)
    out = []
    for start in pd.date_range(first, END, freq="MS"):
        out.append(Period(start, min(start + pd.offsets.MonthEnd(0), pd.Timestamp(END))))
    return out


def weeks_of(ratings: pd.DataFrame) -> list[Period]:
    """Every week (Monday to Sunday) from the fourth of the data to the end."""
    first = ratings["session_date"].min().normalize()
    monday = first - pd.Timedelta(days=first.weekday())
    starts = pd.date_range(monday + pd.Timedelta(weeks=3), END, freq="7D")
    return [Period(s, min(s + pd.Timedelta(days=6), pd.Timestamp(END))) for s in starts]


def run_seed(seed: int, config: Config, folder: Path) -> dict[str, float]:
    """The validation figures of one generated clinic."""
    frame, truth = generate_clinic_and_truth(therapists=100, clients_per_therapist=30,
                                             weeks=WEEKS, seed=seed, end=END, plant=True,
                                             courses="realistic")
    ratings = load_ratings(write_clinic(frame, folder / f"clinic-{seed}.csv"))
    listed, alone, in_full, signal, per_course = [], [], [], [], []
    analysis = None
    for period in months(ratings):  # the supervision months: agenda and signal rate
        analysis = analyse(ratings, config, period).current()
        seen = set(analysis.attendance["client_id"])
        d = analysis.discussion
        listed.append(d["client_id"].nunique() / len(seen))
        other = d[d["kinds"].map(lambda k: bool(set(k) - {"concern", "handover"}))]
        alone.append(other["client_id"].nunique() / len(seen))
        shown = d.groupby("therapist_id")["client_id"].nunique().clip(
            upper=config.agenda.lead_clients)
        in_full.append(shown.sum() / len(seen))
        o = analysis.outcomes[analysis.outcomes["client_id"].isin(seen)]
        signal.append(o.loc[o["not_on_track"], "client_id"].nunique()
                      / max(o["client_id"].nunique(), 1))
        per_course.append(o["not_on_track"].mean())
    planted_ok, controls_ok = check_planted(analysis)
    flagged, strict, flagged_ever = flags_week_by_week(ratings, config)
    ended = truth[(truth["course"] != "planted") & (truth["last_week"] < WEEKS - 1)]
    poor = ended[ended["outcome"].isin(["no_change", "deteriorated"])]  # 2+ scores
    judged = poor[poor["n_scores"] >= 4]
    recovered = ended[ended["outcome"] == "recovered"]

    def share(part: pd.DataFrame, pairs: set) -> float:
        keys = set(zip(part["client_id"], part["measure"], strict=True))
        return len(keys & pairs) / max(len(keys), 1)

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    return {"listed": mean(listed), "listed_alone": mean(alone), "in_full": mean(in_full),
            "signal": mean(signal), "signal_course": mean(per_course),
            "caught": share(poor, flagged), "caught_strict": share(poor, strict),
            "caught_judged": share(judged, flagged),
            "recovered_flagged": share(recovered, flagged_ever),
            "n_poor": len(poor), "n_judged": len(judged), "n_recovered": len(recovered),
            "months": len(listed), "planted": planted_ok, "controls": controls_ok,
            "rows": len(ratings)}


def flags_week_by_week(ratings: pd.DataFrame, config: Config) -> tuple[set, set, set]:
    """(client, measure) flagged not on track at a week's end before the client's last
    session (attended or not); flagged from a score before the course's last score; and
    flagged at any week's end."""
    last = last_scores(ratings)
    last_session = ratings.groupby("client_id")["session_date"].max().rename("last_session")
    before, strict, ever = set(), set(), set()
    for period in weeks_of(ratings):
        o = analyse(ratings, config, period).current().outcomes
        hit = o[o["not_on_track"]].merge(last, on=["client_id", "measure"])
        hit = hit.join(last_session, on="client_id")
        before |= pairs(hit[hit["last_session"] > pd.Timestamp(period.end)])
        strict |= pairs(hit[hit["latest_date"] < hit["last_date"]])
        ever |= pairs(hit)
    return before, strict, ever


def pairs(part: pd.DataFrame) -> set:
    """The (client, measure) pairs of a frame."""
    return set(zip(part["client_id"], part["measure"], strict=True))


def last_scores(ratings: pd.DataFrame) -> pd.DataFrame:
    """Per client and measure: the date of the course's last score."""
    parts = []
    for key in ("phq9", "gad7", "ors"):
        scored = ratings[ratings[key].notna()]
        part = scored.groupby("client_id")["session_date"].max().rename("last_date")
        parts.append(part.reset_index().assign(measure=key))
    return pd.concat(parts, ignore_index=True)


def check_planted(analysis) -> tuple[bool, bool]:
    """Every planted pattern's client on the last month's list; no steady control on it."""
    listed = set(analysis.discussion["client_id"])
    wins = set(analysis.wins["client_id"])
    found = all(cid in listed for name, ids in PLANTED.items()
                if name not in ("steady_control", "recovery", "repaired_rupture")
                for cid in ids)
    found &= all(cid in wins for cid in PLANTED["recovery"] + PLANTED["repaired_rupture"])
    clean = not listed & set(PLANTED["steady_control"])
    return found, clean


def verdict(name: str, value: float) -> str:
    lo, hi = TARGETS[name]
    ok = (lo is None or value >= lo) and (hi is None or value <= hi)
    return "PASS" if ok else "FAIL"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[*TUNED, *HELD_OUT])
    parser.add_argument("--band", type=float, help="expected_response.band to try")
    parser.add_argument("--first-session", type=int,
                        help="expected_response.first_session to try")
    args = parser.parse_args(argv)
    config = Config()
    tried = {"band": args.band, "first_session": args.first_session}
    tried = {k: v for k, v in tried.items() if v is not None}
    if tried:
        config = Config.model_validate({"expected_response": tried})
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            began = time.perf_counter()
            f = run_seed(seed, config, Path(tmp))
            role = "tuned on" if seed in TUNED else "held out" if seed in HELD_OUT else "other"
            print(f"seed {seed} ({role}; {f['rows']:,} rows, {f['months']} months, "
                  f"{time.perf_counter() - began:.0f} s):")
            for name, label in (("listed", "clients seen on the discussion list"),
                                ("listed_alone", "  without those listed for concern ratings "
                                                 "alone"),
                                ("in_full", "  shown in full (the weightiest "
                                            f"{config.agenda.lead_clients} per therapist)"),
                                ("signal", "not-on-track signal rate (clients with a measure)"),
                                ("signal_course", "  per course (client and measure)"),
                                ("caught", f"no change/deteriorated flagged before the last "
                                           f"session (n = {f['n_poor']})"),
                                ("caught_strict", "  flagged from a score before the last "
                                                  "score"),
                                ("caught_judged", f"  of those with 4+ scores "
                                                  f"(n = {f['n_judged']})"),
                                ("recovered_flagged", f"recovered ever flagged "
                                                      f"(n = {f['n_recovered']})")):
                v = verdict(name, f[name]) if name in TARGETS else ""
                failed |= v == "FAIL" and name in HEADLINE
                print(f"  {label}: {f[name]:.1%} {v}".rstrip())
            print(f"  planted patterns found: {f['planted']}; no control flagged: "
                  f"{f['controls']}")
            failed |= not (f["planted"] and f["controls"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
