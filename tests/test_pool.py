"""workbook.runs.pool.WorkerPool: a worker process that dies costs at most the task it held
(issue 13, item 6). The tasks kill their own worker with SIGKILL, as the kernel's OOM killer or a
user's `kill -9` would; no test hook in the pool."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from workbook.runs.pool import Task, WorkerPool


def square(x: int) -> int:
    return x * x


def slow_square(x: int) -> int:
    time.sleep(0.2)
    return x * x


def die_once(marker: str, x: int) -> int:
    """Kill this worker the first time (the marker file does not exist yet), then succeed."""
    path = Path(marker)
    if not path.exists():
        path.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return x * x


def always_die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def fail(message: str) -> None:
    raise ValueError(message)


def run(pool: WorkerPool, tasks: list[Task]) -> dict:
    return {o.key: o for o in pool.run(tasks)}


def workers() -> list[psutil.Process]:
    """This process's spawned workers (not multiprocessing's resource tracker)."""
    found = []
    for proc in psutil.Process().children():
        try:
            if "spawn_main" in " ".join(proc.cmdline()) and proc.status() != "zombie":
                found.append(proc)
        except psutil.NoSuchProcess:
            pass
    return found


def test_every_task_runs_and_errors_come_back_by_name():
    tasks = [Task(f"t{i}", square, (i,)) for i in range(6)] + [Task("bad", fail, ("no",))]
    outcomes = run(WorkerPool(2), tasks)
    assert {k: o.value for k, o in outcomes.items() if o.ok} == {f"t{i}": i * i for i in range(6)}
    assert outcomes["bad"].error == "ValueError: no" and outcomes["bad"].error_type == "ValueError"


def test_a_killed_worker_costs_only_its_task_which_is_tried_again(tmp_path):
    pool = WorkerPool(2)
    tasks = [Task(f"t{i}", slow_square, (i,)) for i in range(8)]
    tasks.insert(3, Task("victim", die_once, (str(tmp_path / "marker"), 7)))
    outcomes = run(pool, tasks)
    assert all(o.ok for o in outcomes.values()), outcomes
    assert outcomes["victim"].value == 49 and outcomes["victim"].attempts == 2
    assert {o.attempts for k, o in outcomes.items() if k != "victim"} == {1}
    assert pool.lost == ["victim"]


def test_a_task_that_kills_every_worker_fails_alone_after_one_retry():
    pool = WorkerPool(2)
    tasks = [Task("poison", always_die)] + [Task(f"t{i}", slow_square, (i,)) for i in range(5)]
    outcomes = run(pool, tasks)
    assert outcomes["poison"].error_type == "WorkerLost"
    assert "killed by signal SIGKILL" in outcomes["poison"].error
    assert outcomes["poison"].attempts == 2
    assert {k: o.value for k, o in outcomes.items() if k != "poison"} == {
        f"t{i}": i * i for i in range(5)}
    assert pool.lost == ["poison", "poison"]


def test_closing_the_run_early_stops_every_worker():
    outcomes = WorkerPool(2).run([Task(f"t{i}", slow_square, (i,)) for i in range(10)])
    first = next(outcomes)
    assert first.ok
    running = workers()
    assert len(running) == 2
    outcomes.close()
    gone, alive = psutil.wait_procs(running, timeout=10)
    assert alive == []


@pytest.mark.parametrize("size", [1, 3])
def test_pool_size_bounds_the_processes(size):
    seen = set()
    for _ in WorkerPool(size).run([Task(f"t{i}", slow_square, (i,)) for i in range(6)]):
        seen |= {p.pid for p in workers()}
    assert len(seen) == size


def test_tasks_are_made_as_workers_need_them_not_all_first():
    """The batch's tasks carry a report's data each: the pool takes them from the iterable one
    at a time (at most one made ahead of the workers)."""
    made: list[int] = []
    finished = 0

    def tasks():
        for i in range(8):
            made.append(i)
            assert len(made) <= finished + 2 + 1, (made, finished)  # 2 workers, 1 ahead
            yield Task(f"t{i}", slow_square, (i,))

    outcomes = {}
    for outcome in WorkerPool(2).run(tasks()):
        finished += 1
        outcomes[outcome.key] = outcome.value
    assert outcomes == {f"t{i}": i * i for i in range(8)}
    assert made == list(range(8))
