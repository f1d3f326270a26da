"""The package's version and the folders that live beside it in a checkout.

A leaf every wing may import (it imports nothing of ours): templates/, notebooks/, jupyter/ and
data/examples/ sit next to the package, which is installed in editable mode from the checkout.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

try:
    __version__ = version("workbook")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
NOTEBOOKS = ROOT / "notebooks"
JUPYTER = ROOT / "jupyter"  # Jupyter data: JupyterLab settings overrides, the app's Voila template
EXAMPLES = ROOT / "data" / "examples"
EXAMPLE_DATA = EXAMPLES / "caseload.csv"
EXAMPLE_CONFIG = EXAMPLES / "workbook.yml"
