"""Render reports: Jinja2 HTML (autoescaped, self-contained) and PDF from that same HTML.

Rendering never touches the network: charts arrive as inline SVG, the CSS is inlined, and the
PDF writer's URL fetcher refuses everything but inline `data:` URLs.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2
import pandas as pd

from workbook import __version__
from workbook.analysis import Analysis
from workbook.errors import ReportError

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
KINDS = ("therapist", "supervision", "clinic")
TITLES = {
    "therapist": "Caseload report",
    "supervision": "Supervision brief",
    "clinic": "Clinic monthly report",
}
# Fixed document dates: the same input gives byte-identical PDFs.
PDF_DATE = "2000-01-01T00:00:00Z"


@dataclass(frozen=True)
class Provenance:
    """What a report was made from, stated in every report."""

    data_name: str
    data_sha256: str
    config_name: str
    version: str = __version__


def describe_source(data_path: str | Path, config_path: str | Path | None) -> Provenance:
    """Provenance for a data file and an optional config file."""
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


@lru_cache(maxsize=4)
def _environment(template_dir: str | None) -> jinja2.Environment:
    folders = [template_dir] if template_dir else []
    folders.append(str(TEMPLATES))
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_html(kind: str, context: dict, *, provenance: Provenance,
                template_dir: str | Path | None = None) -> str:
    """Render one report kind to a self-contained HTML string."""
    if kind not in KINDS:
        raise ValueError(f"unknown report kind {kind!r}; expected one of {', '.join(KINDS)}")
    env = _environment(str(template_dir) if template_dir else None)
    css = env.loader.get_source(env, "print.css")[0]
    values = {
        "report_title": TITLES[kind],
        "css": css,
        "data_name": provenance.data_name,
        "data_sha256": provenance.data_sha256,
        "config_name": provenance.config_name,
        "version": provenance.version,
        **context,
    }
    try:
        return env.get_template(f"{kind}.html").render(**values)
    except jinja2.TemplateError as exc:
        raise ReportError(f"template {kind}.html: {exc}") from exc


def _refuse_remote(url: str, timeout: int = 10, ssl_context: object = None) -> dict:
    """WeasyPrint URL fetcher: only inline data: URLs; nothing from disk or the network."""
    if url.startswith("data:"):
        from weasyprint import urls

        if hasattr(urls, "URLFetcher"):  # WeasyPrint >= 68 deprecates default_url_fetcher
            return urls.URLFetcher(timeout=timeout, allowed_protocols=("data",)).fetch(url)
        return urls.default_url_fetcher(url, timeout=timeout, ssl_context=ssl_context)
    raise ValueError(f"refused to fetch {url!r}: reports are self-contained")


def html_to_pdf(html: str) -> bytes:
    """Lay out the HTML and return PDF bytes with fixed metadata dates."""
    from weasyprint import HTML

    html = html.replace(
        "<head>",
        f'<head>\n<meta name="dcterms.created" content="{PDF_DATE}">'
        f'\n<meta name="dcterms.modified" content="{PDF_DATE}">', 1)
    document = HTML(string=html, url_fetcher=_refuse_remote, base_url=None)
    return document.write_pdf(uncompressed_pdf=False)


def write_atomic(path: str | Path, data: bytes | str) -> Path:
    """Write to a temp file in the same folder, then rename: never a half-written file."""
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def render_report(kind: str, analysis: Analysis, *, provenance: Provenance,
                  therapist_id: str | None = None, ratings: pd.DataFrame | None = None) -> str:
    """Render one report from a (clinic-wide or cut) analysis to HTML.

    therapist and supervision reports need `therapist_id` and show only that therapist's
    clients; the clinic report needs the whole clinic's `ratings` for its monthly trend.
    """
    from workbook.context import clinic_context, supervision_context, therapist_context

    if kind == "clinic":
        context = clinic_context(analysis, analysis.ratings if ratings is None else ratings)
    elif therapist_id is None:
        raise ValueError(f"a {kind} report needs a therapist_id")
    else:
        cut = analysis.select(therapist_id=therapist_id)
        build = therapist_context if kind == "therapist" else supervision_context
        context = build(cut, therapist_id)
    return render_html(kind, context, provenance=provenance,
                       template_dir=analysis.config.template_dir)


def write_report(html: str, stem: str | Path, formats: tuple[str, ...] = ("pdf",)) -> list[Path]:
    """Write the HTML and/or the PDF made from it, atomically; return the paths written."""
    stem = Path(stem)
    written = []
    for fmt in formats:
        if fmt not in ("html", "pdf"):
            raise ValueError(f"unknown format {fmt!r}; expected html or pdf")
        data = html if fmt == "html" else html_to_pdf(html)
        written.append(write_atomic(stem.with_name(f"{stem.name}.{fmt}"), data))
    return written
