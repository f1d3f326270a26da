"""Files written whole or not at all: write to a temp file in the same folder, then rename.
A full disk is a DiskFullError (exit 10), a folder that cannot be written an OutputError
(exit 11); neither leaves the temp file behind. Any wing may write its outputs this way.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from workbook.data.errors import DiskFullError, OutputError


def write_atomic(path: str | Path, data: bytes | str) -> Path:
    """Write to a temp file in the same folder, then rename: never a half-written file. A full
    disk is a DiskFullError, a folder that cannot be written an OutputError; neither leaves
    the temp file behind."""
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise output_error(exc, path) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise output_error(exc, path, len(payload)) from None
        raise
    return path


def output_error(exc: OSError, path: Path, size: int | None = None) -> OutputError:
    """The package's error for an OSError met writing `path`: DiskFullError when no space is
    left (ENOSPC, EDQUOT), else OutputError naming what could not be written and why."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        need = f" ({size:,} bytes)" if size is not None else ""
        return DiskFullError(f"no space left on the disk of {path.parent}: could not write "
                             f"{path.name}{need}; nothing half-written was kept. Free some "
                             "space (or choose another --out) and run again")
    return OutputError(f"cannot write {path}: {exc.strerror or exc}")
