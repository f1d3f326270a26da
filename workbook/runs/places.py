"""Where a notebook's relative paths start: the output folder it writes, and the folder its
links to those files are relative to.

One rule for the output folder, the one the notebooks' data paths follow
(workbook.views.filters.find_input: the working directory, then the repository's notebooks/
folder): a relative `out_dir` is taken from the working directory, except when that is the
repository's `notebooks/` folder (where JupyterLab starts a notebook's kernel); then it is taken
from the repository root, as `workbook report ... --out reports` run there takes it. So the
default "reports" is `<root>/reports/` both under papermill started from the root and in
JupyterLab, never `notebooks/reports/`.

Links in a notebook's output are relative to the notebook's own folder, so JupyterLab opens
them: the kernel's working directory (JupyterLab starts it there), or the folder named by
NOTEBOOK_DIR_ENV, which workbook.runs.execute sets for the kernels it starts because the CLI
keeps its executed notebook beside the reports, not in the working directory.
"""

from __future__ import annotations

import os
from pathlib import Path

from workbook._meta import NOTEBOOKS, ROOT

DEFAULT_OUT_DIR = "reports"
NOTEBOOK_DIR_ENV = "WORKBOOK_NOTEBOOK_DIR"


def resolve_out_dir(out_dir: str | Path | None, cwd: str | Path | None = None) -> Path:
    """The output folder a notebook writes in (not made, not checked): `out_dir` (None: "reports")
    as given when absolute; relative, from `cwd` (default: the working directory), or from the
    repository root when `cwd` is the repository's notebooks/ folder."""
    path = Path(out_dir or DEFAULT_OUT_DIR).expanduser()
    if path.is_absolute():
        return path
    base = Path.cwd() if cwd is None else Path(cwd)
    return (ROOT if is_notebook_folder(base) else base) / path


def is_notebook_folder(folder: str | Path) -> bool:
    """Whether `folder` is the repository's notebooks/ folder (by a link or another spelling)."""
    try:
        return os.path.samefile(folder, NOTEBOOKS)
    except OSError:  # either one missing
        return False


def notebook_folder() -> Path:
    """The folder of the running notebook: NOTEBOOK_DIR_ENV when set, else the working
    directory."""
    named = os.environ.get(NOTEBOOK_DIR_ENV)
    return Path(named) if named else Path.cwd()


def link_target(path: str | Path, base: str | Path) -> str:
    """`path` as a link from a notebook in `base`: relative, with forward slashes."""
    relative = os.path.relpath(Path(path).resolve(), Path(base).resolve())
    return Path(relative).as_posix()
