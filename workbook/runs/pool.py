"""Run the batch's tasks in worker processes; a worker that dies costs at most the task it held.

`Executor` is what the batch needs of any executor: `run(tasks)` yields one `Outcome` per task as
each finishes, in any order, and closing the iterator early stops the rest. `WorkerPool` is the
local one: `size` spawned processes, each handed one task at a time over its own pipe, so the
pool always knows which task a worker holds. When a worker dies (SIGKILL, the kernel's OOM
killer, a crash in native code), the pool starts another and gives the task a second try on it;
a task that loses its worker twice fails with `WorkerLost`; every other task goes on. (Python's
ProcessPoolExecutor instead marks every queued task broken when one worker dies.) A Dask
executor can take WorkerPool's place behind the same interface.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

STOP_SECONDS = 5.0


@dataclass(frozen=True)
class Task:
    """One call to run: `fn(*args)`; `fn` must be importable by a fresh process."""

    key: str
    fn: Callable[..., Any]
    args: tuple = ()


@dataclass(frozen=True)
class Outcome:
    """What became of a task: its value, or the error that ended it (`error_type` is the class
    name, such as 'DiskFullError' or 'WorkerLost'); `attempts` is how many workers it took."""

    key: str
    value: Any = None
    error: str | None = None
    error_type: str | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None


class Executor(Protocol):
    """Runs tasks somewhere; yields an Outcome per task as each finishes. Closing the iterator
    stops the tasks not yet finished (their outcomes are never yielded)."""

    def run(self, tasks: Iterable[Task]) -> Iterator[Outcome]: ...


class Pending:
    """The tasks not yet handed out, taken from `tasks` one at a time, as they are needed (a
    batch's task carries its report's data: made when a worker is about to need it, not all
    before the first worker starts), with room at the front for tasks to run again. True while
    any is left (looking makes the next one)."""

    def __init__(self, tasks: Iterable[Task]) -> None:
        self._source: Iterator[Task] = iter(tasks)
        self._ready: deque[Task] = deque()

    def __bool__(self) -> bool:
        if not self._ready:
            task = next(self._source, None)
            if task is None:
                return False
            self._ready.append(task)
        return True

    def popleft(self) -> Task:
        if not self:
            raise IndexError("no task left")
        return self._ready.popleft()

    def appendleft(self, task: Task) -> None:
        self._ready.appendleft(task)


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: multiprocessing.connection.Connection
    task: Task | None = None

    def stop(self) -> None:
        """Ask the worker to finish, then end it if it does not."""
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.process.join(STOP_SECONDS if self.task is None else 0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(STOP_SECONDS)
        self.conn.close()


@dataclass
class WorkerPool:
    """Up to `size` spawned worker processes, each running `initializer` once at start.
    A task whose worker dies is tried again on a new worker, up to `retries` times."""

    size: int
    initializer: Callable[[], None] | None = None
    retries: int = 1
    lost: list[str] = field(default_factory=list)  # keys of tasks that lost a worker

    def run(self, tasks: Iterable[Task]) -> Iterator[Outcome]:
        pending = Pending(tasks)
        attempts: dict[str, int] = {}
        workers: list[_Worker] = []
        context = multiprocessing.get_context("spawn")
        try:
            # every worker starts now: handing the first its task waits until it has started
            # up and reads it, and a second worker started after that would start that late
            workers += [self._start(context) for _ in range(self.size if pending else 0)]
            while pending or any(w.task for w in workers):
                self._hand_out(pending, workers, attempts, context)
                busy = [w for w in workers if w.task is not None]
                waits = {w.conn: w for w in busy} | {w.process.sentinel: w for w in busy}
                for ready in multiprocessing.connection.wait(list(waits)):
                    worker = waits[ready]
                    if worker.task is None:  # already handled through its other handle
                        continue
                    outcome = self._collect(worker, attempts)
                    if outcome is None:
                        workers.remove(worker)
                        outcome = self._lost(worker, pending, attempts)
                    if outcome is not None:
                        yield outcome
        finally:
            for worker in workers:
                worker.stop()

    def _hand_out(self, pending: Pending, workers: list[_Worker],
                  attempts: dict[str, int], context) -> None:
        """Give each idle worker a task, starting workers as needed (up to `size`)."""
        for dead in [w for w in workers if w.task is None and not w.process.is_alive()]:
            workers.remove(dead)  # died between tasks: holding none, it costs none
            dead.conn.close()
        while pending:
            idle = next((w for w in workers if w.task is None), None)
            if idle is None:
                if len(workers) >= self.size:
                    return
                idle = self._start(context)
                workers.append(idle)
            task = pending.popleft()
            attempts[task.key] = attempts.get(task.key, 0) + 1
            idle.task = task
            try:
                idle.conn.send((task.key, task.fn, task.args))
            except (OSError, ValueError):  # it died before taking the task: noticed below
                pass

    def _start(self, context) -> _Worker:
        parent, child = context.Pipe()
        process = context.Process(target=_serve, args=(child, self.initializer),
                                  name="workbook-worker", daemon=True)
        process.start()
        child.close()
        return _Worker(process, parent)

    def _collect(self, worker: _Worker, attempts: dict[str, int]) -> Outcome | None:
        """The finished task's outcome, or None when the worker died holding it."""
        try:
            if not worker.conn.poll():
                return None
            status, *rest = worker.conn.recv()
        except (EOFError, OSError, pickle.UnpicklingError):  # died while sending
            return None
        task, worker.task = worker.task, None
        tries = attempts[task.key]
        if status == "ok":
            return Outcome(task.key, value=rest[0], attempts=tries)
        error_type, message = rest
        return Outcome(task.key, error=f"{error_type}: {message}", error_type=error_type,
                       attempts=tries)

    def _lost(self, worker: _Worker, pending: Pending,
              attempts: dict[str, int]) -> Outcome | None:
        """A worker died holding a task: try the task again, or give up on it."""
        task, worker.task = worker.task, None
        worker.process.join(STOP_SECONDS)
        code = worker.process.exitcode
        worker.conn.close()
        self.lost.append(task.key)
        if attempts[task.key] <= self.retries:
            pending.appendleft(task)
            return None
        how = (f"killed by signal {signal.Signals(-code).name}" if code is not None and code < 0
               else f"exit code {code}")
        return Outcome(task.key, error=f"WorkerLost: the worker process making it stopped "
                                       f"({how}), {attempts[task.key]} times",
                       error_type="WorkerLost", attempts=attempts[task.key])


def _serve(conn: multiprocessing.connection.Connection,
           initializer: Callable[[], None] | None) -> None:
    """A worker's life: start up, then run each task it is handed and send back the result."""
    start_error = None
    if initializer is not None:
        try:
            initializer()
        except Exception as exc:  # every task then fails, saying why
            start_error = f"the worker could not start: {type(exc).__name__}: {exc}"
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        _key, fn, args = message
        if start_error:
            conn.send(("error", "WorkerStartError", start_error))
            continue
        try:
            reply = ("ok", fn(*args))
        except Exception as exc:
            reply = ("error", type(exc).__name__, str(exc) or traceback.format_exc(limit=1))
        try:
            conn.send(reply)
        except (OSError, ValueError):  # the pool is gone
            os._exit(1)
        except Exception as exc:  # a result that cannot be sent back
            conn.send(("error", type(exc).__name__, f"the result could not be sent: {exc}"))
