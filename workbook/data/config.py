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


# Thresholds in points default to these shares of the scale's range (the design's defaults on
# 0-10: concern below 8, a 2-point drop, repair within 1 point, a 2-point gap), so they scale.
SCALED_DEFAULTS = {
    ("thresholds", "concern_below"): 0.8,
    ("thresholds", "perspective_gap"): 0.2,
    ("rupture", "min_drop_points"): 0.2,
    ("rupture", "repair_tolerance"): 0.1,
}


class RuptureRule(_Strict):
    """Possible rupture: a drop below the rater's recent baseline; repair: a return near it.
    Points left unset (None) are scaled to the rating scale by `Config`."""

    baseline_ratings: int = Field(3, ge=1, description="previous ratings averaged for baseline")
    min_baseline_ratings: int = Field(2, ge=1, description="fewest previous ratings needed")
    min_drop_points: float | None = Field(None, gt=0, description="smallest drop, in points")
    min_drop_sd: float = Field(1.0, ge=0, description="... or this many within-client SDs")
    repair_window: int = Field(3, ge=1, description="rated sessions in which repair may come")
    repair_tolerance: float | None = Field(None, ge=0, description="points below baseline = back")


class Thresholds(_Strict):
    """Cut-points for concern, trends, gaps, attendance and outcomes."""

    concern_below: float | None = Field(None, description="a rating below this is a concern")
    trend_ratings: int = Field(6, ge=2, description="last N ratings used for the trend slope")
    perspective_gap: float | None = Field(None, gt=0, description="mean therapist-minus-client "
                                          "gap flagged, per sign")
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

    @model_validator(mode="before")
    @classmethod
    def _scale_defaults(cls, data: Any) -> Any:
        """Fill the unset thresholds in points from the rating scale (SCALED_DEFAULTS)."""
        return _fill_scaled(data) if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _fit_scale(self) -> Config:
        """Refuse a threshold in points that does not fit the rating scale."""
        _check_scaled(self)
        return self

    @model_validator(mode="after")
    def _measures_can_change(self) -> Config:
        """An extra measure needs a published reliable-change threshold or a reliability for
        Jacobson & Truax (its own, or `thresholds.reliability` set in the config)."""
        configured = "reliability" in self.thresholds.model_fields_set
        for key, measure in self.measures.items():
            if measure.reliable_change is None and measure.reliability is None and not configured:
                raise ValueError(
                    f"measure {key} ({measure.label}) has no reliable_change (a published "
                    "threshold in points) and no reliability for Jacobson & Truax: give one, or "
                    "set thresholds.reliability")
        return self

    def all_measures(self) -> dict[str, Measure]:
        """Built-in measures followed by the config's extra ones."""
        return {**BUILTIN_MEASURES, **self.measures}


def _part(value: Any) -> dict[str, Any]:
    """A config section given as a mapping or a model, as a mapping of what was set."""
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_unset=True)
    return dict(value) if isinstance(value, dict) else {}


def _fill_scaled(data: dict[str, Any]) -> dict[str, Any]:
    """The raw settings with every unset threshold in points scaled to the scale."""
    scale = _part(data.get("scale", {}))
    try:
        lo, hi = float(scale.get("min", 0)), float(scale.get("max", 10))
    except (TypeError, ValueError):
        return data  # the scale's own validation names the problem
    data = dict(data)
    for (part, name), share in SCALED_DEFAULTS.items():
        if not isinstance(data.get(part, {}), dict | BaseModel):
            continue
        section = _part(data.get(part, {}))
        if section.get(name) is None:
            section[name] = round((lo if name == "concern_below" else 0) + share * (hi - lo), 6)
        data[part] = section
    return data


def _check_scaled(config: Config) -> None:
    """A ValueError naming each threshold in points that does not fit the rating scale."""
    lo, hi = config.scale.min, config.scale.max
    parts = {"thresholds": config.thresholds, "rupture": config.rupture}
    problems = []
    for part, name in SCALED_DEFAULTS:
        value = getattr(parts[part], name)
        if name == "concern_below":
            fits, expected = lo < value <= hi, f"a rating above {lo:g} and up to {hi:g}"
        else:
            fits, expected = 0 <= value <= hi - lo, f"a number of points up to {hi - lo:g}"
        if not fits:
            problems.append(f"{part}.{name}: {value:g} does not fit the rating scale "
                            f"{lo:g}–{hi:g} (expected {expected})")
    if problems:
        raise ValueError("; ".join(problems))


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
        elif not err["loc"]:  # a rule across settings: the message names them
            lines.append(f"  - {msg.removeprefix('Value error, ')}")
            continue
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
