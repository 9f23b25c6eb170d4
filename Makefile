# Two commands on a fresh machine: `make run` (the app) and `make test` (the whole suite).
# Each installs what it needs first: a virtual environment from requirements*.txt, and for the
# tests Debian's chromium (Playwright cannot download browsers on locked-down machines) and
# Debian's postgresql (the storage tests start a throwaway server of their own).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test test-fast lint chromium postgresql benchmark clean

run: $(VENV)/.app
	$(PY) -m streamlit run streamlit_app.py

test: $(VENV)/.dev chromium postgresql lint
	$(PY) -m pytest

test-fast: $(VENV)/.dev
	$(PY) -m pytest -m "not browser and not mnist"

lint: $(VENV)/.dev
	$(PY) -m ruff check .

benchmark: $(VENV)/.app
	PYTHONPATH=. $(PY) benchmarks/fit_speed.py
	PYTHONPATH=. $(PY) benchmarks/predict_speed.py

$(VENV)/.app: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.app requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

chromium:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

postgresql:
	@command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null; }

clean:
	rm -rf $(VENV) .pytest_cache
