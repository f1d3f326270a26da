"""The workbook configuration (`workbook.yml`): every threshold and setting, validated."""

from __future__ import annotations

import difflib
import math
import re
import reprlib
from datetime import date
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from workbook.data.errors import ConfigError, InputFileError
from workbook.data.measures import BUILTIN_MEASURES, Measure
from workbook.data.sources.mapping import Instruments

DEFAULT_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,32}$"
# A workbook.yml holds a few dozen settings (the documented example is 3 KB): larger files, or
# YAML aliases that expand to more values than this, are refused before they are read.
MAX_CONFIG_BYTES = 256 * 1024
MAX_CONFIG_VALUES = 10_000
_SHOW = reprlib.Repr()
_SHOW.maxstring, _SHOW.maxother, _SHOW.maxlist, _SHOW.maxdict, _SHOW.maxlevel = 60, 60, 4, 4, 2


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


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


class ExpectedResponse(_Strict):
    """Not on track from the expected treatment response (workbook.analysis.expected)."""

    band: float = Field(0.25, gt=0, lt=0.5, description="share of similar clients doing worse "
                        "than the lower band")
    min_courses: int = Field(50, ge=2, description="courses (clients with 2+ scores) a measure "
                             "needs for the model; fewer: the published rule")
    min_similar: int = Field(10, ge=2, description="similar clients needed for a judgement")
    intake_window: float = Field(0.1, gt=0, le=1, description="similar intake: within this "
                                 "share of the measure's range")
    first_session: int = Field(2, ge=2, description="first session judged by the model")


class Agenda(_Strict):
    """How many clients the brief and the caseload report show in full."""

    lead_clients: int = Field(5, ge=1, description="clients shown in full; the rest in a line")


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
    """Everything a clinic may set. Defaults follow ../shared/DESIGN.md; the thresholds in
    points scale with the configured scale when left out (SCALED_DEFAULTS)."""

    clinic_name: str = "Example Clinic"
    scale: Scale = Scale()
    date_format: str | None = Field(None, description="strftime format for non-ISO dates")
    sheet: str | int | None = Field(None, description="Excel sheet name or index (default: first)")
    columns: dict[str, str] = Field(default_factory=dict, description="file column -> our column")
    measures: dict[str, Measure] = Field(default_factory=dict, description="extra outcome measures")
    thresholds: Thresholds = Thresholds()
    rupture: RuptureRule = RuptureRule()
    expected_response: ExpectedResponse = ExpectedResponse()
    agenda: Agenda = Agenda()
    privacy: Privacy = Privacy()
    template_dir: Path | None = Field(None, description="folder of templates to brand reports")
    pdf_variant: Literal["pdf/a-3b", "pdf/a-2b", "pdf/ua-1", "none"] = Field(
        "pdf/a-3b", description="PDF standard declared (every variant is tagged)")
    pdf_engine: Literal["typst", "weasyprint"] = Field(
        "typst", description="what lays out the PDFs: Typst (fast) or WeasyPrint (reads "
        "print.css; for a branded template_dir that styles the PDF with its own CSS)")
    instruments: Instruments = Field(Instruments(), description="SRS, ORS, WAI-SR exports")

    @field_validator("date_format")
    @classmethod
    def _reads_dates(cls, value: str | None) -> str | None:
        """A format that writes a date and reads the same date back (day, month and year)."""
        if value is None:
            return value
        probe = date(2026, 11, 23)
        try:
            text = probe.strftime(value)
            back = pd.to_datetime(pd.Series([text]), format=value, errors="raise").iloc[0]
        except (ValueError, TypeError):
            back = None
        if back is None or back.date() != probe:
            got = f"it reads {text!r} back as {back.date()}" if back is not None else \
                "it cannot read a date back"
            raise ValueError("not a date format naming the day, month and year, like "
                             f"'%d/%m/%Y' (23/11/2026): {got}")
        return value

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
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return data  # refused by the scale's own validation (allow_inf_nan=False)
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
    if path.is_dir():
        raise InputFileError(f"{path}: is a folder; expected a config file (workbook.yml)")
    if not path.is_file():
        raise InputFileError(f"{path}: config file not found")
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, got {type(raw).__name__}")
    return parse_config(raw, source=str(path), base=path.parent)


def _read_yaml(path: Path) -> Any:
    """The YAML document in `path`, refused when too large, when its aliases expand to too many
    values (a 'billion laughs' file), or when a mapping repeats a key."""
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: {size:,} bytes; a config file holds at most "
                              f"{MAX_CONFIG_BYTES:,} (is this the right file?)")
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InputFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return {}
        _check_nodes(node, path)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    finally:
        loader.dispose()


def _check_nodes(root: yaml.Node, path: Path) -> None:
    """Count the values the document expands to (an alias counts its whole target again) and
    refuse repeated keys, without expanding anything."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        sizes[id(node)] = 1  # a recursive alias counts once
        total = 1
        if isinstance(node, yaml.MappingNode):
            _refuse_repeats(node, path)
            total += sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total += sum(size(item) for item in node.value)
        sizes[id(node)] = min(total, MAX_CONFIG_VALUES + 1)
        return sizes[id(node)]

    if size(root) > MAX_CONFIG_VALUES:
        raise ConfigError(f"{path}: expands to more than {MAX_CONFIG_VALUES:,} values through "
                          "YAML aliases (*name); a config holds a few dozen settings")


def _refuse_repeats(node: yaml.MappingNode, path: Path) -> None:
    seen: dict[str, int] = {}
    for key, _ in node.value:
        if isinstance(key, yaml.ScalarNode):
            line = key.start_mark.line + 1
            if key.value in seen and key.value != "<<":
                raise ConfigError(f"{path}: line {line}: setting {key.value!r} is given twice "
                                  f"(also on line {seen[key.value]}); keep one")
            seen[key.value] = line


def parse_config(raw: dict[str, Any], source: str = "config", base: Path | None = None) -> Config:
    """Validate a mapping of settings; raise ConfigError listing every problem. A relative
    `template_dir` is taken from `base` (the config's folder); it must be a folder."""
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source)) from None
    folder = config.template_dir
    if folder is not None and base is not None and not folder.is_absolute():
        config = config.model_copy(update={"template_dir": base / config.template_dir})
        folder = config.template_dir
    rule = config.rupture
    if rule.min_baseline_ratings > rule.baseline_ratings:  # no rupture could ever be found
        raise ConfigError(f"{source}: invalid configuration:\n  - rupture.min_baseline_ratings "
                          f"({rule.min_baseline_ratings}) must be at most "
                          f"rupture.baseline_ratings ({rule.baseline_ratings}): a baseline "
                          "averages at most baseline_ratings previous ratings")
    if folder is not None and not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise ConfigError(f"{source}: invalid configuration:\n  - template_dir: {folder} {what}"
                          " (a copy of the project's templates/ folder to brand the reports)")
    return config


def _format_errors(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration:"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown setting" + _suggest(err["loc"])
        elif err["type"] != "value_error" or not isinstance(err.get("input"), dict):
            msg += f" (got {_SHOW.repr(err.get('input'))})"
        lines.append(f"  - {loc}: {msg}" if loc else f"  - {msg}")
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
