"""Run the project's notebooks through papermill, keeping the executed notebook as an audit record.

The kernel is `python3`, talking to papermill over IPC (Unix sockets in a private temporary
folder, never the working folder), not TCP. A failure inside
the notebook that the package raised on purpose (bad data, bad parameters...) comes back as the
same WorkbookError class, so the CLI prints its message and exits with its code. papermill saves
the notebook as each cell starts (and every 30 s in a long one), so a kernel that dies leaves a
partly executed copy; a message names the kept copy only when there is one.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import CaselessStrEnum, Unicode
from traitlets.config import Config

from workbook._meta import NOTEBOOKS
from workbook.data import errors
from workbook.reports.render import output_error
from workbook.runs.places import NOTEBOOK_DIR_ENV


class IPCKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel listens on Unix sockets in a private temporary folder.

    jupyter_client's own default puts IPC sockets at the relative path `kernel-ipc-N`, i.e. in
    the working folder: they litter it (and stay there after a kill), fail in a read-only
    folder, and can be reached by anyone who can read that folder. Here they go to a fresh
    folder made by mkdtemp (mode 0700, short path: Unix socket paths are limited to ~100
    bytes), removed with the sockets when the kernel's resources are cleaned up.
    """

    transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)
    notebook_dir = Unicode("", config=True, help="the executed notebook's folder, told to the "
                           "kernel as WORKBOOK_NOTEBOOK_DIR (its output links start there)")
    _socket_dir: str | None = None

    async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:
        """Start the kernel with NOTEBOOK_DIR_ENV set to `notebook_dir`, when there is one."""
        if self.notebook_dir:
            kw["env"] = {**(kw.get("env") or os.environ), NOTEBOOK_DIR_ENV: self.notebook_dir}
        return await super()._async_pre_start_kernel(**kw)

    def _ip_default(self) -> str:
        if self.transport != "ipc":
            return super()._ip_default()
        self._socket_dir = tempfile.mkdtemp(prefix="workbook-kernel-")
        return os.path.join(self._socket_dir, "kernel")

    def cleanup_ipc_files(self) -> None:
        """Remove the socket files, then their folder."""
        super().cleanup_ipc_files()
        if self._socket_dir:
            shutil.rmtree(self._socket_dir, ignore_errors=True)

    async def _async_interrupt_kernel(self) -> None:
        """Interrupt the kernel, except while shutting it down. jupyter_client sends SIGINT
        before every shutdown request; an idle ipykernel then logs 'KeyboardInterrupt caught in
        kernel' to the user's terminal after a run that went well. The shutdown request (and,
        if it is not obeyed, SIGTERM and SIGKILL) needs no interrupt."""
        if self.shutting_down:
            return
        await super()._async_interrupt_kernel()


def run_notebook(name: str, parameters: dict[str, Any], record: str | Path, *,
                 echo: bool = True) -> Path:
    """Execute notebooks/NAME.ipynb with parameters; write the executed copy to `record`.

    With `echo`, what the notebook prints (and its progress bar) goes to this terminal.
    The record is written even when the notebook fails, so the failure can be inspected; when
    no copy could be kept (a full disk), the error says so.
    """
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    source = NOTEBOOKS / f"{name}.ipynb"
    record = Path(record)
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(exc, record) from None
    logging.getLogger("papermill").setLevel(logging.WARNING)
    partial = record.with_name(f".{record.stem}.tmp.ipynb")
    streams = {"stdout_file": sys.stdout, "stderr_file": sys.stderr} if echo else {}
    error: BaseException | None = None
    try:
        papermill.execute_notebook(
            str(source), str(partial), parameters=parameters, kernel_name="python3",
            kernel_manager_class=IPCKernelManager, progress_bar=False,
            request_save_on_cell_execute=True, cwd=str(Path.cwd()), **streams,
            config=Config({"IPCKernelManager": {"notebook_dir": str(record.parent.resolve())}}))
    except PapermillExecutionError as exc:
        error = _as_workbook_error(exc)
    except (DeadKernelError, CellTimeoutError) as exc:  # e.g. the kernel was killed
        error = errors.NotebookError(f"notebook {name}: {type(exc).__name__}: {exc}")
    except OSError as exc:  # papermill writing the executed copy
        error = output_error(exc, record)
    except BaseException as exc:  # KeyboardInterrupt: keep what there is, then go on
        error = exc
    kept = _keep_record(partial, record)
    if echo and kept and error is None:
        _echo_results(record)
    if isinstance(error, errors.NotebookError):
        error = errors.NotebookError(f"{error}; " + (f"its partly executed copy is in {record}"
                                                     if kept else "no executed copy of it "
                                                                  "could be kept"))
    elif isinstance(error, errors.OutputError) and not kept:
        error = type(error)(f"{error} (no executed copy of the notebook could be kept)")
    if error is not None:
        raise error
    return record


def _echo_results(record: Path) -> None:
    """Print the plain text of each cell's result (a job's RunOutput: what was made, where):
    papermill echoes only what the notebook printed."""
    notebook = json.loads(record.read_text(encoding="utf-8"))
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "execute_result":
                text = output.get("data", {}).get("text/plain", "")
                print("".join(text) if isinstance(text, list) else text, flush=True)


def _keep_record(partial: Path, record: Path) -> bool:
    """Move papermill's copy to `record` (atomically); drop it when it is empty or cut off (a
    full disk). Return whether a record was kept."""
    if not partial.exists():
        return False
    try:
        text = partial.read_text(encoding="utf-8")
        json.loads(text)
    except (OSError, ValueError):
        partial.unlink(missing_ok=True)
        return False
    try:
        os.replace(partial, record)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return False
        raise output_error(exc, record) from None
    return True


def _as_workbook_error(exc: Exception) -> Exception:
    """Map a notebook failure to the package's own exception class when it was one."""
    cls = getattr(errors, getattr(exc, "ename", ""), None)
    message = getattr(exc, "evalue", str(exc))
    if isinstance(cls, type) and issubclass(cls, errors.WorkbookError):
        error = cls.__new__(cls)  # keep the class (and exit code), not its constructor's needs
        Exception.__init__(error, message)
        return error
    return errors.NotebookError(f"{getattr(exc, 'ename', 'Error')}: {message}")
