"""The synthetic clinic generator: determinism, the data contract, and the planted patterns.

The planted patterns are checked in raw terms computed here (not through the analysis
modules), so these tests say what the data holds whatever the analysis code does with it.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbook.data.errors import ParameterError
from workbook.data.example_data import (
    PLANTED,
    REPAIRED_SIGN,
    UNREPAIRED_SIGN,
    generate_clinic,
    write_clinic,
)
from workbook.data.signs import SIGN_KEYS

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "examples" / "caseload.csv"
END = pd.Timestamp("2026-10-31")
OCTOBER = pd.Timestamp("2026-10-01")
SIGNS = list(SIGN_KEYS)
EXPECTED_COLUMNS = [
    "client_id", "therapist_id", "supervisor_id", "site", "session_date", "session_number",
    "rater", "attendance", "trust_safety", "empathy_understanding", "collaboration_respect",
    "boundaries_consistency", "outcomes_progress", "phq9", "gad7", "ors", "note",
]


@pytest.fixture(scope="module")
def clinic() -> pd.DataFrame:
    return generate_clinic()


def ratings(df: pd.DataFrame, client: str, rater: str, sign: str) -> pd.Series:
    """One rater's non-blank ratings of one sign for one client, indexed by date."""
    rows = df[(df["client_id"] == client) & (df["rater"] == rater)]
    return rows.set_index("session_date")[sign].dropna().astype(float)


def dips(series: pd.Series) -> list[tuple[int, float]]:
    """DESIGN.md possible ruptures: (position, baseline) of each rating at least
    max(2, within-client SD) below the mean of the previous 3 (2 at least)."""
    values = series.to_numpy()
    sd = values.std(ddof=1) if len(values) > 1 else 0.0
    found = []
    for i in range(2, len(values)):
        baseline = values[max(0, i - 3):i].mean()
        if baseline - values[i] >= max(2.0, sd) - 1e-9:
            found.append((i, baseline))
    return found


def sessions(df: pd.DataFrame, client: str) -> pd.DataFrame:
    """One row per session of a client: date, attendance, and whether each rater rated."""
    rows = df[df["client_id"] == client]
    out = rows.groupby("session_date").agg(attendance=("attendance", "first"),
                                           raters=("rater", lambda r: set(r)))
    return out.reset_index()


# --- determinism and the committed file -------------------------------------------------------


def test_same_seed_gives_the_same_frame_and_bytes(clinic, tmp_path):
    again = generate_clinic()
    pd.testing.assert_frame_equal(clinic, again)
    write_clinic(clinic, tmp_path / "a.csv")
    write_clinic(again, tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_another_seed_gives_another_clinic(clinic):
    other = generate_clinic(seed=1)
    assert not clinic.equals(other)
    assert list(other.columns) == EXPECTED_COLUMNS


def test_committed_example_matches_the_generator(clinic, tmp_path):
    write_clinic(clinic, tmp_path / "caseload.csv")
    assert EXAMPLE.read_bytes() == (tmp_path / "caseload.csv").read_bytes(), (
        "data/examples/caseload.csv is stale: regenerate it with "
        "`workbook example-data --out data/examples/caseload.csv`")
    assert 2_000 < len(clinic) < 10_000 and EXAMPLE.stat().st_size < 2_000_000


# --- the data contract ------------------------------------------------------------------------


def check_contract(df: pd.DataFrame, end: pd.Timestamp) -> None:
    assert list(df.columns) == EXPECTED_COLUMNS
    assert not df.duplicated(["client_id", "session_date", "rater"]).any()
    assert df.groupby(["client_id", "session_date"])["attendance"].nunique().max() == 1
    assert set(df["rater"]) <= {"client", "therapist"}
    assert set(df["attendance"]) <= {"attended", "cancelled", "no_show"}
    assert df["session_date"].max() <= end
    assert (df["session_date"].dt.dayofweek < 5).all()
    pattern = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
    for col in ("client_id", "therapist_id", "supervisor_id", "site"):
        assert df[col].map(lambda v: bool(pattern.match(v))).all(), col
    assert df.groupby("client_id")["therapist_id"].nunique().max() == 1
    assert df.groupby("therapist_id")[["supervisor_id", "site"]].nunique().max().max() == 1
    signs = df[SIGNS].astype(float)
    assert signs.stack().between(0, 10).all()
    for key, top in (("phq9", 27), ("gad7", 21), ("ors", 40)):
        assert df[key].dropna().between(0, top).all(), key
    assert df.loc[df["rater"] == "therapist", ["phq9", "gad7", "ors"]].isna().all().all()


def check_sessions(df: pd.DataFrame) -> None:
    missed = df["attendance"] != "attended"
    assert df.loc[missed, SIGNS].isna().all().all()
    assert (df.loc[missed, "rater"] == "client").all()
    attended = df[~missed]
    assert attended[SIGNS].notna().all().all()
    therapist_rows = attended[attended["rater"] == "therapist"]
    assert therapist_rows.groupby(["client_id", "session_date"]).ngroups == (
        attended.groupby(["client_id", "session_date"]).ngroups)
    first = df.drop_duplicates(["client_id", "session_date"])
    numbers = first.groupby("client_id")["session_number"]
    assert (numbers.min() == 1).all()
    assert (numbers.diff().dropna() == 1).all()


def test_example_keeps_the_data_contract(clinic):
    check_contract(clinic, END)
    check_sessions(clinic)


def test_other_sizes_keep_the_data_contract():
    end = date(2025, 3, 15)
    df = generate_clinic(therapists=5, clients_per_therapist=7, weeks=20, seed=3, end=end,
                         supervisors=2, plant=False)
    check_contract(df, pd.Timestamp(end))
    check_sessions(df)
    assert (df.groupby("therapist_id")["client_id"].nunique() == 7).all()
    assert df["supervisor_id"].nunique() == 2
    assert df["session_date"].min() >= pd.Timestamp(end) - timedelta(weeks=20)


def test_default_caseloads_vary_around_the_small_cell_limit(clinic):
    sizes = clinic.groupby("therapist_id")["client_id"].nunique()
    assert len(sizes) == 8 and sizes.sum() == 80
    assert (sizes >= 11).sum() >= 2 and (sizes < 11).sum() >= 2


def test_texture_is_realistic(clinic):
    first = clinic.drop_duplicates(["client_id", "session_date"])
    assert 0.04 <= (first["attendance"] != "attended").mean() <= 0.09
    client = clinic[clinic["rater"] == "client"].set_index(["client_id", "session_date"])
    therapist = clinic[clinic["rater"] == "therapist"].set_index(["client_id", "session_date"])
    gap = (therapist[SIGNS].astype(float) - client[SIGNS].astype(float)).stack().mean()
    assert 0.3 <= gap <= 0.8
    values = client[SIGNS].astype(float).stack()
    assert (values >= 7).mean() > 0.9
    starts = clinic.groupby("client_id")["session_date"].min()
    assert starts.nunique() > 20  # staggered starts
    assert (clinic.groupby("client_id")["session_date"].max() < OCTOBER).sum() >= 3  # finished
    assert clinic[["phq9", "gad7", "ors"]].notna().any().all()
    assert 0.05 < clinic["note"].notna().mean() < 0.25


# --- planted patterns -------------------------------------------------------------------------


def test_planted_clients_exist_on_several_therapists(clinic):
    ids = [c for group in PLANTED.values() for c in group]
    assert len(ids) == len(set(ids)) and set(ids) <= set(clinic["client_id"])
    owners = clinic[clinic["client_id"].isin(ids)].groupby("client_id")["therapist_id"].first()
    assert owners.nunique() >= 2
    sizes = clinic.groupby("therapist_id")["client_id"].nunique()
    assert (sizes[owners] >= 5).all()
    assert len(PLANTED["steady_control"]) >= 5


def test_repaired_rupture(clinic):
    (client,) = PLANTED["repaired_rupture"]
    series = ratings(clinic, client, "client", REPAIRED_SIGN)
    (at, baseline), = dips(series)
    assert series.index[at] >= OCTOBER and baseline == 9 and series.iloc[at] == 5
    after = series.iloc[at + 1:at + 4]
    assert (after >= baseline - 1).any()
    assert not dips(ratings(clinic, client, "therapist", REPAIRED_SIGN))


def test_unrepaired_rupture(clinic):
    (client,) = PLANTED["unrepaired_rupture"]
    series = ratings(clinic, client, "client", UNREPAIRED_SIGN)
    (at, baseline), = dips(series)
    assert OCTOBER <= series.index[at] <= pd.Timestamp("2026-10-10")
    after = series.iloc[at + 1:at + 4]
    assert len(after) == 3 and (after < baseline - 1).all()


def test_reliable_deterioration(clinic):
    (client,) = PLANTED["reliable_deterioration"]
    phq = clinic.loc[clinic["client_id"] == client].set_index("session_date")["phq9"].dropna()
    assert phq.iloc[0] <= 13 and phq.iloc[-1] >= 20 and phq.iloc[-1] - phq.iloc[0] >= 6
    assert phq.index[-1] >= OCTOBER


def test_recovery(clinic):
    (client,) = PLANTED["recovery"]
    phq = clinic.loc[clinic["client_id"] == client].set_index("session_date")["phq9"].dropna()
    assert phq.iloc[0] >= 10 and phq.iloc[-1] < 10 and phq.iloc[0] - phq.iloc[-1] >= 6
    assert phq.index[-1] >= OCTOBER


def test_perspective_gap(clinic):
    (client,) = PLANTED["perspective_gap"]
    october = clinic[(clinic["client_id"] == client) & (clinic["session_date"] >= OCTOBER)]
    by_rater = october.set_index(["rater", "session_date"])[SIGNS].astype(float)
    gap = (by_rater.loc["therapist"] - by_rater.loc["client"]).mean()
    assert (gap >= 2).all() and len(by_rater.loc["client"]) >= 4


def test_dropout_risk(clinic):
    (client,) = PLANTED["dropout_risk"]
    s = sessions(clinic, client)
    assert list(s["attendance"].iloc[-3:]) == ["attended", "no_show", "no_show"]
    last_attended, *no_shows = s["session_date"].iloc[-3:]
    assert pd.Timestamp("2026-09-21") <= last_attended < OCTOBER
    assert all(d >= OCTOBER for d in no_shows)
    assert (s["attendance"].iloc[:-2] == "attended").all()


def test_missing_ratings(clinic):
    (client,) = PLANTED["missing_ratings"]
    s = sessions(clinic, client)
    assert (s["attendance"] == "attended").all()
    rated = s["raters"].map(lambda r: "client" in r)
    assert rated.mean() < 0.8
    assert rated[s["session_date"] >= OCTOBER].mean() < 0.8
    assert s["raters"].map(lambda r: "therapist" in r).all()


@pytest.mark.parametrize("client", PLANTED["steady_control"])
def test_steady_control_has_nothing_to_flag(clinic, client):
    rows = clinic[clinic["client_id"] == client]
    client_rows = rows[rows["rater"] == "client"].set_index("session_date")[SIGNS].astype(float)
    therapist_rows = rows[rows["rater"] == "therapist"].set_index("session_date")[SIGNS]
    assert (client_rows >= 9).all().all()
    assert ((therapist_rows.astype(float) - client_rows).abs() <= 1).all().all()
    s = sessions(clinic, client)
    assert (s["attendance"] == "attended").all()
    assert (s["raters"] == {"client", "therapist"}).all()
    assert (s["session_date"].diff().dropna() == pd.Timedelta(days=7)).all()
    assert s["session_date"].iloc[0] <= clinic["session_date"].min() + pd.Timedelta(days=6)
    assert s["session_date"].iloc[-1] >= END - pd.Timedelta(days=7)
    assert rows[["phq9", "gad7", "ors"]].isna().all().all()
    for rater in ("client", "therapist"):
        for sign in SIGNS:
            assert not dips(ratings(clinic, client, rater, sign)), (rater, sign)


def test_planted_effects_do_not_overlap(clinic):
    owner = {c: name for name, ids in PLANTED.items() for c in ids}
    for client, name in owner.items():
        rows = clinic[clinic["client_id"] == client]
        s = sessions(clinic, client)
        assert (s["attendance"] != "cancelled").all()
        assert ((s["attendance"] == "no_show").any()) == (name == "dropout_risk")
        missing = ~s["raters"].map(lambda r: "client" in r)
        assert missing.any() == (name == "missing_ratings")
        has_measure = rows[["phq9", "gad7", "ors"]].notna().any().any()
        assert has_measure == (name in ("reliable_deterioration", "recovery"))


def test_background_clients_rarely_look_planted(clinic):
    planted = {c for ids in PLANTED.values() for c in ids}
    background = sorted(set(clinic["client_id"]) - planted)
    recent = clinic[clinic["session_date"] >= OCTOBER]
    with_dip = 0
    for client in background:
        series = [ratings(clinic, client, r, s) for r in ("client", "therapist") for s in SIGNS]
        with_dip += any(series_.index[i] >= OCTOBER for series_ in series
                        for i, _ in dips(series_))
        tail = sessions(clinic, client)["attendance"].iloc[-2:]
        assert not (tail == "no_show").all(), client
    assert with_dip <= 0.05 * len(background)
    by_rater = recent[recent["client_id"].isin(background)].set_index(
        ["rater", "client_id", "session_date"])[SIGNS].astype(float)
    gaps = (by_rater.loc["therapist"] - by_rater.loc["client"]).groupby("client_id").mean()
    assert (gaps < 2).all().all()


# --- validation and writing ------------------------------------------------------------------


def test_planting_needs_a_big_enough_clinic():
    with pytest.raises(ParameterError, match="--no-plant"):
        generate_clinic(therapists=2)
    with pytest.raises(ParameterError, match="16 weeks"):
        generate_clinic(weeks=10)
    small = generate_clinic(therapists=2, clients_per_therapist=3, weeks=4, plant=False)
    assert small["client_id"].nunique() == 6


@pytest.mark.parametrize("bad", [{"therapists": 0}, {"weeks": -1}, {"supervisors": 1.5}])
def test_bad_sizes_are_refused(bad):
    with pytest.raises(ParameterError):
        generate_clinic(plant=False, **bad)


def test_write_formats_round_trip(tmp_path):
    df = generate_clinic(therapists=2, clients_per_therapist=3, weeks=6, plant=False)
    write_clinic(df, tmp_path / "c.csv")
    write_clinic(df, tmp_path / "c.parquet")
    write_clinic(df, tmp_path / "c.xlsx")
    text = (tmp_path / "c.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0] == ",".join(EXPECTED_COLUMNS)
    assert re.search(r"^C0001,T01,S1,north,\d{4}-\d\d-\d\d,1,client,", text, re.M)
    back = pd.read_csv(tmp_path / "c.csv", parse_dates=["session_date"])
    assert back["session_date"].equals(df["session_date"])
    parquet = pd.read_parquet(tmp_path / "c.parquet")
    pd.testing.assert_frame_equal(parquet, df)
    excel = pd.read_excel(tmp_path / "c.xlsx")
    assert list(excel.columns) == EXPECTED_COLUMNS and len(excel) == len(df)
    assert np.array_equal(excel["trust_safety"].to_numpy(dtype=float),
                          df["trust_safety"].to_numpy(dtype=float, na_value=np.nan),
                          equal_nan=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.csv", "c.parquet", "c.xlsx"]


def test_write_refuses_an_unknown_format(tmp_path):
    with pytest.raises(ParameterError, match=".csv, .xlsx or .parquet"):
        write_clinic(generate_clinic(therapists=1, weeks=3, plant=False), tmp_path / "c.txt")
    assert not list(tmp_path.iterdir())
