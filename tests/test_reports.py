"""The three reports rendered from the example clinic for October 2026, read back from the PDF.

The expectations come from the example's documentation (data/examples/README.md and
`workbook.data.example_data.PLANTED`), from workbook.data.signs and from DESIGN.md, never
from what the report code itself computes. The structural snapshots under
tests/snapshots/ are written with UPDATE_SNAPSHOTS=1 and compared otherwise.
"""

from __future__ import annotations

import difflib
import html as htmllib
import io
import os
import re
import shutil
import socket
import tomllib
from dataclasses import replace
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pypdf
import pytest

import workbook.reports.render as report_module
from workbook.analysis.periods import parse_month
from workbook.analysis.pipeline import analyse, describe_rules
from workbook.data.config import parse_config
from workbook.data.example_data import PLANTED, generate_clinic, write_clinic
from workbook.data.ingest import load_ratings
from workbook.data.signs import SIGNS
from workbook.reports.render import TEMPLATES, describe_source, html_to_pdf, render_report

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
LABELS = [s.label for s in SIGNS]
SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"

# (kind, the planted pattern whose client's therapist the report is about); None: the clinic.
REPORTS = [
    ("therapist", "unrepaired_rupture"),
    ("therapist", "reliable_deterioration"),
    ("supervision", "unrepaired_rupture"),
    ("supervision", "reliable_deterioration"),
    ("clinic", None),
]
REPORT_IDS = [f"{kind}-{pattern}" if pattern else kind for kind, pattern in REPORTS]


def planted(pattern: str) -> str:
    return PLANTED[pattern][0]


def owner(ratings, client: str) -> str:
    """The therapist of a client, read from the data."""
    return ratings.loc[ratings["client_id"] == client, "therapist_id"].iloc[0]


@pytest.fixture(scope="module")
def get(example, example_report):
    """get(kind, pattern) -> the example report of the therapist holding that planted client."""
    def fetch(kind: str, pattern: str | None = None):
        therapist = owner(example.ratings, planted(pattern)) if pattern else None
        return example_report(kind, therapist)
    return fetch


@pytest.fixture(params=REPORTS, ids=REPORT_IDS)
def any_report(request, get):
    kind, pattern = request.param
    return get(kind, pattern)


# --- what every report states ------------------------------------------------------------------


def test_every_report_states_the_period(any_report):
    for phrase in ("October 2026", "2026-10-01", "2026-10-31"):
        assert any_report.pdf_has(phrase), f"{phrase!r} missing from the {any_report.kind} PDF"


def test_every_report_states_rules_data_config_and_version(any_report, example):
    rep = any_report
    for rule in describe_rules(example.config, handovers=False).values():
        assert rep.pdf_has(rule), f"rule missing from the {rep.kind} PDF: {rule[:60]}..."
    # the defaults of data/examples/workbook.yml, in words a reader can check
    for phrase in ("below 8 on the 0–10 scale", "previous 3 ratings", "Jacobson & Truax",
                   "2 no-shows in a row"):
        assert rep.pdf_has(phrase), phrase
    assert rep.pdf_has(f"workbook {VERSION}")
    assert rep.pdf_has("data caseload.csv")
    assert rep.pdf_has("config workbook.yml")
    assert rep.pdf_has(example.provenance.data_sha256[:12])


@pytest.mark.parametrize(("kind", "pattern"), [r for r in REPORTS if r[0] != "supervision"],
                         ids=[i for i in REPORT_IDS if not i.startswith("supervision")])
def test_five_sign_labels_in_therapist_and_clinic_reports(get, kind, pattern):
    rep = get(kind, pattern)
    for sign in SIGNS:
        assert rep.pdf_has(sign.label), f"{sign.label!r} missing from the {kind} PDF"
        assert htmllib.escape(sign.label, quote=False) in rep.html
        if kind == "therapist":  # a section per sign: its heading, then its description
            assert rep.pdf_has(sign.label + sign.description), sign.label
    if kind == "clinic":  # the per-sign table, and a column per sign for each therapist
        assert [row["Sign"] for row in rep.table("Sign")] == LABELS
        assert rep.table("Therapist") and list(rep.table("Therapist")[0])[2:] == LABELS


@pytest.mark.parametrize("pattern", ["unrepaired_rupture", "reliable_deterioration"])
def test_supervision_brief_lists_every_sign_in_its_per_sign_table(get, pattern):
    rep = get("supervision", pattern)
    assert [row["Sign"] for row in rep.table("Sign")] == LABELS
    section = rep.pdf_between("Changes per sign", "Wins")
    for label in LABELS:
        assert squash_(label) in section


def test_supervision_questions_follow_the_signs_that_fell(get):
    """A sign gets reflective questions exactly when its change is shown as a fall: a change
    that rounds to zero reads 0.0, not −0.0."""
    for pattern in ("unrepaired_rupture", "reliable_deterioration"):
        rep = get("supervision", pattern)
        questions = {s.label for s in SIGNS if s.questions[0] in htmllib.unescape(rep.html)}
        for row in rep.table("Sign"):
            change = row["Change, same clients"]
            assert change not in ("−0.0", "-0.0", "+0.0"), row
            assert change.startswith("−") == (row["Sign"] in questions), row


# --- the planted clients -------------------------------------------------------------------------


def discussion_rows(rep) -> dict[str, str]:
    """Therapist report: client -> reasons, from the 'Clients to discuss' table."""
    return {row["Client"]: row["Reasons"] for row in rep.table("Rank")}


class _Discussion(HTMLParser):
    """Supervision brief: the text of each top-level item of <ol class="discussion">."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[str] = []
        self._depth = 0  # <li> nesting inside the list
        self._inside = False

    def handle_starttag(self, tag, attrs):
        if tag == "ol" and ("class", "discussion") in attrs:
            self._inside = True
        elif self._inside and tag == "li":
            self._depth += 1
            if self._depth == 1:
                self.items.append("")

    def handle_endtag(self, tag):
        if self._inside and tag == "li":
            self._depth -= 1
        elif tag == "ol" and self._depth == 0:
            self._inside = False

    def handle_data(self, data):
        if self._inside and self._depth:
            self.items[-1] += data + " "


def brief_items(rep) -> dict[str, str]:
    """Supervision brief: client -> text of its discussion item."""
    parser = _Discussion()
    parser.feed(rep.html)
    return {text.split()[0]: " ".join(text.split()) for text in parser.items if text.strip()}


def pdf_entry(rep, section: tuple[str, str], client: str) -> str:
    """The squashed PDF text of a section from the client's ID to the next client ID."""
    text = rep.pdf_between(*section)
    assert client in text, f"{client} not in the {rep.kind} PDF section {section[0]!r}"
    tail = text[text.index(client) + len(client):]
    nxt = re.search(r"C\d{4}", tail)
    return tail[: nxt.start()] if nxt else tail


THERAPIST_DISCUSSION = ("Clients to discuss", SIGNS[0].description[:40])
BRIEF_DISCUSSION = ("To discuss, in order", "Changes per sign")
BRIEF_WINS = ("Wins", "Notes from the meeting")


def squash_(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize(("pattern", "phrases"), [
    ("unrepaired_rupture", ["Possible rupture", "not repaired"]),
    ("reliable_deterioration", ["reliably worse"]),
    ("dropout_risk", ["Dropout risk"]),
])
def test_flagged_planted_client_in_its_therapist_report_and_brief(get, example, pattern, phrases):
    client = planted(pattern)
    therapist = get("therapist", pattern)
    reasons = discussion_rows(therapist)
    assert client in reasons, f"{client} ({pattern}) not among the clients to discuss"
    brief = brief_items(get("supervision", pattern))
    assert client in brief, f"{client} ({pattern}) not in the supervision brief's list"
    entry = pdf_entry(therapist, THERAPIST_DISCUSSION, client)
    brief_entry = pdf_entry(get("supervision", pattern), BRIEF_DISCUSSION, client)
    for phrase in phrases:
        assert phrase in reasons[client]
        assert phrase in brief[client]
        assert squash_(phrase) in entry
        assert squash_(phrase) in brief_entry


def test_unrepaired_rupture_in_the_rupture_table(get):
    client = planted("unrepaired_rupture")
    head, body = table_with(get("therapist", "unrepaired_rupture"), "Client", "Sign")
    mine = [dict(zip(head, r, strict=True)) for r in body if r[0] == client]
    assert {(r["Sign"], r["Date"], r["Status"]) for r in mine} == {
        ("Trust & safety", "2026-10-07", "not repaired")}
    assert {r["Rater"] for r in mine} == {"client", "therapist"}


def test_repaired_rupture_and_recovery_are_wins(get, example):
    for pattern, phrases in (("recovery", ["Recovered", "PHQ-9", "17→5"]),
                             ("repaired_rupture", ["repaired", "Collaboration&mutualrespect"])):
        client = planted(pattern)
        therapist = owner(example.ratings, client)
        brief = example_brief(get, example, therapist)
        entry = pdf_entry(brief, BRIEF_WINS, client)
        for phrase in phrases:
            assert phrase in entry, (pattern, phrase, entry)


def example_brief(get, example, therapist: str):
    """The brief of a therapist who holds one of the rendered planted clients."""
    for pattern in ("unrepaired_rupture", "reliable_deterioration"):
        if owner(example.ratings, planted(pattern)) == therapist:
            return get("supervision", pattern)
    raise AssertionError(f"no rendered brief for {therapist}")


def table_with(rep, *first: str) -> tuple[list[str], list[list[str]]]:
    """The first table whose header starts with these cells."""
    for head, body in rep.tables:
        if head[: len(first)] == list(first):
            return head, body
    raise AssertionError(f"no table headed {first} in the {rep.kind} report")


def test_gap_and_deterioration_details_in_the_therapist_report(get):
    rep = get("therapist", "perspective_gap")
    head, body = table_with(rep, "Client", "Sign", "Paired ratings")
    gaps = [dict(zip(head, row, strict=True)) for row in body
            if row[0] == planted("perspective_gap")]
    assert gaps and {g["Mean gap (therapist − client)"] for g in gaps} == {"+3.0"}
    head, body = table_with(rep, "Measure", "Clients")
    phq = next(dict(zip(head, r, strict=True)) for r in body if r[0] == "PHQ-9")
    client = planted("reliable_deterioration")
    assert client in phq["Deteriorated"].split(", ")
    assert client in phq["Not on track"].split(", ")
    assert client not in phq["Unchanged"] + phq["Improved"] + phq["Recovered"]
    reasons = {r[1]: r[2] for r in table_with(rep, "Rank", "Client")[1]}
    assert "PHQ-9 reliably worse: 12 → 21" in reasons[client]


@pytest.mark.parametrize("pattern", ["unrepaired_rupture", "reliable_deterioration"])
def test_steady_controls_are_never_discussed(get, example, pattern):
    therapist = get("therapist", pattern)
    brief = get("supervision", pattern)
    tid = owner(example.ratings, planted(pattern))
    mine = [c for c in PLANTED["steady_control"] if owner(example.ratings, c) == tid]
    assert mine, "the report's therapist holds no steady control client"
    seen = therapist.html  # every client is on the attendance chart's axis
    discussed = therapist.pdf_between(*THERAPIST_DISCUSSION)
    brief_text = brief.pdf_between(*BRIEF_DISCUSSION)
    for client in mine:
        assert client in seen, f"{client} should be in the report (attendance chart)"
        assert client not in discussion_rows(therapist)
        assert client not in brief_items(brief)
        assert client not in discussed
        assert client not in brief_text


# --- the PDF: real text, embedded fonts, page counts -------------------------------------------


def _fonts(resources, seen: set) -> list:
    """Every font dictionary reachable from a resources dictionary (form XObjects included)."""
    out = []
    if resources is None:
        return out
    resources = resources.get_object()
    for font in (resources.get("/Font") or {}).values():
        out.append(font.get_object())
    for xobject in (resources.get("/XObject") or {}).values():
        ref = getattr(xobject, "idnum", None)
        obj = xobject.get_object()
        if ref in seen or obj.get("/Subtype") != "/Form":
            continue
        seen.add(ref)
        out += _fonts(obj.get("/Resources"), seen)
    return out


def test_pdf_text_is_extractable_and_fonts_embedded(any_report):
    reader = any_report.reader
    assert len(any_report.squashed) > 1000  # real text, not outlines or images
    fonts = []
    for page in reader.pages:
        fonts += _fonts(page.get("/Resources"), set())
    assert fonts, "no font in the PDF"
    for font in fonts:
        assert font.get("/Subtype") != "/Type3", font.get("/BaseFont")
        desc = font.get("/FontDescriptor")
        if desc is None and "/DescendantFonts" in font:
            desc = font["/DescendantFonts"][0].get_object().get("/FontDescriptor")
        assert desc is not None, f"font {font.get('/BaseFont')} has no descriptor"
        desc = desc.get_object()
        assert "/FontFile2" in desc or "/FontFile3" in desc or "/FontFile" in desc, (
            f"font {font.get('/BaseFont')} is not embedded")


def test_supervision_brief_of_thirty_clients_fits_on_two_pages(tmp_path, render):
    # planting needs 66 clients, so this clinic is plain background texture
    data = write_clinic(generate_clinic(therapists=2, clients_per_therapist=30, weeks=26,
                                        seed=3, plant=False), tmp_path / "thirty.csv")
    ratings = load_ratings(data)
    analysis = analyse(ratings, None, parse_month("2026-10"))
    provenance = describe_source(data, None)
    for therapist in analysis.therapists:
        cut = analysis.select(therapist_id=therapist)
        assert len(cut.clients) >= 25 and len(cut.discussion) >= 10 and len(cut.wins) >= 10
        brief = render("supervision", analysis, provenance, therapist_id=therapist)
        assert len(brief.reader.pages) <= 2, f"brief for {therapist}: {len(brief.reader.pages)}"
        # the weightiest 5 (agenda.lead_clients) in full, in rank order; the rest in one line
        # counting them by their weightiest reason; every client with a win still named
        lead = list(cut.discussion["client_id"].iloc[:5])
        items = re.findall(r'<ol class="discussion">(.*?)</ol>', brief.html, re.S)[0]
        assert re.findall(r"<li><strong>(.*?)</strong>", items) == lead
        rest = cut.discussion.iloc[5:]
        counts = rest["top_reason"].value_counts()
        line = brief.squashed
        assert squash_(f"{len(rest)} more clients on the list, by their weightiest reason:") in line
        for title, n in counts.items():
            assert squash_(f"{n} {title[0].lower() + title[1:]}") in line
        for client in {*cut.wins["client_id"]}:
            assert brief.pdf_has(client), client


def test_the_caseload_report_leads_with_the_configured_number_of_clients(example, render):
    config = example.config.model_copy(update={"agenda": example.config.agenda.model_copy(
        update={"lead_clients": 2})})
    analysis = analyse(example.ratings, config, example.period)
    cut = analysis.select(therapist_id="T01")
    report = render("therapist", analysis, example.provenance, therapist_id="T01")
    rows = report.table("Rank")
    assert [r["Client"] for r in rows] == list(cut.discussion["client_id"].iloc[:2])
    rest = cut.discussion.iloc[2:]
    assert squash_(f"Also on the list ({len(rest)}, in order): "
                  + ", ".join(f"{r.client_id} ({r.top_reason.lower()})"
                              for r in rest.itertuples())) in report.squashed


def test_report_page_counts_of_the_example(get):
    assert len(get("supervision", "unrepaired_rupture").reader.pages) <= 2
    assert len(get("supervision", "reliable_deterioration").reader.pages) <= 2
    assert len(get("clinic").reader.pages) <= 4


# --- determinism and self-containment -------------------------------------------------------


@pytest.mark.parametrize(("kind", "pattern"), [REPORTS[1], REPORTS[3], REPORTS[4]],
                         ids=[REPORT_IDS[1], REPORT_IDS[3], REPORT_IDS[4]])
def test_same_input_gives_identical_html_and_pdf(get, example, kind, pattern):
    first = get(kind, pattern)
    therapist = owner(example.ratings, planted(pattern)) if pattern else None
    again = render_report(kind, example.analysis, provenance=example.provenance,
                          therapist_id=therapist, ratings=example.ratings)
    assert again == first.html
    assert html_to_pdf(again) == first.pdf
    # fixed document dates, never the wall clock
    today = date.today().strftime("D:%Y%m%d")
    for key in ("/CreationDate", "/ModDate"):
        value = str((first.reader.metadata or {}).get(key, ""))
        assert not value.startswith(today), f"{key} {value} is today's date"


class _Refs(HTMLParser):
    """Tags and every URL-bearing attribute of an HTML page (SVG included)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.refs: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "data", "action", "srcset", "poster"):
                self.refs.append((tag, name, value or ""))


def test_html_is_self_contained(any_report):
    html = any_report.html
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()
    assert "@import" not in html
    urls = set(re.findall(r"(?i)\b(?:https?|ftp|file)://[^\s\"'<>)]*", html))
    assert urls <= {SVG_NS, XLINK_NS}, urls - {SVG_NS, XLINK_NS}
    parser = _Refs()
    parser.feed(html)
    assert not {"script", "link", "iframe", "object", "embed"} & parser.tags
    for tag, name, value in parser.refs:
        assert value.startswith(("#", "data:")), f"<{tag} {name}={value!r}>"


def test_url_fetcher_refuses_everything_but_data_urls():
    for url in ("https://cdn.example.org/brand.css", "http://example.org/logo.png",
                "file:///etc/passwd", "ftp://example.org/x", "/etc/hostname", "logo.png"):
        with pytest.raises(ValueError, match="refused"):
            report_module._refuse_remote(url)
    got = report_module._refuse_remote("data:text/css;base64,Ym9keXtjb2xvcjpyZWR9")
    body = got.read() if hasattr(got, "read") else got["string"]
    assert body == b"body{color:red}"


@pytest.fixture
def branded(tmp_path, example):
    """A copy of the templates whose title block names a brand and pulls in a remote
    stylesheet, image and font; an analysis whose config points at it."""
    folder = tmp_path / "brand"
    shutil.copytree(TEMPLATES, folder)
    base = (folder / "base.html").read_text()
    head = '<link rel="stylesheet" href="https://cdn.example.org/brand.css">\n</head>'
    title = ('<header>\n<img src="https://cdn.example.org/logo.png" alt="logo">\n'
             '<p class="brand">Brandwell Therapy Partners</p>')
    base = base.replace("</head>", head, 1).replace("<header>", title, 1)
    (folder / "base.html").write_text(base)
    css = (folder / "print.css").read_text()
    (folder / "print.css").write_text(
        '@import url("https://cdn.example.org/fonts.css");\n' + css
        + '\n.brand { background: url("http://cdn.example.org/bg.png"); }\n')
    config = parse_config({"template_dir": str(folder)})
    return replace(example.analysis, config=config)


def test_branding_override_renders_without_fetching_anything(branded, example, monkeypatch):
    asked, connects = [], []

    def recording(url, *args, **kwargs):
        asked.append(url)
        return original(url, *args, **kwargs)

    def no_network(*args, **kwargs):
        connects.append(args)
        raise OSError("network use in a test")

    original = report_module._refuse_remote
    monkeypatch.setattr(report_module, "_refuse_remote", recording)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)

    html = render_report("clinic", branded, provenance=example.provenance,
                         ratings=example.ratings)
    assert "Brandwell Therapy Partners" in html
    assert "https://cdn.example.org/brand.css" in html  # the override was used
    pdf = html_to_pdf(html)
    assert not connects
    remote = [u for u in asked if "cdn.example.org" in u]
    assert remote, "the URL fetcher was never asked for the remote resources"
    for url in remote:
        with pytest.raises(ValueError):
            original(url)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = squash_("".join(p.extract_text() for p in reader.pages))
    assert "BrandwellTherapyPartners" in text
    assert "Clinicmonthlyreport" in text


# --- structural snapshots ---------------------------------------------------------------------


class Outline(HTMLParser):
    """A report's structure: headings, tables (header row and row count), top-level lists
    (item count) and inline <svg> elements, in document order; SVG bodies are dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.svgs = 0
        self._svg = 0
        self._heading: list[str] | None = None
        self._table: dict | None = None
        self._cell: list[str] | None = None
        self._in_head = False
        self._lists: list[list] = []  # stack of [tag, class, items]

    def handle_starttag(self, tag, attrs):
        if tag == "svg" or self._svg:
            if tag == "svg" and not self._svg:
                self.svgs += 1
                self.lines.append("svg")
            self._svg += tag == "svg"
            return
        if tag in ("h1", "h2", "h3"):
            self._heading = []
        elif tag == "table":
            self._table = {"head": [], "rows": 0}
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and self._table is not None and not self._in_head:
            self._table["rows"] += 1
        elif tag == "th" and self._in_head:
            self._cell = []
        elif tag in ("ol", "ul"):
            self._lists.append([tag, dict(attrs).get("class") or "", 0])
        elif tag == "li" and self._lists:
            self._lists[-1][2] += 1

    def handle_endtag(self, tag):
        if self._svg:
            self._svg -= tag == "svg"
            return
        if tag in ("h1", "h2", "h3") and self._heading is not None:
            self.lines.append(f"{tag} {' '.join(''.join(self._heading).split())}")
            self._heading = None
        elif tag == "th" and self._cell is not None and self._table is not None:
            self._table["head"].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "table" and self._table is not None:
            self.lines.append(f"table [{' | '.join(self._table['head'])}] "
                              f"rows={self._table['rows']}")
            self._table = None
        elif tag in ("ol", "ul") and self._lists:
            kind, cls, items = self._lists.pop()
            if not self._lists:
                self.lines.append(f"{kind}{'.' + cls if cls else ''} items={items}")

    def handle_data(self, data):
        if self._svg:
            return
        if self._heading is not None:
            self._heading.append(data)
        elif self._cell is not None:
            self._cell.append(data)


def outline(html: str) -> str:
    parser = Outline()
    parser.feed(html)
    parser.close()
    return "\n".join([*parser.lines, f"svg total {parser.svgs}"]) + "\n"


def test_outline_drops_svg_bodies_and_counts_structure():
    html = ('<h1>A &amp; B</h1><svg><text>h2 inside</text><svg><g><h2>no</h2></g></svg>'
            '<path d="M0"/></svg><h2>Next</h2><table><thead><tr><th>X</th><th>Y</th></tr>'
            '</thead><tbody><tr><td>1</td><td>2</td></tr><tr><td>3</td><td>4</td></tr>'
            '</tbody></table><ol class="discussion"><li>a<ul><li>x</li></ul></li><li>b</li>'
            '</ol><svg></svg>')
    assert outline(html) == ("h1 A & B\nsvg\nh2 Next\ntable [X | Y] rows=2\n"
                             "ol.discussion items=2\nsvg\nsvg total 2\n")


def check_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    if not path.is_file():
        pytest.fail(f"snapshot {path.relative_to(ROOT)} is missing; create it with "
                    f"UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/test_reports.py -k snapshot, "
                    "check it and commit it")
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True),
                                            f"{path.name} (committed)", "rendered now"))
        pytest.fail(f"report structure changed:\n{diff}\nIf the change is intended, rerun with "
                    "UPDATE_SNAPSHOTS=1 and commit the new snapshot.")


@pytest.mark.parametrize(("kind", "pattern"), REPORTS, ids=REPORT_IDS)
def test_report_structure_snapshot(get, example, kind, pattern):
    name = kind if pattern is None else f"{kind}_{owner(example.ratings, planted(pattern))}"
    check_snapshot(name, outline(get(kind, pattern).html))
