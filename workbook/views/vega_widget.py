"""The app's widgets that draw in the page: Vega charts, clickable HTML, and the Vega runtime.

- `VegaRuntime` carries vega-embed, Vega-Lite and Vega once per page, as vl-convert's offline
  bundle (no CDN). Every `VegaView` waits for it, so a saved or executed notebook stores the
  ~0.9 MB bundle once, not once per chart (alt.JupyterChart in offline mode stores it in every
  chart). The bundle is made once per vl-convert and Vega-Lite version and kept in the user's
  cache folder (making it takes a few seconds).
- `VegaView` draws one Vega-Lite spec. The kernel sends the spec as one JSON text with a version
  number; the page marks the chart's element with `data-key`, `data-version` and, once drawn,
  `data-rendered` (what tests and the benchmark wait for). A click on a mark whose datum names a
  `client_id` is sent back to the kernel (`on_client`).
- `ClickableHTML` shows HTML made by the package (escaped) and sends back clicks on elements
  with a `data-client` attribute.

The runtime also brings the app's style sheet, which hides the notebook's static copy of the app
(an output holding a `.wb-static` element): that copy is for viewers that run no widget code
(nbconvert, a notebook viewer, a notebook opened without its widget state).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets
import vl_convert as vlc

from workbook.views.measure_font import cache_root
from workbook.views.svg import vegalite_version

ClientHandler = Callable[[str], None]

_RUNTIME_SNIPPET = "globalThis.__workbookVega = { vegaEmbed };"
_RUNTIME_ESM = """
const waiting = globalThis.__workbookVegaWaiting || [];
for (const resolve of waiting) resolve(globalThis.__workbookVega);
globalThis.__workbookVegaWaiting = [];
export default {
  render({ el }) {
    el.classList.add("wb-runtime");
  },
};
"""

_VIEW_ESM = """
function vegaReady() {
  if (globalThis.__workbookVega) return Promise.resolve(globalThis.__workbookVega);
  return new Promise((resolve) => {
    (globalThis.__workbookVegaWaiting = globalThis.__workbookVegaWaiting || []).push(resolve);
  });
}
function clientOf(item) {
  let datum = item && item.datum;
  while (datum && datum.client_id === undefined && datum.datum) datum = datum.datum;
  return datum && datum.client_id != null ? String(datum.client_id) : null;
}
export default {
  render({ model, el }) {
    el.classList.add("wb-chart");
    let view = null;
    let closed = false;
    async function draw() {
      const version = String(model.get("version"));
      el.dataset.key = model.get("key");
      el.dataset.version = version;
      const text = model.get("spec_json");
      if (text === "null") {  // nothing to draw yet
        el.dataset.rendered = version;
        return;
      }
      const { vegaEmbed } = await vegaReady();
      if (closed || String(model.get("version")) !== version) return;
      const host = document.createElement("div");
      let result;
      try {
        result = await vegaEmbed(host, JSON.parse(text), JSON.parse(model.get("options_json")));
      } catch (error) {
        host.textContent = "This chart could not be drawn: " + error.message;
        console.error(error);
      }
      if (closed || String(model.get("version")) !== version) {
        if (result) result.finalize();
        return;
      }
      if (view) view.finalize();
      view = result || null;
      el.replaceChildren(host);
      el.wbView = view ? view.view : null;  // for tests: the Vega view and its datasets
      if (view) {
        view.view.addEventListener("click", (event, item) => {
          const client = clientOf(item);
          if (client) model.send({ event: "client", client });
        });
      }
      el.dataset.rendered = version;
      if (model.get("scroll_into_view")) el.scrollIntoView({ block: "start" });
    }
    model.on("change:version", draw);
    draw();
    return () => { closed = true; if (view) view.finalize(); };
  },
};
"""

_HTML_ESM = """
export default {
  render({ model, el }) {
    el.classList.add("wb-html");
    function draw() {
      el.innerHTML = model.get("html");
      el.dataset.version = String(model.get("version"));
    }
    el.addEventListener("click", (event) => {
      const target = event.target.closest("[data-client]");
      if (target && el.contains(target)) {
        event.preventDefault();
        model.send({ event: "client", client: target.dataset.client });
      }
    });
    el.addEventListener("keydown", (event) => {
      const target = event.target.closest("[data-client]");
      if (target && (event.key === "Enter" || event.key === " ")) {
        event.preventDefault();
        model.send({ event: "client", client: target.dataset.client });
      }
    });
    model.on("change:version", draw);
    draw();
  },
};
"""

# vega-embed: draw SVG (text stays in the page), keep the export menu, and leave out the
# "Open in Vega Editor" action, which would send the chart's rows to a remote site.
EMBED_OPTIONS = {"renderer": "svg",
                 "actions": {"export": True, "source": False, "compiled": False, "editor": False}}


def runtime_bundle(cache: Path | None = None) -> str:
    """vega-embed, Vega-Lite and Vega as one offline ES module, from the cache when there."""
    version = vegalite_version() or "latest"
    name = f"vega-runtime-{vlc.__version__}-{version}.js"
    path = (cache or cache_root()) / name
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        pass
    bundle = vlc.javascript_bundle(_RUNTIME_SNIPPET, vl_version=vegalite_version())
    text = bundle + "\n" + _RUNTIME_ESM
    _write_cache(path, text)
    return text


def _write_cache(path: Path, text: str) -> None:
    """Keep the bundle for the next start (atomically); a cache that cannot be written is
    only slower."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{id(text)}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass


class VegaRuntime(anywidget.AnyWidget):
    """vega-embed for the page, once; shown (as nothing) at the top of the app, with the
    app's style sheet."""

    _esm = ""  # set per instance: the bundle (see runtime_bundle)
    _css = ""

    def __init__(self, css: str = "", **kwargs: Any) -> None:
        super().__init__(_esm=runtime_bundle(), _css=css, **kwargs)


class _Clicks:
    """Mixin: call the handlers with the client a click in the page named."""

    def _init_clicks(self) -> None:
        self._handlers: list[ClientHandler] = []
        self.on_msg(self._on_message)

    def on_client(self, handler: ClientHandler) -> None:
        """Call `handler(client_id)` when a client is clicked in this view."""
        self._handlers.append(handler)

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("event") == "client":
            client = str(content.get("client", ""))
            for handler in self._handlers:
                handler(client)


class VegaView(_Clicks, anywidget.AnyWidget):
    """One chart, drawn from a Vega-Lite spec with vega-embed."""

    _esm = _VIEW_ESM
    key = traitlets.Unicode("").tag(sync=True)
    spec_json = traitlets.Unicode("null").tag(sync=True)
    options_json = traitlets.Unicode(json.dumps(EMBED_OPTIONS)).tag(sync=True)
    version = traitlets.Int(0).tag(sync=True)
    scroll_into_view = traitlets.Bool(False).tag(sync=True)

    def __init__(self, key: str, **kwargs: Any) -> None:
        super().__init__(key=key, **kwargs)
        self._init_clicks()
        self.spec: dict[str, Any] | None = None

    def show(self, spec: dict[str, Any]) -> None:
        """Draw this spec (one message to the page: the spec text and a new version)."""
        self.spec = spec
        text = json.dumps(spec, separators=(",", ":"), allow_nan=False)
        with self.hold_sync():
            self.spec_json = text
            self.version += 1


class ClickableHTML(_Clicks, anywidget.AnyWidget):
    """HTML from the package (already escaped); clicks on `[data-client]` come back."""

    _esm = _HTML_ESM
    html = traitlets.Unicode("").tag(sync=True)
    version = traitlets.Int(0).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._init_clicks()

    def show(self, html: str) -> None:
        """Show this HTML (unchanged HTML sends nothing)."""
        if html == self.html:
            return
        with self.hold_sync():
            self.html = html
            self.version += 1
