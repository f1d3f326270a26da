"""Clinical supervision workbook: the five signs of a positive therapeutic relationship."""

from importlib.metadata import PackageNotFoundError, version

from workbook.config import Config, load_config
from workbook.errors import ConfigError, DataError, InputFileError, ParameterError, WorkbookError
from workbook.ingest import load_ratings
from workbook.signs import SIGN_KEYS, SIGNS

try:
    __version__ = version("workbook")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

__all__ = [
    "SIGNS",
    "SIGN_KEYS",
    "Config",
    "ConfigError",
    "DataError",
    "InputFileError",
    "ParameterError",
    "WorkbookError",
    "__version__",
    "load_config",
    "load_ratings",
]
