"""Shared fixtures: the example clinic analysed once per session, and rendered reports.

Rendering a report to PDF takes seconds, so `example_report` renders each (kind, therapist) of
the example clinic at most once per session and hands back a `Rendered`: the HTML, the PDF bytes,
the PDF's extracted text and its parsed HTML tables. `render` does the same for any analysis
(tests that build their own clinic cache its results in module-scoped fixtures).
"""

from __future__ import annotations

import io
import re
import time
from dataclasses import dataclass
from functools import cached_property
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pypdf
import pytest

from workbook.analysis.periods import parse_month
from workbook.analysis.pipeline import Analysis, analyse
from workbook.data.config import load_config
from workbook.data.example_data import generate_clinic, write_clinic
from workbook.data.ingest import load_ratings
from workbook.reports.render import Provenance, describe_source, html_to_pdf, render_report

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "data" / "examples"
MONTH = "2026-10"


def squash(text: str) -> str:
    """Text without any whitespace: PDF extraction breaks lines (and sometimes words) where
    the layout does, so phrases are compared with all whitespace removed."""
    return re.sub(r"\s+", "", text)


class _Tables(HTMLParser):
    """Every <table> of an HTML page as (header cells, body rows of cells), text unescaped.
    Inline SVG is skipped whole."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[tuple[list[str], list[list[str]]]] = []
        self._svg = 0
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_head = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "svg" or self._svg:
            self._svg += tag == "svg"
            return
        if tag == "table":
            self.tables.append(([], []))
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if self._svg:
            self._svg -= tag == "svg"
            return
        if tag == "thead":
            self._in_head = False
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self.tables:
            head, rows = self.tables[-1]
            if self._in_head:
                head.extend(self._row)
            else:
                rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if not self._svg and self._cell is not None:
            self._cell.append(data)


def parse_tables(html: str) -> list[tuple[list[str], list[list[str]]]]:
    parser = _Tables()
    parser.feed(html)
    parser.close()
    return parser.tables


@dataclass
class Rendered:
    """One rendered report: its HTML, its PDF (made on first use) and what can be read back
    from them."""

    kind: str
    html: str
    html_seconds: float
    pdf_seconds: float | None = None

    @cached_property
    def pdf(self) -> bytes:
        start = time.perf_counter()
        pdf = html_to_pdf(self.html)
        self.pdf_seconds = time.perf_counter() - start
        return pdf

    @cached_property
    def reader(self) -> pypdf.PdfReader:
        return pypdf.PdfReader(io.BytesIO(self.pdf))

    @cached_property
    def page_texts(self) -> list[str]:
        return [page.extract_text() for page in self.reader.pages]

    @property
    def text(self) -> str:
        return "\n".join(self.page_texts)

    @cached_property
    def squashed(self) -> str:
        return squash(self.text)

    def pdf_has(self, phrase: str) -> bool:
        """The phrase is in the PDF text, whitespace ignored."""
        return squash(phrase) in self.squashed

    def pdf_between(self, start: str, end: str) -> str:
        """The (squashed) PDF text from the first `start` to the next `end` after it."""
        begin = self.squashed.index(squash(start))
        stop = self.squashed.index(squash(end), begin)
        return self.squashed[begin:stop]

    @cached_property
    def tables(self) -> list[tuple[list[str], list[list[str]]]]:
        return parse_tables(self.html)

    def table(self, first_header: str) -> list[dict[str, str]]:
        """Rows (as dicts) of the first table whose first header cell is `first_header`."""
        for head, rows in self.tables:
            if head and head[0] == first_header:
                return [dict(zip(head, row, strict=True)) for row in rows]
        raise AssertionError(f"no table headed {first_header!r} in the {self.kind} report")


def _render(kind: str, analysis: Analysis, provenance: Provenance,
            therapist_id: str | None = None, ratings=None) -> Rendered:
    start = time.perf_counter()
    html = render_report(kind, analysis, provenance=provenance, therapist_id=therapist_id,
                         ratings=ratings)
    return Rendered(kind, html, time.perf_counter() - start)


@pytest.fixture(scope="session")
def render():
    """render(kind, analysis, provenance, therapist_id=None, ratings=None) -> Rendered."""
    return _render


@pytest.fixture(scope="session")
def example(tmp_path_factory):
    """The example clinic (data/examples) loaded and analysed for October 2026, once."""
    data_path = EXAMPLES / "caseload.csv"
    config_path = EXAMPLES / "workbook.yml"
    if not data_path.is_file():  # not committed yet: generate the same file
        data_path = write_clinic(generate_clinic(),
                                 tmp_path_factory.mktemp("example") / "caseload.csv")
    config = load_config(config_path)
    ratings = load_ratings(data_path, config)
    period = parse_month(MONTH)
    return SimpleNamespace(
        data_path=data_path, config_path=config_path, config=config, ratings=ratings,
        period=period, analysis=analyse(ratings, config, period),
        provenance=describe_source(data_path, config_path),
    )


@pytest.fixture(scope="session")
def example_report(example):
    """example_report(kind, therapist_id=None) -> Rendered, each rendered once a session."""
    cache: dict[tuple[str, str | None], Rendered] = {}

    def get(kind: str, therapist_id: str | None = None) -> Rendered:
        key = (kind, therapist_id)
        if key not in cache:
            cache[key] = _render(kind, example.analysis, example.provenance,
                                 therapist_id=therapist_id, ratings=example.ratings)
        return cache[key]

    return get
