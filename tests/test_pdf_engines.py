"""The two PDF engines (Typst, the default, and WeasyPrint) print what the HTML says.

Both are made from the same rendered HTML, so the PDF's text must be the HTML's text: every
character of the page body in the same order, whitespace aside (layout breaks lines where the
screen does not). The page header and footer (the HTML's `.running` strings, drawn in the
margins) and each chart's own labels (drawn from its SVG, which WeasyPrint draws after a
page's text) are taken out of both before comparing. The walker that hands the HTML to Typst
is tested on its own for the parts of HTML the templates do not use today.
"""

from __future__ import annotations

import io
import re
from dataclasses import replace
from html.parser import HTMLParser

import pypdf
import pytest

from tests.conftest import squash
from workbook.data.config import parse_config
from workbook.data.errors import ReportError
from workbook.reports import render as render_module
from workbook.reports.render import html_to_pdf, pdf_engine_of, render_report
from workbook.reports.typeset import _column_weights, read_tree

KINDS = (("therapist", "T01"), ("supervision", "T03"), ("clinic", None))
ENGINES = ("typst", "weasyprint")
A4_HEIGHT = 841.89


class _BodyText(HTMLParser):
    """The text a reader sees in the page body: no <head>, no `.running` page furniture, and
    each inline chart's <text> labels kept apart (one string per chart)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.body: list[str] = []
        self.charts: list[list[str]] = []
        self._skip: list[str] = []
        self._svg = 0

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if tag in ("meta", "link", "img", "br", "hr", "input"):
            return
        if self._skip or tag in ("head", "style", "title") or "running" in classes:
            self._skip.append(tag)
        elif tag == "svg":
            self._svg += 1
            if self._svg == 1:
                self.charts.append([])

    def handle_endtag(self, tag):
        if self._skip:
            if tag == self._skip[-1]:
                self._skip.pop()
        elif tag == "svg":
            self._svg -= 1

    def handle_data(self, data):
        if self._skip:
            return
        (self.charts[-1] if self._svg else self.body).append(data)


def body_text(html: str) -> tuple[str, list[str]]:
    """(the body's text squashed, each chart's label text squashed)."""
    parser = _BodyText()
    parser.feed(html)
    parser.close()
    return squash("".join(parser.body)), [squash("".join(c)) for c in parser.charts]


def furniture(html: str, page: int, pages: int) -> list[str]:
    """What the page's header and footer say: the HTML's `.running` strings, page n of m."""
    running = dict(re.findall(r'<span class="running running-(\w+)">([^<]*)</span>', html))
    return [running["clinic"], f"{running['report']} · {running['period']}",
            running["footer"], f"Page {page} of {pages}"]


def read_pages(pdf: bytes, html: str) -> list[tuple[str, list[str]]]:
    """Each page as (its body text squashed, the header and footer pieces found on it).

    A text run that is exactly one of the page's header or footer pieces is furniture (once
    each); a run that is only a list marker (a bullet, "3.") is left out, as the HTML's list
    markers are not text either."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    pages = []
    for number, page in enumerate(reader.pages, 1):
        pieces = furniture(html, number, len(reader.pages))
        body: list[str] = []
        found: list[str] = []

        def keep(text, cm, tm, font, size, pieces=pieces, body=body, found=found):
            run = " ".join(text.split())
            if run in pieces and run not in found:
                found.append(run)
            elif not _MARKER.fullmatch(run):
                body.append(text)

        page.extract_text(visitor_text=keep)
        pages.append((squash("".join(body)), found))
    return pages


_MARKER = re.compile(r"[•◦‣]|\d+\.")


def without_charts(pages: list[str], charts: list[str]) -> str:
    """The pages' text, each chart's labels cut out once where they are drawn."""
    text = "".join(pages)
    for chart in charts:
        assert chart in text, f"a chart's labels are missing from the PDF: {chart[:80]}"
        text = text.replace(chart, "", 1)
    return text


@pytest.fixture(scope="module")
def printed(example):
    """(kind, engine) -> (html, pdf) for the example clinic, each made once."""
    made = {}
    for engine in ENGINES:
        config = example.config.model_copy(update={"pdf_engine": engine})
        analysis = replace(example.analysis, config=config)
        for kind, therapist in KINDS:
            html = render_report(kind, analysis, provenance=example.provenance,
                                 therapist_id=therapist, ratings=example.ratings)
            made[kind, engine] = (html, html_to_pdf(html))
    return made


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("kind", "therapist"), KINDS, ids=[k for k, _ in KINDS])
def test_pdf_says_what_the_html_says(printed, kind, therapist, engine):
    html, pdf = printed[kind, engine]
    body, charts = body_text(html)
    assert len(body) > 1000 and all(charts)
    assert len(charts) == {"therapist": 6, "supervision": 0, "clinic": 1}[kind]
    got = without_charts([body for body, _ in read_pages(pdf, html)], charts)
    if got != body:
        at = next(i for i, (a, b) in enumerate(zip(got + "\0", body + "\0", strict=False))
                  if a != b)
        pytest.fail(f"{kind} PDF ({engine}) differs from its HTML at character {at}:\n"
                    f"  HTML: …{body[max(0, at - 60):at + 60]}…\n"
                    f"  PDF:  …{got[max(0, at - 60):at + 60]}…")


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("kind", "therapist"), KINDS, ids=[k for k, _ in KINDS])
def test_every_page_has_its_header_and_footer(printed, kind, therapist, engine):
    html, pdf = printed[kind, engine]
    pages = read_pages(pdf, html)
    for number, (_, found) in enumerate(pages, 1):
        assert sorted(found) == sorted(furniture(html, number, len(pages))), (kind, number)


def test_engines_are_named_in_the_html_and_the_about_section(printed):
    for (kind, engine), (html, pdf) in printed.items():
        assert pdf_engine_of(html) == engine
        name = "Typst" if engine == "typst" else "WeasyPrint"
        assert f"made by {name} " in html, kind
        assert squash(f"made by {name}") in "".join(b for b, _ in read_pages(pdf, html)), kind
        producer = pypdf.PdfReader(io.BytesIO(pdf)).metadata
        made_by = producer.get("/Creator", "") + producer.get("/Producer", "")
        assert name in made_by, (kind, engine, made_by)


def test_typst_is_the_default_and_the_config_can_choose():
    assert parse_config({}).pdf_engine == "typst"
    assert parse_config({"pdf_engine": "weasyprint"}).pdf_engine == "weasyprint"
    with pytest.raises(Exception, match="pdf_engine"):
        parse_config({"pdf_engine": "latex"})


def test_an_unknown_engine_in_the_html_is_refused():
    page = '<html><head><meta name="workbook-pdf-engine" content="latex"></head></html>'
    with pytest.raises(ReportError, match="pdf_engine 'latex'"):
        html_to_pdf(page)
    assert pdf_engine_of("<html><head></head><body></body></html>") == "weasyprint"


def test_typst_pdf_is_a4_with_fonts_embedded_and_the_same_bytes_twice(printed):
    html, pdf = printed["therapist", "typst"]
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    for page in reader.pages:
        box = page.mediabox
        assert abs(float(box.width) - 595.28) < 0.5 and abs(float(box.height) - A4_HEIGHT) < 0.5
    fonts = {str(f) for page in reader.pages
             for f in page["/Resources"]["/Font"].values()
             for f in [f.get_object()["/BaseFont"]]}
    assert any("DejaVuSans" in f for f in fonts), fonts
    assert html_to_pdf(html) == pdf


# --- the walker, on HTML the templates do not use today ----------------------------------------

PAGE = """<!DOCTYPE html><html lang="de"><head><title>T &amp; t</title>
<meta name="workbook-pdf-engine" content="typst"><style>p { color: red }</style></head>
<body class="report brief"><span class="running running-clinic">Klinik</span>
<header><img src="https://cdn.example.org/logo.png" alt="logo">
<img src="data:image/svg+xml;base64,{svg}" alt="mark"></header>
<custom-box><p>  Two   words </p>loose <em>text</em>  here</custom-box>
<div class="chart"><svg width="2000" height="10" aria-label="A &amp; B chart"><text>x</text>
</svg></div>
<table><thead><tr><th>Name</th><th class="num">Count</th></tr></thead>
<tbody><tr><td>a fairly long piece of text</td><td class="num suppressed">&lt;11</td></tr></tbody>
</table></body></html>"""


def test_walker_keeps_text_drops_remote_images_and_reads_charts():
    import base64

    svg = base64.b64encode(b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>')
    asked = []

    def refuse(url):
        asked.append(url)
        raise ValueError("refused")

    tree = read_tree(PAGE.replace("{svg}", svg.decode()), refuse)
    assert asked == ["https://cdn.example.org/logo.png"]
    assert tree["title"] == "T & t" and tree["lang"] == "de" and tree["body"] == "report brief"
    assert tree["running"] == {"clinic": "Klinik"}
    header, custom, chart, table = (k for k in tree["children"] if isinstance(k, dict))
    assert [k["tag"] for k in header["children"]] == ["img"]  # the remote logo left out
    assert header["children"][0]["format"] == "svg" and header["children"][0]["alt"] == "mark"
    paragraph, loose, emphasis, tail = custom["children"]
    assert paragraph["children"] == ["Two words"]
    assert loose == "loose " and emphasis["children"] == ["text"] and tail == " here"
    figure = chart["children"][0]
    assert figure["tag"] == "svg" and figure["alt"] == "A & B chart"
    assert figure["width"] == 504.0  # 2000 px, capped at the page's width
    assert _column_weights(table)[0] > _column_weights(table)[1]


def test_walker_page_compiles_and_names_only_its_own_text(monkeypatch):
    import base64

    svg = base64.b64encode(b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>')
    asked = []
    original = render_module._refuse_remote

    def recording(url):
        asked.append(url)
        return original(url)

    monkeypatch.setattr(render_module, "_refuse_remote", recording)
    pdf = html_to_pdf(PAGE.replace("{svg}", svg.decode()))
    assert asked == ["https://cdn.example.org/logo.png"]
    text = squash("".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages))
    for phrase in ("Two words", "loose text here", "Name", "Count", "<11", "Klinik"):
        assert squash(phrase) in text, phrase
    assert "color" not in text and "T&t" not in text  # neither the CSS nor the title


def test_typst_error_is_a_report_error(monkeypatch):
    from workbook.reports import typeset

    monkeypatch.setattr(typeset, "_stylesheet", lambda: b"#let x = (")
    with pytest.raises(ReportError, match="Typst PDF engine"):
        html_to_pdf(PAGE.replace("{svg}", ""))


def test_the_engine_is_part_of_a_batch_reports_inputs(example):
    from workbook.runs.batch import _describe_inputs, _inputs_key

    keys = {engine: _inputs_key(example.provenance, None, "October 2026", None, engine)
            for engine in ENGINES}
    assert keys["typst"] != keys["weasyprint"]
    assert _describe_inputs(example.provenance, None, "October 2026",
                            "weasyprint")["pdf_engine"].startswith("WeasyPrint ")


def test_a_suppressed_cell_has_one_class_attribute_naming_the_mark(printed):
    html, _ = printed["clinic", "typst"]
    cells = re.findall(r"<td\b[^>]*>&lt;\d+</td>", html)
    assert cells, "the example clinic report hides no figure"
    for cell in cells:
        assert cell.count("class=") == 1 and 'class="num suppressed"' in cell, cell


HOSTILE = ['#import "@preview/cetz:0.3.0": *', '$x^2$ and *not bold* _nor_ `code`',
           '#sys.inputs.report', '] ) } #{ panic("x") }', 'back\\slash "quoted" <label> @ref',
           '// not a comment', '= not a heading', '- not a list', 'C0001 & <11 · “≥” −0.2']


def test_text_that_looks_like_typst_is_printed_as_text_never_run():
    """Every word reaches Typst as a string in a JSON tree, never as markup or code: text
    an attacker or a typo could put in a clinic name, a code or a note prints as itself."""
    from html import escape

    cells = "".join(f"<tr><td>{escape(t)}</td></tr>" for t in HOSTILE)
    page = ('<!DOCTYPE html><html lang="en"><head><title>x</title>'
            '<meta name="workbook-pdf-engine" content="typst"></head><body>'
            f'<h1>{escape(HOSTILE[0])}</h1><p>{escape(" ".join(HOSTILE))}</p>'
            f'<table><thead><tr><th>Text</th></tr></thead><tbody>{cells}</tbody></table>'
            '</body></html>')
    pdf = html_to_pdf(page)
    text = squash("".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages))
    body, _ = body_text(page)
    assert text == body + "Page1of1"  # the footer's page number
