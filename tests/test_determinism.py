"""Byte-identical reports whatever the clock, the time zone and the working folder.

Each report kind is rendered in two separate Python processes started more than a second
apart (fontTools stamps a font subset with the current second unless the package fixes it),
with different working folders and TZ, and without SOURCE_DATE_EPOCH; `workbook monthly` is
run twice the same way. The HTML and PDF bytes must be the same. The PDFs are also checked for
what an archive and a screen reader need: PDF/A identification in the XMP metadata, /MarkInfo,
a structure tree with headings, tables and charts as figures with alt text, and real text.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pypdf
import pytest

from workbook.reports.render import RENDERING_STACK, html_to_pdf, rendering_stack

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_DATA = ROOT / "data" / "examples" / "caseload.csv"
EXAMPLE_CONFIG = ROOT / "data" / "examples" / "workbook.yml"
WORKBOOK = str(Path(sys.executable).with_name("workbook"))
KINDS = (("therapist", "T01"), ("supervision", "T03"), ("clinic", None))

RENDER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from workbook.analysis.pipeline import analyse
    from workbook.data.config import load_config
    from workbook.data.ingest import load_ratings
    from workbook.analysis.periods import parse_month
    from workbook.reports.render import describe_source, render_report, write_report

    data, config, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    kinds = [k.split(":") for k in sys.argv[4].split(",")]
    if sys.argv[5] == "fonttools":  # WeasyPrint subsets fonts with fontTools without HarfBuzz's
        import weasyprint.pdf.fonts  # libharfbuzz-subset (the stamping path)

        weasyprint.pdf.fonts.harfbuzz_subset = None
    settings = load_config(config)
    if sys.argv[6] != "default":
        settings = settings.model_copy(update={"pdf_engine": sys.argv[6]})
    ratings = load_ratings(data, settings)
    analysis = analyse(ratings, settings, parse_month("2026-10"))
    provenance = describe_source(data, config)
    for kind, therapist in kinds:
        html = render_report(kind, analysis, provenance=provenance, therapist_id=therapist or None,
                             ratings=ratings)
        write_report(html, out / kind, ("html", "pdf"))
""")

pytestmark = pytest.mark.slow


def _environment(tz: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    env["TZ"] = tz
    return env


def _run(command: list[str], cwd: Path, tz: str) -> None:
    done = subprocess.run(command, cwd=cwd, env=_environment(tz), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]


def _render_twice(factory, kinds: str, subsetter: str, engine: str = "default") -> list[Path]:
    """Render `kinds` ("therapist:T01,clinic:") in two processes >1 s apart, in other working
    folders and time zones; return the two output folders."""
    outs = []
    for i, tz in enumerate(("UTC", "Pacific/Auckland")):
        if i:
            time.sleep(1.5)
        cwd, out = factory.mktemp(f"cwd{i}"), factory.mktemp(f"out{i}")
        _run([sys.executable, "-c", RENDER, str(EXAMPLE_DATA), str(EXAMPLE_CONFIG), str(out),
              kinds, subsetter, engine], cwd, tz)
        outs.append(out)
    return outs


@pytest.fixture(scope="module")
def two_renders(tmp_path_factory):
    """The three report kinds, fonts subset as WeasyPrint does here by default."""
    return _render_twice(tmp_path_factory, "therapist:T01,supervision:T03,clinic:", "default")


def test_pdf_is_identical_when_fonttools_subsets_the_fonts(tmp_path_factory):
    """Without HarfBuzz's subsetter (libharfbuzz-subset0 is not on every machine), WeasyPrint
    subsets fonts with fontTools, which stamps each subset with the current second. (The
    WeasyPrint engine; Typst subsets fonts itself, deterministically.)"""
    first, second = _render_twice(tmp_path_factory, "supervision:T03", "fonttools", "weasyprint")
    producer = pypdf.PdfReader(first / "supervision.pdf").metadata["/Producer"]
    assert producer.startswith("WeasyPrint"), producer
    assert (first / "supervision.pdf").read_bytes() == (second / "supervision.pdf").read_bytes()


@pytest.mark.parametrize(("kind", "therapist"), KINDS, ids=[k for k, _ in KINDS])
@pytest.mark.parametrize("fmt", ["html", "pdf"])
def test_report_bytes_are_identical_across_processes_clocks_and_zones(two_renders, kind,
                                                                      therapist, fmt):
    first, second = ((out / f"{kind}.{fmt}").read_bytes() for out in two_renders)
    assert len(first) > 1000
    assert first == second, f"{kind}.{fmt} differs between two processes"


def test_monthly_batch_is_byte_identical_across_runs(tmp_path):
    folders = []
    for i, tz in enumerate(("Europe/London", "America/Los_Angeles")):
        if i:
            time.sleep(1.5)
        cwd = tmp_path / f"cwd{i}"
        cwd.mkdir()
        out = tmp_path / f"reports{i}"
        _run([WORKBOOK, "monthly", "--data", str(EXAMPLE_DATA), "--config", str(EXAMPLE_CONFIG),
              "--out", str(out), "--month", "2026-10", "--format", "pdf,html"], cwd, tz)
        folders.append(out / "2026-10")
    names = sorted(p.name for p in folders[0].iterdir() if p.suffix in (".pdf", ".html"))
    assert len(names) == 18  # the clinic and 8 therapists, PDF and HTML
    for name in names:
        assert (folders[0] / name).read_bytes() == (folders[1] / name).read_bytes(), name
    manifests = [json.loads((f / "manifest.json").read_text()) for f in folders]
    assert manifests[0]["files"] == manifests[1]["files"]


def test_font_clock_is_fixed_only_while_rendering():
    """The package fixes fontTools' clock for its own render and puts it back: a user's own
    font work in the same process still gets the current time, and the environment is
    untouched."""
    from fontTools.misc import timeTools
    from fontTools.ttLib.tables import _h_e_a_d

    before = _h_e_a_d.timestampNow
    html_to_pdf("<!DOCTYPE html><html lang='en'><head><title>t</title></head>"
                "<body><p>Text</p></body></html>")
    assert _h_e_a_d.timestampNow is before
    assert "SOURCE_DATE_EPOCH" not in os.environ or os.environ.get("SOURCE_DATE_EPOCH")
    now = int(time.time() - timeTools.epoch_diff)
    assert abs(_h_e_a_d.timestampNow() - now) < 5


def _xmp(reader: pypdf.PdfReader) -> str:
    return reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode("utf-8")


def _declares(xmp: str, name: str, value: str) -> bool:
    """Whether the XMP sets `name` to `value`, as an attribute (WeasyPrint writes
    pdfaid:part="3") or as an element (Typst writes <pdfaid:part>3</pdfaid:part>)."""
    return bool(re.search(rf'{name}="{value}"|<{name}>{value}</{name}>', xmp))


def _structure_tags(reader: pypdf.PdfReader) -> list[tuple[str, str | None]]:
    """(structure type, alt text) of every element of the PDF's structure tree."""
    found, todo = [], [reader.trailer["/Root"]["/StructTreeRoot"].get_object()]
    while todo:
        node = todo.pop()
        if isinstance(node, pypdf.generic.IndirectObject):
            node = node.get_object()
        if isinstance(node, pypdf.generic.ArrayObject):
            todo.extend(node)
        elif isinstance(node, pypdf.generic.DictionaryObject):
            if "/S" in node:
                found.append((str(node["/S"]), str(node["/Alt"]) if "/Alt" in node else None))
            if "/K" in node:
                todo.append(node["/K"])
    return found


@pytest.mark.parametrize(("kind", "therapist"), KINDS, ids=[k for k, _ in KINDS])
def test_pdfs_are_archival_tagged_and_hold_real_text(two_renders, kind, therapist):
    reader = pypdf.PdfReader(io.BytesIO((two_renders[0] / f"{kind}.pdf").read_bytes()))
    xmp = _xmp(reader)
    assert _declares(xmp, "pdfaid:part", "3") and _declares(xmp, "pdfaid:conformance", "B")
    root = reader.trailer["/Root"]
    assert root["/MarkInfo"]["/Marked"] in (True, "true", pypdf.generic.BooleanObject(True))
    assert str(root["/Lang"]) == "en"
    assert "/OutputIntents" in root
    tags = _structure_tags(reader)
    kinds = {t for t, _ in tags}
    assert {"/H1", "/H2", "/Table", "/TH", "/TD"} <= kinds, kinds
    figures = [alt for t, alt in tags if t == "/Figure"]
    charts = {"therapist": 6, "supervision": 0, "clinic": 1}[kind]  # signs + attendance
    assert len(figures) == charts, figures
    assert all(alt and "chart" in alt.lower() for alt in figures), figures
    text = "".join(page.extract_text() for page in reader.pages)
    assert "About this report" in text and "Trust & safety" in text


def test_reports_name_the_rendering_stack(two_renders):
    html = (two_renders[0] / "therapist.html").read_text(encoding="utf-8")
    for name, number in rendering_stack():
        assert f"{name} {number}" in html
    assert [n for n, _ in rendering_stack()] == list(RENDERING_STACK)
    assert all(number != "not installed" for _, number in rendering_stack())


def test_pdf_variant_from_the_config_reaches_the_pdf(example, render):
    from dataclasses import replace

    config = example.config.model_copy(update={"pdf_variant": "pdf/ua-1"})
    cut = replace(example.analysis, config=config)
    html = render("supervision", cut, example.provenance, therapist_id="T03").html
    reader = pypdf.PdfReader(io.BytesIO(html_to_pdf(html)))
    xmp = _xmp(reader)
    assert _declares(xmp, "pdfuaid:part", "1") and "pdfaid:" not in xmp
    assert "/StructTreeRoot" in reader.trailer["/Root"]
