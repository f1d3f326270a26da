# Two entry points: `make demo` (main job on the example clinic) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint benchmark clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (workbook)" >/dev/null
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/workbook validate data/examples/caseload.csv --config data/examples/workbook.yml
	$(BIN)/workbook monthly --data data/examples/caseload.csv --config data/examples/workbook.yml --out reports

test: $(STAMP)
	$(BIN)/ruff check workbook tests benchmarks
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache
