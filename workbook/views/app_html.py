"""The caseload app's HTML pieces: title line, headline tiles, the agenda table, and the app's
style sheet. Everything from the data is escaped here; the widgets only show these strings."""

from __future__ import annotations

import html

import pandas as pd

APP_CSS = """
.wb-app { font-family: "DejaVu Sans", Verdana, sans-serif; color: #222; max-width: 1180px; }
.wb-app .wb-title { font-size: 20px; font-weight: bold; margin: 4px 0 2px; }
.wb-app .wb-subtitle { color: #555; margin: 0 0 8px; }
.wb-app .wb-filters { gap: 12px; flex-wrap: wrap; align-items: flex-start;
  border-bottom: 1px solid #ddd; padding-bottom: 6px; margin-bottom: 8px; }
.wb-app .wb-tiles { display: flex; flex-wrap: wrap; gap: 8px; margin: 6px 0 10px; }
.wb-app .wb-tile { border: 1px solid #ccc; border-radius: 4px; padding: 6px 10px;
  min-width: 120px; }
.wb-app .wb-tile b { display: block; font-size: 20px; }
.wb-app .wb-tile span { color: #555; font-size: 12px; }
.wb-app h2.wb-h { font-size: 16px; margin: 14px 0 4px; }
.wb-app table.wb-agenda-table { border-collapse: collapse; width: 100%; font-size: 13px; }
.wb-app .wb-agenda-table th { text-align: left; border-bottom: 2px solid #999; padding: 3px 6px; }
.wb-app .wb-agenda-table td { border-bottom: 1px solid #ddd; padding: 4px 6px;
  vertical-align: top; }
.wb-app .wb-agenda-table td.wb-rank { width: 3em; text-align: right; }
.wb-app .wb-agenda-table td.wb-client { width: 6em; white-space: nowrap; }
.wb-app .wb-agenda-table ul { margin: 0; padding-left: 1.1em; }
.wb-app .wb-agenda-table tr[data-client] { cursor: pointer; }
.wb-app .wb-agenda-table tr[data-client]:hover,
.wb-app .wb-agenda-table tr[data-client]:focus { background: #eef4fb; outline: none; }
.wb-app .wb-link { color: #1f5fa8; text-decoration: underline; }
.wb-app .wb-note { color: #555; font-size: 12px; margin: 2px 0 6px; }
.wb-app .wb-course { border: 2px solid #1f5fa8; border-radius: 6px; padding: 6px 10px;
  margin: 8px 0; }
.wb-app .wb-chart { contain: content; margin: 6px 0 10px; min-height: 40px; }
.wb-app .wb-runtime { display: none; }
/* Where the app is drawn (its runtime view is on the page), the notebook's static copy is
   hidden; where the widgets' state is only loaded (an untrusted notebook shows no widget),
   the copy stays. */
body:has(.wb-runtime) .jp-OutputArea-child:has(.wb-static) { display: none; }
/* Restored from a saved notebook with no kernel behind it: one note, not an icon per control. */
.wb-app .jupyter-widgets-disconnected::before { display: none; }
.wb-app.jupyter-widgets-disconnected::before { display: block; color: #555; font-size: 12px;
  content: "Saved view: run the notebook to use the filters."; margin: 2px 0 4px; }
.wb-app.jupyter-widgets-disconnected { padding-left: 0; }
"""

STATIC_CSS = """
.wb-static { font-family: "DejaVu Sans", Verdana, sans-serif; color: #222; }
.wb-static .wb-title { font-size: 18px; font-weight: bold; }
.wb-static .wb-tiles { display: flex; flex-wrap: wrap; gap: 8px; margin: 6px 0 10px; }
.wb-static .wb-tile { border: 1px solid #ccc; border-radius: 4px; padding: 6px 10px; }
.wb-static .wb-tile b { display: block; font-size: 18px; }
.wb-static table.wb-agenda-table td, .wb-static table.wb-agenda-table th {
  text-align: left; vertical-align: top; }
.wb-static td.wb-rank { text-align: right; }
.wb-static figure { margin: 8px 0; }
"""


def title_html(therapist_id: str, period_label: str, shown: int, total: int) -> str:
    """The app's first line: whose caseload, which period, how many clients shown."""
    clients = f"{shown} of {total} clients" if shown != total else f"{total} clients"
    return (f'<div class="wb-title">Therapist {_e(therapist_id)} · {_e(period_label)}</div>'
            f'<div class="wb-subtitle">{clients} with a session in the period</div>')


def tiles_html(figures: list[tuple[str, str]]) -> str:
    """Headline figures as tiles."""
    tiles = "".join(f'<div class="wb-tile"><b>{_e(value)}</b><span>{_e(label)}</span></div>'
                    for label, value in figures)
    return f'<div class="wb-tiles">{tiles}</div>'


def agenda_html(discussion: pd.DataFrame, rater: str) -> str:
    """The ranked discussion list, every reason in full; a row per client, clickable."""
    head = ('<h2 class="wb-h">Clients to discuss</h2><p class="wb-note">Ranked by the weight '
            f"of their reasons, for the filters above (concern ratings read from the {rater}'s "
            "ratings). Click a client to see their course.</p>")
    if discussion.empty:
        return head + '<p class="wb-note">No client to discuss for these filters.</p>'
    rows = []
    for rank, client, reasons in zip(discussion["rank"], discussion["client_id"],
                                     discussion["reasons"], strict=True):
        items = "".join(f"<li>{_e(reason)}</li>" for reason in reasons)
        rows.append(f'<tr data-client="{_e(client)}" tabindex="0" role="button" '
                    f'aria-label="Open the course of client {_e(client)}">'
                    f'<td class="wb-rank">{int(rank)}</td>'
                    f'<td class="wb-client"><span class="wb-link">{_e(client)}</span></td>'
                    f"<td><ul>{items}</ul></td></tr>")
    table = ('<table class="wb-agenda-table"><thead><tr><th>Rank</th><th>Client</th>'
             f'<th>Reasons</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')
    return head + table


def course_title_html(client_id: str, period_label: str, reasons: list[str]) -> str:
    """The head of one client's course panel."""
    why = ("".join(f"<li>{_e(r)}</li>" for r in reasons) if reasons
           else "<li>Not on the discussion list for these filters.</li>")
    return (f'<div class="wb-course-head" data-course="{_e(client_id)}">'
            f'<h2 class="wb-h">Client {_e(client_id)}: course up to the end of '
            f'{_e(period_label)}</h2><ul class="wb-note">{why}</ul></div>')


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)
