"""PDF with Typst, from the report's own HTML: one report model, two outputs.

A report is rendered once, to HTML, by the Jinja2 templates. For the Typst engine a small walker
reads that HTML (our own, controlled subset: headings, paragraphs, tiles, tables with their
suppression marks, charts as inline SVG with alt text, lists) into a plain tree, and
`templates/print.typ`, the Typst counterpart of `print.css`, lays the tree out on A4 pages.
Whatever a template says reaches the PDF because the PDF is made from the HTML it rendered;
there is no second copy of any template to keep in step.

An element the walker does not know is laid out by its children (blocks as blocks, inline as
inline), so a clinic's branded template still prints its text. An image must be an inline
`data:` URL; any other URL is handed to the fetching rule, which refuses it, and the image is
left out. Nothing is fetched: Typst sees only the tree, the fonts and the stylesheet.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable
from functools import lru_cache
from html.parser import HTMLParser
from importlib.metadata import version
from pathlib import Path
from urllib.parse import unquote_to_bytes

from workbook._meta import TEMPLATES
from workbook.data.errors import ReportError

# `pdf_variant` -> Typst's PDF standards. Every variant is tagged (Typst tags by default).
TYPST_STANDARDS: dict[str, list[str]] = {
    "pdf/a-3b": ["a-3b"], "pdf/a-2b": ["a-2b"], "pdf/ua-1": ["ua-1"], "none": [],
}
FONT_FOLDERS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/TTF",
                "/usr/share/fonts/dejavu", "/usr/local/share/fonts/dejavu")
BLOCK = frozenset("address article aside blockquote div dl dd dt figure footer form h1 h2 h3 h4 "
                  "h5 h6 header hr li main nav ol p section table tbody thead tfoot tr td th "
                  "ul body html caption figcaption".split())
VOID = frozenset("area base br col embed hr img input link meta source track wbr".split())
SKIP = frozenset(("head", "style", "script", "template", "title", "noscript"))
PAGE_WIDTH_PT = 504.0  # A4 less 16 mm margins each side, in points (print.typ's margins)
CHAR_PT, CELL_CHARS = 5.8, 1.5  # a DejaVu Sans character at 9.5 pt; a cell's padding
LONG_TABLE = 14  # body rows: a longer table may break across pages (its header repeated)
_COLOUR = re.compile(r"background(?:-color)?\s*:\s*(#[0-9a-fA-F]{3,8})\b")
_SVG = re.compile(r"<svg\b[^>]*>.*?</svg>", re.S | re.I)
_SPACE = re.compile(r"\s+")


@lru_cache(maxsize=1)
def typst_version() -> str:
    """The version of the Typst compiler inside the `typst` package, e.g. '0.15.1'."""
    import typst

    found = typst.Compiler(input=b"", ignore_system_fonts=True).eval("sys.version")
    return ".".join(re.findall(r"\d+", found))


def typeset_pdf(html: str, variant: str, refuse: Callable[[str], object]) -> bytes:
    """The report's HTML as a tagged PDF of the given variant, laid out by Typst."""
    import typst

    tree = read_tree(html, refuse)
    try:
        with _COMPILING:
            return _compiler().compile(_stylesheet(), format="pdf",
                                       sys_inputs={"report": json.dumps(tree)},
                                       pdf_standards=TYPST_STANDARDS[variant],
                                       timestamp=946_684_800, pdf_tags=True)
    except typst.TypstError as exc:
        raise ReportError(f"the Typst PDF engine could not lay out the report: "
                          f"{exc.message}") from None


_COMPILING = threading.Lock()


@lru_cache(maxsize=1)
def _compiler():
    """One Typst compiler per process (its caches make later reports cheaper), seeing only the
    DejaVu fonts and Typst's own, never the network or the disk beyond them."""
    import typst

    folders = [f for f in FONT_FOLDERS if Path(f, "DejaVuSans.ttf").is_file()]
    return typst.Compiler(font_paths=folders[:1], ignore_system_fonts=bool(folders),
                          root=str(TEMPLATES))


@lru_cache(maxsize=1)
def _stylesheet() -> bytes:
    return (TEMPLATES / "print.typ").read_bytes()


def engine_label() -> str:
    """'Typst 0.15.1 (typst 0.15.2)': the compiler and the package that ships it."""
    return f"Typst {typst_version()} (typst {version('typst')})"


def read_tree(html: str, refuse: Callable[[str], object]) -> dict:
    """The HTML as a tree for print.typ: {"title", "lang", "body", "running", "children"};
    each element {"tag", "class", children...}, each text a string; charts as
    {"tag": "svg", "svg", "alt", "width"}."""
    charts: list[str] = []

    def hold(match: re.Match) -> str:
        charts.append(match.group(0))
        return f'<wb-chart data-n="{len(charts) - 1}"></wb-chart>'

    walker = _Walker(charts, refuse)
    walker.feed(_SVG.sub(hold, html))
    walker.close()
    root = walker.root
    running: dict[str, str] = {}
    _take_running(root, running)
    _tidy(root)
    _measure_tables(root, nowrap_first="brief" in walker.body_class.split())
    _stick_intros(root)
    return {"title": walker.title.strip(), "lang": walker.lang, "body": walker.body_class,
            "running": running, "children": root["children"]}


class _Walker(HTMLParser):
    """Builds the tree; skips <head>, styles and scripts; keeps `.running` strings apart."""

    def __init__(self, charts: list[str], refuse: Callable[[str], object]) -> None:
        super().__init__(convert_charrefs=True)
        self.charts, self.refuse = charts, refuse
        self.root: dict = {"tag": "root", "class": "", "children": []}
        self.stack = [self.root]
        self.skipping: list[str] = []
        self.title, self.lang, self.body_class = "", "en", ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = {k: v or "" for k, v in reversed(attrs)}  # the first of a repeated attribute
        if tag == "title":
            self._in_title = True
        if self.skipping or tag in SKIP:
            if tag not in VOID:
                self.skipping.append(tag)
            return
        if tag == "html":
            self.lang = attrs.get("lang") or "en"
            return
        if tag == "body":
            self.body_class = attrs.get("class", "")
            return
        node = self._element(tag, attrs)
        if node is not None:
            self.stack[-1]["children"].append(node)
        if tag not in VOID and node is not None and node.get("tag") != "svg":
            self.stack.append(node)
        elif tag not in VOID and (node is None or node.get("tag") == "svg"):
            self.stack.append({"tag": "drop", "class": "", "children": []})

    def _element(self, tag: str, attrs: dict) -> dict | None:
        cls = attrs.get("class", "")
        if tag == "wb-chart":
            svg = self.charts[int(attrs["data-n"])]
            return {"tag": "svg", "svg": svg, "alt": _svg_label(svg), "width": _svg_width(svg)}
        if tag == "img":
            return _image(attrs, self.refuse)
        node = {"tag": tag, "class": cls, "children": []}
        if tag == "ul" and any(open_["tag"] == "li" for open_ in self.stack):
            node["nested"] = True  # a list inside a list item: circles, as browsers draw it
        colour = _COLOUR.search(attrs.get("style", ""))
        if colour:
            node["fill"] = colour.group(1)
        return node

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if self.skipping:
            if tag == self.skipping[-1]:
                self.skipping.pop()
            return
        if tag in VOID or tag in ("body", "html"):
            return
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth]["tag"] in (tag, "drop"):
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self.skipping:
            return
        self.stack[-1]["children"].append(data)


def _svg_label(svg: str) -> str:
    match = re.search(r'<svg\b[^>]*?\baria-label="([^"]*)"', svg)
    from html import unescape

    return unescape(match.group(1)) if match else ""


def _svg_width(svg: str) -> float:
    """The chart's width in points (CSS pixels x 0.75), at most the page's width."""
    match = re.search(r'<svg\b[^>]*?\bwidth="([\d.]+)', svg)
    return min(float(match.group(1)) * 0.75, PAGE_WIDTH_PT) if match else PAGE_WIDTH_PT


def _image(attrs: dict, refuse: Callable[[str], object]) -> dict | None:
    """An <img> with an inline data: URL as {"tag": "img", "data": [bytes], "alt"}; any other
    URL goes to the fetching rule (which refuses it) and the image is left out."""
    src = attrs.get("src", "")
    if not src.startswith("data:"):
        try:
            refuse(src)
        except ValueError:
            return None
        return None
    head, _, body = src[5:].partition(",")
    data = base64.b64decode(body) if head.endswith(";base64") else unquote_to_bytes(body)
    kind = head.split(";")[0].split("/")[-1].replace("svg+xml", "svg")
    if kind not in ("png", "jpeg", "jpg", "gif", "svg", "webp"):
        return None
    node = {"tag": "img", "alt": attrs.get("alt", ""), "format": kind.replace("jpg", "jpeg")}
    if kind == "svg":
        node["svg"] = data.decode("utf-8", "replace")
    else:
        node["data"] = list(data)
    return node


def _tidy(node: dict) -> None:
    """HTML's whitespace rules, roughly: runs of white space become one space; white space at
    the start or end of a block, or next to a block, goes."""
    kids = node.get("children")
    if kids is None:
        return
    out: list = []
    for kid in kids:
        if isinstance(kid, str):
            kid = _SPACE.sub(" ", kid)
            if out and isinstance(out[-1], str):
                out[-1] += kid
                continue
        else:
            _tidy(kid)
        out.append(kid)
    block = node["tag"] in BLOCK or node["tag"] == "root"
    tidied = []
    for i, kid in enumerate(out):
        if isinstance(kid, str):
            before = out[i - 1] if i else None
            after = out[i + 1] if i + 1 < len(out) else None
            if (before is None and block) or _is_block(before):
                kid = kid.lstrip()
            if (after is None and block) or _is_block(after):
                kid = kid.rstrip()
            if not kid:
                continue
        tidied.append(kid)
    node["children"] = tidied


def _is_block(node: object) -> bool:
    return isinstance(node, dict) and (node["tag"] in BLOCK or node["tag"] == "svg")


def _text_of(node: object) -> str:
    if isinstance(node, str):
        return node
    return "".join(_text_of(k) for k in node.get("children", ()))


def _take_running(node: dict, running: dict[str, str]) -> None:
    """Move `<span class="running running-NAME">` out of the flow: print.typ sets them in the
    page's header and footer (as print.css does with string-set)."""
    kept = []
    for kid in node.get("children", ()):
        classes = kid.get("class", "").split() if isinstance(kid, dict) else []
        if "running" in classes:
            for name in classes:
                if name.startswith("running-"):
                    running[name.removeprefix("running-")] = " ".join(_text_of(kid).split())
            continue
        if isinstance(kid, dict):
            _take_running(kid, running)
        kept.append(kid)
    if "children" in node:
        node["children"] = kept


def _measure_tables(node: dict, nowrap_first: bool = False) -> None:
    """Give each table its column widths (see _column_weights). `nowrap_first`: the first
    column's cells are not wrapped (print.css's `.brief td:first-child`)."""
    for kid in node.get("children", ()):
        if not isinstance(kid, dict):
            continue
        if kid["tag"] == "table":
            kid["weights"] = _column_weights(kid, nowrap_first)
            kid["long"] = sum(not head for head, _ in _rows(kid)) > LONG_TABLE
            continue
        _measure_tables(kid, nowrap_first)
        if any(isinstance(k, dict) and k.get("long") for k in kid.get("children", ())):
            kid["long"] = True  # holds a long table: print.typ lets it break


def _rows(table: dict) -> list[tuple[bool, list[dict]]]:
    """(is a header row, cells) for every row of a table, in order."""
    found = []

    def walk(node: dict, head: bool) -> None:
        for kid in node.get("children", ()):
            if not isinstance(kid, dict):
                continue
            if kid["tag"] == "tr":
                cells = [c for c in kid["children"] if isinstance(c, dict)
                         and c["tag"] in ("td", "th")]
                found.append((head, cells))
            elif kid["tag"] in ("thead", "tbody", "tfoot"):
                walk(kid, kid["tag"] == "thead")

    walk(table, False)
    return found


def _column_weights(table: dict, nowrap_first: bool = False) -> list[float]:
    """Column widths in characters, as a browser's automatic table layout would give them:
    each column at least its longest word (bold in the header), and, when the whole lines do
    not fit the page, the room left shared in proportion to what each column wants more."""
    rows = _rows(table)
    columns = max((len(cells) for _, cells in rows), default=0)
    least, most = [1.0] * columns, [1.0] * columns
    for head, cells in rows:
        bold = 1.2 if head else 1.0
        for i, cell in enumerate(cells):
            text = " ".join(_text_of(cell).split())
            words = [len(word) for word in text.split()] or [0]
            whole = len(text) * bold
            least[i] = max(least[i], whole if nowrap_first and i == 0 and not head
                           else max(words) * bold)
            most[i] = max(most[i], whole)
    room = PAGE_WIDTH_PT / CHAR_PT - CELL_CHARS * columns
    if sum(most) <= room:
        return [round(w + CELL_CHARS, 2) for w in most]
    spare, wants = max(room - sum(least), 0.0), [m - n for m, n in zip(most, least, strict=True)]
    total = sum(wants) or 1.0
    return [round(n + spare * w / total + CELL_CHARS, 2)
            for n, w in zip(least, wants, strict=True)]


def warm_up() -> None:
    """Load Typst, the fonts and the stylesheet once (a batch worker's start-up)."""
    _compiler()
    _stylesheet()
    typst_version()


def _stick_intros(node: dict) -> None:
    """A paragraph just before a table that may not break stays on the table's page (with the
    heading above it, which print.typ keeps with what follows)."""
    kids = [k for k in node.get("children", ()) if isinstance(k, dict)]
    for i, kid in enumerate(kids):
        after = kids[i + 1] if i + 1 < len(kids) else None
        if kid["tag"] == "p" and after and after["tag"] == "table" and not after.get("long"):
            kid["sticky"] = True
        _stick_intros(kid)
