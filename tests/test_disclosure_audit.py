"""The disclosure audit: an exact integer-programming reader of everything the clinic report
publishes must pin no hidden count to one value and no hidden mean to within 0.5.

The attacker is the tests' own (tests/disclosure_audit.py), built from what the report prints.
It runs on hypothesis-generated clinics of 1 to 30 therapists (GENERATED examples), on fixed
hard cases, and on random small count tables. First it is shown to work: on the tables the old
line-by-line suppression printed, it pins what the issue found.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from disclosure_audit import attack_counts, attack_means, attack_report, insider_sizes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from workbook.analysis.clinic import publish_clinic
from workbook.analysis.periods import parse_month
from workbook.analysis.pipeline import analyse
from workbook.analysis.suppress import suppress_counts
from workbook.data.config import Config
from workbook.data.example_data import generate_clinic, write_clinic
from workbook.data.ingest import load_ratings
from workbook.data.signs import SIGN_LABELS
from workbook.reports.render import Provenance

OCT = parse_month("2026-10")
GENERATED = 20  # hypothesis examples of whole clinics
TABLES = 100  # hypothesis examples of small count tables
FIGURES = {"clients seen": "30"}


def outcome_rows(cells: list[list[object]], columns: list[str]) -> list[dict]:
    names = [f"M{i}" for i in range(len(cells) - 1)] + ["Total"]
    return [{"Measure": n, **dict(zip([*columns, "Total"], map(str, row), strict=True))}
            for n, row in zip(names, cells, strict=True)]


def therapist_counts(*cells: str) -> list[dict]:
    rows = [{"Therapist": f"T{i}", "Clients": c} for i, c in enumerate(cells[:-1], 1)]
    return rows + [{"Therapist": "Clinic", "Clients": cells[-1]}]


# --- the attacker works ------------------------------------------------------------------------


def test_attacker_pins_the_issues_phq9_row():
    # what the old suppression printed for the 3 x 12 clinic: improved + harmed = 2, each 1-10
    rows = outcome_rows([[0, "<11", 11, 0, "<11", 13], [0, "<11", 11, 0, "<11", 13]],
                        ["Recovered", "Improved", "Unchanged", "Deteriorated", "Harmed"])
    pinned = attack_counts(FIGURES, therapist_counts("30", "30"), rows)
    assert {"M0 Improved", "M0 Harmed"} <= set(pinned)


def test_attacker_pins_a_lone_hidden_count_and_a_lone_hidden_mean():
    assert attack_counts(FIGURES, therapist_counts("20", "<11", "25"), []) == ["clients T2"]
    rows = [{"Therapist": "T1", "Clients": "12", "Trust": "8.0"},
            {"Therapist": "T2", "Clients": "<11", "Trust": "<11"},
            {"Therapist": "Clinic", "Clients": "20", "Trust": "8.0"}]
    n = {("T1", "Trust"): 12, ("T2", "Trust"): 8, ("Clinic", "Trust"): 20}
    # 8 m2 = 20 * [7.95, 8.05] - 12 * [7.95, 8.05] = [62.4, 65.6]: m2 within 7.8-8.2
    assert attack_means(rows, n) == ["T2 Trust"]
    rows[0]["Trust"] = "hidden"  # 12 m1 + 8 m2 = [159, 161]: m1 in 6.6-10, m2 in 3.9-10
    assert attack_means(rows, n) == []
    rows[2]["Trust"] = "9.9"  # near the top of the scale both are pinned all the same
    assert attack_means(rows, n) == ["T1 Trust", "T2 Trust"]


# --- the report passes ----------------------------------------------------------------------------


def _clinic(frame: pd.DataFrame, folder) -> tuple:
    ratings = load_ratings(write_clinic(frame, folder / "clinic.csv"))
    analysis = analyse(ratings, Config(), OCT)
    return ratings, analysis


def _audit(analysis, ratings) -> list[str]:
    tables = publish_clinic(analysis, ratings)
    figures = dict(tables.figures)
    counted = analysis.attendance.groupby("therapist_id")["client_id"].nunique().sum()
    duplicates = int(counted - analysis.current().attendance["client_id"].nunique())
    scale = (analysis.config.scale.min, analysis.config.scale.max)
    return (attack_counts(figures, tables.therapist_rows, tables.outcome_rows, duplicates)
            + attack_means(tables.therapist_rows, insider_sizes(analysis), scale))


@pytest.mark.slow
@settings(max_examples=GENERATED, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(therapists=st.integers(1, 30), clients=st.integers(2, 14), weeks=st.integers(8, 30),
       seed=st.integers(0, 2**16))
def test_generated_clinics_leak_nothing(tmp_path, therapists, clients, weeks, seed):
    frame = generate_clinic(therapists=therapists, clients_per_therapist=clients, weeks=weeks,
                            seed=seed, plant=False)
    ratings, analysis = _clinic(frame, tmp_path)
    assert _audit(analysis, ratings) == []


@pytest.mark.parametrize(("therapists", "clients", "seed"),
                         [(3, 12, 0), (1, 8, 0), (2, 6, 1), (30, 3, 2), (12, 11, 5)])
def test_hard_clinics_leak_nothing(tmp_path, therapists, clients, seed):
    frame = generate_clinic(therapists=therapists, clients_per_therapist=clients, weeks=30,
                            seed=seed, plant=False)
    ratings, analysis = _clinic(frame, tmp_path)
    assert _audit(analysis, ratings) == []


def test_the_rendered_example_report_leaks_nothing(example, example_report):
    rep = example_report("clinic")
    assert attack_report(rep.html, example.analysis) == []
    # the page prints exactly what publish_clinic decided: nothing else is published
    tables = publish_clinic(example.analysis, example.ratings)
    printed = {head[0]: rows for head, rows in rep.tables if head}
    assert printed["Therapist"] == [list(map(str, r.values())) for r in tables.therapist_rows]
    assert printed["Measure"] == [list(map(str, r.values())) for r in tables.outcome_rows]
    assert printed["Sign"] == [list(r.values()) for r in tables.sign_rows]


def test_a_handed_over_client_counts_once_in_the_clinic(tmp_path, render):
    frame = generate_clinic(therapists=2, clients_per_therapist=12, weeks=20, seed=4,
                            plant=False)
    moved = frame["client_id"] == sorted(frame.loc[frame["therapist_id"] == "T01",
                                                   "client_id"].unique())[0]
    late = frame["session_date"] >= pd.Timestamp("2026-10-15")
    frame.loc[moved & late, "therapist_id"] = "T02"
    ratings, analysis = _clinic(frame, tmp_path)
    assert (analysis.handovers["role"] == "former").sum() == 1
    assert _audit(analysis, ratings) == []
    rep = render("clinic", analysis, Provenance("c.csv", "0" * 64, "x"), ratings=ratings)
    clinic = next(r for r in rep.table("Therapist") if r["Therapist"] == "Clinic")
    seen = analysis.current().attendance["client_id"].nunique()
    assert clinic["Clients"] in (str(seen), "<11")


# --- small count tables -------------------------------------------------------------------------


CELLS = st.one_of(st.just(0), st.integers(1, 12), st.integers(0, 40))


@settings(max_examples=TABLES, deadline=None)
@given(arrays(np.int64, st.tuples(st.integers(1, 5), st.integers(1, 5)), elements=CELLS))
def test_small_tables_pin_nothing(values):
    columns = [f"c{j}" for j in range(values.shape[1])]
    out = suppress_counts(pd.DataFrame(values, columns=columns), 11)
    rows = outcome_rows(out.to_numpy().tolist(), columns)
    pinned = attack_counts(FIGURES, therapist_counts("30", "30"), rows)
    # a table whose labels alone pin a count is withheld, and only then
    assert pinned == [] if out.attrs["safe"] else pinned != []


def test_sizes_known_to_the_insider_match_the_table(example):
    sizes = insider_sizes(example.analysis)
    assert sizes["T03", SIGN_LABELS["trust_safety"]] == 10  # T03 sees 11, 10 rate
