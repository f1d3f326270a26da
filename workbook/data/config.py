"""The workbook configuration (`workbook.yml`): every threshold and setting, validated."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from workbook.data.errors import ConfigError, InputFileError
from workbook.data.measures import BUILTIN_MEASURES, Measure
from workbook.data.sources.mapping import Instruments

DEFAULT_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,32}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Scale(_Strict):
    """The rating scale of the five signs."""

    min: float = 0
    max: float = 10

    @model_validator(mode="after")
    def _check(self) -> Scale:
        if self.min >= self.max:
            raise ValueError(f"scale min ({self.min}) must be below max ({self.max})")
        return self


class RuptureRule(_Strict):
    """Possible rupture: a drop below the rater's recent baseline; repair: a return near it."""

    baseline_ratings: int = Field(3, ge=1, description="previous ratings averaged for baseline")
    min_baseline_ratings: int = Field(2, ge=1, description="fewest previous ratings needed")
    min_drop_points: float = Field(2.0, gt=0, description="smallest drop that counts, in points")
    min_drop_sd: float = Field(1.0, ge=0, description="... or this many within-client SDs")
    repair_window: int = Field(3, ge=1, description="rated sessions in which repair may come")
    repair_tolerance: float = Field(1.0, ge=0, description="points below baseline counted as back")


class Thresholds(_Strict):
    """Cut-points for concern, trends, gaps, attendance and outcomes."""

    concern_below: float = Field(8.0, description="a rating below this is a concern rating")
    trend_ratings: int = Field(6, ge=2, description="last N ratings used for the trend slope")
    perspective_gap: float = Field(2.0, gt=0, description="mean therapist-minus-client gap flagged")
    dropout_no_shows: int = Field(2, ge=1, description="consecutive no-shows that signal dropout")
    dropout_gap_days: int = Field(21, ge=1, description="days without an attended session")
    not_on_track_sessions: int = Field(4, ge=2, description="scores before judging")
    reliability: float = Field(0.8, gt=0, lt=1, description="reliability r for RCI when needed")
    completeness_min: float = Field(0.8, ge=0, le=1, description="rated share flagged below")


class Privacy(_Strict):
    """What may appear in reports."""

    include_notes: bool = False
    min_cell_size: int = Field(11, ge=5, description="aggregates over fewer clients suppressed")
    id_pattern: str = DEFAULT_ID_PATTERN

    @field_validator("id_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class Config(_Strict):
    """Everything a clinic may set. Defaults follow ../shared/DESIGN.md."""

    clinic_name: str = "Example Clinic"
    scale: Scale = Scale()
    date_format: str | None = Field(None, description="strftime format for non-ISO dates")
    sheet: str | int | None = Field(None, description="Excel sheet name or index (default: first)")
    columns: dict[str, str] = Field(default_factory=dict, description="file column -> our column")
    measures: dict[str, Measure] = Field(default_factory=dict, description="extra outcome measures")
    thresholds: Thresholds = Thresholds()
    rupture: RuptureRule = RuptureRule()
    privacy: Privacy = Privacy()
    template_dir: Path | None = Field(None, description="folder of templates to brand reports")
    pdf_variant: Literal["pdf/a-3b", "pdf/a-2b", "pdf/ua-1", "none"] = Field(
        "pdf/a-3b", description="PDF standard declared (every variant is tagged)")
    instruments: Instruments = Field(Instruments(), description="SRS, ORS, WAI-SR exports")

    @field_validator("measures")
    @classmethod
    def _no_clash(cls, value: dict[str, Measure]) -> dict[str, Measure]:
        clash = sorted(set(value) & set(BUILTIN_MEASURES))
        if clash:
            raise ValueError(f"{', '.join(clash)} is built in; give the extra measure another name")
        return value

    def all_measures(self) -> dict[str, Measure]:
        """Built-in measures followed by the config's extra ones."""
        return {**BUILTIN_MEASURES, **self.measures}


def load_config(path: str | Path | None = None) -> Config:
    """Read and validate a `workbook.yml`; with no path, return the defaults."""
    if path is None:
        return Config()
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, got {type(raw).__name__}")
    return parse_config(raw, source=str(path), base=path.parent)


def parse_config(raw: dict[str, Any], source: str = "config", base: Path | None = None) -> Config:
    """Validate a mapping of settings; raise ConfigError listing every problem."""
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source)) from None
    folder = config.template_dir
    if folder is not None and base is not None and not folder.is_absolute():
        config = config.model_copy(update={"template_dir": base / config.template_dir})
    return config


def _format_errors(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration:"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown setting" + _suggest(err["loc"])
        else:
            msg += f" (got {err.get('input')!r})"
        lines.append(f"  - {loc}: {msg}")
    return "\n".join(lines)


def _suggest(loc: tuple[Any, ...]) -> str:
    model: type[BaseModel] = Config
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        ann = getattr(field, "annotation", None) if field else None
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return ""
        model = ann
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else f"; known: {', '.join(model.model_fields)}"
