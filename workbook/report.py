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

from workbook import __version__
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
        from weasyprint.urls import default_url_fetcher

        return default_url_fetcher(url, timeout=timeout, ssl_context=ssl_context)
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
