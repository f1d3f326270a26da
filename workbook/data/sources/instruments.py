"""The instruments clinics already use, known by item code only.

Item wording is copyrighted: it is never shipped or printed. An instrument is its item codes,
their scale, the named parts (subscales or single items) a mapping may refer to, the column
names an export may give its items and total, and the contract column its total fills.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Instrument:
    """One instrument: items 1..n on [min, max], parts by name, export spellings."""

    key: str
    label: str
    item_code: str  # items are item_code + number: SRS1, ORSQ1, WAI1
    n_items: int
    min: float
    max: float
    whole: bool  # items are whole numbers
    parts: dict[str, tuple[int, ...]]
    total_column: str | None  # contract column the total fills (srs, ors), or None
    tolerance: float  # how far a stated total may be from the sum of its items
    item_aliases: tuple[str, ...]  # normalised header prefixes of item columns
    total_aliases: tuple[str, ...]  # normalised headers of the total column
    names: tuple[str, ...]  # normalised values of a long export's instrument column

    @property
    def codes(self) -> tuple[str, ...]:
        """The item codes, in order: SRS1..SRS4."""
        return tuple(f"{self.item_code}{i}" for i in range(1, self.n_items + 1))

    @property
    def total_code(self) -> str:
        return f"Total_{self.label.replace('-', '')}"

    @property
    def total_range(self) -> tuple[float, float]:
        return self.n_items * self.min, self.n_items * self.max

    def items_of(self, part: str) -> tuple[int, ...]:
        """Item numbers of a part name ('bond') or an item code ('WAI3'); KeyError if neither."""
        if part in self.parts:
            return self.parts[part]
        number = item_number(self, normalise(part))
        if number is None:
            raise KeyError(part)
        return (number,)

    def span(self) -> str:
        """'SRS1–SRS4'."""
        return f"{self.codes[0]}–{self.codes[-1]}"


SRS = Instrument(
    key="srs", label="SRS", item_code="SRS", n_items=4, min=0, max=10, whole=False,
    parts={"relationship": (1,), "goals": (2,), "approach": (3,), "overall": (4,)},
    total_column="srs", tolerance=0.25,
    item_aliases=("srs",), total_aliases=("totalsrs", "srstotal", "srs"), names=("srs",))
ORS = Instrument(
    key="ors", label="ORS", item_code="ORSQ", n_items=4, min=0, max=10, whole=False,
    parts={"individual": (1,), "interpersonal": (2,), "social": (3,), "overall": (4,)},
    total_column="ors", tolerance=0.25,
    item_aliases=("orsq", "ors"), total_aliases=("totalors", "orstotal", "ors"), names=("ors",))
WAI_SR = Instrument(
    key="wai_sr", label="WAI-SR", item_code="WAI", n_items=12, min=1, max=5, whole=True,
    parts={"task": (1, 2, 10, 12), "bond": (3, 5, 7, 9), "goal": (4, 6, 8, 11)},
    total_column=None, tolerance=0.0,
    item_aliases=("waisr", "wai"), total_aliases=("totalwaisr", "waisrtotal", "totalwai",
                                                  "waitotal"),
    names=("waisr", "wai"))

INSTRUMENTS: dict[str, Instrument] = {i.key: i for i in (SRS, ORS, WAI_SR)}

_SEPARATORS = re.compile(r"[\s_.\-]+")


def normalise(text: str) -> str:
    """A header or value as matched: lower case, no spaces, '_', '-' or '.'."""
    return _SEPARATORS.sub("", str(text).strip().lower())


def item_number(instrument: Instrument, norm: str) -> int | None:
    """The item number a normalised header or code names ('srs3' -> 3), else None."""
    for alias in instrument.item_aliases:
        if norm.startswith(alias) and norm[len(alias):].isdigit():
            number = int(norm[len(alias):])
            return number if 1 <= number <= instrument.n_items else None
    return None


def match_header(norm: str) -> tuple[Instrument, int | None] | None:
    """(instrument, item number) for an item column, (instrument, None) for a total column."""
    for instrument in INSTRUMENTS.values():
        if norm in instrument.total_aliases:
            return instrument, None
        number = item_number(instrument, norm)
        if number is not None:
            return instrument, number
    return None


def find_instrument(value: str) -> Instrument | None:
    """The instrument a long export's instrument cell names ('SRS', 'WAI-SR'), else None."""
    norm = normalise(value)
    for instrument in INSTRUMENTS.values():
        if norm in instrument.names:
            return instrument
    return None
