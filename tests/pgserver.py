"""A throwaway PostgreSQL cluster on 127.0.0.1 and a free port, for the tests and benchmarks.

Uses the server binaries of Debian's `postgresql` package (/usr/lib/postgresql/N/bin). As root,
the cluster runs as the `postgres` user (or `nobody`), since PostgreSQL refuses to run as root.
Password authentication (scram-sha-256) over TCP, as a clinic's server would have it.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

USER = "workbook"


def find_bindir() -> Path | None:
    """The newest installed PostgreSQL server's bin folder, or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _owner() -> pwd.struct_passwd | None:
    """Who runs the server: None for the current user, else an unprivileged one (as root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' user exists")


def _open_path(folder: Path, owner: pwd.struct_passwd | None) -> None:
    """Let the server's user reach `folder` (traverse, not list, the folders above it)."""
    if owner is None:
        return
    for parent in list(folder.parents)[:-1]:
        if parent == Path("/tmp") or parent == Path("/"):
            break
        os.chmod(parent, os.stat(parent).st_mode | 0o001)
    os.chown(folder, owner.pw_uid, owner.pw_gid)


def _start(bindir: Path, folder: Path, run_as: dict) -> int:
    """Start the server on a free port (a new one if another process took it first); the
    server's log is in the error when it cannot start."""
    for _attempt in range(3):
        port = _free_port()
        options = (f"-c listen_addresses=127.0.0.1 -c port={port} "
                   f"-c unix_socket_directories={folder}"
                   " -c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        started = subprocess.run(
            [str(bindir / "pg_ctl"), "-D", str(folder / "data"), "-o", options, "-w", "-t", "180",
             "-l", str(folder / "server.log"), "start"],
            capture_output=True, text=True, cwd=folder, **run_as)
        if started.returncode == 0:
            return port
        log_file = folder / "server.log"
        log = log_file.read_text(errors="replace") if log_file.exists() else ""
        if "could not bind" not in log and "already in use" not in log:
            break
    raise RuntimeError(f"PostgreSQL did not start: {started.stderr.strip()}\n{log[-2000:]}")


@contextmanager
def running_cluster() -> Iterator[str]:
    """Start a new cluster in a folder of its own; yield its SQLAlchemy URL; stop it and
    remove the folder afterwards.

    The folder sits directly in the system's temporary folder, not under pytest's: as root the
    server runs as another user, who must be able to reach it, and pytest takes the others'
    access off its own folders whenever a process of the suite (one per core) starts."""
    bindir = find_bindir()
    if bindir is None:
        raise FileNotFoundError("no PostgreSQL server binaries (apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="workbook-pg-"))
    try:
        with _cluster_in(bindir, folder) as url:
            yield url
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _cluster_in(bindir: Path, folder: Path) -> Iterator[str]:
    owner = _owner()
    _open_path(folder, owner)
    run_as = {"user": owner.pw_uid, "group": owner.pw_gid} if owner else {}
    password = secrets.token_hex(12)
    pwfile = folder / "pw"
    pwfile.write_text(password + "\n")
    if owner:
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
    data = folder / "data"
    subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", USER, "-E", "UTF8",
                    "--locale=C", "--auth=scram-sha-256", f"--pwfile={pwfile}"],
                   check=True, capture_output=True, cwd=folder, **run_as)
    port = _start(bindir, folder, run_as)
    try:
        yield f"postgresql+psycopg://{USER}:{password}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                        "stop"], capture_output=True, cwd=folder, **run_as)
