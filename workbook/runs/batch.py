"""The monthly batch: one analysis of the whole clinic, then every report in worker processes.

Runs inside one kernel (the clinic_monthly notebook) or any Python process. Reports are written
atomically; a re-run skips reports whose inputs have not changed; one report's failure does not
stop the others; `manifest.json` lists every file with its sha256 and what it was made from.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import multiprocessing.connection
import os
import threading
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from workbook._meta import TEMPLATES, __version__
from workbook.analysis.periods import latest_complete_month, parse_month
from workbook.analysis.pipeline import Analysis, analyse
from workbook.data.config import load_config
from workbook.data.errors import ParameterError
from workbook.data.ingest import load_ratings
from workbook.reports.render import (
    Provenance,
    describe_source,
    render_report,
    sha256_file,
    write_atomic,
)
from workbook.reports.render import write_report as _write_report

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Job:
    """One report to make: its kind, its therapist (None for the clinic) and its file stem."""

    kind: str
    therapist_id: str | None
    stem: str
    inputs: str


@dataclass
class BatchResult:
    """What a batch did: files written, reports skipped as up to date, failures by report."""

    out_dir: Path
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every report was made or already up to date."""
        return not self.failures

    def summary(self) -> str:
        """Plain words: where the reports are, what was skipped, what failed and why."""
        lines = [f"{len(self.written)} file(s) written, {len(self.skipped)} report(s) already "
                 f"up to date, in {self.out_dir}"]
        if self.failures:
            lines.append(f"{len(self.failures)} report(s) failed:")
            lines += [f"  - {stem}: {why}" for stem, why in sorted(self.failures.items())]
        return "\n".join(lines)


def render_month(data: str | Path, config: str | Path | None = None, month: str | None = None,
                 out_dir: str | Path = "reports", *, jobs: int | None = None,
                 formats: tuple[str, ...] = ("pdf",), therapists: list[str] | None = None,
                 clinic: bool = True, progress: bool = True) -> BatchResult:
    """Make the clinic report and one caseload report per therapist for a month.

    `therapists` None means every therapist with a session in the month; [] means none.
    """
    settings = load_config(config)
    ratings = load_ratings(data, settings)
    period = parse_month(month) if month else latest_complete_month(ratings)
    analysis = analyse(ratings, settings, period)
    provenance = describe_source(data, config, ratings)
    out = Path(out_dir) / f"{period.start:%Y-%m}"
    out.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(out)
    base_key = _inputs_key(provenance, config, period.label, settings.template_dir)
    planned = [Job("clinic", None, "clinic", base_key + ":clinic")] if clinic else []
    planned += [Job("therapist", t, f"therapist-{t}", f"{base_key}:therapist:{t}")
                for t in _pick_therapists(analysis, therapists)]
    manifest = _read_manifest(out)
    todo = [job for job in planned if not _is_current(job, formats, manifest, out)]
    manifest.update(_describe_inputs(provenance, config, period.label))
    result = BatchResult(out, skipped=[j.stem for j in planned if j not in todo])
    _run_jobs(todo, analysis, ratings, provenance, formats, out, manifest, result,
              jobs=jobs, progress=progress)
    _write_manifest(out, manifest, result)
    return result


def _pick_therapists(analysis: Analysis, wanted: list[str] | None) -> list[str]:
    if wanted is None:
        return analysis.therapists
    unknown = sorted(set(wanted) - set(analysis.therapists))
    if unknown:
        raise ParameterError(f"no session in {analysis.period.label} for therapist "
                             f"{', '.join(unknown)}; therapists: {', '.join(analysis.therapists)}")
    return list(dict.fromkeys(wanted))


def _describe_inputs(provenance: Provenance, config: str | Path | None, month: str) -> dict:
    return {
        "month": month,
        "workbook_version": provenance.version,
        "data": {"name": provenance.data_name, "sha256": provenance.data_sha256},
        "config": {"name": provenance.config_name,
                   "sha256": sha256_file(config) if config else None},
        "rendering_stack": dict(provenance.stack),
    }


def _inputs_key(provenance: Provenance, config: str | Path | None, month: str,
                template_dir: Path | None = None) -> str:
    """A digest of everything a report depends on: data, config, code version, the rendering
    stack's versions, templates (the project's and the config's own `template_dir`, which
    override them)."""
    digest = hashlib.sha256()
    parts = [provenance.data_sha256, sha256_file(config) if config else "defaults",
             __version__, month, *(f"{n}={v}" for n, v in provenance.stack)]
    for folder in (TEMPLATES, template_dir):
        if folder is not None and Path(folder).is_dir():
            for template in sorted(p for p in Path(folder).glob("*") if p.is_file()):
                parts += [template.name, sha256_file(template)]
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
    """List the executed notebook (the run's audit record) in the folder's manifest."""
    out, notebook = Path(out), Path(notebook)
    path = out / MANIFEST
    if not path.is_file() or not notebook.is_file():
        return
    manifest = _read_manifest(out)
    manifest["notebook"] = {"name": notebook.name, "sha256": sha256_file(notebook)}
    write_atomic(path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


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
              jobs: int | None, progress: bool) -> None:
    """Render jobs in worker processes; record each as it finishes so a kill loses little."""
    if not todo:
        return
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    context = multiprocessing.get_context("spawn")
    bar = tqdm(total=len(todo), desc="reports", unit="report", disable=not progress)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                             initializer=_warm_up) as pool:
        futures = {pool.submit(_render_job, job, _payload(job, analysis, ratings),
                               provenance, formats, str(out)): job for job in todo}
        for future in as_completed(futures):
            job = futures[future]
            try:
                files = future.result()
            except Exception as exc:  # one report's failure must not stop the others
                result.failures[job.stem] = f"{type(exc).__name__}: {exc}"
            else:
                for name, digest in files:
                    manifest["files"][name] = {"sha256": digest, "kind": job.kind,
                                               "therapist_id": job.therapist_id,
                                               "inputs": job.inputs}
                    result.written.append(name)
                _write_manifest(out, manifest, result)
            bar.update(1)
    bar.close()


def _payload(job: Job, analysis: Analysis, ratings) -> tuple:
    """What a worker needs: the analysis cut to the therapist, or the clinic's."""
    if job.kind == "clinic":
        return analysis, ratings
    return analysis.select(therapist_id=job.therapist_id), None


def _warm_up() -> None:
    """Worker start-up: exit with the parent; import the heavy modules once."""
    _exit_with_parent()
    import weasyprint  # noqa: F401

    from workbook.reports import context  # noqa: F401
    from workbook.views.svg import register_fonts

    register_fonts()


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
    paths = _write_report(html, Path(out) / job.stem, formats)
    return [(p.name, sha256_file(p)) for p in paths]


def _write_manifest(out: Path, manifest: dict, result: BatchResult) -> None:
    """Write the manifest atomically, files and failures in a stable order."""
    manifest["failures"] = dict(sorted(result.failures.items()))
    manifest["skipped"] = sorted(result.skipped)
    manifest["files"] = dict(sorted(manifest["files"].items()))
    write_atomic(out / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
