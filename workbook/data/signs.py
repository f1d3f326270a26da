"""The five signs of a positive therapeutic relationship: keys, labels, colours, prompts."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sign:
    """One sign: its data column, its label, a colour, a short description and questions."""

    key: str
    label: str
    colour: str
    description: str
    questions: tuple[str, ...]


# Colours: Okabe-Ito palette (colour-blind safe), one per sign, used everywhere.
SIGNS: tuple[Sign, ...] = (
    Sign(
        "trust_safety",
        "Trust & safety",
        "#0072B2",
        "Whether the client feels safe enough to be open, without fear of judgement or of what "
        "they say going further than the room.",
        (
            "What might make it harder for this client to tell you something difficult just now?",
            "Has anything happened, in or out of sessions, that could have shaken their sense of "
            "safety with you?",
            "How have you talked with the client about confidentiality and its limits?",
        ),
    ),
    Sign(
        "empathy_understanding",
        "Empathy & understanding",
        "#E69F00",
        "Whether the client feels heard, validated and understood on their own terms.",
        (
            "When did the client last seem to feel really understood by you, and what was "
            "different then?",
            "Where might your view of how sessions are going differ from theirs?",
            "What in this client's experience is hardest for you to stay alongside?",
        ),
    ),
    Sign(
        "collaboration_respect",
        "Collaboration & mutual respect",
        "#009E73",
        "Whether goals and ways of working are agreed together, and respect runs both ways.",
        (
            "Whose goals are the sessions working toward at the moment, and how do you know?",
            "How does the client take part in deciding what you do together?",
            "Is there a disagreement between you that has not yet been named?",
        ),
    ),
    Sign(
        "boundaries_consistency",
        "Boundaries & consistency",
        "#CC79A7",
        "Whether the frame of the work is clear and sessions are reliable and predictable.",
        (
            "What does the pattern of missed or moved sessions tell you about the work?",
            "Which parts of the frame (time, contact between sessions, endings) are unclear?",
            "How could you raise attendance with the client in a way that invites curiosity?",
        ),
    ),
    Sign(
        "outcomes_progress",
        "Positive outcomes & progress",
        "#D55E00",
        "Whether the client sees movement toward the goals they came with.",
        (
            "What would the client say has changed since you started, and what has not?",
            "Is it time to review the goals or the approach together?",
            "What could be getting in the way of progress that you have not yet explored?",
        ),
    ),
)

SIGN_KEYS: tuple[str, ...] = tuple(s.key for s in SIGNS)
SIGN_LABELS: dict[str, str] = {s.key: s.label for s in SIGNS}
SIGN_COLOURS: dict[str, str] = {s.key: s.colour for s in SIGNS}


def get_sign(key: str) -> Sign:
    """Return the sign with this key, or raise KeyError naming the valid keys."""
    for sign in SIGNS:
        if sign.key == key:
            return sign
    raise KeyError(f"unknown sign {key!r}; expected one of {', '.join(SIGN_KEYS)}")
