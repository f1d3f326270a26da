"""The monthly batch: one analysis of the whole clinic, then every report in worker processes.

Runs inside one kernel (the clinic_monthly notebook) or any Python process. Reports are written
atomically; a re-run skips reports whose inputs have not changed; one report's failure does not
stop the others, and a worker process that dies costs at most the report it held (made again
once, workbook.runs.pool). `manifest.json` describes exactly the run that wrote it: every file
in the folder with its sha256 and what it was made from. Report files made from other inputs
(older data, another config), or not listed, are set aside in `superseded/` (with their own
manifest) and said so; a full disk stops the batch with nothing half-written and nothing listed
that is not on disk.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import multiprocessing.connection
import os
import re
import threading
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from tqdm import tqdm

from workbook._meta import TEMPLATES, __version__
from workbook.analysis.periods import latest_complete_month, parse_month
from workbook.analysis.pipeline import Analysis, analyse
from workbook.data.config import load_config
from workbook.data.errors import DiskFullError, OutputError, ParameterError, WorkbookError
from workbook.data.ingest import load_ratings
from workbook.reports.render import (
    DEFAULT_PDF_ENGINE,
    Provenance,
    describe_engine,
    describe_source,
    output_error,
    render_report,
    report_bytes,
    sha256_file,
    write_atomic,
)
from workbook.reports.render import write_report as _write_report
from workbook.runs.checks import (
    cap_jobs,
    check_codes,
    check_out_dir,
    file_part,
    inside,
    require_sessions,
    say,
)
from workbook.runs.cluster import (
    DaskExecutor,
    check_address,
    check_cluster,
    read_templates,
    unpack_templates,
    with_templates,
)
from workbook.runs.pool import Executor, Outcome, Task, WorkerPool

MANIFEST = "manifest.json"
SUPERSEDED = "superseded"
# The files a batch writes (and so may set aside): clinic.pdf, therapist-T01.html, ...
REPORT_FILE = re.compile(r"(clinic|therapist-.+)\.(pdf|html)")
# A worker's error that every other report would meet too: stop the batch.
FATAL = {"DiskFullError": DiskFullError, "OutputError": OutputError}


@dataclass(frozen=True)
class Job:
    """One report to make: its kind, its therapist (None for the clinic) and its file stem."""

    kind: str
    therapist_id: str | None
    stem: str
    inputs: str


@dataclass
class BatchResult:
    """What a batch did: files written, reports skipped as up to date, failures by report,
    files set aside (made from other inputs, or not listed), reports made again after their
    worker process stopped."""

    out_dir: Path
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    set_aside: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every report was made or already up to date."""
        return not self.failures

    def summary(self) -> str:
        """Plain words: where the reports are, what was skipped, what failed and why."""
        lines = [f"{len(self.written)} file(s) written, {len(self.skipped)} report(s) already "
                 f"up to date, in {self.out_dir}"]
        if self.set_aside:
            lines.append(f"{len(self.set_aside)} file(s) made from other inputs (or not listed "
                         f"in the manifest) set aside in {self.out_dir / SUPERSEDED}: "
                         f"{', '.join(sorted(self.set_aside))}")
        if self.retried:
            lines.append(f"{len(self.retried)} report(s) made again after the worker process "
                         f"making them stopped: {', '.join(sorted(set(self.retried)))}")
        if self.failures:
            lines.append(f"{len(self.failures)} report(s) failed:")
            lines += [f"  - {stem}: {why}" for stem, why in sorted(self.failures.items())]
        return "\n".join(lines)


def render_month(data: str | Path, config: str | Path | None = None, month: str | None = None,
                 out_dir: str | Path = "reports", *, jobs: int | None = None,
                 formats: tuple[str, ...] = ("pdf",), therapists: list[str] | None = None,
                 clinic: bool = True, progress: bool = True,
                 executor: Executor | None = None, scheduler: str | None = None) -> BatchResult:
    """Make the clinic report and one caseload report per therapist for a month.

    `therapists` None means every therapist with a session in the month; [] means none.
    `executor` runs the reports (default: a WorkerPool of `jobs` processes, at most one per
    core; with `scheduler`, an address such as tcp://HOST:8786, the workers of that Dask
    cluster, and `jobs` is not used). Everything is checked before the month's folder is made.
    """
    if scheduler is not None:
        scheduler = check_address("scheduler", scheduler)
    settings = load_config(config)
    ratings = load_ratings(data, settings)
    period = parse_month(month) if month else latest_complete_month(ratings)
    require_sessions(ratings, period)
    if therapists:
        therapists = check_codes("therapist", therapists, settings)
    analysis = analyse(ratings, settings, period)
    chosen = _pick_therapists(analysis, therapists)
    if scheduler is None:
        jobs, note = cap_jobs(jobs, "jobs")
        say(note)
    provenance = describe_source(data, config, ratings)
    if scheduler is not None and executor is None:
        check_cluster(scheduler, with_templates(provenance.stack))
    out = _month_folder(Path(out_dir), period.slug)
    base_key = _inputs_key(provenance, config, period.label, settings.template_dir,
                           settings.pdf_engine)
    planned = [Job("clinic", None, "clinic", base_key + ":clinic")] if clinic else []
    planned += [Job("therapist", t, f"therapist-{file_part(t)}", f"{base_key}:therapist:{t}")
                for t in chosen]
    manifest = _read_manifest(out)
    result = BatchResult(out)
    todo = [job for job in planned if not _is_current(job, formats, manifest, out)]
    result.skipped = [j.stem for j in planned if j not in todo]
    _set_aside(out, manifest, base_key, todo, formats, result)
    manifest.update(_describe_inputs(provenance, config, period.label, settings.pdf_engine))
    _write_manifest(out, manifest, result)
    _run_jobs(todo, analysis, ratings, provenance, formats, out, manifest, result,
              executor=executor or _executor(scheduler, jobs, len(todo), provenance,
                                             settings.pdf_engine),
              progress=progress)
    _write_manifest(out, manifest, result)
    return result


def _month_folder(out_dir: Path, slug: str) -> Path:
    out = check_out_dir(out_dir) / slug
    try:
        out.mkdir(exist_ok=True)
    except OSError as exc:
        raise output_error(exc, out) from None
    _remove_stale_temps(out)
    return out


def _executor(scheduler: str | None, jobs: int | None, todo: int,
              provenance: Provenance, engine: str = DEFAULT_PDF_ENGINE) -> Executor:
    """The Dask cluster at `scheduler` (its workers must render with our stack), or the local
    pool."""
    if scheduler is not None:
        return DaskExecutor(scheduler, partial(_warm_up_remote, engine),
                            with_templates(provenance.stack))
    return WorkerPool(_workers(jobs, todo), partial(_warm_up, engine))


def _workers(jobs: int | None, todo: int) -> int:
    return max(1, min(jobs or os.cpu_count() or 1, todo))


def _pick_therapists(analysis: Analysis, wanted: list[str] | None) -> list[str]:
    if wanted is None:
        return analysis.therapists
    unknown = sorted(set(wanted) - set(analysis.therapists))
    if unknown:
        raise ParameterError(f"no session in {analysis.period.label} for therapist "
                             f"{', '.join(unknown)}; therapists: {', '.join(analysis.therapists)}")
    return list(dict.fromkeys(wanted))


def _describe_inputs(provenance: Provenance, config: str | Path | None, month: str,
                     engine: str = DEFAULT_PDF_ENGINE) -> dict:
    return {
        "month": month,
        "workbook_version": provenance.version,
        "data": {"name": provenance.data_name, "sha256": provenance.data_sha256},
        "config": {"name": provenance.config_name,
                   "sha256": sha256_file(config) if config else None},
        "rendering_stack": dict(provenance.stack),
        "pdf_engine": describe_engine(engine),
    }


def _inputs_key(provenance: Provenance, config: str | Path | None, month: str,
                template_dir: Path | None = None, engine: str = DEFAULT_PDF_ENGINE) -> str:
    """A digest of everything a report depends on: data, config, code version, the rendering
    stack's versions, the PDF engine (its default may change with no change to the config),
    templates (the project's and the config's own `template_dir`, which override them)."""
    digest = hashlib.sha256()
    parts = [provenance.data_sha256, sha256_file(config) if config else "defaults",
             __version__, month, *(f"{n}={v}" for n, v in provenance.stack),
             f"pdf_engine={engine}"]
    for folder in (TEMPLATES, template_dir):
        if folder is not None and Path(folder).is_dir():
            for template in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
                parts += [template.relative_to(folder).as_posix(), sha256_file(template)]
    digest.update("|".join(parts).encode())
    return digest.hexdigest()[:16]


def _remove_stale_temps(out: Path) -> None:
    for temp in out.glob(".*.tmp"):
        temp.unlink(missing_ok=True)


def _read_manifest(out: Path) -> dict:
    path = out / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"files": {}}
    return manifest if isinstance(manifest.get("files"), dict) else {"files": {}}


def record_notebook(out: str | Path, notebook: str | Path) -> None:
    """List the executed notebook (the run's audit record) in the folder's manifest. Never
    raises: a failure here must not hide the run's own outcome."""
    out, notebook = Path(out), Path(notebook)
    path = out / MANIFEST
    if not path.is_file() or not notebook.is_file():
        return
    manifest = _read_manifest(out)
    manifest["notebook"] = {"name": notebook.name, "sha256": sha256_file(notebook)}
    try:
        write_atomic(path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    except (WorkbookError, OSError):
        pass


def _set_aside(out: Path, manifest: dict, base_key: str, todo: list[Job],
               formats: tuple[str, ...], result: BatchResult) -> None:
    """Make the folder's report files exactly the manifest's, all made from this run's inputs:
    files made from other inputs, and unlisted files no job of this run makes again, are moved
    into superseded/; entries of files that are gone, or about to be made again, are dropped
    (a file of this run's that is not made after all is removed at the end)."""
    files = manifest["files"]
    remade = {f"{job.stem}.{fmt}" for job in todo for fmt in formats}
    moves: dict[str, dict] = {}
    for name in sorted(p.name for p in out.iterdir() if REPORT_FILE.fullmatch(p.name)):
        entry = files.get(name)
        if isinstance(entry, dict) and not str(entry.get("inputs", "")).startswith(base_key):
            moves[name] = {**entry, "set_aside": "made from other inputs",
                           "made_from": {k: manifest.get(k) for k in ("data", "config", "month",
                                                                     "workbook_version")}}
        elif not isinstance(entry, dict) and name not in remade:
            moves[name] = {"set_aside": "not listed in the manifest"}
    for name in list(files):
        if name in moves or name in remade or not (out / name).is_file():
            del files[name]
    if moves:
        _move_aside(out, moves)
        result.set_aside = sorted(moves)


def _move_aside(out: Path, moves: dict[str, dict]) -> None:
    """Move files into superseded/ and describe them in its manifest (written first)."""
    folder = out / SUPERSEDED
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise output_error(exc, folder) from None
    described = _read_manifest(folder)
    for name, entry in moves.items():
        described["files"][name] = {**entry, "sha256": sha256_file(out / name)}
    described["files"] = dict(sorted(described["files"].items()))
    write_atomic(folder / MANIFEST, json.dumps(described, indent=2, sort_keys=True) + "\n")
    for name in moves:
        os.replace(out / name, folder / name)


def _is_current(job: Job, formats: tuple[str, ...], manifest: dict, out: Path) -> bool:
    """Up to date: each file the job would write is listed with this job's inputs and its
    sha256. (Files of formats not asked for this time are not looked at.)"""
    for name in (f"{job.stem}.{fmt}" for fmt in formats):
        entry, path = manifest["files"].get(name), out / name
        if not isinstance(entry, dict) or entry.get("inputs") != job.inputs:
            return False
        if not path.is_file() or sha256_file(path) != entry.get("sha256"):
            return False
    return True


def _run_jobs(todo: list[Job], analysis: Analysis, ratings, provenance: Provenance,
              formats: tuple[str, ...], out: Path, manifest: dict, result: BatchResult, *,
              executor: Executor, progress: bool) -> None:
    """Render jobs through the executor; list each as it finishes so a kill loses little. A
    full disk stops the batch: what was written but cannot be listed is removed."""
    if not todo:
        return
    jobs = {job.stem: job for job in todo}
    remote = getattr(executor, "returns_bytes", False)
    fn, extra = ((_render_job_bytes, (read_templates(analysis.config.template_dir),)) if remote
                 else (_render_job, ()))
    # made one at a time as workers need them: the workers start before the first cut is
    # made, and the cuts are not all held at once
    tasks = (Task(job.stem, fn, (job, _payload(job, analysis, ratings), provenance,
                                 formats, str(out), *extra)) for job in todo)
    bar = tqdm(total=len(todo), desc="reports", unit="report", disable=not progress)
    outcomes = executor.run(tasks)
    try:
        for outcome in outcomes:
            if remote and outcome.ok:
                outcome = _write_returned(outcome, out)
            _record(jobs[outcome.key], outcome, out, manifest, result)
            bar.update(1)
    finally:
        outcomes.close()  # stops the workers of a batch that ends early
        bar.close()
        result.retried = list(getattr(executor, "lost", []))
        _remove_stale_temps(out)
        _remove_unlisted(out, manifest, todo, formats)


def _record(job: Job, outcome: Outcome, out: Path, manifest: dict, result: BatchResult) -> None:
    """List a finished job's files (or its failure) in the manifest and write it."""
    if not outcome.ok:
        result.failures[job.stem] = outcome.error
        if outcome.error_type in FATAL:
            _write_manifest(out, manifest, result, quiet=True)
            raise FATAL[outcome.error_type](outcome.error.split(": ", 1)[-1])
        _write_manifest(out, manifest, result)
        return
    for name, digest in outcome.value:
        manifest["files"][name] = {"sha256": digest, "kind": job.kind,
                                   "therapist_id": job.therapist_id, "inputs": job.inputs}
    try:
        _write_manifest(out, manifest, result)
    except DiskFullError:
        for name, _ in outcome.value:  # not listed on disk: not kept
            manifest["files"].pop(name, None)
            (out / name).unlink(missing_ok=True)
        _write_manifest(out, manifest, result, quiet=True)
        raise
    result.written += [name for name, _ in outcome.value]


def _write_returned(outcome: Outcome, out: Path) -> Outcome:
    """A remote worker's files, written here atomically: the outcome with (name, sha256) pairs,
    or the failure (a full disk or unwritable folder stops the batch in _record)."""
    written: list[tuple[str, str]] = []
    try:
        for name, data in outcome.value:
            path = write_atomic(inside(out, name), data)
            written.append((path.name, hashlib.sha256(data).hexdigest()))
    except OutputError as exc:
        for name, _ in written:
            (out / name).unlink(missing_ok=True)
        return replace(outcome, value=None, error=f"{type(exc).__name__}: {exc}",
                       error_type=type(exc).__name__)
    return replace(outcome, value=written)


def _remove_unlisted(out: Path, manifest: dict, todo: list[Job],
                     formats: tuple[str, ...]) -> None:
    """Files of this run's jobs on disk but not in the manifest (a batch stopped early):
    removed, so the folder holds what the manifest says."""
    for job in todo:
        for name in (f"{job.stem}.{fmt}" for fmt in formats):
            if name not in manifest["files"]:
                (out / name).unlink(missing_ok=True)


def _payload(job: Job, analysis: Analysis, ratings) -> tuple:
    """What a worker needs: the analysis cut to the therapist (its outcomes carrying the
    expected-response model's course counts, which the report states, not its entries), or
    the clinic's."""
    if job.kind == "clinic":
        return analysis, ratings
    cut = analysis.select(therapist_id=job.therapist_id)
    outcomes = cut.outcomes.copy(deep=False)
    model = outcomes.attrs.get("model")
    if model is not None:
        outcomes.attrs["model"] = model.counts_only()
    return replace(cut, outcomes=outcomes), None


def _warm_up_remote(engine: str = DEFAULT_PDF_ENGINE) -> None:
    """A Dask worker's start-up: import the heavy modules in a thread of their own (this runs in
    the worker's event loop, which must keep answering the scheduler); the worker's nanny, not
    this batch, decides when it ends."""
    threading.Thread(target=_import_renderers, args=(engine,), name="workbook-warm-up",
                     daemon=True).start()


def _import_renderers(engine: str = DEFAULT_PDF_ENGINE) -> None:
    """Import the heavy modules once: only the PDF engine in use (WeasyPrint alone is ~1 s and
    ~60 MB)."""
    if engine == "typst":
        from workbook.reports.typeset import warm_up

        warm_up()
    else:
        import weasyprint  # noqa: F401

    from workbook.reports import context  # noqa: F401
    from workbook.views.svg import register_fonts

    register_fonts()


def _warm_up(engine: str = DEFAULT_PDF_ENGINE) -> None:
    """Worker start-up: exit with the parent; import the heavy modules once."""
    _exit_with_parent()
    _import_renderers(engine)


def _exit_with_parent() -> None:
    """End this worker as soon as the process that started it is gone.

    Without this, a batch killed with SIGKILL (or a kernel that dies) leaves its workers
    behind: they finish the jobs already queued to them, writing reports nobody records,
    then wait for more work forever.
    """
    parent = multiprocessing.parent_process()
    if parent is None or parent.sentinel is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _render_job(job: Job, payload: tuple, provenance: Provenance, formats: tuple[str, ...],
                out: str) -> list[tuple[str, str]]:
    """Worker: render one report and write its files; return (file name, sha256) pairs."""
    analysis, ratings = payload
    html = render_report(job.kind, analysis, provenance=provenance,
                         therapist_id=job.therapist_id, ratings=ratings)
    paths = _write_report(html, inside(Path(out), job.stem), formats)
    return [(p.name, sha256_file(p)) for p in paths]


def _render_job_bytes(job: Job, payload: tuple, provenance: Provenance,
                      formats: tuple[str, ...], out: str,
                      templates: dict[str, bytes] | None = None) -> list[tuple[str, bytes]]:
    """Remote worker: render one report; return (file name, bytes) pairs for the batch to
    write (the worker may see neither the output folder nor the clinic's `template_dir`, whose
    files come with the task)."""
    analysis, ratings = payload
    if templates is not None:
        folder = str(unpack_templates(templates))
        analysis = replace(analysis, config=analysis.config.model_copy(
            update={"template_dir": folder}))
    html = render_report(job.kind, analysis, provenance=provenance,
                         therapist_id=job.therapist_id, ratings=ratings)
    return [(f"{job.stem}.{fmt}", data) for fmt, data in report_bytes(html, formats)]


def _write_manifest(out: Path, manifest: dict, result: BatchResult, quiet: bool = False) -> None:
    """Write the manifest atomically, files and failures in a stable order. `quiet`: a failure
    to write is let go (the batch is already stopping for a worse reason)."""
    manifest["failures"] = dict(sorted(result.failures.items()))
    manifest["skipped"] = sorted(result.skipped)
    manifest["set_aside"] = sorted(result.set_aside)
    manifest["files"] = dict(sorted(manifest["files"].items()))
    try:
        write_atomic(out / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    except (DiskFullError, OutputError):
        if not quiet:
            raise
