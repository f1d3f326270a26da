"""The lock is the tested set: the ranges admit it, environment.yml mirrors it, and the
environment the tests run in is it (except under `make test-latest`, which sets
WORKBOOK_TEST_LATEST=1 to run against the newest versions on purpose)."""

from __future__ import annotations

import os
import re
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / ".ci"))
from lock_env import read_pins  # noqa: E402

LOCK = ROOT / "requirements.lock"


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def _requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in
            [*project["dependencies"], *project["optional-dependencies"]["test"]]]


def test_every_dependency_is_locked_within_its_range():
    pins = {_name(k): v for k, v in read_pins(LOCK).items()}
    for req in _requirements():
        assert _name(req.name) in pins, f"{req.name} is not in the lock"
        assert req.specifier.contains(pins[_name(req.name)]), (req, pins[_name(req.name)])


def test_environment_yml_pins_what_the_lock_pins():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pinned = dict(p.split("==") for p in pip if "==" in p)
    assert {_name(k): v for k, v in pinned.items()} == \
        {_name(k): v for k, v in read_pins(LOCK).items()}
    assert "-e ." in pip


@pytest.mark.skipif(os.environ.get("WORKBOOK_TEST_LATEST") == "1",
                    reason="make test-latest runs against the newest versions on purpose")
def test_tests_run_on_the_locked_versions():
    wrong = []
    for name, locked in read_pins(LOCK).items():
        try:
            installed = version(name.split("[")[0])
        except PackageNotFoundError:
            installed = "absent"
        if installed != locked:
            wrong.append(f"{name}: locked {locked}, installed {installed}")
    assert not wrong, "the environment is not the lock (run make clean test):\n" + \
        "\n".join(wrong)
