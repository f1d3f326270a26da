"""The printable session rating card (`workbook card`): one A4 page for clinics that collect on
paper: client code, therapist code, date, who rated, and the five signs on boxes of the scale.

The card's prompts are the project's own words (no questionnaire's wording). The PDF is made
like the reports' (same fixed dates, PDF/A), so the same config gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path

from workbook.data.columns import RATERS
from workbook.data.config import Config
from workbook.data.errors import ParameterError
from workbook.data.signs import SIGN_KEYS, SIGNS
from workbook.reports.render import _environment, html_to_pdf, write_atomic

PROMPTS = {
    "trust_safety": "I felt safe to be open and honest today.",
    "empathy_understanding": "I felt heard and understood.",
    "collaboration_respect": "We worked on what matters to me, in a way that suits me, with "
                             "respect both ways.",
    "boundaries_consistency": "Sessions are clear and reliable: I know what to expect.",
    "outcomes_progress": "I am making progress toward what I came for.",
}
MAX_BOXES = 21
BOX_MM = 12.6  # a box and the gap after it


def card_points(config: Config) -> list[str]:
    """The scale's whole points as box labels (0..10 by default)."""
    lo, hi = config.scale.min, config.scale.max
    if lo != int(lo) or hi != int(hi) or hi - lo + 1 > MAX_BOXES:
        raise ParameterError(f"a card needs a whole-number scale of at most {MAX_BOXES} points; "
                         f"the config's is {lo:g} to {hi:g}")
    return [str(p) for p in range(int(lo), int(hi) + 1)]


def render_card(config: Config | None = None) -> str:
    """The card as self-contained HTML."""
    config = config or Config()
    points = card_points(config)
    env = _environment(str(config.template_dir) if config.template_dir else None)
    signs = [{"label": s.label, "colour": s.colour, "prompt": PROMPTS[s.key]} for s in SIGNS]
    return env.get_template("card.html").render(
        clinic_name=config.clinic_name, signs=signs, points=points, raters=RATERS,
        keys=", ".join(SIGN_KEYS), pdf_variant=config.pdf_variant,
        anchor_width=f"{len(points) * BOX_MM - 1.6:.1f}")


def write_card(path: str | Path, config: Config | None = None) -> Path:
    """Write the card's PDF atomically."""
    return write_atomic(path, html_to_pdf(render_card(config)))
