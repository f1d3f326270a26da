"""The monthly batch on a Dask distributed cluster (issue 17): a real `dask scheduler` and two
`dask worker` processes on 127.0.0.1 (free ports, the scheduler's address read from its
scheduler file), started once for this module. The same month made locally and on the cluster
gives byte-identical files; a re-run skips what is current; a worker SIGKILLed while it renders
costs a retry of its reports only; a task that kills every worker it meets fails alone; a cluster
that cannot be reached, has other versions or a bad address is refused in plain words.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from workbook.data.errors import ClusterError, ParameterError
from workbook.runs.batch import render_month
from workbook.runs.cluster import DaskExecutor, check_address
from workbook.runs.pool import Task

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_DATA = ROOT / "data" / "examples" / "caseload.csv"
BIN = Path(sys.executable).parent
MONTH = "2026-10"
THERAPISTS = ["T01", "T02", "T03"]
FILES = sorted(["clinic.pdf", "clinic.html"] + [f"therapist-{t}.{f}" for t in THERAPISTS
                                                for f in ("pdf", "html")])

pytestmark = pytest.mark.slow


def square(x: int) -> int:
    return x * x


def slow_square(x: int) -> int:
    time.sleep(0.3)
    return x * x


def die_once(marker: str, x: int) -> int:
    """Kill this worker process the first time (no marker file yet), then succeed."""
    path = Path(marker)
    if not path.exists():
        path.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return x * x


def always_die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def fail(message: str) -> None:
    raise ValueError(message)


def files_of(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.suffix in (".pdf", ".html")}


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """`dask scheduler` on 127.0.0.1 (a free port) and two single-threaded `dask worker`s under
    nannies (a killed worker is restarted), as the README advises: allowed-failures 1 (a task
    is tried again once) and worker-saturation 1.0 (a worker holds only the task it runs, so a
    killed worker costs only that one)."""
    base = tmp_path_factory.mktemp("dask")
    scheduler_file = base / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
           "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]),
           "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    logs = open(base / "cluster.log", "w")  # noqa: SIM115 - closed at teardown
    common = dict(env=env, cwd=base, stdout=logs, stderr=subprocess.STDOUT)
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--no-dashboard", "--scheduler-file",
                               str(scheduler_file)], **common)]
    deadline = time.monotonic() + 60
    while not scheduler_file.exists():
        assert procs[0].poll() is None and time.monotonic() < deadline, \
            (base / "cluster.log").read_text()
        time.sleep(0.1)
    address = json.loads(scheduler_file.read_text())["address"]
    for i in range(2):
        procs.append(subprocess.Popen(
            [str(BIN / "dask"), "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
             "--nworkers", "1", "--no-dashboard", "--local-directory", str(base / f"w{i}"),
             "--name", f"w{i}"], **common))
    from distributed import Client

    client = Client(address, timeout=30, set_as_default=False)
    client.wait_for_workers(2, timeout=90)
    yield SimpleNamespace(address=address, client=client, procs=procs, base=base)
    client.close()
    for proc in reversed(procs):
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
    logs.close()


@pytest.fixture(scope="module")
def months(cluster, tmp_path_factory):
    """Four therapists and the clinic, PDF and HTML, made by the local pool and on the cluster
    (into paths with a space and non-ASCII characters); then the cluster run again."""
    base = tmp_path_factory.mktemp("months")
    kwargs = dict(formats=("pdf", "html"), therapists=THERAPISTS, progress=False)
    local = render_month(EXAMPLE_DATA, None, MONTH, base / "local", jobs=2, **kwargs)
    remote = render_month(EXAMPLE_DATA, None, MONTH, base / "dask é", scheduler=cluster.address,
                          **kwargs)
    remote_manifest = manifest_of(base / "dask é" / MONTH)
    again = render_month(EXAMPLE_DATA, None, MONTH, base / "dask é", scheduler=cluster.address,
                         **kwargs)
    return SimpleNamespace(local=local, remote=remote, again=again, remote_manifest=remote_manifest,
                           local_folder=base / "local" / MONTH,
                           remote_folder=base / "dask é" / MONTH)


def test_cluster_makes_the_same_bytes_as_the_local_pool(months):
    assert months.local.ok and months.remote.ok, (months.local.failures, months.remote.failures)
    assert sorted(months.remote.written) == FILES
    local, remote = files_of(months.local_folder), files_of(months.remote_folder)
    assert sorted(remote) == FILES and remote == local


def test_cluster_manifest_lists_exactly_what_the_local_one_does(months):
    local = manifest_of(months.local_folder)
    remote = months.remote_manifest
    assert remote["files"] == local["files"]
    for name, entry in remote["files"].items():  # and each sha256 is the file's own
        data = (months.remote_folder / name).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert remote["failures"] == {} and remote["skipped"] == []
    listing = sorted(p.name for p in months.remote_folder.iterdir())
    assert listing == sorted(FILES + ["manifest.json"])


def test_cluster_rerun_skips_what_is_current(months):
    assert months.again.written == [] and months.again.failures == {}
    assert sorted(months.again.skipped) == ["clinic"] + [f"therapist-{t}" for t in THERAPISTS]


def test_a_worker_killed_mid_run_costs_a_retry_of_its_reports_only(cluster, months, tmp_path):
    """SIGKILL the worker process (its nanny starts another) while it holds a report; every
    report is still made, byte for byte as locally, and the summary names the retried ones."""
    pids = cluster.client.run(os.getpid)  # {worker address: pid}
    result, errors = {}, []

    def batch() -> None:
        try:
            result["r"] = render_month(EXAMPLE_DATA, None, MONTH, tmp_path / "out",
                                       scheduler=cluster.address, formats=("pdf", "html"),
                                       therapists=THERAPISTS, progress=False)
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
        time.sleep(0.05)
    thread.join(300)
    assert not errors, errors
    assert killed is not None, "no worker was seen holding a report"
    run = result["r"]
    assert run.ok, run.failures
    assert files_of(tmp_path / "out" / MONTH) == files_of(months.local_folder)
    assert run.retried and set(run.retried) <= {"clinic"} | {f"therapist-{t}" for t in THERAPISTS}
    assert "made again after the worker process making them stopped" in run.summary()
    assert manifest_of(tmp_path / "out" / MONTH)["files"] == manifest_of(months.local_folder)[
        "files"]
    cluster.client.wait_for_workers(2, timeout=60)  # the nanny's new worker, for what follows


def test_executor_retries_a_task_whose_worker_died(cluster, tmp_path):
    executor = DaskExecutor(cluster.address)
    tasks = [Task(f"t{i}", slow_square, (i,)) for i in range(4)]
    tasks += [Task("victim", die_once, (str(tmp_path / "marker"), 7)), Task("bad", fail, ("no",))]
    outcomes = {o.key: o for o in executor.run(tasks)}
    assert {k: o.value for k, o in outcomes.items() if o.ok} == {
        "t0": 0, "t1": 1, "t2": 4, "t3": 9, "victim": 49}, outcomes
    assert outcomes["victim"].attempts == 2 and executor.lost == ["victim"]
    assert outcomes["bad"].error == "ValueError: no" and outcomes["bad"].error_type == "ValueError"
    cluster.client.wait_for_workers(2, timeout=60)


def test_a_task_that_kills_every_worker_fails_alone(cluster):
    """It kills the worker it is given, then the one it is given again: WorkerLost after the
    one retry; a task on the second worker loses that worker once and is made again."""
    executor = DaskExecutor(cluster.address)
    tasks = [Task("poison", always_die)] + [Task(f"t{i}", slow_square, (i,)) for i in range(4)]
    outcomes = {o.key: o for o in executor.run(tasks)}
    assert {k: o.value for k, o in outcomes.items() if o.ok} == {
        "t0": 0, "t1": 1, "t2": 4, "t3": 9}, outcomes
    poison = outcomes["poison"]
    assert poison.error_type == "WorkerLost" and poison.attempts == 2
    assert poison.error == "WorkerLost: the Dask workers making it stopped, 2 times"
    assert "poison" in executor.lost
    cluster.client.wait_for_workers(2, timeout=60)


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


def test_an_unreachable_scheduler_is_a_cluster_error(monkeypatch):
    import socket

    from workbook.runs import cluster as cluster_module

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setattr(cluster_module, "CONNECT_SECONDS", 2)
    with pytest.raises(ClusterError, match=f"could not reach the Dask scheduler at "
                                           f"tcp://127.0.0.1:{port}"):
        list(DaskExecutor(f"tcp://127.0.0.1:{port}").run([Task("t", square, (2,))]))


@pytest.mark.parametrize("address", ["127.0.0.1:8786", "http://host:8786", "tcp://", "tcp://a b",
                                     "tcp://host:8786/x"])
def test_a_bad_scheduler_address_is_refused(address):
    with pytest.raises(ParameterError, match="expected a Dask scheduler address"):
        check_address("--scheduler", address)
    assert check_address("x", " tcp://10.0.0.5:8786 ") == "tcp://10.0.0.5:8786"


def test_monthly_refuses_a_bad_scheduler_before_starting_a_kernel(tmp_path):
    run = subprocess.run([str(BIN / "workbook"), "monthly", "--out", str(tmp_path / "out"),
                          "--scheduler", "localhost:8786"], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 6, run.stderr
    assert "expected a Dask scheduler address such as tcp://HOST:8786" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "out" / MONTH).exists()


def test_no_process_of_ours_is_left_on_the_cluster(cluster):
    """The workers hold no task or data of finished batches (futures released)."""
    assert all(not keys for keys in cluster.client.processing().values())
    held = cluster.client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))
    assert held == 0
    assert all(psutil.pid_exists(p.pid) for p in cluster.procs)
