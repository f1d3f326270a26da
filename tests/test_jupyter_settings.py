"""The JupyterLab settings overrides the project installs (jupyter/overrides.json): no news
toast and no news or update fetching, widget state saved with the notebook. Each setting is one
the installed JupyterLab's schemas know, with a value they allow; the Makefile's install step
puts the file where JupyterLab reads it ($(VENV)/share/jupyter/lab/settings/overrides.json)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from workbook._meta import JUPYTER, ROOT

OVERRIDES = JUPYTER / "overrides.json"
WANTED = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false",
                                                          "checkForUpdates": False},
          "@jupyter-widgets/jupyterlab-manager:plugin": {"saveState": True}}


def test_overrides_file_has_the_settings():
    overrides = json.loads(OVERRIDES.read_text(encoding="utf-8"))
    assert overrides == WANTED


def _schema(plugin: str) -> dict:
    """The installed JupyterLab's schema for `package:plugin` (core or prebuilt extension)."""
    package, name = plugin.split(":")
    share = Path(sys.prefix) / "share" / "jupyter"
    for root in (share / "lab" / "schemas", share / "labextensions" / package / "schemas"):
        path = root / package / f"{name}.json"
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    pytest.fail(f"no schema for {plugin} in {share}")


@pytest.mark.parametrize("plugin", sorted(WANTED))
def test_each_override_is_a_setting_of_the_installed_jupyterlab(plugin):
    properties = _schema(plugin)["properties"]
    for key, value in WANTED[plugin].items():
        assert key in properties, f"{plugin} has no setting {key}"
        allowed = [c["const"] for c in properties[key].get("oneOf", [])]
        assert value in allowed if allowed else type(value).__name__ == {
            "boolean": "bool"}[properties[key]["type"]]


def test_the_makefile_installs_the_overrides():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    target = re.search(r"^OVERRIDES := (.+)$", makefile, re.M)
    assert target and target.group(1) == "$(VENV)/share/jupyter/lab/settings/overrides.json"
    install = re.search(r"^\$\(STAMP\):.*\n((?:\t.*\n)+)", makefile, re.M)
    assert install, "no install recipe"
    assert "\tinstall -D -m 644 jupyter/overrides.json $(OVERRIDES)\n" in install.group(1)
    assert re.search(r"^test: .*\$\(OVERRIDES\)", makefile, re.M)


def test_this_environment_has_them():
    """The environment the tests run in (made by the Makefile) has the file installed."""
    installed = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert installed.is_file(), f"{installed} missing: run `make .venv/.installed`"
    assert json.loads(installed.read_text(encoding="utf-8")) == WANTED
