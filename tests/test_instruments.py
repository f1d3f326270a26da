"""Instrument exports (SRS, ORS, WAI-SR; wide FIT-style and long) load into the same analysis
as the equivalent five-sign file, computed here by a plain reference mapping; every kind of
export problem is listed with its line, column, value and what was expected."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbook import DataError, analyse, load_ratings
from workbook.data.config import parse_config
from workbook.data.errors import ConfigError
from workbook.data.sources.instruments import INSTRUMENTS

ID = ["client_id", "therapist_id", "session_date"]
SRS_ITEMS = [f"SRS{i}" for i in range(1, 5)]
ORS_ITEMS = [f"ORSQ{i}" for i in range(1, 5)]
WAI_ITEMS = [f"WAI{i}" for i in range(1, 13)]
BOND, GOAL, TASK = (3, 5, 7, 9), (4, 6, 8, 11), (1, 2, 10, 12)


def reference_signs(srs: list | None, wai: list | None) -> dict[str, float]:
    """The default mapping, written out plainly (DESIGN.md): SRS relationship -> empathy;
    SRS goals, approach and WAI-SR goal + task -> collaboration; WAI-SR bond -> trust; WAI-SR
    1-5 -> 0-10 as (x - 1) * 2.5; a sign's rating is the mean of its sources."""
    empathy, collaboration, trust = [], [], []
    if srs is not None:
        empathy.append(srs[0])
        collaboration.append((srs[1] + srs[2]) / 2)
    if wai is not None:
        def part(items):
            return (sum(wai[i - 1] for i in items) / len(items) - 1) * 2.5
        trust.append(part(BOND))
        collaboration.append(part(GOAL + TASK))
    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs) if xs else np.nan

    return {"trust_safety": mean(trust), "empathy_understanding": mean(empathy),
            "collaboration_respect": mean(collaboration)}


halves = st.integers(0, 20).map(lambda x: x / 2)  # 0, 0.5, ... 10: exact in binary
session = st.fixed_dictionaries({
    "srs": st.one_of(st.none(), st.lists(halves, min_size=4, max_size=4)),
    "ors": st.one_of(st.none(), st.lists(halves, min_size=4, max_size=4)),
    "wai": st.one_of(st.none(), st.lists(st.integers(1, 5), min_size=12, max_size=12)),
}).filter(lambda s: s["srs"] is not None or s["wai"] is not None)
caseload = st.lists(st.lists(session, min_size=1, max_size=6), min_size=1, max_size=5)


def sessions_of(clients: list) -> list[dict]:
    rows = []
    for c, visits in enumerate(clients):
        for w, visit in enumerate(visits):
            date = (pd.Timestamp("2026-03-02") + pd.Timedelta(weeks=w)).strftime("%Y-%m-%d")
            rows.append({"client_id": f"C{c + 1}", "therapist_id": f"T{c % 2 + 1}",
                         "session_date": date, **visit})
    return rows


def write_wide(rows: list[dict], path: Path) -> Path:
    header = [*ID, *SRS_ITEMS, "Total_SRS", *ORS_ITEMS, "Total_ORS", *WAI_ITEMS]
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(header)
        for r in rows:
            cells = [r[k] for k in ID]
            for key, n in (("srs", 4), ("ors", 4)):
                items = r[key]
                cells += [*(items or [""] * n), sum(items) if items else ""]
            cells += r["wai"] or [""] * 12
            out.writerow(cells)
    return path


def write_long(rows: list[dict], path: Path) -> Path:
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow([*ID, "instrument", "item", "score"])
        for r in rows:
            for key, label in (("srs", "SRS"), ("ors", "ORS"), ("wai", "WAI-SR")):
                for i, score in enumerate(r[key] or [], 1):
                    out.writerow([*(r[k] for k in ID), label, i, score])
                if key == "srs" and r[key]:
                    out.writerow([*(r[k] for k in ID), label, "total", sum(r[key])])
    return path


def write_signs(rows: list[dict], path: Path) -> Path:
    """The equivalent five-sign file, made by the reference mapping."""
    records = []
    for r in rows:
        record = {k: r[k] for k in ID} | reference_signs(r["srs"], r["wai"])
        record["ors"] = sum(r["ors"]) if r["ors"] else np.nan
        record["srs"] = sum(r["srs"]) if r["srs"] else np.nan
        records.append(record)
    pd.DataFrame(records).to_csv(path, index=False)
    return path


def same_ratings(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(clients=caseload)
def test_wide_and_long_exports_load_as_the_equivalent_five_sign_file(tmp_path, clients):
    rows = sessions_of(clients)
    expected = load_ratings(write_signs(rows, tmp_path / "signs.csv"))
    wide = load_ratings(write_wide(rows, tmp_path / "wide.csv"))
    long = load_ratings(write_long(rows, tmp_path / "long.csv"))
    same_ratings(wide, expected)
    same_ratings(long, expected)
    assert set(wide.attrs["instruments"]) <= {"srs", "ors", "wai_sr"}


def test_the_same_analysis_from_an_export_and_from_the_five_sign_file(tmp_path):
    rng = np.random.default_rng(3)
    clients = [[{"srs": list(rng.integers(10, 21, 4) / 2) if w % 3
                 else list(rng.integers(0, 15, 4) / 2),
                 "ors": list(rng.integers(4, 21, 4) / 2),
                 "wai": list(rng.integers(1, 6, 12)) if c % 2 else None}
                for w in range(10)] for c in range(12)]
    rows = sessions_of(clients)
    export = analyse(load_ratings(write_wide(rows, tmp_path / "wide.csv")))
    five = analyse(load_ratings(write_signs(rows, tmp_path / "signs.csv")))
    for name in ("signs", "concerns", "ruptures", "outcomes", "alliance_alerts", "discussion"):
        pd.testing.assert_frame_equal(getattr(export, name), getattr(five, name))
    assert len(export.alliance_alerts) and len(export.discussion)


def _write(tmp_path: Path, text: str, name: str = "x.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problems_of(path: Path, config=None) -> list[tuple]:
    with pytest.raises(DataError) as info:
        load_ratings(path, config)
    return [(p.line, p.column, p.value, p.expected) for p in info.value.problems]


HEAD = "client_id,therapist_id,session_date,SRS1,SRS2,SRS3,SRS4,Total_SRS\n"


def test_item_off_scale_total_disagreeing_and_partly_filled_are_listed(tmp_path):
    path = _write(tmp_path, HEAD + "C1,T1,2026-01-05,11,8,9,9,\n"
                                   "C1,T1,2026-01-12,9,8.5,9,9,30\n"
                                   "C1,T1,2026-01-19,9,,9,9,\n"
                                   "C2,T1,2026-01-19,9,9,9,9,36.25\n")
    found = problems_of(path)
    assert [(line, col, value) for line, col, value, _ in found] == [
        (2, "SRS1", "11"), (3, "Total_SRS", "30"), (4, "SRS2", None)]
    assert "a number from 0 to 10 (the SRS item scale)" in found[0][3]
    assert found[1][3].startswith("35.5, the sum of SRS1–SRS4")
    assert "partly filled SRS" in found[2][3]
    # 36.25 is within rounding of 36 (items on a line are read to a decimal): accepted


def test_wai_items_must_be_whole_numbers_from_1_to_5(tmp_path):
    head = "client_id,therapist_id,session_date," + ",".join(WAI_ITEMS) + "\n"
    row = ["4"] * 12
    bad = row.copy()
    bad[4], bad[8] = "4.5", "0"
    path = _write(tmp_path, head + "C1,T1,2026-01-05," + ",".join(bad) + "\n")
    assert [(c, v) for _, c, v, _ in problems_of(path)] == [("WAI5", "4.5"), ("WAI9", "0")]


def test_a_sign_from_its_own_column_and_a_mapped_instrument_is_refused(tmp_path):
    path = _write(tmp_path, HEAD.strip() + ",Empathy_Understanding\n"
                                           "C1,T1,2026-01-05,9,9,9,9,36,7\n")
    [(line, column, _, expected)] = problems_of(path)
    assert (line, column) == (1, "Empathy_Understanding") and "not both" in expected


def test_header_problems_duplicate_and_missing_item_columns(tmp_path):
    path = _write(tmp_path, "client_id,therapist_id,session_date,SRS1,srs_1,SRS2,SRS3\n"
                            "C1,T1,2026-01-05,9,9,9,9\n")
    found = {column: (line, expected) for line, column, _, expected in problems_of(path)}
    assert found["srs_1"][0] == 1 and "each column once" in found["srs_1"][1]
    assert found[None][0] == 1 and "missing SRS4" in found[None][1]


def test_an_export_mapping_onto_no_sign_says_so(tmp_path):
    path = _write(tmp_path, "client_id,therapist_id,session_date,ORSQ1,ORSQ2,ORSQ3,ORSQ4\n"
                            "C1,T1,2026-01-05,5,5,5,5\n")
    [(line, _, _, expected)] = problems_of(path)
    assert line == 1 and "feeds no sign from ORS" in expected


def test_long_export_problems_name_each_item_line(tmp_path):
    path = _write(tmp_path, "client_id,therapist_id,session_date,instrument,item,score\n"
                            "C1,T1,2026-01-05,SRS,1,9\n"
                            "C1,T1,2026-01-05,SRS,1,9\n"
                            "C1,T2,2026-01-05,SRS,2,9\n"
                            "C1,T1,2026-01-05,SRQ,3,9\n"
                            "C1,T1,2026-01-05,SRS,13,9\n")
    found = problems_of(path)
    assert [(line, col) for line, col, _, _ in found] == [
        (3, "instrument, item"), (4, "therapist_id"), (5, "instrument"), (6, "item")]
    assert "this repeats line 2" in found[0][3] and "('T1' on line 2)" in found[1][3]


def test_long_export_item_off_scale_names_its_own_line(tmp_path):
    lines = [f"C1,T1,2026-01-05,SRS,{i},{s}" for i, s in ((1, 9), (2, 9), (3, 12), (4, 9))]
    path = _write(tmp_path, "client_id,therapist_id,session_date,instrument,item,score\n"
                  + "\n".join(lines) + "\n")
    assert [(line, col, value) for line, col, value, _ in problems_of(path)] == [
        (4, "SRS3", "12")]


def test_the_mapping_is_overridable_in_the_config(tmp_path):
    path = _write(tmp_path, HEAD + "C1,T1,2026-01-05,9,8,7,6,30\n")
    config = parse_config({"instruments": {"map": [
        {"sign": "outcomes_progress", "instrument": "srs", "items": ["overall"]},
        {"sign": "trust_safety", "instrument": "srs", "items": ["SRS1", "SRS2"]}]}})
    row = load_ratings(path, config).iloc[0]
    assert (row["outcomes_progress"], row["trust_safety"]) == (6.0, 8.5)
    assert np.isnan(row["empathy_understanding"]) and row["srs"] == 30


def test_the_sign_scale_is_the_configs(tmp_path):
    head = "client_id,therapist_id,session_date," + ",".join(WAI_ITEMS) + "\n"
    path = _write(tmp_path, head + "C1,T1,2026-01-05," + ",".join(["5"] * 6 + ["3"] * 6) + "\n")
    row = load_ratings(path, parse_config({"scale": {"min": 1, "max": 7}})).iloc[0]
    bond = np.mean([5, 5, 3, 3])  # items 3, 5 | 7, 9
    assert row["trust_safety"] == pytest.approx(1 + (bond - 1) * 6 / 4)


@pytest.mark.parametrize(("entries", "message"), [
    ([{"sign": "empathy_understanding", "instrument": "srs", "items": ["relationship"]},
      {"sign": "empathy_understanding", "instrument": "srs", "items": ["overall"]}],
     "an instrument mapped twice onto one sign"),
    ([{"sign": "trust_safety", "instrument": "wai_sr", "items": ["closeness"]}], "no item or part"),
    ([{"sign": "rapport", "instrument": "srs", "items": ["overall"]}], "unknown sign"),
    ([{"sign": "trust_safety", "instrument": "srs", "items": ["SRS1", "relationship"]}],
     "listed twice"),
])
def test_bad_mappings_are_refused(entries, message):
    with pytest.raises(ConfigError, match=message):
        parse_config({"instruments": {"map": entries}})


def test_item_codes_only_no_wording():
    """Instruments are known by codes and part names; nothing else is stored about an item."""
    for instrument in INSTRUMENTS.values():
        assert all(code.startswith(instrument.item_code) for code in instrument.codes)
        assert all(name.isalpha() and len(name) <= 13 for name in instrument.parts)
