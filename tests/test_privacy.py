"""Privacy in the rendered reports (DESIGN.md, "Privacy and safety rules").

Canary client IDs ("CANARY-A1".."CANARY-A12" for T01, "CANARY-B1".."CANARY-B6" for T02) show
whether a client can leak into another therapist's report or into the clinic report; a
distinctive note shows whether notes are printed without `privacy.include_notes`; hostile IDs let
through a relaxed `privacy.id_pattern` must come out escaped, in tables and in the inline SVG
charts; and no visible count of clients in the clinic report lies between 1 and 10.
"""

from __future__ import annotations

import html as htmllib
import re
from html.parser import HTMLParser
from types import SimpleNamespace

import pandas as pd
import pytest

from workbook.analysis.periods import parse_month
from workbook.analysis.pipeline import analyse
from workbook.data.config import parse_config
from workbook.data.example_data import generate_clinic, write_clinic
from workbook.data.ingest import load_ratings
from workbook.data.signs import SIGN_KEYS
from workbook.reports.render import describe_source

MONTH = "2026-10"
OCTOBER = pd.Timestamp("2026-10-01")
NOTE_A = "Canary note: zebra quartz 4417 (client A)"
NOTE_B = "Canary note: walrus opal 9023 (client B)"
HOSTILE_SCRIPT = "<script>alert(1)</script>"
HOSTILE_ATTR = "\"'><img src=x onerror=alert(2)>"
HOSTILE_TEMPLATE = "{{ 7*7 }}"
HOSTILE_THERAPIST = "T<b>2</b>&amp;"
HOSTILE_NOTE = "<script>alert('note')</script>"
MIN_CELL = 11


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def canary_frame() -> pd.DataFrame:
    """Two therapists: T01 with 12 clients seen in October, T02 with 6, renamed to canaries;
    every note blank except one distinctive October note per therapist."""
    df = generate_clinic(therapists=2, clients_per_therapist=16, weeks=20, seed=5, plant=False)
    october = df[df["session_date"] >= OCTOBER]
    rename = {}
    for prefix, therapist, keep in (("CANARY-A", "T01", 12), ("CANARY-B", "T02", 6)):
        ids = sorted(october.loc[october["therapist_id"] == therapist, "client_id"].unique())
        assert len(ids) >= keep, f"seed gives {therapist} only {len(ids)} clients in October"
        rename.update({c: f"{prefix}{i}" for i, c in enumerate(ids[:keep], 1)})
    df = df[df["client_id"].isin(rename)].copy()
    df["client_id"] = df["client_id"].map(rename)
    df["note"] = None
    for client, text in (("CANARY-A2", NOTE_A), ("CANARY-B2", NOTE_B)):
        row = df.index[(df["client_id"] == client) & (df["session_date"] >= OCTOBER)
                       & (df["rater"] == "client")][0]
        df.loc[row, "note"] = text
    return df.reset_index(drop=True)


def build(tmp_path, frame: pd.DataFrame, raw_config: dict | None = None) -> SimpleNamespace:
    """Write the frame as CSV, load it with the config, analyse October 2026."""
    data = write_clinic(frame, tmp_path / "clinic.csv")
    config = parse_config(raw_config or {})
    ratings = load_ratings(data, config)
    return SimpleNamespace(ratings=ratings, analysis=analyse(ratings, config, parse_month(MONTH)),
                           provenance=describe_source(data, None))


@pytest.fixture(scope="module")
def canary(tmp_path_factory, render):
    """The canary clinic, its reports rendered once: reports[(kind, therapist)]."""
    clinic = build(tmp_path_factory.mktemp("canary"), canary_frame())
    assert clinic.analysis.therapists == ["T01", "T02"]
    cache = {}

    def get(kind: str, therapist: str | None = None):
        if (kind, therapist) not in cache:
            cache[kind, therapist] = render(kind, clinic.analysis, clinic.provenance,
                                            therapist_id=therapist, ratings=clinic.ratings)
        return cache[kind, therapist]

    clinic.report = get
    return clinic


# --- a therapist's report holds only that therapist's clients ------------------------------


@pytest.mark.parametrize("kind", ["therapist", "supervision"])
@pytest.mark.parametrize(("therapist", "own", "other"),
                         [("T01", "CANARY-A", "CANARY-B"), ("T02", "CANARY-B", "CANARY-A")])
def test_report_holds_only_its_therapists_clients(canary, kind, therapist, own, other):
    rep = canary.report(kind, therapist)
    assert own in rep.html and rep.pdf_has(own), f"no {own} client in the {kind} report"
    assert other not in rep.html
    assert squash(other) not in rep.squashed


def test_clinic_report_holds_no_client_id(canary):
    rep = canary.report("clinic")
    assert "T01" in rep.html and rep.pdf_has("T02")  # it does report per therapist
    assert "CANARY" not in rep.html
    assert "CANARY" not in rep.squashed
    for client in canary.ratings["client_id"].unique():
        assert client not in rep.html


def test_example_clinic_report_holds_no_client_id(example, example_report):
    rep = example_report("clinic")
    clients = example.ratings["client_id"].unique()
    assert len(clients) > 50
    for client in clients:
        pattern = rf"(?<![\w#]){re.escape(client)}(?!\w)"
        assert not re.search(pattern, rep.html), client
        assert not re.search(pattern, rep.text), client


# --- notes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "therapist"),
                         [("therapist", "T01"), ("therapist", "T02"), ("supervision", "T01"),
                          ("clinic", None)])
def test_notes_are_not_printed_by_default(canary, kind, therapist):
    rep = canary.report(kind, therapist)
    for note in (NOTE_A, NOTE_B, "zebra quartz", "walrus opal"):
        assert htmllib.escape(note) not in rep.html and note not in rep.html
        assert squash(note) not in rep.squashed


@pytest.fixture(scope="module")
def with_notes(tmp_path_factory, render):
    clinic = build(tmp_path_factory.mktemp("notes"), canary_frame(),
                   {"privacy": {"include_notes": True}})
    return {key: render(key[0], clinic.analysis, clinic.provenance, therapist_id=key[1],
                        ratings=clinic.ratings)
            for key in (("therapist", "T01"), ("therapist", "T02"), ("clinic", None))}


def test_notes_are_printed_when_enabled_for_that_therapist_only(with_notes):
    mine, theirs = with_notes["therapist", "T01"], with_notes["therapist", "T02"]
    assert "Session notes" in mine.html
    assert htmllib.escape(NOTE_A) in mine.html and mine.pdf_has(NOTE_A)
    assert theirs.pdf_has(NOTE_B)
    assert "walrus opal" not in mine.html and squash("walrus opal") not in mine.squashed
    assert "zebra quartz" not in theirs.html and squash("zebra quartz") not in theirs.squashed
    clinic = with_notes["clinic", None]
    for text in ("zebra quartz", "walrus opal"):
        assert text not in clinic.html and squash(text) not in clinic.squashed


# --- hostile IDs are escaped everywhere -------------------------------------------------------


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, render):
    """Three T01 clients and T02 renamed to hostile codes, with a hostile note, allowed
    through `privacy.id_pattern: ".+"`; notes printed so the note reaches the report too."""
    frame = canary_frame()
    frame["client_id"] = frame["client_id"].replace(
        {"CANARY-A1": HOSTILE_SCRIPT, "CANARY-A3": HOSTILE_ATTR, "CANARY-A4": HOSTILE_TEMPLATE})
    frame["therapist_id"] = frame["therapist_id"].replace({"T02": HOSTILE_THERAPIST})
    frame.loc[frame["note"] == NOTE_A, "note"] = HOSTILE_NOTE
    # a missed last session puts each hostile client in the attendance table too
    for code in (HOSTILE_SCRIPT, HOSTILE_ATTR, HOSTILE_TEMPLATE):
        last = frame.loc[frame["client_id"] == code, "session_date"].max()
        rows = (frame["client_id"] == code) & (frame["session_date"] == last)
        frame.loc[rows, "attendance"] = "no_show"
        frame.loc[rows, list(SIGN_KEYS)] = None
    clinic = build(tmp_path_factory.mktemp("hostile"), frame,
                   {"privacy": {"id_pattern": ".+", "include_notes": True}})
    seen = set(clinic.analysis.clients)
    assert {HOSTILE_SCRIPT, HOSTILE_ATTR, HOSTILE_TEMPLATE} <= seen
    return {key: render(key[0], clinic.analysis, clinic.provenance, therapist_id=key[1],
                        ratings=clinic.ratings)
            for key in (("therapist", "T01"), ("supervision", HOSTILE_THERAPIST),
                        ("clinic", None))}


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.handlers: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.handlers += [f"<{tag} {name}>" for name, _ in attrs if name.startswith("on")]


def svg_blocks(html: str) -> str:
    return "\n".join(re.findall(r"<svg\b.*?</svg>", html, flags=re.S))


def assert_inert(html: str) -> None:
    """No element or event handler came from the data."""
    assert "<script" not in html.lower()
    assert "<img" not in html.lower() and "<b>" not in html
    parser = _Elements()
    parser.feed(html)
    assert not {"script", "img", "b"} & parser.tags
    assert not parser.handlers


def test_hostile_ids_are_escaped_in_the_therapist_report(hostile):
    rep = hostile["therapist", "T01"]
    html = rep.html
    assert_inert(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert HOSTILE_TEMPLATE in html  # printed as it is, not evaluated
    assert "&lt;script&gt;alert(&#39;note&#39;)&lt;/script&gt;" in html  # the note, escaped
    # every table cell that holds a hostile client reads back as the exact code
    cells = {cell for _, rows in rep.tables for row in rows for cell in row}
    assert {HOSTILE_SCRIPT, HOSTILE_ATTR, HOSTILE_TEMPLATE} <= cells
    assert "49" not in {row[0] for _, rows in rep.tables for row in rows}
    # the PDF shows the codes literally: escaped once, not twice
    for code in (HOSTILE_SCRIPT, HOSTILE_TEMPLATE):
        assert rep.pdf_has(code), code
    assert "&lt;" not in rep.text and "&amp;" not in rep.text


def test_hostile_ids_are_escaped_in_the_svg_charts(hostile):
    svg = svg_blocks(hostile["therapist", "T01"].html)
    assert svg.count("<svg") >= 6
    assert "<script" not in svg.lower() and "<img" not in svg.lower()
    # client IDs label the lines and the attendance rows: escaped as XML text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert "&lt;img src=x onerror=alert(2)&gt;" in svg
    assert HOSTILE_TEMPLATE in svg


@pytest.mark.parametrize("key", [("supervision", HOSTILE_THERAPIST), ("clinic", None)])
def test_hostile_therapist_id_is_escaped(hostile, key):
    rep = hostile[key]
    assert_inert(rep.html)
    assert "T&lt;b&gt;2&lt;/b&gt;&amp;amp;" in rep.html
    assert rep.pdf_has(HOSTILE_THERAPIST)


# --- small cells in the clinic report -------------------------------------------------------


def visible_client_counts(rep) -> list[tuple[str, str]]:
    """(where, cell) for every count of clients the clinic report shows: the headline figures
    about clients, the per-therapist Clients column, every count of the outcome table."""
    out = []
    figures = re.findall(r'<span class="value">(.*?)</span><span class="name">(.*?)</span>',
                         rep.html)
    assert figures, "no headline figures found"
    out += [(name, htmllib.unescape(value)) for value, name in figures
            if name.startswith("clients")]
    for head, rows in rep.tables:
        if head[:2] == ["Therapist", "Clients"]:
            out += [(f"therapist {row[0]}", row[1]) for row in rows]
        elif head and head[0] == "Measure":
            out += [(f"{row[0]} {col}", cell) for row in rows
                    for col, cell in zip(head[1:], row[1:], strict=True)]
    return out


def clients_in_october(ratings: pd.DataFrame) -> pd.Series:
    october = ratings[(ratings["session_date"] >= OCTOBER)
                      & (ratings["session_date"] <= pd.Timestamp("2026-10-31"))]
    return october.groupby("therapist_id")["client_id"].nunique()


def check_small_cells(rep, ratings: pd.DataFrame) -> None:
    label = f"<{MIN_CELL}"
    therapists = {row[0]: row for head, rows in rep.tables if head[:2] == ["Therapist", "Clients"]
                  for row in rows}
    counts = clients_in_october(ratings)
    small = counts[counts < MIN_CELL]
    assert len(small), "no small caseload to check"
    for therapist in small.index:
        assert therapists[therapist][1] == label, (therapist, therapists[therapist])
        assert set(therapists[therapist][2:]) == {label}  # its means are hidden too
    for therapist in counts[counts >= MIN_CELL].index:  # shown, or hidden to protect another
        assert therapists[therapist][1] in (str(counts[therapist]), "hidden")
    shown = visible_client_counts(rep)
    for where, cell in shown:
        assert cell in (label, "hidden") or re.fullmatch(r"\d+", cell), (where, cell)
        if cell not in (label, "hidden"):
            assert int(cell) == 0 or int(cell) >= MIN_CELL, f"{where}: {cell} clients shown"
    # complementary suppression: one hidden count with a shown clinic total would give it away
    column = [row[1] for row in therapists.values()]
    assert column.count(label) + column.count("hidden") != 1
    assert rep.pdf_has(label)


def test_example_clinic_suppresses_small_cells(example, example_report):
    rep = example_report("clinic")
    assert 10 in set(clients_in_october(example.ratings))  # the boundary case is in the data
    check_small_cells(rep, example.ratings)


def test_canary_clinic_suppresses_small_cells(canary):
    rep = canary.report("clinic")
    check_small_cells(rep, canary.ratings)
    rows = {row[0]: row for head, rows in rep.tables if head[:2] == ["Therapist", "Clients"]
            for row in rows}
    # T02's 6 are hidden, so T01's 12 must be too, or the clinic total would reveal T02
    assert rows["T01"][1] == "hidden" and rows["T02"][1] == f"<{MIN_CELL}"
    assert rows["Clinic"][1] == "18"
