"""Config: the documented example holds every key at its default; bad settings are refused."""

from pathlib import Path

import pytest
import yaml

from workbook.data.config import Config, load_config, parse_config
from workbook.data.errors import ConfigError, InputFileError

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "examples" / "workbook.yml"


def _keys(model: dict, prefix: str = "") -> set[str]:
    out = set()
    for key, value in model.items():
        out.add(prefix + key)
        if isinstance(value, dict) and key not in ("columns", "measures"):
            out |= _keys(value, prefix + key + ".")
    return out


def test_example_config_documents_every_key_with_its_default():
    raw = yaml.safe_load(EXAMPLE.read_text())
    assert _keys(raw) == _keys(Config().model_dump())
    assert load_config(EXAMPLE) == Config()


def test_no_path_gives_defaults():
    assert load_config(None).thresholds.concern_below == 8.0


def test_unknown_key_is_refused_with_suggestion():
    with pytest.raises(ConfigError, match=r"thresholds.concern_belo: unknown setting; did you "
                                          r"mean 'concern_below'"):
        parse_config({"thresholds": {"concern_belo": 7}})


def test_small_cell_size_below_five_is_refused():
    with pytest.raises(ConfigError, match="min_cell_size"):
        parse_config({"privacy": {"min_cell_size": 4}})


def test_bad_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "w.yml"
    bad.write_text("scale: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(InputFileError):
        load_config(tmp_path / "missing.yml")


def test_extra_measure_cannot_shadow_builtin():
    with pytest.raises(ConfigError, match="phq9 is built in"):
        parse_config({"measures": {"phq9": {"label": "x", "min": 0, "max": 5}}})


def test_template_dir_is_relative_to_config(tmp_path):
    path = tmp_path / "w.yml"
    path.write_text("template_dir: brand\n")
    assert load_config(path).template_dir == tmp_path / "brand"
