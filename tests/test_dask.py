"""The monthly batch on a Dask distributed cluster (issue 17): a real `dask scheduler` and two
`dask worker` processes on 127.0.0.1 (free ports, the scheduler's address read from its
scheduler file), started once for this module, on a tiny generated clinic (3 therapists x 3
clients) with its own branded therapist template that fails for T03 only.

The same month made by the local pool and on the cluster gives byte-identical files and the
same manifest; the clinic's templates reach the workers with the tasks; T03's failure costs
only T03; a re-run skips what is current; a worker SIGKILLed while it renders costs a retry of
its report only; a task that kills every worker it meets fails alone; a scheduler that is not
there, or workers with other versions, are refused in plain words (exit 12) before anything is
written.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest
from dask_tasks import always_die, slow_square, square

from workbook.data.errors import ClusterError, ParameterError
from workbook.data.example_data import generate_clinic, write_clinic
from workbook.reports.render import rendering_stack
from workbook.runs.batch import render_month
from workbook.runs.cluster import DaskExecutor, check_address, templates_digest, with_templates
from workbook.runs.pool import Task

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MONTH = "2026-10"
GOOD = ["T01", "T02"]
FILES = sorted(f"{stem}.{fmt}" for stem in ["clinic"] + [f"therapist-{t}" for t in GOOD]
               for fmt in ("pdf", "html"))
BRAND = """{% extends "base.html" %}
{% block content %}
{% if "T03" in subject %}{{ signature_of_the_lead_for_t03 }}{% endif %}
<p>Branded on the cluster: {{ subject }}.</p>
{% endblock %}
"""

pytestmark = pytest.mark.slow


def files_of(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.suffix in (".pdf", ".html")}


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def free_port() -> int:
    with socket.socket() as sock:  # a port nothing listens on (once closed)
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_all(procs: list[subprocess.Popen], grace: float = 1.5) -> None:
    """SIGTERM the cluster's processes, then SIGKILL whatever of their trees is left."""
    tree = []
    for proc in procs:
        try:
            tree += [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
    for proc in reversed(procs):
        proc.terminate()
    _, alive = psutil.wait_procs(tree, timeout=grace)
    for proc in alive:
        proc.kill()
    psutil.wait_procs(alive, timeout=grace)


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    """The tiny clinic as CSV, and a config whose template_dir brands the therapist reports."""
    base = tmp_path_factory.mktemp("clinic")
    data = write_clinic(generate_clinic(therapists=3, clients_per_therapist=3, weeks=10,
                                        plant=False, seed=3), base / "clinic.csv")
    (base / "brand").mkdir()
    (base / "brand" / "therapist.html").write_text(BRAND, encoding="utf-8")
    config = base / "workbook.yml"
    config.write_text("clinic_name: Cluster Clinic\ntemplate_dir: brand\n", encoding="utf-8")
    return SimpleNamespace(data=data, config=config)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """`dask scheduler` on 127.0.0.1 (a free port) and two single-threaded `dask worker`s under
    nannies (a killed worker is restarted), as the README advises: allowed-failures 1 (a task
    is tried again once) and worker-saturation 1.0. The workers' TMPDIR is a folder of their
    own, so the templates they unpack can be looked at."""
    base = tmp_path_factory.mktemp("dask")
    scheduler_file = base / "scheduler.json"
    (base / "worker-tmp").mkdir()
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
           "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]),
           "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    logs = open(base / "cluster.log", "w")  # noqa: SIM115 - closed at teardown
    common = dict(cwd=base, stdout=logs, stderr=subprocess.STDOUT)
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--no-dashboard", "--scheduler-file",
                               str(scheduler_file)], env=env, **common)]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            assert procs[0].poll() is None and time.monotonic() < deadline, \
                (base / "cluster.log").read_text()
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        worker_env = {**env, "TMPDIR": str(base / "worker-tmp")}
        for i in range(2):
            procs.append(subprocess.Popen(
                [str(BIN / "dask"), "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                 "--nworkers", "1", "--no-dashboard", "--local-directory", str(base / f"w{i}"),
                 "--name", f"w{i}"], env=worker_env, **common))
        from distributed import Client

        client = Client(address, timeout=30, set_as_default=False)
        client.wait_for_workers(2, timeout=90)
        yield SimpleNamespace(address=address, client=client, procs=procs, base=base,
                              worker_tmp=base / "worker-tmp")
        client.close()
    finally:
        stop_all(procs)
        logs.close()


@pytest.fixture(scope="module")
def months(clinic, cluster, tmp_path_factory):
    """The clinic and its three therapists, PDF and HTML, made by the local pool and on the
    cluster (into a path with a space and non-ASCII characters); then the cluster run again."""
    base = tmp_path_factory.mktemp("months")
    kwargs = dict(formats=("pdf", "html"), progress=False)
    local = render_month(clinic.data, clinic.config, MONTH, base / "local", jobs=1, **kwargs)
    remote = render_month(clinic.data, clinic.config, MONTH, base / "dask é",
                          scheduler=cluster.address, **kwargs)
    remote_manifest = manifest_of(base / "dask é" / MONTH)
    again = render_month(clinic.data, clinic.config, MONTH, base / "dask é",
                         scheduler=cluster.address, **kwargs)
    return SimpleNamespace(local=local, remote=remote, again=again, remote_manifest=remote_manifest,
                           local_folder=base / "local" / MONTH,
                           remote_folder=base / "dask é" / MONTH)


def test_cluster_makes_the_same_bytes_as_the_local_pool(months):
    assert sorted(months.local.written) == FILES, months.local.summary()
    assert sorted(months.remote.written) == FILES, months.remote.summary()
    local, remote = files_of(months.local_folder), files_of(months.remote_folder)
    assert sorted(remote) == FILES and remote == local


def test_cluster_manifest_lists_exactly_what_the_local_one_does(months):
    local = manifest_of(months.local_folder)
    remote = months.remote_manifest
    assert remote["files"] == local["files"] and sorted(remote["files"]) == FILES
    for name, entry in remote["files"].items():  # and each sha256 is the file's own
        data = (months.remote_folder / name).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert list(remote["failures"]) == list(local["failures"]) == ["therapist-T03"]
    listing = sorted(p.name for p in months.remote_folder.iterdir())
    assert listing == sorted(FILES + ["manifest.json"])


def test_the_clinics_templates_reach_the_workers(months, cluster):
    """The branded template is used on the cluster: from the copy each worker unpacked under its
    own TMPDIR, not from the clinic's folder."""
    html = (months.remote_folder / "therapist-T01.html").read_text(encoding="utf-8")
    assert "Branded on the cluster: therapist T01." in html
    unpacked = list(cluster.worker_tmp.glob("workbook-templates-*/therapist.html"))
    assert unpacked and all(p.read_text(encoding="utf-8") == BRAND for p in unpacked)


def test_one_failing_therapist_costs_only_that_report(months):
    remote = months.remote
    assert not remote.ok and list(remote.failures) == ["therapist-T03"]
    why = remote.failures["therapist-T03"]
    assert why.startswith("ReportError: template therapist.html line 3:"), why
    assert "signature_of_the_lead_for_t03" in why
    assert "signature_of_the_lead_for_t03" in months.remote_manifest["failures"]["therapist-T03"]
    assert not list(months.remote_folder.glob("therapist-T03*"))
    assert "1 report(s) failed" in remote.summary()


def test_cluster_rerun_skips_what_is_current(months):
    """Everything made is skipped; the failed report is tried again (and fails again)."""
    again = months.again
    assert again.written == [] and list(again.failures) == ["therapist-T03"]
    assert sorted(again.skipped) == ["clinic"] + [f"therapist-{t}" for t in GOOD]
    assert files_of(months.remote_folder) == files_of(months.local_folder)


def test_a_worker_killed_mid_run_costs_a_retry_of_its_report_only(clinic, cluster, months,
                                                                   tmp_path):
    """SIGKILL the worker process (its nanny starts another) while it holds a report; every
    report is still made, byte for byte as locally, and the summary names the retried one."""
    pids = cluster.client.run(os.getpid)  # {worker address: pid}
    result, errors = {}, []

    def batch() -> None:
        try:
            result["r"] = render_month(clinic.data, clinic.config, MONTH, tmp_path / "out",
                                       scheduler=cluster.address, formats=("pdf", "html"),
                                       therapists=GOOD, clinic=False, progress=False)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=batch)
    thread.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and thread.is_alive() and time.monotonic() < deadline:
        for address, keys in cluster.client.processing().items():
            if any(k.startswith("therapist-") for k in keys) and address in pids:
                os.kill(pids[address], signal.SIGKILL)
                killed = address
                break
        time.sleep(0.02)
    thread.join(180)
    assert not errors, errors
    assert killed is not None, "no worker was seen holding a report"
    run = result["r"]
    assert run.ok, run.failures
    made = files_of(tmp_path / "out" / MONTH)
    assert made == {k: v for k, v in files_of(months.local_folder).items()
                    if k.startswith("therapist-")}
    assert len(run.retried) == 1 and run.retried[0] in {f"therapist-{t}" for t in GOOD}
    assert "1 report(s) made again after the worker process making them stopped" in run.summary()
    cluster.client.wait_for_workers(2, timeout=90)  # the nanny's new worker, for what follows


def test_a_task_that_kills_every_worker_fails_alone(cluster):
    """It kills the worker it is given, then the one it is given again: WorkerLost after the
    one retry; the other tasks are all made."""
    executor = DaskExecutor(cluster.address)
    tasks = [Task("poison", always_die)] + [Task(f"t{i}", slow_square, (i,)) for i in range(4)]
    outcomes = {o.key: o for o in executor.run(tasks)}
    assert {k: o.value for k, o in outcomes.items() if o.ok} == {
        "t0": 0, "t1": 1, "t2": 4, "t3": 9}, outcomes
    poison = outcomes["poison"]
    assert poison.error_type == "WorkerLost" and poison.attempts == 2
    assert poison.error == "WorkerLost: the Dask workers making it stopped, 2 times"
    assert "poison" in executor.lost
    cluster.client.wait_for_workers(2, timeout=90)


def test_closing_the_outcomes_cancels_the_rest(cluster):
    outcomes = DaskExecutor(cluster.address).run(
        [Task(f"s{i}", slow_square, (i,)) for i in range(20)])
    first = next(outcomes)
    outcomes.close()
    assert first.ok
    deadline = time.monotonic() + 10
    while any(k.startswith("s") for keys in cluster.client.processing().values() for k in keys):
        assert time.monotonic() < deadline, cluster.client.processing()
        time.sleep(0.1)


def test_workers_with_other_versions_are_refused_before_any_work(cluster):
    stack = (("workbook", "0.0.0-elsewhere"), ("weasyprint", "1.0"))
    with pytest.raises(ClusterError) as caught:
        list(DaskExecutor(cluster.address, stack=stack).run([Task("t", square, (2,))]))
    message = str(caught.value)
    assert "workbook" in message and "(here 0.0.0-elsewhere)" in message
    assert "127.0.0.1" in message and "requirements.lock" in message


def test_workers_with_other_project_templates_are_refused(cluster):
    """Same versions, but the workers' checkout has other templates than ours."""
    ours = with_templates(rendering_stack())
    assert dict(ours)["project templates"] == templates_digest(ROOT / "templates")
    list(DaskExecutor(cluster.address, stack=ours).run([Task("t", square, (2,))]))  # the same
    other = (*ours[:-1], ("project templates", "0" * 16))
    with pytest.raises(ClusterError, match=r"project templates \w{16} \(here 0{16}\)"):
        list(DaskExecutor(cluster.address, stack=other).run([Task("t", square, (2,))]))


def test_monthly_with_no_scheduler_there_exits_12_and_writes_nothing(clinic, tmp_path):
    """Nothing listens at the address: a plain message at once, exit 12, no traceback, no
    month folder, no kernel started (the check comes first)."""
    address = f"tcp://127.0.0.1:{free_port()}"
    (tmp_path / "out").mkdir()
    started = time.monotonic()
    run = subprocess.run([str(BIN / "workbook"), "monthly", "--data", str(clinic.data),
                          "--config", str(clinic.config), "--month", MONTH,
                          "--out", str(tmp_path / "out"), "--scheduler", address],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 12, run.stderr
    assert f"could not reach the Dask scheduler at {address}" in run.stderr
    assert "is `dask scheduler` running there and the port open?" in run.stderr
    assert "Traceback" not in run.stderr
    assert list((tmp_path / "out").iterdir()) == []
    assert time.monotonic() - started < 60  # not Dask's own retry-until-timeout


def test_render_month_with_no_scheduler_there_makes_no_folder(clinic, tmp_path):
    address = f"tcp://127.0.0.1:{free_port()}"
    with pytest.raises(ClusterError, match=f"could not reach the Dask scheduler at {address}"):
        render_month(clinic.data, clinic.config, MONTH, tmp_path / "out", scheduler=address,
                     progress=False)
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("address", ["127.0.0.1:8786", "http://host:8786", "tcp://", "tcp://a b",
                                     "tcp://host:8786/x"])
def test_a_bad_scheduler_address_is_refused(address):
    with pytest.raises(ParameterError, match="expected a Dask scheduler address"):
        check_address("--scheduler", address)
    assert check_address("x", " tcp://10.0.0.5:8786 ") == "tcp://10.0.0.5:8786"


def test_nothing_of_ours_is_left_on_the_cluster(cluster):
    """The workers hold no task or data of finished batches (futures released)."""
    assert all(not keys for keys in cluster.client.processing().values())
    held = cluster.client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))
    assert held == 0
    assert all(p.poll() is None for p in cluster.procs)
