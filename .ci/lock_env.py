"""Keep environment.yml pinned like requirements.lock, and show drift from the lock.

    python .ci/lock_env.py requirements.lock environment.yml   # rewrite environment.yml
    python .ci/lock_env.py --drift requirements.lock           # installed vs locked versions

The lock is made by `uv pip compile` (`make lock`); this only mirrors it, so the conda
environment installs exactly the tested set (through pip, as PyPI names them).
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import distributions
from pathlib import Path

PIN = re.compile(r"^([A-Za-z0-9_.\[\]-]+)==([^\s;#]+)")
HEADER = """\
# Conda environment with exactly the tested set of packages: generated from requirements.lock
# by `make lock` (do not edit by hand). Create with: conda env create -f environment.yml
name: workbook
channels:
  - conda-forge
dependencies:
  - python=3.11
  - pip
  - pip:
"""


def read_pins(lock: Path) -> dict[str, str]:
    """package name (lower case) -> pinned version, from a pip-style lock file."""
    pins = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line.strip())
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def write_environment(lock: Path, target: Path) -> None:
    """Rewrite the conda environment file from the lock's pins, then the package itself."""
    lines = [f"      - {name}=={number}" for name, number in sorted(read_pins(lock).items())]
    target.write_text(HEADER + "\n".join([*lines, "      - -e ."]) + "\n", encoding="utf-8")


def print_drift(lock: Path) -> int:
    """Print each locked package whose installed version differs; return how many."""
    pins = read_pins(lock)
    installed = {d.metadata["Name"].lower().replace("_", "-"): d.version for d in distributions()}
    drift = [(n, v, installed.get(n.split("[")[0].replace("_", "-"), "absent"))
             for n, v in sorted(pins.items())]
    drift = [row for row in drift if row[1] != row[2]]
    for name, locked, now in drift:
        print(f"  {name}: locked {locked}, installed {now}")
    print(f"{len(drift)} of {len(pins)} locked packages differ from the lock")
    return len(drift)


if __name__ == "__main__":
    if sys.argv[1] == "--drift":
        print_drift(Path(sys.argv[2]))
    else:
        write_environment(Path(sys.argv[1]), Path(sys.argv[2]))
