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
    (tmp_path / "brand").mkdir()
    assert load_config(path).template_dir == tmp_path / "brand"


# --- issue 13: settings that must be refused, and hostile config files ----------------------

def _alias_bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines + [f"clinic_name: *a{levels - 1}"]) + "\n"


def test_yaml_alias_bomb_is_refused_at_once_with_exit_3(tmp_path, capsys):
    import time

    from workbook.runs.cli import main

    path = tmp_path / "w.yml"
    path.write_text(_alias_bomb())
    start = time.perf_counter()
    assert main(["validate", str(EXAMPLE.parent / "caseload.csv"), "--config", str(path)]) == 3
    assert time.perf_counter() - start < 10  # was 84 s, 5.6 GB and 2 GB of stderr
    err = capsys.readouterr().err
    assert "expands to more than 10,000 values through YAML aliases" in err
    assert len(err) < 500


def test_oversized_config_and_repeated_keys_are_refused(tmp_path):
    big = tmp_path / "big.yml"
    big.write_text("clinic_name: x\n" + "# padding\n" * 30_000)
    with pytest.raises(ConfigError, match="a config file holds at most"):
        load_config(big)
    twice = tmp_path / "twice.yml"
    twice.write_text("thresholds:\n  concern_below: 7\n  concern_below: 9\n")
    with pytest.raises(ConfigError, match=r"line 3: setting 'concern_below' is given twice "
                                          r"\(also on line 2\)"):
        load_config(twice)
    merge = tmp_path / "merge.yml"  # YAML merge keys are not repeats
    merge.write_text("thresholds:\n  <<: {concern_below: 7}\n  <<: {trend_ratings: 5}\n")
    assert load_config(merge).thresholds.concern_below == 7


@pytest.mark.parametrize(("raw", "message"), [
    ({"scale": {"min": float("nan")}}, "scale.min: Input should be a finite number"),
    ({"scale": {"max": float("inf")}}, "scale.max: Input should be a finite number"),
    ({"thresholds": {"concern_below": 11}}, "concern_below: 11 does not fit the rating scale 0–10"),
    ({"thresholds": {"concern_below": 0}}, "concern_below: 0 does not fit the rating scale 0–10"),
    ({"thresholds": {"concern_below": 4}, "scale": {"min": 5, "max": 10}},
     "concern_below: 4 does not fit the rating scale 5–10"),
    ({"thresholds": {"perspective_gap": 12}}, "perspective_gap: 12 does not fit the rating scale"),
    ({"thresholds": {"reliability": float("nan")}}, "reliability: Input should be a finite"),
    ({"rupture": {"min_baseline_ratings": 4}}, "min_baseline_ratings (4) must be at most"),
    ({"date_format": "%Q"}, "date_format: not a date format naming the day, month and year"),
    ({"date_format": "%d/%m"}, "it reads '23/11' back as 1900-11-23"),
    ({"measures": {"wsas": {"label": "WSAS", "min": 0, "max": 40, "cutoff": 50}}},
     "cutoff (50) must be from min (0) to max (40)"),
    ({"measures": {"wsas": {"label": "WSAS", "min": 0, "max": float("inf")}}},
     "Input should be a finite number"),
])
def test_settings_that_cannot_work_are_refused(raw, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    assert message in str(caught.value)


def test_point_thresholds_scale_with_the_scale_when_left_out():
    five = parse_config({"scale": {"min": 1, "max": 5}})
    assert five.thresholds.concern_below == pytest.approx(4.2)  # 80% of the way up, as 8 of 10
    assert five.thresholds.perspective_gap == pytest.approx(0.8)
    assert five.rupture.min_drop_points == pytest.approx(0.8)
    assert five.rupture.repair_tolerance == pytest.approx(0.4)
    assert parse_config({"scale": {"min": 1, "max": 5},
                         "thresholds": {"concern_below": 4}}).thresholds.concern_below == 4
    assert parse_config({}) == Config()


def test_missing_template_dir_is_refused(tmp_path):
    path = tmp_path / "w.yml"
    path.write_text("template_dir: brand\n")
    with pytest.raises(ConfigError, match=r"template_dir: .*brand does not exist"):
        load_config(path)
    (tmp_path / "brand").write_text("not a folder")
    with pytest.raises(ConfigError, match="is not a folder"):
        load_config(path)
