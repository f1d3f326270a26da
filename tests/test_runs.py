"""The parameterised notebooks run through papermill, as a user would run them.

Each test starts a real `python3` kernel (the kernelspec installed into the virtualenv), so they
take seconds each: the parameter checks themselves are tested in plain pytest in
test_parameters.py; here we check that the notebooks run with their defaults, with overridden
parameters, refuse bad ones with a clear error, and that the package's own runner talks to the
kernel over IPC.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import papermill
import pypdf
import pytest
from papermill.exceptions import PapermillExecutionError

from workbook.data.errors import ParameterError
from workbook.runs import execute
from workbook.runs.execute import IPCKernelManager, run_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
EXAMPLE_DATA = ROOT / "data" / "examples" / "caseload.csv"
LATEST = "2026-10"  # the latest complete month of the example clinic
THERAPISTS = [f"T0{i}" for i in range(1, 9)]

pytestmark = pytest.mark.slow


def execute_nb(name: str, out: Path, cwd: Path, **parameters) -> nbformat.NotebookNode:
    """papermill's Python API, as `papermill notebooks/NAME.ipynb OUT -p ...` runs it."""
    papermill.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(out),
                               parameters=parameters, kernel_name="python3", cwd=str(cwd),
                               progress_bar=False, log_output=False)
    return nbformat.read(out, as_version=4)


def pdf_text(path: Path) -> str:
    """The first page's text of a PDF that opens."""
    reader = pypdf.PdfReader(path, strict=True)
    assert len(reader.pages) >= 1
    return reader.pages[0].extract_text()


def result_text(nb: nbformat.NotebookNode) -> str:
    """The plain text of the notebook's results (what a job returned, as papermill logs it)."""
    return "".join(o.data["text/plain"] for cell in nb.cells if cell.cell_type == "code"
                   for o in cell.get("outputs", []) if o.output_type == "execute_result")


def stdout_of(nb: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                   for o in cell.get("outputs", []) if o.get("name") == "stdout")


def test_supervision_brief_runs_with_its_defaults(tmp_path):
    nb = execute_nb("supervision_brief", tmp_path / "out.ipynb", cwd=tmp_path)
    folder = tmp_path / "reports" / LATEST  # out_dir "reports", relative to the kernel's cwd
    assert sorted(p.name for p in folder.iterdir()) == ["supervision-T01.html",
                                                        "supervision-T01.pdf"]
    assert "Supervision brief" in pdf_text(folder / "supervision-T01.pdf")
    assert stdout_of(nb) == ""  # no "wrote ..." lines
    # the notebook's last expression is the brief, shown inline, with its files
    results = [o for o in nb.cells[-1].outputs if o.output_type == "execute_result"]
    assert results and "<iframe" in results[0].data["text/html"]
    assert result_text(nb).splitlines() == ["Supervision brief: T01, October 2026",
                                            f"  {folder / 'supervision-T01.pdf'}",
                                            f"  {folder / 'supervision-T01.html'}"]


def test_supervision_brief_runs_with_overridden_parameters(tmp_path):
    out_dir = tmp_path / "out dir é" / "ü"
    nb = execute_nb("supervision_brief", tmp_path / "run é.ipynb", cwd=tmp_path,
                    data=str(EXAMPLE_DATA), therapist_id="T03", month="2026-09",
                    formats="html", out_dir=str(out_dir))
    files = sorted(p.name for p in (out_dir / "2026-09").iterdir())
    assert files == ["supervision-T03.html"]
    html = (out_dir / "2026-09" / "supervision-T03.html").read_text(encoding="utf-8")
    assert "September 2026" in html and "T03" in html
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and 'therapist_id = "T03"' in injected[0].source
    assert not (tmp_path / "reports").exists()


def test_clinic_monthly_runs_with_its_defaults(tmp_path):
    """The whole example month in one kernel: the clinic report and every therapist's."""
    nb = execute_nb("clinic_monthly", tmp_path / "out.ipynb", cwd=tmp_path)
    folder = tmp_path / "reports" / LATEST
    pdfs = sorted(p.name for p in folder.glob("*.pdf"))
    assert pdfs == ["clinic.pdf"] + [f"therapist-{t}.pdf" for t in THERAPISTS]
    for name in pdfs:
        assert pdf_text(folder / name).strip()
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert sorted(manifest["files"]) == pdfs and manifest["failures"] == {}
    assert "9 file(s) written, 0 report(s) already up to date" in result_text(nb)


def test_clinic_monthly_runs_with_overridden_parameters(tmp_path):
    out_dir = tmp_path / "out dir é" / "ü"
    nb = execute_nb("clinic_monthly", tmp_path / "out.ipynb", cwd=tmp_path,
                    data=str(EXAMPLE_DATA), month="2026-09", therapists="T02,T04",
                    clinic=False, jobs=1, formats="pdf,html", out_dir=str(out_dir))
    folder = out_dir / "2026-09"
    assert sorted(p.name for p in folder.iterdir()) == [
        "manifest.json", "therapist-T02.html", "therapist-T02.pdf", "therapist-T04.html",
        "therapist-T04.pdf"]
    assert "September 2026" in pdf_text(folder / "therapist-T04.pdf")
    assert "4 file(s) written" in result_text(nb)


@pytest.mark.parametrize(("name", "parameters", "expected"), [
    ("supervision_brief", {"therapist_id": 7},
     ["parameter therapist_id: got the number 7", "-r therapist_id 007"]),
    ("supervision_brief", {"therapist": "T01"},
     ["unknown parameter 'therapist'", "did you mean 'therapist_id'?"]),
    ("clinic_monthly", {"month": "2026-13"},
     ["parameter month: expected a month YYYY-MM", "'2026-13'"]),
])
def test_bad_parameters_fail_with_a_message_naming_the_parameter(tmp_path, name, parameters,
                                                                 expected):
    with pytest.raises(PapermillExecutionError) as caught:
        execute_nb(name, tmp_path / "out.ipynb", cwd=tmp_path, **parameters)
    assert caught.value.ename == "ParameterError"
    for phrase in expected:
        assert phrase in caught.value.evalue
    assert not (tmp_path / "reports").exists()  # refused before any work


def test_the_kernel_manager_uses_ipc():
    manager = IPCKernelManager()
    assert manager.transport == "ipc"
    assert Path(manager.ip).name == "kernel"
    assert Path(manager.ip).parent.name.startswith("workbook-kernel-")
    manager.cleanup_ipc_files()
    assert not Path(manager.ip).parent.exists()


def test_run_notebook_over_ipc_keeps_the_record_and_no_socket_file(tmp_path, monkeypatch):
    """run_notebook (what the CLI uses): a kernel over Unix sockets in a private folder that is
    removed afterwards; nothing is left in the working folder; the executed notebook is kept."""
    socket_dirs = []
    real_mkdtemp = execute.tempfile.mkdtemp

    def spy(*args, **kwargs):
        socket_dirs.append(Path(real_mkdtemp(*args, dir=tmp_path, **kwargs)))
        return str(socket_dirs[-1])

    monkeypatch.setattr(execute.tempfile, "mkdtemp", spy)
    work = tmp_path / "work dir"
    work.mkdir()
    monkeypatch.chdir(work)
    record = tmp_path / "records é" / "supervision_brief-T02.ipynb"
    out_dir = tmp_path / "out dir é"
    run_notebook("supervision_brief", {"therapist_id": "T02", "formats": "html",
                                       "since": "2026-10-12", "out_dir": str(out_dir)},
                 record, echo=False)
    # since the last meeting: until the latest session in the data
    html = out_dir / "2026-10-12_2026-10-30" / "supervision-T02.html"
    assert "2026-10-12" in html.read_text(encoding="utf-8")
    nb = nbformat.read(record, as_version=4)
    assert nb.metadata.papermill.parameters["therapist_id"] == "T02"
    # its links start from the record's folder (where the CLI keeps it), not the working folder
    shown = nb.cells[-1].outputs[-1].data["text/html"]
    assert f'<a href="../out%20dir%20%C3%A9/{html.parent.name}/supervision-T02.html"' in shown
    assert str(html) in result_text(nb)
    assert [p.name for p in record.parent.iterdir()] == [record.name]  # no temp copy left
    assert len(socket_dirs) == 1 and not socket_dirs[0].exists()
    assert list(work.iterdir()) == []  # no kernel-ipc-N socket in the working folder


def test_run_notebook_raises_the_package_error_and_keeps_the_record(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    record = tmp_path / "brief.ipynb"
    with pytest.raises(ParameterError) as caught:
        run_notebook("supervision_brief", {"month": "October"}, record, echo=False)
    assert caught.value.exit_code == 6
    assert "parameter month: expected a month YYYY-MM" in str(caught.value)
    nb = nbformat.read(record, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.output_type == "error"]
    assert errors and errors[0].ename == "ParameterError"


def test_report_supervision_since_the_last_meeting(tmp_path, capsys):
    from workbook.runs.cli import main

    assert main(["report", "supervision", "--therapist", "T03", "--since", "2026-10-10",
                 "--out", str(tmp_path)]) == 0
    folder = tmp_path / "2026-10-10_2026-10-30"  # the latest session is on 2026-10-30
    assert sorted(p.name for p in folder.iterdir()) == [
        "supervision-T03.html", "supervision-T03.pdf", "supervision_brief-T03.ipynb"]
    pages = pypdf.PdfReader(folder / "supervision-T03.pdf").pages
    text = "".join(page.extract_text() for page in pages)
    assert "2026-10-10" in text and "2026-10-30" in text
    # the terminal gets the result's text; the record beside the reports links to them there
    out = capsys.readouterr().out
    assert "Supervision brief: T03, 2026-10-10 to 2026-10-30" in out
    assert str(folder / "supervision-T03.pdf") in out
    record = nbformat.read(folder / "supervision_brief-T03.ipynb", as_version=4)
    shown = record.cells[-1].outputs[-1].data["text/html"]
    assert '<a href="supervision-T03.html"' in shown and '<a href="supervision-T03.pdf"' in shown


def test_since_is_only_for_supervision_briefs(tmp_path, capsys):
    from workbook.runs.cli import main

    assert main(["report", "therapist", "--therapist", "T03", "--since", "2026-10-10",
                 "--out", str(tmp_path)]) == 6
    assert "--since is for supervision briefs" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
