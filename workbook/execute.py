"""Run the project's notebooks through papermill, keeping the executed notebook as an audit record.

The kernel is `python3`, talking to papermill over IPC (Unix sockets), not TCP. A failure inside
the notebook that the package raised on purpose (bad data, bad parameters...) comes back as the
same WorkbookError class, so the CLI prints its message and exits with its code.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import CaselessStrEnum

from workbook import errors
from workbook.report import write_atomic

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


class IPCKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel listens on Unix sockets in the Jupyter runtime folder."""

    transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)


def run_notebook(name: str, parameters: dict[str, Any], record: str | Path, *,
                 echo: bool = True) -> Path:
    """Execute notebooks/NAME.ipynb with parameters; write the executed copy to `record`.

    With `echo`, what the notebook prints (and its progress bar) goes to this terminal.
    The record is written even when the notebook fails, so the failure can be inspected.
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    source = NOTEBOOKS / f"{name}.ipynb"
    record = Path(record)
    record.parent.mkdir(parents=True, exist_ok=True)
    logging.getLogger("papermill").setLevel(logging.WARNING)
    partial = record.with_name(f".{record.stem}.tmp.ipynb")
    streams = {"stdout_file": sys.stdout, "stderr_file": sys.stderr} if echo else {}
    try:
        papermill.execute_notebook(
            str(source), str(partial), parameters=parameters, kernel_name="python3",
            kernel_manager_class=IPCKernelManager, progress_bar=False,
            request_save_on_cell_execute=False, cwd=str(Path.cwd()), **streams)
    except PapermillExecutionError as exc:
        raise _as_workbook_error(exc) from None
    finally:
        if partial.exists():
            write_atomic(record, nbformat.writes(nbformat.read(partial, as_version=4)))
            partial.unlink()
    return record


def _as_workbook_error(exc: Exception) -> Exception:
    """Map a notebook failure to the package's own exception class when it was one."""
    cls = getattr(errors, getattr(exc, "ename", ""), None)
    message = getattr(exc, "evalue", str(exc))
    if isinstance(cls, type) and issubclass(cls, errors.WorkbookError):
        error = cls.__new__(cls)  # keep the class (and exit code), not its constructor's needs
        Exception.__init__(error, message)
        return error
    return errors.NotebookError(f"{getattr(exc, 'ename', 'Error')}: {message}")
