"""notebooks/caseload_review.ipynb: committed stripped, runs under papermill with its defaults
and with parameters, and refuses bad parameters with a clear message.

papermill runs kernel `python3`; the tests install a `python3` kernelspec pointing at this
Python into a temporary JUPYTER_PATH (searched first), so no other kernel can be picked up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "caseload_review.ipynb"
EXAMPLE = ROOT / "data" / "examples" / "caseload.csv"

needs_example = pytest.mark.skipif(not EXAMPLE.is_file(), reason="no example data yet")


@pytest.fixture(scope="module")
def jupyter_env(tmp_path_factory) -> dict[str, str]:
    """Environment with a python3 kernelspec for this interpreter and private Jupyter dirs."""
    base = tmp_path_factory.mktemp("jupyter")
    spec = base / "path" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (workbook tests)", "language": "python"}))
    return {**os.environ, "JUPYTER_PATH": str(base / "path"),
            "JUPYTER_RUNTIME_DIR": str(base / "runtime"), "IPYTHONDIR": str(base / "ipython"),
            "JUPYTER_CONFIG_DIR": str(base / "config"), "JUPYTER_DATA_DIR": str(base / "data")}


def run_papermill(env: dict[str, str], out: Path, *args: str,
                  cwd: Path = ROOT) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "papermill", str(NOTEBOOK), str(out), "-k", "python3",
               "--no-progress-bar", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=180)


def outputs(path: Path) -> str:
    """All text and plain-text outputs of an executed notebook, joined."""
    nb = nbformat.read(path, as_version=4)
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", "") or out.get("data", {}).get("text/plain", ""))
            parts.append(out.get("evalue", ""))
    return "\n".join(parts)


def html_outputs(nb) -> str:
    """The text/html outputs of an executed notebook, joined."""
    return "\n".join(o["data"]["text/html"] for c in nb.cells for o in c.get("outputs", [])
                     if "text/html" in o.get("data", {}))


def test_committed_without_outputs_and_with_parameters_cell():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert "parameters" in code[0].metadata.get("tags", [])
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert 'therapist_id = None' in code[0].source
    assert all(len(c.source.splitlines()) <= 6 for c in code[1:])  # thin: calls into workbook/


@pytest.mark.slow
@needs_example
def test_runs_with_defaults_from_repo_root(jupyter_env, tmp_path):
    out = tmp_path / "out.ipynb"
    result = run_papermill(jupyter_env, out)
    assert result.returncode == 0, result.stderr[-3000:]
    nb = nbformat.read(out, as_version=4)
    views = [o for c in nb.cells for o in c.get("outputs", [])
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 1  # the app; a viewer that shows no widget says what it is
    assert views[0]["data"]["text/plain"].startswith("Caseload review app: run the notebook")
    static = html_outputs(nb)
    assert "Therapist T01 · October 2026" in static and "Clients to discuss" in static
    assert static.count("<svg") >= 8  # a static copy of every chart shown
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    bundles = [s for s in state.values() if len(s["state"].get("_esm", "")) > 100_000]
    assert len(bundles) == 1  # the Vega runtime once, not once per chart
    assert out.stat().st_size < 1_500_000
    check_nbconvert(out, jupyter_env)


def check_nbconvert(executed: Path, env: dict[str, str]) -> None:
    """`jupyter nbconvert --to html` of the executed notebook shows the static copy: the
    headline, the agenda and every chart as inline SVG, with no kernel and no widget code."""
    subprocess.run([sys.executable, "-m", "nbconvert", "--to", "html", str(executed)],
                   env=env, check=True, capture_output=True, timeout=120)
    page = executed.with_suffix(".html").read_text(encoding="utf-8")
    static = page[page.index('class="wb-static"'):]
    assert "Clients to discuss" in static and static.count("<svg") >= 8
    assert "model not found" not in page


@pytest.mark.slow
@needs_example
def test_runs_for_another_therapist_from_notebooks_folder(jupyter_env, tmp_path):
    out = tmp_path / "out.ipynb"
    result = run_papermill(jupyter_env, out, "-p", "therapist_id", "T02",
                           cwd=NOTEBOOK.parent)  # as JupyterLab runs it: cwd notebooks/
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Therapist T02 ·" in html_outputs(nbformat.read(out, as_version=4))


@pytest.mark.slow
@needs_example
@pytest.mark.parametrize("args, message", [
    (("-p", "therapist_id", "007"),
     "parameter therapist_id: got the number 7, expected text"),
    (("-p", "therapist", "T02"), "unknown parameter 'therapist'; did you mean 'therapist_id'?"),
    (("-r", "therapist_id", "T99"), "therapist_id 'T99' has no session in the data"),
])
def test_bad_parameter_fails_clearly(jupyter_env, tmp_path, args, message):
    out = tmp_path / "out.ipynb"
    result = run_papermill(jupyter_env, out, *args)
    assert result.returncode != 0
    assert "ParameterError" in result.stderr
    assert message in outputs(out)
