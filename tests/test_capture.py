"""The Excel capture sheet round-trips into load_ratings; the session card is one page holding
the five signs; both commands refuse a wrong --out. And the README's two commands for a clinic
with SRS/ORS data make its first reports."""

from __future__ import annotations

import io
import json
from datetime import datetime

import numpy as np
import openpyxl
import pandas as pd
import pypdf
import pytest

from workbook import load_ratings
from workbook.data.capture import template_columns, write_template
from workbook.data.config import Config, parse_config
from workbook.data.signs import SIGNS
from workbook.reports.card import render_card
from workbook.reports.render import html_to_pdf
from workbook.runs.cli import main


def test_the_template_filled_in_loads_as_it_is(tmp_path):
    path = write_template(tmp_path / "ratings.xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Ratings", "Instructions"]
    sheet = book["Ratings"]
    names = [c.value for c in sheet[1]]
    assert names == template_columns(Config())
    filled = [
        {"client_id": "C1", "therapist_id": "T1", "session_date": datetime(2026, 3, 2),
         "rater": "client", "trust_safety": 8, "empathy_understanding": 9.5, "ors": 21,
         "srs": 37.5},
        {"client_id": "C1", "therapist_id": "T1", "session_date": datetime(2026, 3, 2),
         "rater": "therapist", "attendance": "attended", "trust_safety": 7},
        {"client_id": "C2", "therapist_id": "T1", "session_date": datetime(2026, 3, 3),
         "attendance": "no_show"},
    ]
    for row in filled:
        sheet.append([row.get(n) for n in names])
    book.save(path)
    ratings = load_ratings(path)
    assert ratings[["client_id", "rater", "attendance"]].values.tolist() == [
        ["C1", "client", "attended"], ["C1", "therapist", "attended"],
        ["C2", "client", "no_show"]]
    assert ratings["session_date"].tolist()[2] == pd.Timestamp("2026-03-03")
    assert ratings["trust_safety"].tolist()[:2] == [8.0, 7.0]
    assert ratings.loc[0, ["empathy_understanding", "ors", "srs"]].tolist() == [9.5, 21, 37.5]
    assert np.isnan(ratings.loc[2, "trust_safety"])


def test_the_template_validates_what_the_contract_allows(tmp_path):
    config = parse_config({"scale": {"min": 1, "max": 7}})
    sheet = openpyxl.load_workbook(write_template(tmp_path / "r.xlsx", config))["Ratings"]
    names = [c.value for c in sheet[1]]
    rules = {}
    for rule in sheet.data_validations.dataValidation:
        column = names[next(iter(rule.sqref.ranges)).min_col - 1]
        rules[column] = rule
    assert set(rules) == set(names) - {"note"}
    for sign in SIGNS:
        assert (rules[sign.key].type, rules[sign.key].formula1, rules[sign.key].formula2) == (
            "decimal", "1", "7")
    assert rules["rater"].formula1 == '"client,therapist,supervisor,observer"'
    assert rules["attendance"].formula1 == '"attended,cancelled,no_show"'
    assert rules["session_date"].type == "date"
    assert rules["client_id"].type == "custom" and "LEN(A2)<=32" in rules["client_id"].formula1
    assert (rules["phq9"].formula1, rules["phq9"].formula2) == ("0", "27")
    assert not rules["client_id"].allow_blank and rules["trust_safety"].allow_blank
    assert sheet.column_dimensions["C"].number_format == "yyyy-mm-dd"


@pytest.fixture(scope="module")
def card_pdf():
    return html_to_pdf(render_card())


def test_the_card_is_one_page_with_the_five_signs_and_boxes(card_pdf):
    reader = pypdf.PdfReader(io.BytesIO(card_pdf))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    squashed = "".join(text.split())
    for sign in SIGNS:
        assert "".join(sign.label.split()) in squashed
    for field in ("Clientcode", "Date", "Therapistcode", "0notatall", "10completely"):
        assert field in squashed
    assert html_to_pdf(render_card()) == card_pdf  # same config, same bytes


def test_commands_write_and_refuse(tmp_path, capsys):
    assert main(["template", "--out", str(tmp_path / "t.xlsx")]) == 0
    assert main(["card", "--out", str(tmp_path / "c.pdf")]) == 0
    assert (tmp_path / "c.pdf").read_bytes().startswith(b"%PDF")
    assert main(["template", "--out", str(tmp_path / "t.csv")]) == 6
    assert main(["card", "--out", str(tmp_path / "no" / "c.pdf")]) == 6
    assert main(["card", "--out", str(tmp_path / "c2.pdf"), "--config",
                 str(_config(tmp_path, "scale: {min: 0, max: 100}\n"))]) == 6
    assert "whole-number scale of at most 21" in capsys.readouterr().err


def _config(tmp_path, text):
    path = tmp_path / "workbook.yml"
    path.write_text(text)
    return path


@pytest.mark.slow
def test_readme_two_commands_for_a_clinic_with_srs_ors_data(tmp_path, capsys, monkeypatch):
    """`workbook import` an SRS/ORS export into a store, then `workbook monthly` from it."""
    rng = np.random.default_rng(7)
    rows = []
    for c in range(24):
        for w in range(8):
            srs = rng.integers(14, 21, 4) / 2
            ors = rng.integers(6, 21, 4) / 2
            day = pd.Timestamp("2026-09-07") + pd.Timedelta(days=7 * w + c % 3)
            rows.append([f"C{c:02d}", f"T{c % 3 + 1}", f"{day:%Y-%m-%d}", *srs, srs.sum(),
                         *ors, ors.sum()])
    header = ["client_id", "therapist_id", "session_date", "SRS1", "SRS2", "SRS3", "SRS4",
              "Total_SRS", "ORSQ1", "ORSQ2", "ORSQ3", "ORSQ4", "Total_ORS"]
    export = tmp_path / "fit_export.csv"
    pd.DataFrame(rows, columns=header).to_csv(export, index=False)
    monkeypatch.chdir(tmp_path)
    assert main(["import", "fit_export.csv", "--into", "sqlite:///clinic.db"]) == 0
    assert main(["monthly", "--data", "sqlite:///clinic.db?table=ratings", "--month",
                 "2026-10", "--format", "html", "--out", "reports", "--jobs", "1"]) == 0
    folder = tmp_path / "reports" / "2026-10"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["data"]["name"] == "sqlite:///clinic.db?table=ratings"
    html = (folder / "therapist-T1.html").read_text()
    assert "SRS relationship (SRS1)" not in html  # the store does not carry the export's map
    assert "Alliance alert (SRS)" in html and "read from attendance alone" in html
