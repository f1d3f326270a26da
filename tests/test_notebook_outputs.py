"""What the report notebooks show, and where they write (issue 14).

A relative `out_dir` is taken from the working folder, or from the repository root when that is
the repository's notebooks/ folder (JupyterLab's kernel folder): so papermill from the root and
a kernel in notebooks/ write to the same <root>/reports. To keep the repository clean the
papermill runs use a relative out_dir that leads from the root into tmp_path: both runs must
land in that one folder. The executed notebook's result is the brief itself (the report's HTML
in a sandboxed iframe) with links to its files, with only that therapist's clients; nbconvert's
HTML of it shows the brief. One papermill run per notebook and working folder.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path
from urllib.parse import unquote

import nbformat
import pandas as pd
import papermill
import pytest

from workbook._meta import NOTEBOOKS, ROOT
from workbook.runs.places import (
    NOTEBOOK_DIR_ENV,
    is_notebook_folder,
    link_target,
    notebook_folder,
    resolve_out_dir,
)
from workbook.runs.shown import RunOutput, frame_report

EXAMPLE_DATA = ROOT / "data" / "examples" / "caseload.csv"
LATEST = "2026-10"
CLIENT_ID = re.compile(r"\bC\d{4}\b")
HREF = re.compile(r'<a href="([^"]+)"')
SRCDOC = re.compile(r'<iframe\b[^>]*\bsrcdoc="([^"]*)"')


# --- the rule, directly ------------------------------------------------------------------------

def test_relative_out_dir_from_the_notebooks_folder_is_taken_from_the_root():
    assert resolve_out_dir("reports", cwd=NOTEBOOKS) == ROOT / "reports"
    assert resolve_out_dir(None, cwd=NOTEBOOKS) == ROOT / "reports"
    assert resolve_out_dir("a/b", cwd=NOTEBOOKS / ".") == ROOT / "a" / "b"


def test_relative_out_dir_elsewhere_is_taken_from_the_working_folder(tmp_path, monkeypatch):
    assert resolve_out_dir("reports", cwd=ROOT) == ROOT / "reports"
    assert resolve_out_dir("reports", cwd=tmp_path) == tmp_path / "reports"
    (tmp_path / "notebooks").mkdir()  # a folder named notebooks/ that is not the repository's
    assert resolve_out_dir("out", cwd=tmp_path / "notebooks") == tmp_path / "notebooks" / "out"
    monkeypatch.chdir(tmp_path)
    assert resolve_out_dir("reports") == tmp_path / "reports"


def test_absolute_out_dir_is_kept_and_a_link_to_notebooks_counts(tmp_path):
    assert resolve_out_dir(str(tmp_path / "x"), cwd=NOTEBOOKS) == tmp_path / "x"
    link = tmp_path / "nb-link"
    link.symlink_to(NOTEBOOKS, target_is_directory=True)
    assert is_notebook_folder(link) and not is_notebook_folder(tmp_path)
    assert not is_notebook_folder(tmp_path / "missing")
    assert resolve_out_dir("reports", cwd=link) == ROOT / "reports"


def test_links_start_from_the_named_notebook_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(NOTEBOOK_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert notebook_folder() == tmp_path
    monkeypatch.setenv(NOTEBOOK_DIR_ENV, str(tmp_path / "records"))
    assert notebook_folder() == tmp_path / "records"
    assert link_target(tmp_path / "r" / "a b.pdf", tmp_path / "records") == "../r/a b.pdf"


# --- what is shown, directly -------------------------------------------------------------------

def test_the_report_is_framed_escaped_and_sandboxed(tmp_path):
    report = ('<!DOCTYPE html><html><head><style>h1 {color: red}</style></head><body>'
              '<h1>Brief &amp; "notes"</h1></iframe><script>alert(1)</script></body></html>')
    shown = RunOutput("Supervision brief: T01, October 2026", (tmp_path / "b" / "x é.pdf",),
                      html=report, base=tmp_path / "nb")
    out = shown._repr_html_()
    assert out.count("<iframe") == 1 and out.count("</iframe>") == 1
    assert "<script" not in out and "<style" not in out  # only inside the escaped srcdoc
    assert re.search(r'<iframe\b[^>]*\bsandbox=""', out)
    assert html.unescape(SRCDOC.search(out).group(1)) == report
    assert HREF.findall(out) == ["../b/x%20%C3%A9.pdf"]
    assert repr(shown).splitlines() == ["Supervision brief: T01, October 2026",
                                        f"  {tmp_path / 'b' / 'x é.pdf'}"]
    assert "srcdoc" in frame_report("<p>x</p>", "t")


def test_a_run_without_html_shows_its_summary_and_links(tmp_path):
    shown = RunOutput("Clinic monthly reports: 2026-10", (tmp_path / "clinic.pdf",),
                      summary="1 file(s) written\n<b>", base=tmp_path)
    out = shown._repr_html_()
    assert "<iframe" not in out and "&lt;b&gt;" in out
    assert HREF.findall(out) == ["clinic.pdf"]
    assert "1 file(s) written" in repr(shown)


def test_the_plain_text_of_a_large_batch_lists_a_dozen_files(tmp_path):
    files = tuple(tmp_path / f"therapist-T{i:03}.pdf" for i in range(100))
    shown = RunOutput("Clinic monthly reports: 2026-10", files, base=tmp_path)
    lines = repr(shown).splitlines()
    assert lines[1:13] == [f"  {path}" for path in files[:12]]
    assert lines[13:] == [f"  ... and 88 more in {tmp_path}"]
    assert len(HREF.findall(shown._repr_html_())) == 100


# --- the notebooks, executed -------------------------------------------------------------------

def execute(name: str, out: Path, cwd: Path, **parameters) -> nbformat.NotebookNode:
    papermill.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(out),
                               parameters=parameters, kernel_name="python3", cwd=str(cwd),
                               progress_bar=False, log_output=False)
    return nbformat.read(out, as_version=4)


def result_of(nb: nbformat.NotebookNode) -> dict:
    """The last cell's execute_result data; the notebook printed nothing (a progress bar on
    stderr is allowed)."""
    cell = nb.cells[-1]
    assert not [o for o in cell.outputs if o.get("name") == "stdout"], cell.outputs
    results = [o for o in cell.outputs if o.output_type == "execute_result"]
    assert len(results) == 1, cell.outputs
    return results[0].data


@pytest.fixture(scope="module")
def briefs(tmp_path_factory):
    """supervision_brief run twice with the same relative out_dir: from the repository root (T02)
    and with the kernel in notebooks/ (T03), as JupyterLab runs it."""
    tmp = tmp_path_factory.mktemp("briefs")
    reports = tmp / "reports"
    out_dir = os.path.relpath(reports, ROOT)
    assert not Path(out_dir).is_absolute()
    from_root = execute("supervision_brief", tmp / "root.ipynb", ROOT, out_dir=out_dir,
                        therapist_id="T02", formats="html")
    in_notebooks = execute("supervision_brief", tmp / "nb.ipynb", NOTEBOOKS, out_dir=out_dir,
                           therapist_id="T03", formats="html,pdf")
    return reports, from_root, in_notebooks


@pytest.mark.slow
def test_both_working_folders_write_to_the_same_reports_folder(briefs):
    reports, _, _ = briefs
    assert sorted(p.name for p in reports.iterdir()) == [LATEST]
    assert sorted(p.name for p in (reports / LATEST).iterdir()) == [
        "supervision-T02.html", "supervision-T03.html", "supervision-T03.pdf"]
    assert not (NOTEBOOKS / "reports").exists()


@pytest.mark.slow
def test_the_brief_is_shown_with_only_that_therapists_clients(briefs):
    reports, _, nb = briefs
    data = result_of(nb)
    assert data["text/plain"].startswith("Supervision brief: T03, October 2026")
    shown = data["text/html"]
    brief = html.unescape(SRCDOC.search(shown).group(1))
    written = (reports / LATEST / "supervision-T03.html").read_text(encoding="utf-8")
    assert brief == written  # the report's own HTML
    assert "<h1>Supervision brief: supervisee T03</h1>" in brief
    ratings = pd.read_csv(EXAMPLE_DATA, dtype=str)
    own = set(ratings.loc[ratings.therapist_id == "T03", "client_id"])
    others = set(ratings.client_id) - own
    seen = set(CLIENT_ID.findall(html.unescape(shown)))
    assert seen and seen <= own
    assert not seen & others


@pytest.mark.slow
def test_the_links_open_the_written_files_from_the_notebooks_folder(briefs):
    reports, from_root, in_notebooks = briefs
    for nb, base, names in ((in_notebooks, NOTEBOOKS, ["supervision-T03.html",
                                                        "supervision-T03.pdf"]),
                            (from_root, ROOT, ["supervision-T02.html"])):
        hrefs = HREF.findall(result_of(nb)["text/html"])
        assert [(base / unquote(h)).resolve() for h in hrefs] == [
            (reports / LATEST / n).resolve() for n in names]


@pytest.mark.slow
def test_nbconvert_html_shows_the_brief(briefs):
    from nbconvert import HTMLExporter

    _, _, nb = briefs
    body, _ = HTMLExporter().from_notebook_node(nb)
    frames = SRCDOC.findall(body)
    assert len(frames) == 1
    assert "<h1>Supervision brief: supervisee T03</h1>" in html.unescape(frames[0])
    assert "supervision-T03.pdf</a>" in body
    assert "wrote " not in body and "top_reason" not in body


@pytest.mark.slow
def test_the_clinic_notebook_shows_its_summary_and_links(tmp_path):
    out_dir = os.path.relpath(tmp_path / "reports", ROOT)
    nb = execute("clinic_monthly", tmp_path / "clinic.ipynb", NOTEBOOKS, out_dir=out_dir,
                 therapists="T02", jobs=1, formats="html")
    folder = tmp_path / "reports" / LATEST
    data = result_of(nb)
    assert "2 file(s) written, 0 report(s) already up to date" in data["text/plain"]
    shown = data["text/html"]
    assert "2 file(s) written" in shown and "<iframe" not in shown
    hrefs = HREF.findall(shown)
    assert [(NOTEBOOKS / unquote(h)).resolve() for h in hrefs] == [
        (folder / n).resolve() for n in ("clinic.html", "therapist-T02.html", "manifest.json")]
    assert not CLIENT_ID.search(shown)
    assert not (NOTEBOOKS / "reports").exists()
