"""Notebook parameter checks in plain pytest: workbook.data.parameters.check_parameters and the
specs of the two papermill notebooks (workbook.runs.jobs).

papermill only warns about unknown `-p` names and reads `-p therapist_id 007` as the number 7;
the package refuses both, with a message that names the parameter.
"""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from workbook.data import parameters as P
from workbook.data.errors import ParameterError
from workbook.runs.batch import BatchResult
from workbook.runs.jobs import CLINIC_SPEC, SUPERVISION_SPEC

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_DATA = ROOT / "data" / "examples" / "caseload.csv"
EXAMPLE_CONFIG = ROOT / "data" / "examples" / "workbook.yml"

# The defaults of each notebook's parameters cell.
SUPERVISION_DEFAULTS = {"data": None, "config": None, "therapist_id": None, "month": None,
                        "since": None, "out_dir": "reports", "formats": "pdf,html"}
CLINIC_DEFAULTS = {"data": None, "config": None, "month": None, "out_dir": "reports",
                   "jobs": None, "formats": "pdf", "therapists": "all", "clinic": True}


def refused(spec: dict, **values) -> str:
    """The ParameterError message for the clinic or supervision defaults plus `values`."""
    base = SUPERVISION_DEFAULTS if spec is SUPERVISION_SPEC else CLINIC_DEFAULTS
    with pytest.raises(ParameterError) as caught:
        P.check_parameters({**base, **values}, spec)
    assert caught.value.exit_code == 6
    return str(caught.value)


def test_notebook_defaults_pass_and_point_at_the_example_clinic():
    sup = P.check_parameters(SUPERVISION_DEFAULTS, SUPERVISION_SPEC)
    assert sup["data"] == EXAMPLE_DATA.resolve()
    assert sup["config"] is None
    assert sup["formats"] == ("pdf", "html")
    clinic = P.check_parameters(CLINIC_DEFAULTS, CLINIC_SPEC)
    assert clinic["data"] == EXAMPLE_DATA.resolve()
    assert clinic["therapists"] is None and clinic["clinic"] is True
    assert clinic["formats"] == ("pdf",) and clinic["jobs"] is None


def test_overridden_values_are_converted():
    p = P.check_parameters({**CLINIC_DEFAULTS, "data": str(EXAMPLE_DATA),
                            "config": str(EXAMPLE_CONFIG), "month": " 2026-09 ", "jobs": 2,
                            "formats": "PDF, html,pdf", "therapists": "T01, T02,,"}, CLINIC_SPEC)
    assert p["data"] == EXAMPLE_DATA.resolve() and p["config"] == EXAMPLE_CONFIG.resolve()
    assert p["month"] == "2026-09"
    assert p["formats"] == ("pdf", "html")
    assert p["therapists"] == ["T01", "T02"]
    assert P.check_parameters({**CLINIC_DEFAULTS, "therapists": "none"},
                              CLINIC_SPEC)["therapists"] == []
    assert P.check_parameters({**CLINIC_DEFAULTS, "formats": ["html"]},
                              CLINIC_SPEC)["formats"] == ("html",)


@pytest.mark.parametrize(("spec", "typo", "meant"), [
    (SUPERVISION_SPEC, "therapist", "therapist_id"),
    (SUPERVISION_SPEC, "mnth", "month"),
    (CLINIC_SPEC, "therapist_id", "therapists"),
    (CLINIC_SPEC, "out", "out_dir"),
])
def test_unknown_name_is_refused_with_did_you_mean(spec, typo, meant):
    message = refused(spec, **{typo: "x"})
    assert f"unknown parameter {typo!r}" in message
    assert f"did you mean '{meant}'?" in message
    assert "known: data, config" in message


def test_unknown_name_without_a_close_match_lists_the_known_ones():
    message = refused(CLINIC_SPEC, zzz_qqq=1)
    assert "unknown parameter 'zzz_qqq' (known: " in message
    assert "did you mean" not in message


@pytest.mark.parametrize("value", [7, 7.0])
def test_number_for_a_text_parameter_is_refused_with_the_r_hint(value):
    # papermill -p therapist_id 007 arrives as the integer 7: the leading zeros are gone.
    message = refused(SUPERVISION_SPEC, therapist_id=value)
    assert message.startswith("parameter therapist_id: got the number")
    assert "-r therapist_id 007" in message


def test_other_wrong_types_for_text_are_refused():
    assert "parameter therapist_id: expected text, got bool" in refused(SUPERVISION_SPEC,
                                                                        therapist_id=True)
    assert "parameter out_dir: expected text, got list" in refused(CLINIC_SPEC, out_dir=["a"])


@pytest.mark.parametrize("value", ["2026-13", "Oct 2026", "2026/10", "2026-10-05", "26-10", ""])
def test_bad_month_is_refused(value):
    message = refused(CLINIC_SPEC, month=value)
    assert message.startswith("parameter month: expected a month YYYY-MM")
    assert repr(value) in message


def test_month_as_a_number_is_refused():
    assert "parameter month: got the number 2026.1" in refused(SUPERVISION_SPEC, month=2026.10)


@pytest.mark.parametrize("value", ["2026-09-31", "last week", "2026-9-1"])
def test_bad_since_date_is_refused(value):
    message = refused(SUPERVISION_SPEC, since=value)
    assert message.startswith("parameter since: expected a date YYYY-MM-DD")


@pytest.mark.parametrize("value", ["docx", "pdf,docx", "", ",", None, []])
def test_bad_formats_are_refused(value):
    assert "parameter formats: expected pdf, html or pdf,html" in refused(CLINIC_SPEC,
                                                                          formats=value)


@pytest.mark.parametrize("value", [0, -2, 1.5, "2", True])
def test_jobs_must_be_a_whole_number_of_one_or_more(value):
    assert "parameter jobs: expected a whole number of 1 or more" in refused(CLINIC_SPEC,
                                                                             jobs=value)


def test_clinic_flag_must_be_true_or_false():
    assert "parameter clinic: expected True or False, got 'yes'" in refused(CLINIC_SPEC,
                                                                            clinic="yes")


def test_therapists_must_be_text():
    assert "parameter therapists: got the number 7" in refused(CLINIC_SPEC, therapists=7)


def test_missing_data_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    message = refused(SUPERVISION_SPEC, data="no such file.csv")
    assert "parameter data: file not found: no such file.csv" in message
    assert f"relative paths start from {tmp_path}" in message
    assert "parameter config: file not found" in refused(CLINIC_SPEC,
                                                         config=str(tmp_path / "nope.yml"))
    (tmp_path / "a folder.csv").mkdir()
    assert "parameter data: file not found" in refused(CLINIC_SPEC, data="a folder.csv")


def test_relative_data_path_is_resolved(tmp_path, monkeypatch):
    (tmp_path / "my data é.csv").write_bytes(EXAMPLE_DATA.read_bytes())
    monkeypatch.chdir(tmp_path)
    p = P.check_parameters({**CLINIC_DEFAULTS, "data": "my data é.csv"}, CLINIC_SPEC)
    assert p["data"] == tmp_path / "my data é.csv" and p["data"].is_absolute()


def test_every_problem_is_listed_at_once():
    message = refused(SUPERVISION_SPEC, therapist_id=7, month="2026-13", formats="doc",
                      therapsit_id="T01")
    lines = message.splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("unknown parameter 'therapsit_id'; did you mean 'therapist_id'?")
    assert any(line.startswith("parameter therapist_id:") for line in lines)
    assert any(line.startswith("parameter month:") for line in lines)
    assert any(line.startswith("parameter formats:") for line in lines)


def test_kernel_names_and_notebook_variables_are_not_parameters():
    """A kernel namespace holds more than parameters: IPython's own names, imports, and the
    notebook's variables, e.g. `result` when the cell is run a second time in JupyterLab."""
    namespace = {
        **CLINIC_DEFAULTS,
        "In": [""], "Out": {}, "get_ipython": lambda: None, "exit": object(), "quit": object(),
        "open": open, "_": None, "__name__": "__main__", "_i1": "x", "_oh": {},
        "types": types, "run_clinic_month": lambda ns: None, "Path": Path,
        "result": BatchResult(Path("reports")),
    }
    assert P.check_parameters(namespace, CLINIC_SPEC)["month"] is None
