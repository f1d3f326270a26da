"""The declarative mapping of instrument items onto the five signs, overridable in workbook.yml.

Each entry names a sign, an instrument and the items or parts that feed it. A row's entry value
is the mean of those items, converted linearly from the instrument's scale to the sign scale; a
sign's rating is the mean of its entries present in the row. A sign no entry feeds is not rated
from the export (boundaries & consistency then rests on attendance, and reports say so).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from workbook.data.signs import SIGN_KEYS, SIGN_LABELS
from workbook.data.sources.instruments import INSTRUMENTS, Instrument


class Bridge(BaseModel):
    """One mapping entry: these items of this instrument feed this sign."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sign: str
    instrument: str
    items: tuple[str, ...] = Field(min_length=1, description="part names or item codes")

    @field_validator("sign")
    @classmethod
    def _known_sign(cls, value: str) -> str:
        if value not in SIGN_KEYS:
            raise ValueError(f"unknown sign {value!r}; expected one of {', '.join(SIGN_KEYS)}")
        return value

    @field_validator("instrument")
    @classmethod
    def _known_instrument(cls, value: str) -> str:
        key = value.strip().lower().replace("-", "_")
        if key not in INSTRUMENTS:
            raise ValueError(f"unknown instrument {value!r}; expected one of "
                             f"{', '.join(INSTRUMENTS)}")
        return key

    @model_validator(mode="after")
    def _known_items(self) -> Bridge:
        instrument = INSTRUMENTS[self.instrument]
        numbers = []
        for item in self.items:
            try:
                numbers += instrument.items_of(item)
            except KeyError:
                raise ValueError(
                    f"{instrument.label} has no item or part {item!r}; expected one of "
                    f"{', '.join(instrument.parts)} or an item code {instrument.span()}") from None
        if len(set(numbers)) != len(numbers):
            raise ValueError(f"an item of {instrument.label} is listed twice in {self.items}")
        return self

    @property
    def numbers(self) -> tuple[int, ...]:
        """The item numbers this entry averages, in order."""
        instrument = INSTRUMENTS[self.instrument]
        return tuple(n for item in self.items for n in instrument.items_of(item))


DEFAULT_MAP: tuple[Bridge, ...] = (
    Bridge(sign="empathy_understanding", instrument="srs", items=("relationship",)),
    Bridge(sign="collaboration_respect", instrument="srs", items=("goals", "approach")),
    Bridge(sign="trust_safety", instrument="wai_sr", items=("bond",)),
    Bridge(sign="collaboration_respect", instrument="wai_sr", items=("goal", "task")),
)


class Instruments(BaseModel):
    """The `instruments:` block of workbook.yml: the mapping and the SRS alliance alert."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    map: tuple[Bridge, ...] = Field(DEFAULT_MAP, description="instrument items -> signs")
    srs_alert_below: float = Field(36, ge=0, le=40, description="SRS total below this: alert")
    srs_alert_fall: float = Field(1, gt=0, le=40, description="SRS fall from the last session")

    @field_validator("map")
    @classmethod
    def _once_per_sign(cls, value: tuple[Bridge, ...]) -> tuple[Bridge, ...]:
        seen: dict[tuple[str, str], int] = {}
        for i, entry in enumerate(value):
            key = (entry.instrument, entry.sign)
            if key in seen:
                raise ValueError(
                    f"an instrument mapped twice onto one sign: entries {seen[key]} and {i} both "
                    f"map {INSTRUMENTS[entry.instrument].label} onto {entry.sign}; expected one "
                    "entry listing all its items")
            seen[key] = i
        return value


def convert(instrument: Instrument, lo: float, hi: float) -> tuple[float, float]:
    """(slope, offset) of the linear rule from the instrument's item scale to [lo, hi]."""
    slope = (hi - lo) / (instrument.max - instrument.min)
    return slope, lo - instrument.min * slope


def describe_rule(instrument: Instrument, lo: float, hi: float) -> str:
    """The conversion in words: 'WAI-SR items 1–5 → 0–10: (x − 1) × 2.5'."""
    slope, offset = convert(instrument, lo, hi)
    scale = f"{instrument.label} items {instrument.min:g}–{instrument.max:g} → {lo:g}–{hi:g}"
    if slope == 1 and offset == 0:
        return f"{scale}: unchanged"
    inner = f"(x − {instrument.min:g})" if instrument.min else "x"
    tail = f" + {lo:g}" if lo else ""
    return f"{scale}: {inner} × {slope:g}{tail}"


def describe_entry(entry: Bridge) -> str:
    """'SRS goals + approach (SRS2, SRS3) → Collaboration & mutual respect'."""
    instrument = INSTRUMENTS[entry.instrument]
    codes = ", ".join(instrument.codes[n - 1] for n in entry.numbers)
    return (f"{instrument.label} {' + '.join(entry.items)} ({codes}) → "
            f"{SIGN_LABELS[entry.sign]}")


def describe_mapping(instruments: Instruments, present: tuple[str, ...], lo: float,
                     hi: float) -> list[str]:
    """The mapping used for the instruments present, in plain words, for reports to state."""
    entries = [e for e in instruments.map if e.instrument in present]
    lines = [describe_entry(e) for e in entries]
    lines += [describe_rule(INSTRUMENTS[k], lo, hi) for k in present
              if any(e.instrument == k for e in entries)]
    fed = {e.sign for e in entries}
    if "ors" in present:
        lines.append("ORS items → the ORS outcome total (ORSQ1–ORSQ4 summed)")
    unfed = [s for s in SIGN_KEYS if s not in fed]
    if unfed:
        rests = {"boundaries_consistency": "attendance",
                 "outcomes_progress": "the ORS outcome total" if "ors" in present else None}
        notes = [f"{SIGN_LABELS[s]} on {rests[s]}" for s in unfed if rests.get(s)]
        lines.append(f"No item maps onto {', '.join(SIGN_LABELS[s] for s in unfed)}: not rated "
                     "from the export" + (f" ({'; '.join(notes)})." if notes else "."))
    return lines
