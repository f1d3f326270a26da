"""A small copy of DejaVu Sans for vl-convert to measure chart text with, so charts render faster.

vl-convert measures every chart text glyph by glyph, and for a font it found in a folder it
reads and parses the font's file again for each glyph: ~0.2 ms a glyph with DejaVu Sans (760 KB,
and listed twice: the system's and ours), over a third of the time of a report's six charts.
The same font cut down to the characters charts use (Latin, Greek, Cyrillic, punctuation; every
layout feature kept, so kerning and ligatures are the same) and renamed `MEASURE_FAMILY` is
read ~2x faster, and measures each of those characters exactly as DejaVu Sans does: the SVG,
with the family named back to DejaVu Sans, is byte for byte the same (tests/test_measure_font.py).

The copy is made once per machine with fontTools from the system's own DejaVu files (~2 s)
and kept in the user's cache folder, named by a digest of those files, the character set and
the fontTools version. Anything that goes wrong (no DejaVu, no writable cache) leaves charts on
DejaVu Sans itself: slower, the same picture.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

MEASURE_FAMILY = "WorkbookMeasureSans"
# The faces of DejaVu Sans charts draw with: Vega's text is normal or bold, never italic.
FACES = {"DejaVuSans.ttf": "Book", "DejaVuSans-Bold.ttf": "Bold"}
# Basic Latin to Latin Extended-B, Greek, Cyrillic, general punctuation, euro, minus, <= >=.
RANGES = ((0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x2000, 0x206F),
          (0x20AC, 0x20AC), (0x2212, 0x2212), (0x2264, 0x2265))
COVERED = frozenset(chr(c) for lo, hi in RANGES for c in range(lo, hi + 1))


def cache_root() -> Path:
    """$XDG_CACHE_HOME/workbook (default ~/.cache/workbook)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "workbook"


def measure_font_dir(source: Path, cache: Path | None = None) -> Path | None:
    """The folder holding the measuring faces made from `source` (the DejaVu folder), made
    now if it is not in the cache yet; None when it cannot be had."""
    try:
        import fontTools

        digest = hashlib.sha256(f"{fontTools.version}|{RANGES}|{MEASURE_FAMILY}".encode())
        for name in FACES:
            digest.update((source / name).read_bytes())
        folder = (cache or cache_root()) / f"measure-font-{digest.hexdigest()[:16]}"
        if all((folder / name).is_file() for name in FACES):
            return folder
        return _make(source, folder)
    except Exception:  # noqa: BLE001 - any failure: measure with DejaVu Sans itself
        return None


def _make(source: Path, folder: Path) -> Path:
    """Write the faces into a fresh folder beside `folder`, then move it into place whole
    (another process making the same folder at the same time is fine: one of them wins)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=".measure-font-", dir=folder.parent))
    try:
        for name, style in FACES.items():
            _subset(source / name, temp / name, style)
        try:
            os.replace(temp, folder)
        except OSError:
            if not all((folder / name).is_file() for name in FACES):
                raise
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return folder


def _subset(source: Path, target: Path, style: str) -> None:
    """`source` cut down to COVERED (all layout features kept), named MEASURE_FAMILY."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(source)
    options = subset.Options()
    options.layout_features = ["*"]
    options.notdef_outline = True
    options.hinting = False
    options.drop_tables += ["FFTM"]  # FontForge's timestamps: unused, and fontTools warns
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(c) for c in COVERED])
    subsetter.subset(font)
    names = {1: MEASURE_FAMILY, 2: "Bold" if style == "Bold" else "Regular",
             4: f"{MEASURE_FAMILY} {style}", 6: f"{MEASURE_FAMILY}-{style}"}
    table = font["name"]
    table.names = [n for n in table.names if n.nameID not in (1, 2, 4, 6, 16, 17)]
    for name_id, text in names.items():
        table.setName(text, name_id, 3, 1, 0x409)
    font.save(target)
