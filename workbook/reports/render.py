"""Render reports: Jinja2 HTML (autoescaped, self-contained) and PDF from that same HTML.

Two PDF engines read that HTML: Typst (default; `typeset.py` walks the HTML into a tree that
`templates/print.typ` lays out) and WeasyPrint (which lays out the HTML with `print.css`). The
HTML names its engine and PDF variant in its head, so the HTML decides the PDF; a page that
names no engine (the session card, an older branded base.html) is printed by WeasyPrint.

Templates, the project's and a clinic's own (`template_dir`), run in Jinja2's immutable
sandbox: they may format and lay out what they are given, never reach Python objects, files
outside their folders, or change the values they are given. Rendering never touches the
network: charts arrive as inline SVG, the CSS is inlined, and the PDF writer's URL fetcher
refuses everything but inline `data:` URLs. Files are written atomically; a full disk is a
DiskFullError that leaves nothing half-written behind.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import jinja2
import jinja2.sandbox
import pandas as pd

from workbook._meta import TEMPLATES, __version__
from workbook.analysis.pipeline import Analysis
from workbook.data.errors import ReportError
from workbook.data.files import output_error, write_atomic  # noqa: F401  (re-exported)
from workbook.data.sources.database import digest_rows
from workbook.data.sources.urls import is_database_url, parse_location

KINDS = ("therapist", "supervision", "clinic")
TITLES = {
    "therapist": "Caseload report",
    "supervision": "Supervision brief",
    "clinic": "Clinic monthly report",
}
# Fixed document dates: the same input gives byte-identical PDFs. FIXED_EPOCH is the same
# instant in seconds since 1970; it stamps the fonts the PDF embeds (see _deterministic_pdf).
PDF_DATE = "2000-01-01T00:00:00Z"
FIXED_EPOCH = 946_684_800
# The packages whose versions decide a report's bytes; every report and manifest names them.
RENDERING_STACK = ("workbook", "pandas", "altair", "vl-convert-python", "typst", "weasyprint",
                   "fonttools", "pydyf")
PDF_ENGINES = ("typst", "weasyprint")
DEFAULT_PDF_ENGINE = "typst"
# `pdf_variant` in the config -> WeasyPrint options. PDF/A is archival; every variant is tagged
# (structure tree, headings, tables, charts as figures with alt text). WeasyPrint declares one
# standard per file: PDF/A-3b (default) or PDF/A-2b, or PDF/UA-1 instead of PDF/A.
PDF_VARIANTS: dict[str, dict[str, object]] = {
    "pdf/a-3b": {"pdf_variant": "pdf/a-3b", "pdf_tags": True},
    "pdf/a-2b": {"pdf_variant": "pdf/a-2b", "pdf_tags": True},
    "pdf/ua-1": {"pdf_variant": "pdf/ua-1", "pdf_tags": True},
    "none": {"pdf_tags": True},
}
DEFAULT_PDF_VARIANT = "pdf/a-3b"
PDF_LABELS = {"pdf/a-3b": "PDF/A-3b, tagged", "pdf/a-2b": "PDF/A-2b, tagged",
              "pdf/ua-1": "PDF/UA-1 (tagged)", "none": "tagged PDF"}


def rendering_stack() -> tuple[tuple[str, str], ...]:
    """(package, version) for each package of RENDERING_STACK installed here."""
    found = []
    for name in RENDERING_STACK:
        try:
            found.append((name, __version__ if name == "workbook" else version(name)))
        except PackageNotFoundError:
            found.append((name, "not installed"))
    return tuple(found)


@dataclass(frozen=True)
class Provenance:
    """What a report was made from, stated in every report."""

    data_name: str
    data_sha256: str
    config_name: str
    version: str = __version__
    stack: tuple[tuple[str, str], ...] = field(default_factory=rendering_stack)


def describe_source(data_path: str | Path, config_path: str | Path | None,
                    ratings: pd.DataFrame | None = None) -> Provenance:
    """Provenance for a data file (or a database URL, whose loaded `ratings` are digested:
    the rows, not the URL, are what the report was made from) and an optional config file."""
    if is_database_url(data_path):
        if ratings is None:
            raise ValueError("describe_source: a database source needs its loaded ratings")
        return Provenance(data_name=parse_location(str(data_path)).label,
                          data_sha256=digest_rows(ratings),
                          config_name=Path(config_path).name if config_path else
                          "built-in defaults")
    data_path = Path(data_path)
    return Provenance(
        data_name=data_path.name,
        data_sha256=sha256_file(data_path),
        config_name=Path(config_path).name if config_path else "built-in defaults",
    )


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _FolderLoader(jinja2.FileSystemLoader):
    """Templates from the folders only: a link in a folder pointing elsewhere is not followed
    (FileSystemLoader already refuses '..' in names)."""

    def get_source(self, environment: jinja2.Environment, template: str):
        source, filename, uptodate = super().get_source(environment, template)
        real = Path(filename).resolve()
        if not any(real.is_relative_to(Path(folder).resolve()) for folder in self.searchpath):
            raise jinja2.TemplateNotFound(f"{template} (a link out of the template folders)")
        return source, filename, uptodate


@lru_cache(maxsize=4)
def _environment(template_dir: str | None) -> jinja2.Environment:
    folders = [template_dir] if template_dir else []
    if template_dir and not Path(template_dir).is_dir():
        raise ReportError(f"template_dir {template_dir}: no such folder")
    folders.append(str(TEMPLATES))
    return jinja2.sandbox.ImmutableSandboxedEnvironment(
        loader=_FolderLoader(folders),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def describe_engine(engine: str) -> str:
    """The PDF engine as a report's About names it: 'Typst 0.15.1 (typst 0.15.2)'."""
    if engine == "typst":
        from workbook.reports.typeset import engine_label

        return engine_label()
    return f"WeasyPrint {version('weasyprint')}"


def render_html(kind: str, context: dict, *, provenance: Provenance,
                template_dir: str | Path | None = None,
                pdf_variant: str = DEFAULT_PDF_VARIANT,
                pdf_engine: str = DEFAULT_PDF_ENGINE) -> str:
    """Render one report kind to a self-contained HTML string. The HTML names the PDF
    variant and engine it is to be printed with (`html_to_pdf` reads them), so the HTML
    decides the PDF."""
    if kind not in KINDS:
        raise ValueError(f"unknown report kind {kind!r}; expected one of {', '.join(KINDS)}")
    env = _environment(str(template_dir) if template_dir else None)
    try:
        css = env.loader.get_source(env, "print.css")[0]
    except jinja2.TemplateError as exc:
        raise ReportError(describe_template_error(exc, "print.css", env)) from None
    values = {
        "report_title": TITLES[kind],
        "css": css,
        "data_name": provenance.data_name,
        "data_sha256": provenance.data_sha256,
        "config_name": provenance.config_name,
        "version": provenance.version,
        "stack": provenance.stack,
        "pdf_variant": pdf_variant,
        "pdf_engine": pdf_engine,
        "pdf_label": f"{PDF_LABELS.get(pdf_variant, pdf_variant)}, made by "
                     f"{describe_engine(pdf_engine)}",
        **context,
    }
    try:
        return env.get_template(f"{kind}.html").render(**values)
    except jinja2.TemplateError as exc:
        raise ReportError(describe_template_error(exc, f"{kind}.html", env)) from None


def describe_template_error(exc: jinja2.TemplateError, name: str,
                            env: jinja2.Environment) -> str:
    """What went wrong in which template, at which line, in plain words."""
    where = _template_place(exc) or name
    folders = ", ".join(str(f) for f in getattr(env.loader, "searchpath", []))
    if isinstance(exc, jinja2.TemplateNotFound):
        return (f"template {where}: includes or extends {exc.name!r}, which is in none of the "
                f"template folders ({folders})")
    if isinstance(exc, jinja2.exceptions.SecurityError):
        return (f"template {where}: refused: templates may format and lay out what they are "
                f"given, not reach into Python objects ({exc})")
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"template {where}: syntax error: {exc.message}"
    return f"template {where}: {exc}"


def _template_place(exc: jinja2.TemplateError) -> str | None:
    """'therapist.html line 3' for the innermost template frame of the error, if any."""
    if isinstance(exc, jinja2.TemplateSyntaxError) and exc.lineno:
        return f"{Path(exc.filename or exc.name or '?').name} line {exc.lineno}"
    place, tb = None, exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith((".html", ".css", ".txt", ".j2")):
            place = f"{Path(filename).name} line {tb.tb_lineno}"
        tb = tb.tb_next
    return place


def _refuse_remote(url: str) -> object:
    """The PDF's fetching rule: only inline data: URLs; nothing from disk or the network.
    Returns WeasyPrint's response for a data: URL; raises ValueError for anything else."""
    if url.startswith("data:"):
        from weasyprint import urls

        return urls.URLFetcher(allowed_protocols=("data",)).fetch(url)
    raise ValueError(f"refused to fetch {url!r}: reports are self-contained")


def _data_only_fetcher() -> object:
    """A WeasyPrint URL fetcher that asks `_refuse_remote` for every URL. (WeasyPrint 70 wants
    a URLFetcher object; a refused URL becomes a warning and the resource is left out.)"""
    from weasyprint import urls

    class DataOnly(urls.URLFetcher):
        def fetch(self, url: str, headers: dict | None = None) -> object:
            return _refuse_remote(url)

    return DataOnly(allowed_protocols=("data",))


def html_to_pdf(html: str) -> bytes:
    """Lay out the HTML and return PDF bytes: fixed dates, fonts stamped with a fixed time,
    the variant and engine the HTML names (see pdf_variant_of, pdf_engine_of), charts tagged
    as figures with alt text.

    The same HTML and the same rendering stack give the same bytes, whatever the clock, the time
    zone, the working folder or the environment (SOURCE_DATE_EPOCH is neither needed nor read).
    """
    if pdf_engine_of(html) == "typst":
        from workbook.reports.typeset import typeset_pdf

        return typeset_pdf(html, pdf_variant_of(html), _refuse_remote)
    return _weasyprint_pdf(html)


def _weasyprint_pdf(html: str) -> bytes:
    """html_to_pdf with WeasyPrint, which reads the page's own CSS."""
    from weasyprint import HTML

    options = PDF_VARIANTS[pdf_variant_of(html)]
    html = html.replace(
        "<head>",
        f'<head>\n<meta name="dcterms.created" content="{PDF_DATE}">'
        f'\n<meta name="dcterms.modified" content="{PDF_DATE}">', 1)
    document = HTML(string=charts_as_figures(html), url_fetcher=_data_only_fetcher(),
                    base_url=None)
    with _deterministic_pdf():
        return document.write_pdf(uncompressed_pdf=False, **options)


_VARIANT_META = re.compile(r'<meta name="workbook-pdf-variant" content="([^"]*)">')


def pdf_variant_of(html: str) -> str:
    """The PDF variant a report's HTML names in its head (DEFAULT_PDF_VARIANT if none)."""
    match = _VARIANT_META.search(html)
    variant = match.group(1) if match else DEFAULT_PDF_VARIANT
    if variant not in PDF_VARIANTS:
        raise ReportError(f"pdf_variant {variant!r}: expected one of {', '.join(PDF_VARIANTS)}")
    return variant


_ENGINE_META = re.compile(r'<meta name="workbook-pdf-engine" content="([^"]*)">')


def pdf_engine_of(html: str) -> str:
    """The PDF engine a report's HTML names in its head ('weasyprint' if none)."""
    match = _ENGINE_META.search(html)
    engine = match.group(1) if match else "weasyprint"
    if engine not in PDF_ENGINES:
        raise ReportError(f"pdf_engine {engine!r}: expected one of {', '.join(PDF_ENGINES)}")
    return engine


_CHART_SVG = re.compile(r'<svg\b[^>]*?\baria-label="([^"]*)"[^>]*>.*?</svg>', re.S)


def charts_as_figures(html: str) -> str:
    """Each labelled inline chart SVG as an <img> of that same SVG with the label as its alt
    text, so the PDF's structure tree holds a Figure with Alt for screen readers (WeasyPrint
    tags <img>, not inline <svg>). The HTML file keeps the inline SVG; both draw the same."""
    def figure(match: re.Match) -> str:
        svg = match.group(0)
        size = re.match(r'<svg\b[^>]*?\bwidth="([\d.]+)"[^>]*?\bheight="([\d.]+)"', svg)
        dims = f' width="{size.group(1)}" height="{size.group(2)}"' if size else ""
        data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
        return f'<img class="chart-figure" alt="{match.group(1)}"{dims} ' \
               f'src="data:image/svg+xml;base64,{data}">'

    return _CHART_SVG.sub(figure, html)


_RENDERING = threading.Lock()


@contextmanager
def _deterministic_pdf():
    """For the duration of one PDF render (under a lock), let fontTools stamp the font subsets
    it writes (`head.modified`, and so the font's checksum) with FIXED_EPOCH instead of the
    current second. WeasyPrint subsets with fontTools when HarfBuzz's subsetter
    (libharfbuzz-subset) is missing. fontTools would read SOURCE_DATE_EPOCH for this, but the
    package does not change the environment of the user's process: the clock the `head` table
    reads is swapped for this render only and put back, so a user's own font work is untouched.
    """
    from fontTools.misc import timeTools
    from fontTools.ttLib.tables import _h_e_a_d

    fixed = FIXED_EPOCH - timeTools.epoch_diff
    with _RENDERING:
        saved = _h_e_a_d.timestampNow
        _h_e_a_d.timestampNow = lambda: fixed
        try:
            yield
        finally:
            _h_e_a_d.timestampNow = saved


def render_report(kind: str, analysis: Analysis, *, provenance: Provenance,
                  therapist_id: str | None = None, ratings: pd.DataFrame | None = None) -> str:
    """Render one report from a (clinic-wide or cut) analysis to HTML.

    therapist and supervision reports need `therapist_id` and show only that therapist's
    clients; the clinic report needs the whole clinic's `ratings` for its monthly trend.
    """
    from workbook.reports.context import clinic_context, supervision_context, therapist_context

    if kind == "clinic":
        context = clinic_context(analysis, analysis.ratings if ratings is None else ratings)
    elif therapist_id is None:
        raise ValueError(f"a {kind} report needs a therapist_id")
    else:
        cut = analysis.select(therapist_id=therapist_id)
        build = therapist_context if kind == "therapist" else supervision_context
        context = build(cut, therapist_id)
    return render_html(kind, context, provenance=provenance,
                       template_dir=analysis.config.template_dir,
                       pdf_variant=analysis.config.pdf_variant,
                       pdf_engine=analysis.config.pdf_engine)


def report_bytes(html: str, formats: tuple[str, ...] = ("pdf",)) -> list[tuple[str, bytes]]:
    """(format, file bytes) for each format asked for: the HTML itself, or the PDF made from it."""
    made = []
    for fmt in formats:
        if fmt not in ("html", "pdf"):
            raise ValueError(f"unknown format {fmt!r}; expected html or pdf")
        made.append((fmt, html.encode("utf-8") if fmt == "html" else html_to_pdf(html)))
    return made


def write_report(html: str, stem: str | Path, formats: tuple[str, ...] = ("pdf",)) -> list[Path]:
    """Write the HTML and/or the PDF made from it, atomically; return the paths written."""
    stem = Path(stem)
    return [write_atomic(stem.with_name(f"{stem.name}.{fmt}"), data)
            for fmt, data in report_bytes(html, formats)]
