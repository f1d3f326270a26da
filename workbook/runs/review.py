"""`workbook review`: the caseload review notebook served by Voilà as an app, on 127.0.0.1.

The inputs are checked here first (config, IDs, data, period), so a bad one is told in one line
before any server starts. Then a parameterised copy of notebooks/caseload_review.ipynb (papermill's
injected-parameters cell, absolute paths) is written into a private temporary folder (mode 0700)
and Voilà serves only that notebook: single-notebook mode, 127.0.0.1, a random token (kept in a
config file in that folder, never on a command line other users can read with `ps`), no
tracebacks on the page, sources stripped, no files served from the notebook's folder, MathJax
pointed at a local path (the notebook has no maths; Voilà's default is a CDN). Ctrl-C, SIGTERM or
SIGHUP stops Voilà and its kernels and removes the folder.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from workbook._meta import JUPYTER, NOTEBOOKS
from workbook.data.errors import NotebookError, ParameterError

NOTEBOOK = NOTEBOOKS / "caseload_review.ipynb"
HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
EXIT_STOPPED = 0  # stopped by SIGTERM or SIGHUP
EXIT_INTERRUPTED = 130  # stopped by Ctrl-C


class Stopped(BaseException):
    """SIGTERM or SIGHUP arrived: stop serving (a BaseException, like KeyboardInterrupt)."""


@dataclass(frozen=True)
class Server:
    """A running Voilà: its process, URL (with the token) and private folder."""

    process: subprocess.Popen
    url: str
    folder: Path
    log: Path


# --- inputs --------------------------------------------------------------------------------------


def check_review_inputs(data: Path | str, data_text: str, config_path: Path | None, *,
                        therapist: str | None = None, supervisor: str | None = None,
                        month: str | None = None) -> dict[str, Any]:
    """The notebook's parameters, once every input is checked: the config, the IDs (the data's
    pattern), the data, the month (default: the latest complete one) and that the therapist, or
    a supervisee of the supervisor, has a session in it. `data_text` is what the kernel is
    given for `data` (an absolute path, or a URL without its password)."""
    from workbook.analysis.periods import latest_complete_month, parse_month
    from workbook.data.config import load_config
    from workbook.data.ingest import load_ratings
    from workbook.runs.checks import check_codes, require_sessions

    if therapist and supervisor:
        raise ParameterError("give --therapist or --supervisor, not both")
    config = load_config(config_path)
    for option, code in (("--therapist", therapist), ("--supervisor", supervisor)):
        if code is not None:
            check_codes(option, [code], config)
    ratings = load_ratings(data, config)
    period = parse_month(month) if month else latest_complete_month(ratings)
    require_sessions(ratings, period)
    in_period = ratings[ratings["session_date"].between(period.start, period.end)]
    check_reach(in_period, period.label, therapist=therapist, supervisor=supervisor)
    return {"data": data_text, "config": str(Path(config_path).resolve()) if config_path else None,
            "therapist_id": therapist.strip() if therapist else None,
            "month": f"{period.start:%Y-%m}", "supervisor_id":
            supervisor.strip() if supervisor else None, "only_therapist": bool(therapist)}


def check_reach(ratings, label: str, *, therapist: str | None, supervisor: str | None) -> None:
    """Refuse a therapist with no session in the period, or a supervisor with no supervisee
    who has one (the app would open on nothing)."""
    if therapist:
        known = sorted(ratings["therapist_id"].unique())
        if therapist.strip() not in known:
            raise ParameterError(f"--therapist {therapist}: no session in {label}; "
                                 f"therapists: {', '.join(known)}")
    if supervisor and not (ratings["supervisor_id"] == supervisor.strip()).any():
        raise ParameterError(f"--supervisor {supervisor}: no supervisee has a session in {label}")


# --- the notebook and Voilà's command line -------------------------------------------------------


def write_review_notebook(parameters: dict[str, Any], folder: Path,
                          source: Path = NOTEBOOK) -> Path:
    """A copy of the caseload review with papermill's injected-parameters cell, in `folder`."""
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    notebook = parameterize_notebook(load_notebook_node(str(source)), parameters,
                                     kernel_name="python3", language="python")
    path = Path(folder) / source.name
    nbformat.write(notebook, str(path))
    return path


def voila_command(notebook: Path, port: int, config_dir: Path,
                  python: str = sys.executable) -> list[str]:
    """`python -m voila` serving only `notebook` on 127.0.0.1:port; the token and the list
    options are in config_dir/voila.json (see voila_config). Every option is one of voila
    0.5.13's (`voila --help-all`)."""
    return [python, "-m", "voila", str(notebook), "--no-browser",
            f"--Voila.ip={HOST}", f"--port={port}", "--Voila.port_retries=0",
            f"--Voila.config_file_paths={config_dir}",
            f"--Voila.connection_dir_root={config_dir}",
            "--show_tracebacks=False", "--strip_sources=True",
            "--template=workbook", "--theme=light", "--Voila.log_level=WARN"]


def voila_config(token: str) -> dict[str, Any]:
    """voila.json: the token; no file of the notebook's folder served (the allow list is
    empty, the deny list everything); no preheated kernel pool."""
    return {"Voila": {"token": token, "auto_token": False},
            "VoilaConfiguration": {"file_allowlist": [], "file_denylist": [".*"],
                                   "preheat_kernel": False}}


def review_environment(folder: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """Voilà's environment: Jupyter's runtime folder (connection files) in the private folder;
    no Jupyter config of the user's (it could turn on file serving or tracebacks); the
    project's jupyter/ first on the Jupyter path (the `workbook` page template)."""
    env = dict(os.environ if base is None else base)
    path = [str(JUPYTER), *filter(None, env.get("JUPYTER_PATH", "").split(os.pathsep))]
    env.update({"JUPYTER_RUNTIME_DIR": str(folder / "runtime"),
                "JUPYTER_CONFIG_DIR": str(folder / "config"),
                "JUPYTER_PATH": os.pathsep.join(path), "PYTHONUNBUFFERED": "1"})
    return env


# --- serving -------------------------------------------------------------------------------------


def serve_review(parameters: dict[str, Any], *, port: int | None = None,
                 open_browser: bool = True, out: TextIO = sys.stdout) -> int:
    """Serve the caseload review until Ctrl-C (exit 130), SIGTERM or SIGHUP (exit 0); print
    one line with the URL (token included); open the browser unless told not to. Voilà, its
    kernels and the private folder are gone when this returns."""
    port = check_port(port)
    folder = Path(tempfile.mkdtemp(prefix="workbook-review-"))  # mode 0700
    server = None
    previous = _catch_stop_signals()
    try:
        server = start_server(parameters, folder, port)
        print(f"The caseload review is at {server.url} (Ctrl-C to stop)", file=out, flush=True)
        if open_browser:
            open_page(server.url, folder)
        code = server.process.wait()
        raise NotebookError(f"the app's server stopped by itself (exit {code}): "
                            f"{last_lines(server.log)}")
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Stopped:
        return EXIT_STOPPED
    finally:
        _ignore_stop_signals()  # a second Ctrl-C must not cut the clean-up short
        try:
            if server is not None:
                stop_server(server.process)
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            _restore_signals(previous)


def start_server(parameters: dict[str, Any], folder: Path, port: int) -> Server:
    """Write the notebook and Voilà's config into `folder`, start Voilà (its own session, so
    the terminal's Ctrl-C reaches only this process, which stops it in order) and return
    once it accepts connections."""
    app, config = folder / "app", folder / "config"
    for sub in (app, config, folder / "runtime"):
        sub.mkdir(mode=0o700)
    notebook = write_review_notebook(parameters, app)
    token = secrets.token_urlsafe(32)
    (config / "voila.json").write_text(json.dumps(voila_config(token)), encoding="utf-8")
    log = folder / "voila.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(voila_command(notebook, port, config), cwd=app,
                                   env=review_environment(folder), stdin=subprocess.DEVNULL,
                                   stdout=sink, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = Server(process, f"http://{HOST}:{port}/?token={token}", folder, log)
    try:
        wait_listening(process, port, log)
    except BaseException:
        stop_server(process)
        raise
    return server


def wait_listening(process: subprocess.Popen, port: int, log: Path,
                   timeout: float = START_TIMEOUT_S) -> None:
    """Return once something accepts connections on the port; fail if Voilà exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise NotebookError(f"the app's server did not start (exit {process.returncode}): "
                                f"{last_lines(log)}")
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise NotebookError(f"the app's server did not answer within {timeout:.0f} s: "
                        f"{last_lines(log)}")


def stop_server(process: subprocess.Popen, timeout: float = STOP_TIMEOUT_S) -> None:
    """Stop Voilà (SIGTERM: it shuts its kernels down), then kill whatever of it and its
    kernels (each in a session of its own) is left."""
    import psutil

    try:
        family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(True)]
    except psutil.NoSuchProcess:
        family = []
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    alive = [p for p in family if _running(p)]
    for member in alive:
        member.kill()
    psutil.wait_procs(alive, timeout=timeout)
    if process.poll() is None:
        process.wait()


def _running(proc) -> bool:
    import psutil

    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def check_port(port: int | None) -> int:
    """The port asked for, refused when taken or out of range; else a free one."""
    if port is not None and not 1 <= port <= 65535:
        raise ParameterError(f"--port {port}: expected a port number from 1 to 65535")
    with socket.socket() as sock:
        try:
            sock.bind((HOST, port or 0))
        except OSError as exc:
            raise ParameterError(f"--port {port}: cannot listen there on {HOST} "
                                 f"({exc.strerror or exc})") from None
        return sock.getsockname()[1]


def open_page(url: str, folder: Path) -> None:
    """Open the app in the browser through a redirect page in the private folder, so the
    token is not on the browser's command line (as Jupyter does)."""
    page = folder / "open.html"
    page.write_text(f'<!DOCTYPE html><meta charset="utf-8"><meta http-equiv="refresh" '
                    f'content="0;url={url}"><a href="{url}">Open the caseload review</a>',
                    encoding="utf-8")
    page.chmod(0o600)
    webbrowser.open(page.as_uri())


def last_lines(log: Path, count: int = 5) -> str:
    """The last lines of Voilà's log, on one line."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(line.strip() for line in lines[-count:]) or "(empty log)"


def _stop(signum: int, frame: Any) -> None:
    raise Stopped(signum)


def _catch_stop_signals() -> dict[int, Callable | int | None]:
    """SIGTERM and SIGHUP raise Stopped (SIGINT already raises KeyboardInterrupt)."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM,
                                                         signal.SIGHUP)}
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGHUP, _stop)
    return previous


def _ignore_stop_signals() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)


def _restore_signals(previous: dict[int, Callable | int | None]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
