# Parley: `make run` starts everything on this machine; `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install lint migrate clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m pip install --quiet -e '.[interop]' || \
	  echo "parley | interop extras need a C compiler: the libsignal interop tests will be skipped"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m parley.launcher run

test: $(STAMP)
	$(PY) -m parley.launcher test $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check . && $(PY) -m ruff format --check . && $(PY) -m mypy .

migrate: $(STAMP)
	$(PY) manage.py migrate

clean:
	rm -rf $(VENV) var
