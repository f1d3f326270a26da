"""Issue 13, runs under attack and under faults: stale reports, paths out of --out, template
code, a dead worker, a full disk, exit-70 tracebacks, a dead kernel, settings that cannot work,
wording, a stray kernel message, leftovers of refused runs. Each test is named after its item.

Batches run on a small generated clinic (a few therapists) to stay fast; the CLI tests that
need a kernel run the example clinic as a user would.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import psutil
import pytest

from workbook.data import errors
from workbook.data.errors import ParameterError, ReportError
from workbook.data.example_data import generate_clinic, write_clinic
from workbook.reports import render
from workbook.reports.render import describe_source, render_html, write_atomic
from workbook.runs import execute
from workbook.runs.batch import render_month
from workbook.runs.cli import main
from workbook.runs.jobs import run_supervision_brief

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_DATA = ROOT / "data" / "examples" / "caseload.csv"
WORKBOOK = str(Path(sys.executable).with_name("workbook"))
MONTH = "2026-10"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
REPORT_FILE = re.compile(r"(clinic|therapist-.+)\.(pdf|html)")  # what a batch writes


def checks():
    """workbook.runs.checks, imported where used (so that the other tests of this file run,
    and fail for their own reasons, on code from before the module existed)."""
    from workbook.runs import checks

    return checks


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def assert_manifest_matches_disk(folder: Path) -> dict:
    """Every listed file is there with its sha256; every report file there is listed."""
    manifest = read_manifest(folder)
    for name, entry in manifest["files"].items():
        assert (folder / name).is_file(), f"{name} listed but not on disk"
        assert sha256(folder / name) == entry["sha256"], name
    on_disk = sorted(p.name for p in folder.iterdir() if REPORT_FILE.fullmatch(p.name))
    assert on_disk == sorted(manifest["files"]), "report files on disk that are not listed"
    return manifest


def spawned_workers(parent: psutil.Process | None = None) -> list[psutil.Process]:
    found = []
    for proc in (parent or psutil.Process()).children(recursive=True):
        try:
            if "spawn_main" in " ".join(proc.cmdline()) and proc.status() != "zombie":
                found.append(proc)
        except psutil.NoSuchProcess:
            pass
    return found


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A small synthetic clinic (6 therapists x 4 clients, October 2026 its last month)."""
    folder = tmp_path_factory.mktemp("small")
    frame = generate_clinic(therapists=6, clients_per_therapist=4, weeks=12, plant=False)
    path = write_clinic(frame, folder / "clinic.csv")
    return SimpleNamespace(path=path, frame=frame,
                           therapists=sorted(frame["therapist_id"].unique()))


# --- 3. a report made from older data stays in the folder and the manifest ------------------

@pytest.mark.slow
def test_report_from_older_data_is_set_aside_and_the_manifest_is_this_runs(small, tmp_path):
    out = tmp_path / "out"
    first = render_month(small.path, None, MONTH, out, jobs=2, progress=False)
    assert first.ok
    gone = small.therapists[-1]
    without = write_clinic(small.frame[small.frame["therapist_id"] != gone],
                           tmp_path / "without.csv")
    second = render_month(without, None, MONTH, out, jobs=2, progress=False)
    folder = out / MONTH
    manifest = assert_manifest_matches_disk(folder)
    assert f"therapist-{gone}.pdf" not in manifest["files"]
    assert not (folder / f"therapist-{gone}.pdf").exists()
    assert manifest["data"] == {"name": "without.csv", "sha256": sha256(without)}
    assert len({entry["inputs"].split(":")[0] for entry in manifest["files"].values()}) == 1
    aside = read_manifest(folder / "superseded")["files"]
    assert aside[f"therapist-{gone}.pdf"]["set_aside"] == "made from other inputs"
    assert aside[f"therapist-{gone}.pdf"]["made_from"]["data"]["sha256"] == sha256(small.path)
    assert sha256(folder / "superseded" / f"therapist-{gone}.pdf") == \
        aside[f"therapist-{gone}.pdf"]["sha256"]
    assert f"therapist-{gone}.pdf" in second.set_aside
    assert "set aside in" in second.summary() and gone in second.summary()
    assert manifest["set_aside"] == second.set_aside


def test_unlisted_report_file_is_set_aside(small, tmp_path):
    """A report file the manifest does not list (a crash between writing and listing, or a
    file dropped in by hand) is not left beside the listed ones."""
    folder = tmp_path / "out" / MONTH
    folder.mkdir(parents=True)
    (folder / "therapist-T99.pdf").write_bytes(b"%PDF-1.7 not ours")
    (folder / "notes.txt").write_text("the clinic's own file")  # not a report name: left alone
    result = render_month(small.path, None, MONTH, tmp_path / "out", jobs=1, progress=False,
                          therapists=[], clinic=False)
    assert result.set_aside == ["therapist-T99.pdf"]
    assert (folder / "superseded" / "therapist-T99.pdf").is_file()
    assert (folder / "notes.txt").is_file()
    assert_manifest_matches_disk(folder)


# --- 4. --therapist writes outside --out -----------------------------------------------------

def test_therapist_id_that_is_a_path_is_refused_and_nothing_is_written(tmp_path, capsys,
                                                                      monkeypatch):
    monkeypatch.chdir(tmp_path)
    work = tmp_path / "a" / "b" / "c"
    work.mkdir(parents=True)
    code = main(["report", "therapist", "--therapist", "../../../../escaped", "--out",
                 str(work / "o6")])
    err = capsys.readouterr().err
    assert code == 6
    assert "--therapist '../../../../escaped': expected an ID matching" in err
    assert not (work / "o6").exists()
    assert not list(tmp_path.rglob("escaped*"))
    assert main(["report", "supervision", "--supervisor", "S1/../../x", "--out",
                 str(work / "o7")]) == 6
    assert not (work / "o7").exists()


def test_notebook_parameters_get_the_id_check_too(small, tmp_path):
    with pytest.raises(ParameterError, match="expected an ID matching"):
        render_month(small.path, None, MONTH, tmp_path / "out", therapists=["../../x"],
                     progress=False)
    with pytest.raises(ParameterError, match="parameter therapist_id '../x'"):
        run_supervision_brief({"data": str(small.path), "config": None, "therapist_id": "../x",
                               "month": None, "since": None, "out_dir": str(tmp_path / "o"),
                               "formats": "html"})
    assert not any(tmp_path.iterdir())


def test_ids_a_custom_pattern_allows_become_file_names_inside_out(small, tmp_path):
    """A clinic whose IDs hold '/' (privacy.id_pattern allows it): the file stays in the month's
    folder, named with %2F."""
    frame = small.frame.copy()
    frame["therapist_id"] = frame["therapist_id"].str.replace("T", "NHS/", regex=False)
    data = write_clinic(frame, tmp_path / "nhs.csv")
    config = tmp_path / "workbook.yml"
    config.write_text("privacy: {id_pattern: '^[A-Za-z0-9/]{1,40}$'}\n")
    result = render_month(data, config, MONTH, tmp_path / "out", jobs=1, progress=False,
                          therapists=["NHS/01"], clinic=False, formats=("html",))
    assert result.written == ["therapist-NHS%2F01.html"]
    folder = tmp_path / "out" / MONTH
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json",
                                                        "therapist-NHS%2F01.html"]
    assert read_manifest(folder)["files"]["therapist-NHS%2F01.html"]["therapist_id"] == "NHS/01"


@pytest.mark.parametrize(("code", "part"), [("T01", "T01"), ("a.b-c_d", "a.b-c_d"),
                                            ("NHS/01", "NHS%2F01"), ("..", "%2E."),
                                            (".hidden", "%2Ehidden"), ("é", "%C3%A9")])
def test_file_part_never_names_a_folder_or_a_hidden_file(code, part, tmp_path):
    assert checks().file_part(code) == part
    assert checks().inside(tmp_path, f"x-{checks().file_part(code)}.pdf").parent == tmp_path
    with pytest.raises(ParameterError):
        checks().inside(tmp_path, "../x.pdf")


# --- 5. a branding template runs arbitrary code ---------------------------------------------

CONTEXT = {"subject": "x", "period_label": "October 2026", "period_start": "2026-10-01",
           "period_end": "2026-10-31", "clinic_name": "Clinic", "rules": {"a": "b"}}


@pytest.fixture
def brand(tmp_path):
    folder = tmp_path / "brand"
    folder.mkdir()
    render._environment.cache_clear()
    yield folder
    render._environment.cache_clear()


def branded(folder: Path, body: str) -> str:
    (folder / "clinic.html").write_text("{% extends 'base.html' %}\n{% block content %}\n"
                                        + body + "\n{% endblock %}\n")
    render._environment.cache_clear()
    return render_html("clinic", CONTEXT, provenance=describe_source(EXAMPLE_DATA, None),
                       template_dir=folder)


@pytest.mark.parametrize("payload", [
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ '{0.__class__.__mro__}'.format(1) }}",
    "{{ rules.__class__.__subclasses__() }}",
    "{% set x = rules.update({'a': 'owned'}) %}{{ rules }}",
])
def test_branding_template_cannot_reach_python(brand, payload):
    with pytest.raises(ReportError) as caught:
        branded(brand, payload)
    message = str(caught.value)
    assert "template clinic.html line 3: refused" in message
    assert "uid=" not in message


def test_branding_template_still_formats_and_lays_out(brand):
    html = branded(brand, "<p>{{ clinic_name | upper }} {{ rules | length }} "
                          "{{ '%.1f' | format(2.25) }} {% for k, v in rules.items() %}{{ k }}="
                          "{{ v }}{% endfor %}</p>")
    assert "<p>CLINIC 1 2.2 a=b</p>" in html


def test_failed_include_says_where_it_looked(brand):
    with pytest.raises(ReportError) as caught:
        branded(brand, "{% include 'footer.html' %}")
    message = str(caught.value)
    assert "template clinic.html line 3: includes or extends 'footer.html'" in message
    assert str(brand) in message and "templates" in message


def test_template_link_out_of_the_folder_is_not_followed(brand, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for reports")
    (brand / "footer.html").symlink_to(secret)
    with pytest.raises(ReportError, match="a link out of the template folders"):
        branded(brand, "{% include 'footer.html' %}")


# --- 6. one dead worker fails every queued report -------------------------------------------

@pytest.mark.slow
def test_one_dead_worker_costs_at_most_the_report_it_held(small, tmp_path):
    out = tmp_path / "out"
    folder = out / MONTH
    killed: list[int] = []

    def kill_a_worker_after_the_first_report() -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not killed:
            if folder.is_dir() and any(folder.glob("*.pdf")):
                workers = spawned_workers()
                if workers:
                    workers[0].send_signal(signal.SIGKILL)
                    killed.append(workers[0].pid)
            time.sleep(0.02)

    killer = threading.Thread(target=kill_a_worker_after_the_first_report)
    killer.start()
    result = render_month(small.path, None, MONTH, out, jobs=2, progress=False)
    killer.join()
    assert killed, "no worker was killed"
    assert result.ok, result.summary()
    expected = ["clinic.pdf"] + [f"therapist-{t}.pdf" for t in small.therapists]
    assert sorted(result.written) == sorted(expected)
    assert len(result.retried) <= 1  # the report the killed worker held, if it held one
    manifest = assert_manifest_matches_disk(folder)
    assert manifest["failures"] == {}


# --- 8. a full disk ---------------------------------------------------------------------------

@pytest.fixture
def tiny_disk(tmp_path):
    """A 300 kB tmpfs, as in the issue (root only: CI runs as root)."""
    if not IS_ROOT:
        pytest.skip("mounting a tmpfs needs root; CI runs as root")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(disk)], check=True)
    try:
        yield disk
    finally:
        if subprocess.run(["umount", str(disk)]).returncode:
            subprocess.run(["umount", "-l", str(disk)])


def test_write_atomic_on_a_full_disk_keeps_the_old_file_and_no_temp(tiny_disk):
    target = tiny_disk / "report.pdf"
    write_atomic(target, b"old report")
    with pytest.raises(errors.DiskFullError, match=f"no space left on the disk of {tiny_disk}"):
        write_atomic(target, b"x" * 400_000)
    assert target.read_bytes() == b"old report"
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["report.pdf"]


@pytest.mark.slow
def test_full_disk_says_no_space_left_and_leaves_the_folder_true(tiny_disk):
    run = subprocess.run([WORKBOOK, "monthly", "--out", str(tiny_disk), "--jobs", "1000"],
                         capture_output=True, text=True, timeout=600, cwd=tiny_disk.parent)
    assert run.returncode == 10, run.stderr
    assert "no space left on the disk of" in run.stderr
    for word in ("Traceback", "NotJSONError", "internal error"):
        assert word not in run.stderr
    assert [p.name for p in tiny_disk.rglob("*") if ".tmp" in p.name] == []
    folder = tiny_disk / MONTH
    if (folder / "manifest.json").exists():
        assert_manifest_matches_disk(folder)
    else:
        assert not [p for p in folder.glob("*") if REPORT_FILE.fullmatch(p.name)]
    cores = checks().available_cores()
    if cores < 1000:  # item 11: --jobs is capped at the cores, and the user is told
        assert f"note: --jobs 1000 is more than this machine's {cores} CPU core" in run.stderr


# --- 9. exit 70 for things the user did ------------------------------------------------------

def test_out_that_is_a_file_exits_11(tmp_path, capsys):
    target = tmp_path / "reports"
    target.write_text("a file")
    assert main(["monthly", "--out", str(target)]) == 11
    err = capsys.readouterr().err
    assert f"--out {target}: is a file; expected a folder" in err
    assert "Traceback" not in err and "internal error" not in err


@pytest.fixture
def read_only(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    if IS_ROOT:  # root writes through permission bits: a read-only mount
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,ro", "tmpfs", str(folder)],
                       check=True)
    else:
        folder.chmod(0o555)
    try:
        yield folder
    finally:
        if IS_ROOT:
            subprocess.run(["umount", "-l", str(folder)])
        else:
            folder.chmod(0o755)


def test_read_only_out_exits_11(read_only, capsys):
    assert main(["report", "clinic", "--out", str(read_only / "reports")]) == 11
    err = capsys.readouterr().err
    assert "cannot write there" in err and "internal error" not in err
    assert main(["example-data", "--out", str(read_only / "c.csv")]) == 11
    err = capsys.readouterr().err
    assert "cannot write" in err and "internal error" not in err


def test_bad_date_format_exits_3(tmp_path, capsys):
    config = tmp_path / "workbook.yml"
    config.write_text('date_format: "%Q"\n')
    assert main(["validate", str(EXAMPLE_DATA), "--config", str(config)]) == 3
    err = capsys.readouterr().err
    assert "date_format: not a date format" in err and "internal error" not in err


def test_output_closed_early_is_not_an_internal_error(tmp_path):
    proc = subprocess.Popen([WORKBOOK, "validate", str(EXAMPLE_DATA)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=tmp_path)
    proc.stdout.close()  # `| head -0`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert "Traceback" not in err and "internal error" not in err and "Exception" not in err
    assert "broken pipe" in err


# --- 10. a dead kernel --------------------------------------------------------------------

@pytest.mark.slow
def test_dead_kernel_message_names_only_a_record_that_exists(tmp_path):
    out = tmp_path / "out"
    folder = out / MONTH
    proc = subprocess.Popen([WORKBOOK, "monthly", "--out", str(out), "--jobs", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path)
    deadline = time.monotonic() + 240
    kernel = None
    while kernel is None and time.monotonic() < deadline and proc.poll() is None:
        if folder.is_dir() and any(folder.glob("*.pdf")):
            for child in psutil.Process(proc.pid).children(recursive=True):
                if "ipykernel" in " ".join(child.cmdline()):
                    kernel = child
                    child.send_signal(signal.SIGKILL)
                    break
        time.sleep(0.05)
    assert kernel is not None, "the kernel was not found while the batch ran"
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 8, err
    assert "DeadKernelError" in err and "Traceback" not in err
    named = re.search(r"its partly executed copy is in (\S+\.ipynb)", err)
    if named:
        nb = nbformat.read(named.group(1), as_version=4)
        assert nb.metadata.papermill.parameters["month"] == MONTH
    else:
        assert "no executed copy of it could be kept" in err
    assert not list(folder.glob(".*.tmp*"))


# --- 11. settings that must be refused ------------------------------------------------------

def test_month_with_no_sessions_is_refused_before_any_work(small, tmp_path, capsys):
    assert main(["monthly", "--month", "1999-01", "--out", str(tmp_path / "out")]) == 6
    err = capsys.readouterr().err
    assert "no session in January 1999 in the data, which runs from 2026-" in err
    assert not (tmp_path / "out").exists()
    with pytest.raises(ParameterError, match="no session in January 1999"):
        render_month(small.path, None, "1999-01", tmp_path / "o", progress=False)
    assert not (tmp_path / "o").exists()


def test_jobs_beyond_the_cores_are_capped_and_said(monkeypatch, tmp_path, capsys):
    cores = checks().available_cores()
    assert checks().cap_jobs(cores) == (cores, None)
    assert checks().cap_jobs(None) == (None, None)
    capped, note = checks().cap_jobs(cores + 998)
    assert capped == cores and f"--jobs {cores + 998} is more than this machine's" in note
    seen = {}

    def fake_run(name, params, record, **kwargs):  # the kernel is not what is tested here
        seen.update(params)
        return record

    monkeypatch.setattr(execute, "run_notebook", fake_run)
    assert main(["monthly", "--jobs", str(cores + 998), "--out", str(tmp_path)]) == 0
    assert seen["jobs"] == cores
    assert f"using {cores} worker process" in capsys.readouterr().err


# --- 14. wording ----------------------------------------------------------------------------

def test_since_and_jobs_and_end_messages_are_plain(tmp_path, capsys):
    assert main(["report", "supervision", "--therapist", "T01", "--since", "2026-13-01",
                 "--out", str(tmp_path)]) == 6
    err = capsys.readouterr().err
    assert "--since '2026-13-01': expected a date YYYY-MM-DD" in err
    assert "datetime.date" not in err
    assert main(["report", "supervision", "--therapist", "T01", "--since", "2027-01-01",
                 "--out", str(tmp_path)]) == 6
    assert "after the latest session in the data (2026-10-30)" in capsys.readouterr().err
    for argv, expected in ((["monthly", "--jobs", "abc"], "expected a whole number of 1 or "
                                                           "more, got 'abc'"),
                           (["example-data", "--out", "x.csv", "--end", "2026-02-30"],
                            "expected a date YYYY-MM-DD, got '2026-02-30'"),
                           (["example-data", "--out", "x.csv", "--seed", "x"],
                            "expected a whole number, got 'x'")):
        with pytest.raises(SystemExit) as caught:
            main(argv)
        assert caught.value.code == 2
        err = capsys.readouterr().err
        assert expected in err and "invalid" not in err


def test_debug_before_the_command_shows_the_traceback(monkeypatch):
    from workbook.runs import cli

    def broken(args):
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "run_validate", broken)
    with pytest.raises(RuntimeError, match="boom"):
        cli.main(["--debug", "validate", str(EXAMPLE_DATA)])


# --- 15. a stray KeyboardInterrupt line from the kernel -------------------------------------

def test_kernel_is_not_interrupted_when_it_is_shut_down():
    """jupyter_client sends SIGINT before each shutdown; an idle ipykernel then logs
    'KeyboardInterrupt caught in kernel' on the user's terminal about one run in three."""
    sent = []

    class Spy(execute.IPCKernelManager):
        async def _async_signal_kernel(self, signum: int) -> None:
            sent.append(signum)
            await super()._async_signal_kernel(signum)

    async def start_and_stop() -> None:
        manager = Spy(kernel_name="python3")
        await manager.start_kernel()
        client = manager.client()
        client.start_channels()
        await client.wait_for_ready(timeout=60)
        client.stop_channels()
        await manager.interrupt_kernel()  # the spy sees an interrupt the user asks for
        await manager.shutdown_kernel(now=False)

    asyncio.run(start_and_stop())
    assert sent.count(signal.SIGINT) == 1  # the one asked for; none at shutdown


# --- 16. an unknown therapist leaves a folder and a failed record behind --------------------

def test_unknown_therapist_leaves_nothing_behind(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["report", "therapist", "--therapist", "T99", "--out", str(out)]) == 6
    err = capsys.readouterr().err
    assert "--therapist T99: no session in October 2026; therapists: T01, T02" in err
    assert not out.exists()
    assert main(["report", "supervision", "--supervisor", "S9", "--out", str(out)]) == 6
    assert not out.exists()


def test_unknown_therapist_parameter_makes_no_month_folder(small, tmp_path):
    with pytest.raises(ParameterError, match="no session in October 2026 for therapist T99"):
        render_month(small.path, None, MONTH, tmp_path / "out", therapists=["T99"],
                     progress=False)
    assert not (tmp_path / "out" / MONTH).exists()


def test_output_error_classes_have_their_exit_codes():
    assert errors.OutputError.exit_code == 11 and errors.DiskFullError.exit_code == 10
    assert issubclass(errors.DiskFullError, errors.OutputError)


# --- the README's exit-code table stays true ----------------------------------------------

def test_readme_exit_codes_match_the_command_line_and_the_error_classes():
    from workbook.runs import cli

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("### Exit codes"):].split("\n\n")[1]
    documented = {int(m.group(1)) for m in re.finditer(r"^\| (\d+) \|", table, re.M)}
    epilog = {int(m.group(1)) for m in re.finditer(r"^\s*(\d+)\s", cli.EXIT_CODES, re.M)}
    assert documented == epilog
    classes = {cls.exit_code for cls in vars(errors).values()
               if isinstance(cls, type) and issubclass(cls, errors.WorkbookError)
               and cls is not errors.WorkbookError}
    assert classes <= documented
    assert {cli.EXIT_INTERNAL, cli.EXIT_INTERRUPTED, cli.EXIT_BROKEN_PIPE} <= documented
