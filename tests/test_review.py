"""`workbook review`: inputs checked first, the parameterised notebook, Voilà's command line and
config, and a real short run stopped by SIGTERM and by Ctrl-C (server, kernels and private
folder gone)."""

from __future__ import annotations

import http.client
import json
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest
from appdriver import start_review, stop_review

from workbook._meta import EXAMPLE_CONFIG, EXAMPLE_DATA, JUPYTER
from workbook.runs import review
from workbook.runs.cli import main

PARAMS = {"data": str(EXAMPLE_DATA), "config": str(EXAMPLE_CONFIG), "therapist_id": "T01",
          "month": "2026-10", "supervisor_id": None, "only_therapist": True}


# --- inputs --------------------------------------------------------------------------------------


def test_inputs_become_the_notebooks_parameters():
    params = review.check_review_inputs(EXAMPLE_DATA, str(EXAMPLE_DATA), EXAMPLE_CONFIG,
                                        therapist="T01")
    assert params == PARAMS
    params = review.check_review_inputs(EXAMPLE_DATA, str(EXAMPLE_DATA), None,
                                        supervisor="S1", month="2026-09")
    assert params == {**PARAMS, "config": None, "therapist_id": None, "month": "2026-09",
                      "supervisor_id": "S1", "only_therapist": False}


@pytest.mark.parametrize("argv, code, message", [
    (["--data", "nowhere.csv"], 5, r"nowhere.csv: data file not found"),
    (["--therapist", "T0 1"], 6, r"--therapist 'T0 1': expected an ID matching"),
    (["--therapist", "T99"], 6, r"--therapist T99: no session in October 2026; therapists: T01"),
    (["--supervisor", "S9"], 6, r"--supervisor S9: no supervisee has a session"),
    (["--month", "2026-13"], 6, r"month '2026-13': expected YYYY-MM"),
    (["--month", "2020-01"], 6, r"no session in January 2020"),
    (["--port", "0"], 2, r"--port: expected a whole number of 1 or more"),
    (["--therapist", "T01", "--supervisor", "S1"], 2, r"not allowed with argument"),
])
def test_bad_inputs_exit_with_their_code_and_start_nothing(argv, code, message, monkeypatch,
                                                            capsys, tmp_path):
    monkeypatch.setattr(review.tempfile, "mkdtemp", _refused)
    monkeypatch.setattr(review.subprocess, "Popen", _refused)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) if code == 2 else _no_raise() as exit_:
        result = main(["review", "--no-browser", *argv])
    result = exit_.value.code if code == 2 else result
    err = capsys.readouterr().err
    assert result == code
    assert re.search(message, err), err
    assert "Traceback" not in err
    if code != 2:
        assert len(err.strip().splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []


def test_a_taken_port_is_refused(capsys):
    with review.socket.socket() as sock:
        sock.bind((review.HOST, 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert main(["review", "--no-browser", "--port", str(port)]) == 6
    assert f"--port {port}: cannot listen there" in capsys.readouterr().err


def _refused(*args, **kwargs):
    raise AssertionError("nothing may be made or started for a bad input")


class _no_raise:
    value = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# --- the notebook, Voilà's command line and config ------------------------------------------------


def test_the_notebook_copy_has_the_injected_parameters(tmp_path):
    path = review.write_review_notebook(PARAMS, tmp_path)
    assert path == tmp_path / "caseload_review.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    at = tags.index(["parameters"])
    assert tags[at + 1] == ["injected-parameters"]
    namespace: dict = {}
    exec(nb.cells[at + 1].source, namespace)  # noqa: S102 - the cell papermill wrote
    assert {k: namespace[k] for k in PARAMS} == PARAMS
    assert Path(namespace["data"]).is_absolute() and Path(namespace["config"]).is_absolute()
    assert nb.metadata.kernelspec.name == "python3"


def test_voila_command_serves_one_notebook_on_localhost(tmp_path):
    notebook = tmp_path / "app" / "caseload_review.ipynb"
    cmd = review.voila_command(notebook, 8123, tmp_path / "config", python="/py")
    assert cmd[:4] == ["/py", "-m", "voila", str(notebook)]
    options = dict(o.split("=", 1) if "=" in o else (o, None) for o in cmd[4:])
    assert options["--Voila.ip"] == "127.0.0.1" and options["--port"] == "8123"
    assert options["--Voila.port_retries"] == "0"
    assert options["--show_tracebacks"] == "False" and options["--strip_sources"] == "True"
    assert options["--template"] == "workbook" and "--no-browser" in options
    assert options["--Voila.config_file_paths"] == str(tmp_path / "config")
    assert not any("token" in o for o in cmd)  # in voila.json, not visible to `ps`


def test_every_voila_option_used_exists_in_the_installed_voila():
    known = set(re.findall(r"^\s*(--[\w.-]+)", _voila_help(), re.M))
    cmd = review.voila_command(Path("nb.ipynb"), 1, Path("c"))
    used = {o.split("=", 1)[0] for o in cmd[4:]}
    assert used <= known, used - known
    for section, values in review.voila_config("t").items():
        assert {f"--{section}.{name}" for name in values} <= known


def _voila_help() -> str:
    return subprocess.run([sys.executable, "-m", "voila", "--help-all"], capture_output=True,
                          text=True, check=True).stdout


def test_voila_config_serves_no_files_and_has_the_token():
    config = review.voila_config("secret")
    assert config["Voila"] == {"token": "secret", "auto_token": False}
    assert config["VoilaConfiguration"]["file_allowlist"] == []
    assert config["VoilaConfiguration"]["file_denylist"] == [".*"]


def test_the_page_template_links_no_other_host():
    template = JUPYTER / "voila" / "templates" / "workbook"
    assert json.loads((template / "conf.json").read_text())["base_template"] == "lab"
    text = (template / "index.html.j2").read_text()
    assert "block notebook_css" in text and "block html_head_js_mermaidjs" in text
    code = re.sub(r"\{#.*?#\}", "", text, flags=re.S)
    assert not re.search(r"https?://", code)


def test_environment_keeps_jupyter_files_private(tmp_path):
    env = review.review_environment(tmp_path, {"JUPYTER_PATH": "/x", "HOME": "/h"})
    assert env["JUPYTER_RUNTIME_DIR"] == str(tmp_path / "runtime")
    assert env["JUPYTER_CONFIG_DIR"] == str(tmp_path / "config")
    assert env["JUPYTER_PATH"].split(":") == [str(JUPYTER), "/x"]
    assert env["HOME"] == "/h"


# --- a real run ----------------------------------------------------------------------------------


def _family(app) -> tuple[Path, list[psutil.Process]]:
    """The run's private folder (from Voilà's command line) and its processes."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        children = psutil.Process(app.process.pid).children(recursive=True)
        for child in children:
            cmd = child.cmdline()
            if cmd[1:3] == ["-m", "voila"]:
                return Path(cmd[3]).parent.parent, [psutil.Process(app.process.pid), *children]
        time.sleep(0.2)
    raise AssertionError("no Voila process under workbook review")


def _status(port: int, path: str) -> tuple[int, str]:
    """Status and Location of a GET, without reading the (streamed) page."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.getheader("Location") or ""
    finally:
        conn.close()


def _gone(processes: list[psutil.Process], timeout: float = 15) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    return [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]


@pytest.mark.slow
def test_serves_with_a_token_and_stops_clean_on_sigterm():
    app = start_review(["--therapist", "T01"])
    try:
        folder, _ = _family(app)
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        status, location = _status(app.port, "/")
        assert status == 403 or "login" in location
        assert _status(app.port, f"/?token={app.token}")[0] == 200  # starts a kernel
        time.sleep(2)
        _, family = _family(app)
        assert any("ipykernel" in " ".join(p.cmdline()) for p in family[1:]), "no kernel"
    except BaseException:
        stop_review(app, signal.SIGKILL)
        raise
    assert stop_review(app, signal.SIGTERM) == 0
    assert _gone(family) == []
    assert not folder.exists()


@pytest.mark.slow
def test_ctrl_c_stops_it_with_130():
    app = start_review()
    folder, family = _family(app)
    assert stop_review(app, signal.SIGINT) == 130
    assert _gone(family) == []
    assert not folder.exists()
