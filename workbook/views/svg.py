"""Render an Altair chart to an inline SVG string with vl-convert, offline and deterministically.

- The Vega-Lite version passed to vl-convert matches the schema Altair emits (Altair 6.x emits
  Vega-Lite 6.4 -> `vl_version="6.4"`); if vl-convert lacks that version, its latest is used.
- `allowed_base_urls=[]`: vl-convert may fetch nothing; charts carry their data inline.
- Fonts: the DejaVu fonts are registered once per process (`register_fonts`), so text is
  measured with DejaVu Sans, the font the charts name and the PDF embeds.
- The result has no XML prolog and no unused `xmlns:xlink` declaration, so it can be pasted
  into HTML; the only URL left is the SVG namespace.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from pathlib import Path
from typing import Any

import altair as alt
import vl_convert as vlc

from workbook.views.measure_font import COVERED, MEASURE_FAMILY, measure_font_dir

DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT = "DejaVu Sans"  # the charts' font (workbook.views.charts configures it)
_registered: set[str] = set()


def vegalite_version() -> str | None:
    """The vl-convert Vega-Lite version matching Altair's schema, e.g. '6.4'; None if absent."""
    major_minor = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    return major_minor if major_minor in vlc.get_vegalite_versions() else None


def register_fonts(font_dir: str | Path = DEJAVU_DIR) -> bool:
    """Make vl-convert measure and name text in the fonts of `font_dir` (once per process),
    and, for DejaVu, measure with its faster copy (workbook.views.measure_font) where it can.
    Returns False when the folder does not exist (system fonts are then used)."""
    path = Path(font_dir)
    if str(path) in _registered:
        return True
    if not path.is_dir():
        return False
    vlc.register_font_directory(str(path))
    _registered.add(str(path))
    if path == DEJAVU_DIR:
        measuring = measure_font_dir(path)
        if measuring is not None:
            vlc.register_font_directory(str(measuring))
            _registered.add(MEASURE_FAMILY)
    return True


def chart_spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """The chart's Vega-Lite spec, validated by Altair without its top-level `datasets` (the
    rows, already JSON-safe from workbook.views.charts), which are added back afterwards: the same
    dict as `chart.to_dict()` at a fraction of the cost for thousands of rows."""
    rows = chart.datasets
    if rows is alt.Undefined:
        return chart.to_dict()
    bare = chart.copy(deep=False)
    bare.datasets = alt.Undefined
    spec = bare.to_dict()
    spec["datasets"] = {**spec.get("datasets", {}), **rows}
    return spec


def chart_to_svg(chart: alt.TopLevelMixin | dict[str, Any],
                 label: str | None = None) -> str:
    """An Altair chart (or a Vega-Lite spec dict) as an SVG string ready to inline in HTML.

    `label` is the chart's text alternative: the root gets role="img" and an aria-label, which
    screen readers read in the HTML and which becomes the chart's alt text in the PDF."""
    register_fonts()
    spec = chart if isinstance(chart, dict) else chart_spec(chart)
    # No per-mark ARIA text: the whole chart is one image with `label` as its text. Vega's own
    # descriptions repeat unrounded data and name dates in the process's local time zone.
    spec = {**spec, "config": {**spec.get("config", {}), "aria": False}}
    svg = _clean(_vega_to_svg(compile_vega(spec)))
    if label:
        svg = svg.replace("<svg ", f'<svg role="img" aria-label="{html.escape(label)}" ', 1)
    return svg


_COMPILED: dict[str, dict[str, Any]] = {}


def compile_vega(spec: dict[str, Any]) -> dict[str, Any]:
    """The Vega spec of a Vega-Lite spec, compiled once per structure.

    Compiling Vega-Lite does not look at inline rows: it turns each top-level dataset into a
    Vega data entry of the same name holding the rows. So the compiled spec of one structure
    (everything but `datasets`) is reused, with each named entry given the new rows."""
    rows = spec.get("datasets") or {}
    key = json.dumps({k: v for k, v in spec.items() if k != "datasets"}, sort_keys=True)
    key += "|" + ",".join(rows)
    compiled = _COMPILED.get(key)
    if compiled is None:
        compiled = vlc.vegalite_to_vega(spec, vl_version=vegalite_version())
        _COMPILED[key] = compiled
    return {**compiled, "data": [
        {**entry, "values": rows[entry["name"]]} if "values" in entry
        and entry.get("name") in rows else entry for entry in compiled.get("data", [])]}


def _vega_to_svg(vega: dict[str, Any]) -> str:
    """vl-convert's SVG of a Vega spec, its DejaVu Sans text measured with the faster copy of
    the font when every character and weight of the chart is one the copy has (the SVG is the
    same: only the family's name differs, and it is named back)."""
    swapped = _measured(vega) if MEASURE_FAMILY in _registered else None
    if swapped is None:
        return vlc.vega_to_svg(vega, allowed_base_urls=[])
    svg = vlc.vega_to_svg(swapped, allowed_base_urls=[])
    return svg.replace(f'font-family="{MEASURE_FAMILY}"', f'font-family="{FONT}"')


def _measured(vega: dict[str, Any]) -> dict[str, Any] | None:
    """The spec with DejaVu Sans named MEASURE_FAMILY, or None when the copy cannot stand in:
    a character it lacks, an italic, a weight other than normal or bold, or the copy's name
    already in the spec."""
    text = json.dumps(vega, ensure_ascii=False)
    if MEASURE_FAMILY in text or not set(text) <= COVERED:
        return None
    try:
        return _swap_fonts(vega)
    except ValueError:
        return None


def _swap_fonts(node: Any, key: str = "") -> Any:
    """A copy of the spec's structure (data rows are kept as they are) with each font named
    DejaVu Sans named MEASURE_FAMILY; ValueError at a font style or weight the copy lacks."""
    name = key.lower()
    if name.endswith(("fontstyle", "fontweight")):
        value = node.get("value") if isinstance(node, dict) and set(node) == {"value"} else node
        if value not in _PLAIN[name.endswith("fontweight")]:
            raise ValueError(f"{key}: {node!r}")
        return node
    if isinstance(node, dict):
        if key == "data":
            return node
        return {k: (MEASURE_FAMILY if v == FONT and k.lower().endswith("font")
                    else _swap_fonts(v, k)) for k, v in node.items()}
    if isinstance(node, list):
        if key == "data":  # the data entries: their rows as they are, the rest walked
            return [{k: v if k == "values" else _swap_fonts(v, k) for k, v in e.items()}
                    if isinstance(e, dict) else e for e in node]
        return [_swap_fonts(v, key) for v in node]
    return node


# Font styles and weights (False: style, True: weight) the measuring copy draws as DejaVu does.
_PLAIN = {False: (None, "normal"), True: (None, "normal", "bold", 400, 700, "400", "700")}


# Attributes that do nothing in a static, script-free page: Vega's class names (no stylesheet
# targets them), pointer events, and opacity at its default. Dropping them makes the SVG ~15%
# smaller and the PDF ~5% faster to lay out; the accessibility attributes (role, aria-*) stay.
# Text content cannot match: vl-convert escapes quotes in text.
_INERT = re.compile(r' (?:class|pointer-events)="[^"]*"| opacity="1"')


def _clean(svg: str) -> str:
    """Drop the XML prolog and doctype, inert attributes, and the xlink namespace when nothing
    uses it."""
    svg = re.sub(r"^\s*<\?xml[^>]*\?>\s*", "", svg)
    svg = re.sub(r"^\s*<!DOCTYPE[^>]*>\s*", "", svg)
    svg = _INERT.sub("", svg)
    if "xlink:" not in svg.replace("xmlns:xlink", ""):
        svg = svg.replace(' xmlns:xlink="http://www.w3.org/1999/xlink"', "", 1)
    return _stable_ids(svg)


# Ids Vega numbers by a counter of the process: colour-legend gradients and clip paths
# (marks with clip=true), where they are defined (id="...") and used (url(#...)).
_COUNTED = re.compile(r'(?<=id=")(?:gradient_|clip)\d+(?=")|(?<=url\(#)(?:gradient_|clip)\d+'
                      r'(?=\))')


def _stable_ids(svg: str) -> str:
    """Vega numbers gradients (a colour legend's) and clip paths by a counter of the process:
    the same chart came out as gradient_0 or gradient_3, clip8 or clip16, depending on what was
    drawn before it (one report alone or in a month's batch, a page drawn twice). Named
    instead from the SVG's own content: the same for the same chart, and different charts
    inlined in one report do not share an id."""
    found = list(dict.fromkeys(_COUNTED.findall(svg)))
    if not found:
        return svg
    bare = _COUNTED.sub(lambda m: m.group(0).rstrip("0123456789"), svg)
    digest = hashlib.sha256(bare.encode()).hexdigest()[:12]
    names = {old: f"{old.rstrip('0123456789').rstrip('_')}-{digest}-{i}"
             for i, old in enumerate(found)}
    return _COUNTED.sub(lambda m: names[m.group(0)], svg)
