"""What a notebook shows of a run: a heading, the report itself inline, the files it wrote.

A job returns a `RunOutput` as its notebook's last expression. Jupyter shows `_repr_html_`: the
report's own HTML (self-contained: inline SVG, no script, no remote URL) inside an iframe with
`srcdoc` and an empty `sandbox` (no script, no form, no same-origin access), so the report's
styles cannot reach the notebook's and the notebook's cannot reach the report's; then links to
the files it wrote (or found up to date), relative to the notebook's folder so JupyterLab opens
them. papermill's logs and any plain-text front end get `__repr__`: the heading, the summary and
the files' paths.
"""

from __future__ import annotations

import html as _html
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from workbook.runs.places import link_target, notebook_folder

LISTED = 12  # paths in the plain text; a clinic's batch may write hundreds (all are linked)
FRAME_HEIGHT = "80vh"  # the brief is one to two pages: most of a screen, then it scrolls


@dataclass(frozen=True)
class RunOutput:
    """A run as its notebook shows it: `title`, optional `summary` lines, the report's `html`
    (None: nothing inline) and its `files`, linked from the notebook folder `base`."""

    title: str
    files: tuple[Path, ...] = ()
    html: str | None = None
    summary: str = ""
    base: Path = field(default_factory=notebook_folder)

    def __repr__(self) -> str:
        lines = [self.title, *filter(None, self.summary.splitlines())]
        lines += [f"  {path}" for path in self.files[:LISTED]]
        if len(self.files) > LISTED:
            lines.append(f"  ... and {len(self.files) - LISTED} more in "
                         f"{Path(self.files[LISTED]).parent}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        parts = [f'<div class="workbook-run"><p><strong>{_html.escape(self.title)}</strong></p>']
        if self.summary:
            parts.append(f"<pre>{_html.escape(self.summary)}</pre>")
        if self.html is not None:
            parts.append(frame_report(self.html, self.title))
        parts.append(link_files(self.files, self.base))
        return "\n".join(parts) + "</div>"


def frame_report(report_html: str, title: str) -> str:
    """The report's HTML in a sandboxed iframe (its document in `srcdoc`, escaped)."""
    return (f'<iframe class="workbook-report" title="{_html.escape(title)}" sandbox="" '
            f'referrerpolicy="no-referrer" '
            f'style="width:100%;height:{FRAME_HEIGHT};border:1px solid #ccc;resize:vertical" '
            f'srcdoc="{_html.escape(report_html, quote=True)}"></iframe>')


def link_files(files: Iterable[Path], base: Path) -> str:
    """A list of links to `files`, each relative to the notebook folder `base`."""
    items = [f'<li><a href="{_html.escape(quote(link_target(path, base), safe="/"))}" '
             f'target="_blank">{_html.escape(Path(path).name)}</a></li>' for path in files]
    if not items:
        return "<p>No file.</p>"
    return "<p>Files:</p>\n<ul>\n" + "\n".join(items) + "\n</ul>"
