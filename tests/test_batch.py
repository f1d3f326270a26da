"""The monthly batch: every report of the example clinic, the manifest, skipping what is up to
date, one therapist's failure, and a batch killed part-way then re-run.

Rendering the example month takes ~20 s, so the runs are module-scoped fixtures shared by the
tests that look at them: one batch through `workbook.runs.batch.render_month` in this process, and
one `workbook monthly` subprocess that is killed after its first report and then re-run to the
end (the end-to-end run). Output paths hold spaces and non-ASCII characters throughout.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace

import nbformat
import psutil
import pypdf
import pytest

import workbook
from workbook.runs.batch import render_month

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_DATA = ROOT / "data" / "examples" / "caseload.csv"
EXAMPLE_CONFIG = ROOT / "data" / "examples" / "workbook.yml"
WORKBOOK = str(Path(sys.executable).with_name("workbook"))  # the venv's console script
MONTH = "2026-10"  # the latest complete month of the example clinic
THERAPISTS = [f"T0{i}" for i in range(1, 9)]
REPORTS = ["clinic.pdf"] + [f"therapist-{t}.pdf" for t in THERAPISTS]

pytestmark = pytest.mark.slow


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def open_pdf(path: Path) -> str:
    """The first page's text; fails on a truncated or otherwise broken file (pypdf reads the
    cross-reference table at the end of the file and every page object)."""
    reader = pypdf.PdfReader(path, strict=True)
    assert len(reader.pages) >= 1, path
    return reader.pages[0].extract_text()


def stamp(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_ino, info.st_mtime_ns


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def wait_gone(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait for processes to end (a zombie waiting for its parent to reap it counts as gone);
    return those still running."""
    deadline = time.monotonic() + timeout
    alive = list(processes)
    while alive and time.monotonic() < deadline:
        still = []
        for proc in alive:
            try:
                if proc.status() != psutil.STATUS_ZOMBIE:
                    still.append(proc)
            except psutil.NoSuchProcess:
                pass
        alive = still
        if alive:
            time.sleep(0.2)
    return alive


# --- one batch in this process ------------------------------------------------------------------

@pytest.fixture(scope="module")
def month(tmp_path_factory):
    """The example clinic's latest month through render_month, into a path with a space and
    non-ASCII characters; then the same call again."""
    out = tmp_path_factory.mktemp("batch") / "out dir é" / "ü"
    first = render_month(EXAMPLE_DATA, None, None, out, jobs=2, progress=False)
    folder = out / MONTH
    stamps = {name: stamp(folder / name) for name in REPORTS}
    manifest = read_manifest(folder)
    again = render_month(EXAMPLE_DATA, None, None, out, jobs=2, progress=False)
    return SimpleNamespace(first=first, again=again, folder=folder, stamps=stamps,
                           manifest=manifest)


def test_batch_makes_every_report_and_they_open(month):
    assert month.first.ok and month.first.failures == {}
    assert month.first.out_dir == month.folder
    assert sorted(month.first.written) == sorted(REPORTS)
    assert sorted(p.name for p in month.folder.iterdir()) == sorted(REPORTS + ["manifest.json"])
    assert "Clinic monthly report" in open_pdf(month.folder / "clinic.pdf")
    for therapist in THERAPISTS:
        text = open_pdf(month.folder / f"therapist-{therapist}.pdf")
        assert "Caseload report" in text and therapist in text
    assert temp_files(month.folder) == []


def test_manifest_lists_every_file_with_its_sha256_and_the_inputs(month):
    manifest = month.manifest
    assert sorted(manifest["files"]) == sorted(REPORTS)
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == sha256(month.folder / name), name
        assert entry["kind"] == ("clinic" if name == "clinic.pdf" else "therapist")
        assert entry["therapist_id"] == (None if name == "clinic.pdf" else name[10:13])
    assert manifest["data"] == {"name": "caseload.csv", "sha256": sha256(EXAMPLE_DATA)}
    assert manifest["config"] == {"name": "built-in defaults", "sha256": None}
    assert manifest["workbook_version"] == workbook.__version__
    assert manifest["month"] == "October 2026"
    assert re.fullmatch(r"Typst \d+\.\d+\.\d+ \(typst \S+\)", manifest["pdf_engine"])
    assert manifest["rendering_stack"]["typst"] == version("typst")
    assert manifest["failures"] == {} and manifest["skipped"] == []


def test_rerun_with_unchanged_inputs_skips_everything(month):
    again = month.again
    assert again.ok and again.written == []
    assert sorted(again.skipped) == sorted(name[:-4] for name in REPORTS)
    assert {name: stamp(month.folder / name) for name in REPORTS} == month.stamps
    manifest = read_manifest(month.folder)
    assert manifest["files"] == month.manifest["files"]
    assert manifest["skipped"] == sorted(again.skipped)
    assert "0 file(s) written, 9 report(s) already up to date" in again.summary()


def test_config_change_rerenders_and_formats_not_asked_for_do_not_matter(tmp_path):
    config = tmp_path / "my config é.yml"
    shutil.copy(EXAMPLE_CONFIG, config)
    out = tmp_path / "out dir"

    def run(formats=("pdf",)):
        return render_month(EXAMPLE_DATA, config, MONTH, out, jobs=1, formats=formats,
                            therapists=["T02"], clinic=False, progress=False)

    assert run().written == ["therapist-T02.pdf"]
    pdf = out / MONTH / "therapist-T02.pdf"
    before = stamp(pdf)
    assert run().skipped == ["therapist-T02"]
    assert stamp(pdf) == before

    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("clinic_name: Example Clinic", "clinic_name: Renamed Clinic"),
                      encoding="utf-8")
    changed = run(("pdf", "html"))  # a new config (and a new format) renders the report again
    assert sorted(changed.written) == ["therapist-T02.html", "therapist-T02.pdf"]
    assert changed.skipped == []
    assert "Renamed Clinic" in open_pdf(pdf)
    manifest = read_manifest(out / MONTH)
    assert manifest["config"] == {"name": config.name, "sha256": sha256(config)}
    assert manifest["files"]["therapist-T02.pdf"]["sha256"] == sha256(pdf)

    # a listed file of a format not asked for does not make the report look out of date
    assert run().skipped == ["therapist-T02"]
    assert run(("html",)).skipped == ["therapist-T02"]


# --- one therapist's report fails -----------------------------------------------------------

BROKEN_TEMPLATE = """{% extends "base.html" %}
{% block content %}
{% if "T05" in subject %}{{ signature_of_the_lead_for_t05 }}{% endif %}
<p>Branded caseload report: {{ subject }}.</p>
{% endblock %}
"""


def test_one_failing_report_does_not_stop_the_others(tmp_path):
    """A real failure, no test hook: a clinic's own branded therapist template (config
    `template_dir`) refers to a variable that does not exist, in a branch only therapist T05's
    report takes. `workbook report therapist --supervisor S2` (T02, T05, T08) writes T02 and
    T08, names T05's failure, lists it in the manifest and exits 7. Fixing the template and
    running again renders all three (a template change is an input change)."""
    brand = tmp_path / "brand"
    brand.mkdir()
    (brand / "therapist.html").write_text(BROKEN_TEMPLATE, encoding="utf-8")
    config = tmp_path / "workbook.yml"
    config.write_text(EXAMPLE_CONFIG.read_text(encoding="utf-8").replace(
        "template_dir: null", "template_dir: brand"), encoding="utf-8")
    out = tmp_path / "out é"
    run = subprocess.run([WORKBOOK, "report", "therapist", "--supervisor", "S2", "--config",
                          str(config), "--format", "pdf", "--month", MONTH, "--out", str(out)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 7, run.stderr
    assert "1 report(s) failed" in run.stderr
    assert "therapist-T05: ReportError: template therapist.html line 3:" in run.stderr
    assert "signature_of_the_lead_for_t05" in run.stderr
    folder = out / MONTH
    for therapist in ("T02", "T08"):
        assert f"Branded caseload report: therapist {therapist}" in open_pdf(
            folder / f"therapist-{therapist}.pdf")
    assert not (folder / "therapist-T05.pdf").exists()
    manifest = read_manifest(folder)
    assert sorted(manifest["files"]) == ["therapist-T02.pdf", "therapist-T08.pdf"]
    assert list(manifest["failures"]) == ["therapist-T05"]
    assert "signature_of_the_lead_for_t05" in manifest["failures"]["therapist-T05"]
    assert (folder / "clinic_monthly-therapist-T02-T05-T08.ipynb").is_file()  # audit record

    (brand / "therapist.html").write_text(BROKEN_TEMPLATE.replace(
        "{{ signature_of_the_lead_for_t05 }}", "Lead: S2"), encoding="utf-8")
    fixed = render_month(EXAMPLE_DATA, config, MONTH, out, jobs=2, progress=False,
                         therapists=["T02", "T05", "T08"], clinic=False)
    assert fixed.ok and fixed.skipped == []
    assert sorted(fixed.written) == ["therapist-T02.pdf", "therapist-T05.pdf",
                                     "therapist-T08.pdf"]
    assert "Lead: S2" in open_pdf(folder / "therapist-T05.pdf")
    assert read_manifest(folder)["failures"] == {}


# --- `workbook monthly`, killed part-way, then run to the end ---------------------------------

@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """Start `workbook monthly` on the example clinic (its defaults: the example data, the
    latest complete month), SIGKILL it as soon as its first report appears, look at what is
    left, then run the same command again to the end."""
    base = tmp_path_factory.mktemp("killed")
    cwd = base / "work dir"
    cwd.mkdir()
    out = base / "out dir é" / "ü"
    folder = out / MONTH
    temp = base / "tmp"  # TMPDIR: where the kernel's IPC socket folder goes
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    command = [WORKBOOK, "monthly", "--out", str(out), "--jobs", "2"]
    with open(base / "stdout", "w") as stdout, open(base / "stderr", "w") as stderr:
        proc = subprocess.Popen(command, cwd=cwd, stdout=stdout, stderr=stderr, env=env)
    deadline = time.monotonic() + 240
    while not (folder.is_dir() and any(folder.glob("*.pdf"))):
        assert proc.poll() is None, (base / "stderr").read_text()
        assert time.monotonic() < deadline, "no report within 240 s"
        time.sleep(0.05)
    tree = psutil.Process(proc.pid).children(recursive=True)  # kernel, its workers
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # the kernel notices its parent is gone within a second or so; the workers, their kernel
    left_running = wait_gone(tree, timeout=30)

    pdfs = sorted(p.name for p in folder.glob("*.pdf"))
    opened = {}
    for name in pdfs:
        try:
            opened[name] = bool(open_pdf(folder / name).strip())
        except Exception as exc:  # noqa: BLE001 - reported by the test
            opened[name] = f"{type(exc).__name__}: {exc}"
    listed = read_manifest(folder)["files"] if (folder / "manifest.json").exists() else {}
    kept = {name: stamp(folder / name) for name in listed}
    sockets_after_kill = sorted(p.name for p in temp.glob("workbook-kernel-*"))

    start = time.monotonic()
    rerun = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300,
                           env=env)
    return SimpleNamespace(folder=folder, cwd=cwd, left_running=left_running, pdfs=pdfs,
                           opened=opened, listed=listed, kept=kept, rerun=rerun,
                           rerun_seconds=time.monotonic() - start,
                           sockets_after_kill=sockets_after_kill,
                           sockets_after_rerun=sorted(p.name for p in
                                                      temp.glob("workbook-kernel-*")))


def test_kill_leaves_no_truncated_pdf_and_no_process_behind(killed):
    assert killed.pdfs, "the kill came after the first report"
    assert len(killed.pdfs) < len(REPORTS), "the batch was killed part-way"
    assert {name: ok for name, ok in killed.opened.items()} == {n: True for n in killed.pdfs}
    assert killed.left_running == []  # no orphaned kernel or worker rendering on
    assert killed.listed, "reports finished before the kill are in the manifest"
    for name, entry in killed.listed.items():
        assert name in killed.pdfs and entry["sha256"]


def test_rerun_after_kill_completes_without_redoing_finished_reports(killed):
    assert killed.rerun.returncode == 0, killed.rerun.stderr
    manifest = read_manifest(killed.folder)
    assert sorted(manifest["files"]) == REPORTS and manifest["failures"] == {}
    for name in killed.listed:  # finished before the kill: not rendered again
        assert stamp(killed.folder / name) == killed.kept[name], name
    assert sorted(manifest["skipped"]) == sorted(name[:-4] for name in killed.listed)
    written = len(REPORTS) - len(killed.listed)
    assert (f"{written} file(s) written, {len(killed.listed)} report(s) already up to date"
            in killed.rerun.stdout)
    assert temp_files(killed.folder) == []


def test_monthly_end_to_end(killed):
    """What `workbook monthly` leaves: every report, a manifest of them, the executed notebook
    beside them; nothing in the working folder (no IPC socket file)."""
    folder = killed.folder
    for name in REPORTS:
        assert open_pdf(folder / name).strip()
    manifest = read_manifest(folder)
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == sha256(folder / name), name
    assert manifest["data"] == {"name": "caseload.csv", "sha256": sha256(EXAMPLE_DATA)}
    assert manifest["config"] == {"name": "built-in defaults", "sha256": None}
    assert manifest["workbook_version"] == workbook.__version__
    assert manifest["month"] == "October 2026"

    record = folder / "clinic_monthly.ipynb"
    assert manifest["notebook"] == {"name": record.name, "sha256": sha256(record)}
    nb = nbformat.read(record, as_version=4)
    assert nb.metadata.papermill.parameters["month"] == MONTH
    assert nb.metadata.papermill.parameters["jobs"] == 2
    assert not any(o.output_type == "error" for c in nb.cells if c.cell_type == "code"
                   for o in c.outputs)
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == sorted(
        REPORTS + ["manifest.json", "clinic_monthly.ipynb"])
    assert f"reports are in {folder}" in killed.rerun.stdout
    assert "reports: 100%" in killed.rerun.stderr  # the progress bar, relayed from the kernel
    assert list(killed.cwd.iterdir()) == []
    # the killed run's kernel listened on Unix sockets in a private temp folder (left behind by
    # SIGKILL); the complete run removed its own
    assert len(killed.sockets_after_kill) == 1
    assert killed.sockets_after_rerun == killed.sockets_after_kill
    print(f"\nworkbook monthly re-run after the kill: {killed.rerun_seconds:.1f} s",
          file=sys.stderr)


def test_monthly_refuses_a_bad_month_before_starting_a_kernel(tmp_path):
    run = subprocess.run([WORKBOOK, "monthly", "--month", "2026-13", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert run.returncode == 6
    assert "month '2026-13': expected YYYY-MM" in run.stderr
    assert list(tmp_path.iterdir()) == []
