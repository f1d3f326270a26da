# Two entry points: `make demo` (main job on the example clinic) and `make test`.
# Both install the exact tested set of packages from requirements.lock into .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
LATEST ?= .venv-latest
# JupyterLab settings overrides (no news toast, widget state saved with the notebook)
OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json

.PHONY: demo test lint lock test-latest benchmark clean

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip check >/dev/null
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (workbook)" >/dev/null
	install -D -m 644 jupyter/overrides.json $(OVERRIDES)
	touch $(STAMP)

# an edited jupyter/overrides.json reaches an existing .venv without reinstalling it
$(OVERRIDES): jupyter/overrides.json | $(STAMP)
	install -D -m 644 jupyter/overrides.json $(OVERRIDES)

demo: $(STAMP) $(OVERRIDES)
	$(BIN)/workbook validate data/examples/caseload.csv --config data/examples/workbook.yml
	$(BIN)/workbook monthly --data data/examples/caseload.csv --config data/examples/workbook.yml --out reports

test: $(STAMP) $(OVERRIDES)
	$(BIN)/ruff check workbook tests benchmarks
	$(BIN)/python -m pytest -q -n auto --dist loadfile

# Refresh the lock: the newest versions pyproject.toml's ranges allow, for CPython 3.11 on
# Linux x86_64 (what CI runs), then environment.yml from it. Review the diff, run `make test`.
lock: $(STAMP)
	$(BIN)/pip install --quiet "uv>=0.4"
	$(BIN)/uv pip compile pyproject.toml --extra test --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 --index-url https://pypi.org/simple \
		--custom-compile-command "make lock" --quiet -o $(LOCK)
	$(BIN)/python .ci/lock_env.py $(LOCK) environment.yml

# The tests against the newest versions the ranges allow, in a separate venv: drift is seen on
# purpose, never in CI (which installs the lock).
test-latest:
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/pip install --quiet --upgrade -e ".[test]"
	$(LATEST)/bin/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	install -D -m 644 jupyter/overrides.json $(LATEST)/share/jupyter/lab/settings/overrides.json
	$(LATEST)/bin/python .ci/lock_env.py --drift $(LOCK)
	$(LATEST)/bin/ruff check workbook tests benchmarks
	WORKBOOK_TEST_LATEST=1 $(LATEST)/bin/python -m pytest -q -n auto --dist loadfile

clean:
	rm -rf $(VENV) $(LATEST) .pytest_cache
