"""Outcome measures: range, direction, clinical cutoff, reliable-change threshold."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Measure(BaseModel):
    """An outcome measure's published values (totals; `reliable_change` in points)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    label: str
    min: float
    max: float
    higher_is_better: bool = False
    cutoff: float | None = Field(
        default=None, description="clinical cutoff (see is_clinical)"
    )
    reliable_change: float | None = Field(
        default=None, description="published reliable-change threshold in points"
    )
    reliability: float | None = Field(
        default=None, gt=0, lt=1,
        description="reliability r for Jacobson & Truax when there is no published threshold")

    @model_validator(mode="after")
    def _check_range(self) -> Measure:
        if self.min >= self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        if self.cutoff is not None and not self.min <= self.cutoff <= self.max:
            raise ValueError(f"cutoff ({self.cutoff:g}) must be from min ({self.min:g}) to max "
                             f"({self.max:g})")
        if self.reliable_change is not None and not 0 < self.reliable_change <= \
                self.max - self.min:
            raise ValueError(f"reliable_change ({self.reliable_change:g} points) must be above 0 "
                             f"and at most the measure's range ({self.max - self.min:g})")
        return self

    def is_clinical(self, score: float) -> bool:
        """True when a score is in the clinical range: at or above the cutoff when lower is
        better (PHQ-9 caseness is 10 or more), below it when higher is better (ORS under 25)."""
        if self.cutoff is None:
            return False
        return score < self.cutoff if self.higher_is_better else score >= self.cutoff


BUILTIN_MEASURES: dict[str, Measure] = {
    "phq9": Measure(label="PHQ-9", min=0, max=27, cutoff=10, reliable_change=6),
    "gad7": Measure(label="GAD-7", min=0, max=21, cutoff=8, reliable_change=4),
    "ors": Measure(label="ORS", min=0, max=40, higher_is_better=True, cutoff=25, reliable_change=5),
    "core10": Measure(label="CORE-10", min=0, max=40, cutoff=11, reliable_change=6),
    "oq45": Measure(label="OQ-45", min=0, max=180, cutoff=64, reliable_change=14),
}
