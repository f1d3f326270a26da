"""Run the batch's tasks on a Dask distributed cluster (`workbook monthly --scheduler ADDRESS`).

`DaskExecutor` stands where the local `WorkerPool` does (workbook.runs.pool.Executor): one
`Outcome` per task as each finishes, closing the iterator cancels the rest, `lost` lists the
tasks that lost a worker. The cluster is given as many tasks at a time as its workers have
threads (more as each ends), so a worker holds only what it runs. The workers may be other
machines that do not share the output folder, so a task returns its files' bytes
(`returns_bytes`) and the batch writes them here, atomically, and lists them in the manifest as
it does for the local pool.

When a worker dies holding a task, the scheduler gives the task to another worker; after
`allowed-failures` deaths (the scheduler's setting; start it with
DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=1 for "tried again once") the task fails with
KilledWorker, reported as WorkerLost. Before any work, every worker is checked to run the same
workbook and rendering stack as this process: other versions would make other bytes.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbook._meta import TEMPLATES
from workbook.data.errors import ClusterError, ParameterError
from workbook.runs.pool import Outcome, Pending, Task

CONNECT_SECONDS = 20
PROBE_SECONDS = 5
DEFAULT_PORT = 8786
TEMPLATES_NAME = "project templates"
ADDRESS = re.compile(r"(tcp|tls)://(?P<host>[A-Za-z0-9._\-]+|\[[0-9a-fA-F:]+\])(:(?P<port>\d{1,5}))?")


def check_address(name: str, address: str) -> str:
    """A scheduler address such as tcp://10.0.0.5:8786 (tcp or tls); return it trimmed."""
    address = str(address).strip()
    if not ADDRESS.fullmatch(address):
        raise ParameterError(f"{name} {address!r}: expected a Dask scheduler address such as "
                           f"tcp://HOST:8786")
    return address


def check_cluster(address: str, stack: tuple[tuple[str, str], ...] = ()) -> None:
    """Refuse (ClusterError) a scheduler that cannot be reached, has no workers, or whose
    workers run another rendering stack: called before any folder is made or kernel started."""
    executor = DaskExecutor(address, stack=stack)
    client = executor._connect()
    try:
        executor._check_workers(client)
    finally:
        client.close()


def probe(address: str) -> None:
    """A plain TCP connection to the scheduler's host and port, so that a refused connection or
    an unknown host is told at once (Dask's own connect keeps retrying until its timeout)."""
    host, port = ADDRESS.fullmatch(address).group("host", "port")
    try:
        with socket.create_connection((host.strip("[]"), int(port or DEFAULT_PORT)),
                                      timeout=PROBE_SECONDS):
            return
    except socket.gaierror:
        why = f"the host {host} is not known"
    except TimeoutError:
        why = f"no answer within {PROBE_SECONDS} s"
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
    raise ClusterError(f"could not reach the Dask scheduler at {address} ({why}); is "
                       f"`dask scheduler` running there and the port open?")


@dataclass
class DaskExecutor:
    """Tasks sent to the Dask scheduler at `address`; `initializer` runs once on each worker
    present at the start; `stack` (package, version) pairs every worker must match."""

    address: str
    initializer: Callable[[], None] | None = None
    stack: tuple[tuple[str, str], ...] = ()
    lost: list[str] = field(default_factory=list)
    returns_bytes: bool = True

    def run(self, tasks: Iterable[Task]) -> Iterator[Outcome]:
        from distributed import as_completed

        pending = Pending(tasks)
        client = self._connect()
        futures: dict[Any, Task] = {}
        try:
            self._prepare(client)
            run_id = uuid.uuid4().hex[:8]
            done = as_completed([], loop=client.loop)
            self._top_up(client, pending, futures, done, run_id)
            for batch in done.batches():
                finished = [(future, futures.pop(future)) for future in batch]
                # the freed threads get their next tasks before the results are fetched and
                # written: a worker waits for the scheduler only, not for this process
                self._top_up(client, pending, futures, done, run_id)
                deaths = _deaths(client, [future.key for future, _ in finished])
                for future, task in finished:
                    if deaths.get(future.key, 0):
                        self.lost.append(task.key)
                    yield _outcome(task.key, future, _value(future), deaths.get(future.key, 0))
                    future.release()
        finally:
            if futures:
                client.cancel(list(futures), force=True)
            client.close()

    @staticmethod
    def _top_up(client, pending: Pending, futures: dict[Any, Task], done,
                run_id: str) -> None:
        """Keep as many tasks on the cluster as its workers have threads, no more: a worker
        then holds only the tasks it runs, so one that dies costs only those."""
        limit = max(1, sum(client.nthreads().values()))
        while pending and len(futures) < limit:
            task = pending.popleft()
            future = client.submit(task.fn, *task.args, key=f"{task.key}-{run_id}", pure=False)
            futures[future] = task
            done.add(future)

    def _connect(self):
        from distributed import Client

        probe(self.address)
        try:
            return Client(self.address, timeout=CONNECT_SECONDS, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"could not reach the Dask scheduler at {self.address} within "
                               f"{CONNECT_SECONDS} s ({type(exc).__name__}: {exc}); is "
                               f"`dask scheduler` running there and the port open?") from None

    def _prepare(self, client) -> None:
        """Refuse a cluster without workers or whose workers would render differently; then
        warm the workers up."""
        self._check_workers(client)
        if self.initializer is not None:
            client.run(self.initializer)

    def _check_workers(self, client) -> None:
        """ClusterError unless the cluster has workers, each with this machine's stack."""
        workers = client.scheduler_info(n_workers=-1)["workers"]
        if not workers:
            raise ClusterError(f"the Dask scheduler at {self.address} has no workers; start "
                               f"some with `dask worker {self.address}`")
        if self.stack:
            theirs = client.run(_stack_here, [name for name, _ in self.stack])
            ours = dict(self.stack)
            odd = {addr: {n: v for n, v in got.items() if ours.get(n) != v}
                   for addr, got in theirs.items()}
            odd = {addr: diff for addr, diff in odd.items() if diff}
            if odd:
                lines = [f"  {addr}: " + ", ".join(f"{n} {v} (here {ours[n]})"
                                                  for n, v in sorted(diff.items()))
                         for addr, diff in sorted(odd.items())]
                raise ClusterError("these Dask workers run other versions than this machine, "
                                   "so their reports would differ; install the same "
                                   "requirements.lock and the same workbook checkout on "
                                   "them:\n" + "\n".join(lines))


def read_templates(folder: str | Path | None) -> dict[str, bytes] | None:
    """The clinic's own templates (config `template_dir`) as relative path -> bytes, to send
    with each task: a worker on another machine does not see this folder. Links out of the
    folder are left out, as the template loader never follows them."""
    if folder is None:
        return None
    root = Path(folder).resolve()
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(Path(folder).rglob("*"))
            if p.is_file() and p.resolve().is_relative_to(root)}


def unpack_templates(templates: dict[str, bytes]) -> Path:
    """On a worker: the templates in a folder of their own, named by their digest (made once
    per worker machine, complete before it is used)."""
    digest = hashlib.sha256()
    for name, data in sorted(templates.items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    folder = Path(tempfile.gettempdir()) / f"workbook-templates-{digest.hexdigest()[:16]}"
    if folder.is_dir():
        return folder
    staging = Path(tempfile.mkdtemp(prefix=".workbook-templates-"))
    for name, data in templates.items():
        path = staging / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    try:
        os.rename(staging, folder)
    except OSError:  # another worker made it first
        shutil.rmtree(staging, ignore_errors=True)
        if not folder.is_dir():
            raise
    return folder


def with_templates(stack: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """The rendering stack and a digest of the project's own templates: a worker whose
    checkout has other templates under the same version would make other bytes too."""
    return (*stack, (TEMPLATES_NAME, templates_digest()))


def templates_digest(folder: Path = TEMPLATES) -> str:
    """sha256 (16 hex digits) of every file under `folder`, by relative path and content."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0"
                      + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def _stack_here(names: list[str]) -> dict[str, str]:
    """On a worker: the installed version of each package named (as rendering_stack says),
    and the digest of its project templates."""
    from workbook.reports.render import rendering_stack

    stack = {**dict(rendering_stack()), TEMPLATES_NAME: templates_digest()}
    return {name: stack.get(name, "not installed") for name in names}


def _deaths(client, keys: list[str]) -> dict[str, int]:
    """How many workers died holding each of these tasks (the scheduler's count)."""
    def count(dask_scheduler, keys=keys) -> dict[str, int]:
        states = dask_scheduler.tasks
        return {k: states[k].suspicious for k in keys if k in states}

    try:
        return client.run_on_scheduler(count)
    except Exception:  # the count is for the summary only; never lose a result for it
        return {}


def _value(future) -> Any:
    """A finished future's result, or the error that ended it."""
    try:
        return future.result() if future.status == "finished" else future.exception()
    except BaseException as exc:  # noqa: BLE001 - a cancelled or lost future: its error
        return exc


def _outcome(key: str, future, value: Any, deaths: int) -> Outcome:
    """A finished future as an Outcome: its value, or its error by class name; `deaths` is how
    many workers died holding it."""
    attempts = 1 + deaths
    if future.status == "finished" and not isinstance(value, BaseException):
        return Outcome(key, value=value, attempts=attempts)
    error = value if isinstance(value, BaseException) else future.exception()
    kind = type(error).__name__
    if kind == "KilledWorker":
        attempts = max(deaths, 1)
        return Outcome(key, error=f"WorkerLost: the Dask workers making it stopped, "
                                  f"{attempts} times", error_type="WorkerLost",
                       attempts=attempts)
    if kind == "CancelledError":
        return Outcome(key, error="WorkerLost: the task was cancelled on the cluster",
                       error_type="WorkerLost", attempts=attempts)
    return Outcome(key, error=f"{kind}: {error}", error_type=kind, attempts=attempts)
