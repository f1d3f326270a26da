"""Plain task functions for tests/test_dask.py's executor tests, in a module of their own that
imports nothing heavy: a Dask worker unpickles a task by importing its function's module, and a
worker restarted after a kill should not have to import the whole workbook to run these."""

from __future__ import annotations

import os
import signal
import time


def square(x: int) -> int:
    return x * x


def slow_square(x: int) -> int:
    time.sleep(0.3)
    return x * x


def always_die() -> None:
    """Kill the worker process that runs this."""
    os.kill(os.getpid(), signal.SIGKILL)

