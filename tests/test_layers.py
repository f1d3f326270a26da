"""The five wings stay layered: runs -> reports -> views -> analysis -> data.

Every import in the package (module level or inside a function, absolute or relative) is read
with `ast`; a module in a wing may import its own wing, any wing below it, and the leaf
`workbook._meta`, never a wing above it or the package root. The checker is also run on a
small package with a planted upward import, so it is known to catch one.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "workbook"
WINGS = ("data", "analysis", "views", "reports", "runs")  # bottom to top
LEAVES = ("workbook._meta",)


def _module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in a module's syntax tree."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from workbook.views import charts` imports the module workbook.views.charts
            found += [(node.lineno, f"{base}.{alias.name}" if base.count(".") < 2 else base)
                      for alias in node.names]
    return found


def _wing(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "workbook" and parts[1] in WINGS else None


def check_layers(package: Path) -> list[str]:
    """Every import in `package` that breaks the layers, as 'file:line: a imports b'."""
    problems = []
    for path in sorted(package.rglob("*.py")):
        module = _module_name(path, package)
        wing = _wing(module)
        if wing is None:  # the root's public surface, __main__ and the leaves
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, target in _imported(tree, module, path.name == "__init__.py"):
            if not target.startswith("workbook") or target.startswith(LEAVES):
                continue
            other = _wing(target)
            if other is None or WINGS.index(other) > WINGS.index(wing):
                problems.append(f"{path.relative_to(package.parent)}:{line}: {module} "
                                f"({wing}) imports {target} ({other or 'the package root'})")
    return problems


def test_no_wing_imports_a_wing_above_it():
    assert check_layers(PACKAGE) == []


def test_every_module_lives_in_a_wing():
    loose = sorted(p.name for p in PACKAGE.glob("*.py")
                   if p.name not in ("__init__.py", "__main__.py", "_meta.py"))
    assert loose == []
    for wing in WINGS:
        init = PACKAGE / wing / "__init__.py"
        assert ast.get_docstring(ast.parse(init.read_text())), f"{wing}/__init__.py: no docstring"


def _plant(tmp_path: Path, files: dict[str, str]) -> Path:
    package = tmp_path / "workbook"
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for wing in WINGS:
        (package / wing).mkdir(parents=True, exist_ok=True)
        (package / wing / "__init__.py").touch()
    return package


def test_checker_catches_planted_upward_imports(tmp_path):
    package = _plant(tmp_path, {
        "data/config.py": "from workbook.views.charts import chart\n",
        "analysis/rules.py": "def f():\n    from workbook.runs import batch\n",
        "views/charts.py": "from ..reports import render\nfrom workbook import load_ratings\n",
        "reports/render.py": "import workbook.runs.cli\nfrom workbook.analysis import rules\n",
        "runs/cli.py": "from workbook.reports.render import x\nfrom workbook._meta import ROOT\n",
    })
    problems = check_layers(package)
    assert len(problems) == 5, problems
    assert any("data/config.py:1" in p and "workbook.views.charts" in p for p in problems)
    assert any("analysis/rules.py:2" in p and "workbook.runs.batch" in p for p in problems)
    assert any("views/charts.py:1" in p and "workbook.reports.render" in p for p in problems)
    assert any("views/charts.py:2" in p and "package root" in p for p in problems)
    assert any("reports/render.py:1" in p and "workbook.runs.cli" in p for p in problems)
