"""The tests' own attacker on the clinic report: exact integer and linear programming.

Written apart from workbook.analysis.disclosure, from what the report prints and says: a cell
"<11" is a count from 1 to 10 (or a figure over 1 to 10 clients), a cell "hidden" may be
anything, a printed number is exact to its last digit. The attacker reads every published
count (headline tiles, clients per therapist and the clinic's, the outcome table with its
totals) and every mean (per therapist and sign, the clinic's), and is given what an insider
knows: how many clients are behind each mean and how many clients are counted under two
therapists. It reports each hidden count it can pin to one value and each hidden mean it can
pin to within 0.5 (a range of width 1 or less).
"""

from __future__ import annotations

import re

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

SMALL = "<11"
HIDDEN = "hidden"


class _Model:
    """Variables (one per unknown published cell), their bounds and equality rows."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.low: list[float] = []
        self.high: list[float] = []
        self.rows: list[dict[int, float]] = []
        self.rhs: list[float] = []

    def term(self, name: str, text: str, *, floor: float = 0.0,
             scale: tuple[float, float] | None = None) -> tuple[int | None, float]:
        """(variable, 0) for an unknown cell, (None, value) for a printed one."""
        text = str(text).strip()
        if text not in (SMALL, HIDDEN):
            return None, float(text)
        self.names.append(name)
        if scale is not None:
            self.low.append(scale[0])
            self.high.append(scale[1])
        elif text == SMALL:
            self.low.append(1.0)
            self.high.append(10.0)
        else:
            self.low.append(floor)
            self.high.append(1e6)  # any count a clinic could have
        return len(self.names) - 1, 0.0

    def equal(self, terms: list[tuple[float, tuple[int | None, float]]], rhs: float = 0.0,
              slack: float = 0.0) -> None:
        """sum(coef * cell) == rhs (within +/- slack, through a bounded slack variable)."""
        row, known = {}, 0.0
        for coef, (var, value) in terms:
            if var is None:
                known += coef * value
            else:
                row[var] = row.get(var, 0.0) + coef
        if slack:
            self.names.append("slack")
            self.low.append(-slack)
            self.high.append(slack)
            row[len(self.names) - 1] = 1.0
        if row:
            self.rows.append(row)
            self.rhs.append(rhs - known)

    def ranges(self, integer: bool) -> dict[str, tuple[float, float]]:
        """Least and greatest value of every unknown cell (not of slacks or printed means)."""
        n = len(self.names)
        if not n:
            return {}
        a = np.zeros((len(self.rows), n))
        for i, row in enumerate(self.rows):
            for j, coef in row.items():
                a[i, j] = coef
        cons = [LinearConstraint(a, self.rhs, self.rhs)] if self.rows else []
        kinds = np.array([0.0 if (nm == "slack" or not integer) else 1.0 for nm in self.names])
        out = {}
        for j, name in enumerate(self.names):
            if name == "slack" or name.endswith("(shown)"):
                continue
            ends = []
            for sign in (1.0, -1.0):
                c = np.zeros(n)
                c[j] = sign
                res = milp(c, constraints=cons, integrality=kinds,
                           bounds=Bounds(self.low, self.high))
                assert res.status == 0, f"attacker's model is infeasible: {res.message}"
                ends.append(float(res.x[j]))
            out[name] = (ends[0], ends[1])
        return out


def attack_counts(figures: dict[str, str], therapist_rows: list[dict],
                  outcome_rows: list[dict], duplicates: int = 0) -> list[str]:
    """Hidden counts pinned to one value."""
    m = _Model()
    therapists = [r for r in therapist_rows if r["Therapist"] != "Clinic"]
    clinic = next(r for r in therapist_rows if r["Therapist"] == "Clinic")
    cells = [m.term(f"clients {r['Therapist']}", r["Clients"], floor=1) for r in therapists]
    total = m.term("clients Clinic", clinic["Clients"])
    m.equal([(1.0, c) for c in cells] + [(-1.0, total)], float(duplicates))
    seen = m.term("tile clients seen", figures["clients seen"])
    m.equal([(1.0, seen), (-1.0, total)])
    for name, text in figures.items():
        if name.startswith("clients") and name != "clients seen":
            m.term(f"tile {name}", text)  # at most the clients seen: no equality to exploit
    if outcome_rows:
        columns = [c for c in outcome_rows[0] if c not in ("Measure", "Total")]
        grid = {(r["Measure"], c): m.term(f"{r['Measure']} {c}", r[c])
                for r in outcome_rows for c in [*columns, "Total"]}
        measures = [r["Measure"] for r in outcome_rows]
        for measure in measures:  # rows add up to their totals
            m.equal([(1.0, grid[measure, c]) for c in columns] + [(-1.0, grid[measure, "Total"])])
        inner = [x for x in measures if x != "Total"]
        for c in [*columns, "Total"]:  # columns add up to the total row
            m.equal([(1.0, grid[x, c]) for x in inner] + [(-1.0, grid["Total", c])])
    return [name for name, (lo, hi) in m.ranges(integer=True).items() if hi - lo < 0.5]


def attack_means(therapist_rows: list[dict], n: dict[tuple[str, str], int],
                 scale: tuple[float, float] = (0.0, 10.0)) -> list[str]:
    """Hidden means pinned to within 0.5. `n[(therapist or "Clinic", sign label)]`."""
    pinned = []
    signs = [c for c in therapist_rows[0] if c not in ("Therapist", "Clients")]
    for sign in signs:
        m = _Model()
        terms = []
        for row in therapist_rows:
            who, text = row["Therapist"], row[sign]
            if text == "–" or n.get((who, sign), 0) == 0:
                continue
            cell = (m.term(f"{who} {sign}", text, scale=scale) if text in (SMALL, HIDDEN)
                    else _rounded(m, f"{who} {sign}", float(text), scale))
            terms.append(((-1.0 if who == "Clinic" else 1.0) * n[who, sign], cell))
        m.equal(terms)
        pinned += [name for name, (lo, hi) in m.ranges(integer=False).items()
                   if hi - lo <= 1.0 + 1e-9]
    return pinned


def _rounded(m: _Model, name: str, value: float, scale: tuple[float, float]):
    """A printed mean: its true value lies within half its last digit."""
    m.names.append(f"{name} (shown)")
    m.low.append(max(scale[0], value - 0.05))
    m.high.append(min(scale[1], value + 0.05))
    return len(m.names) - 1, 0.0


def tiles(html: str) -> dict[str, str]:
    """The clinic report's headline figures, name -> printed value."""
    import html as htmllib
    found = re.findall(r'<span class="value">(.*?)</span><span class="name">(.*?)</span>', html)
    return {name: htmllib.unescape(value) for value, name in found}


def insider_sizes(analysis) -> dict[tuple[str, str], int]:
    """What an insider knows: the clients behind each mean of the per-therapist table."""
    from workbook.data.signs import SIGN_LABELS

    def sizes(signs, who=None):
        own = signs[(signs["rater"] == "client") & signs["mean_period"].notna()]
        keys = ["therapist_id", "sign"] if who is None else ["sign"]
        return {((k[0], SIGN_LABELS[k[1]]) if who is None else (who, SIGN_LABELS[k])): int(v)
                for k, v in own.groupby(keys).size().items()}

    return {**sizes(analysis.signs), **sizes(analysis.current().signs, "Clinic")}


def attack_report(html: str, analysis, duplicates: int = 0) -> list[str]:
    """Every pinned cell of a rendered clinic report (HTML), tables read back from the page."""
    from conftest import parse_tables

    tables = {head[0]: [dict(zip(head, r, strict=True)) for r in rows]
              for head, rows in parse_tables(html) if head}
    scale = (analysis.config.scale.min, analysis.config.scale.max)
    return (attack_counts(tiles(html), tables["Therapist"], tables.get("Measure", []),
                          duplicates)
            + attack_means(tables["Therapist"], insider_sizes(analysis), scale))
