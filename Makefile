# Two commands on a fresh machine: `make run` (the app) and `make test` (the whole suite).
# Each installs what it needs first: a virtual environment from requirements*.txt, and for the
# tests Debian's chromium (Playwright cannot download browsers on locked-down machines) and
# Debian's postgresql (the storage tests start a throwaway server of their own).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test test-fast lint chromium postgresql fonts benchmark clean

run: $(VENV)/.app
	$(PY) -m streamlit run streamlit_app.py

# MNIST_TEST_STRICT=1: Postgres and Chromium are installed above, so a test that cannot start
# them fails instead of skipping. Two workers (pytest-xdist), a module's tests on one of them:
# most of these tests wait on servers, browsers and training processes, so two overlap them even
# on 2 cores (0.61x the time; docs/figures.md#tests). Each worker starts its own Postgres, app
# server and Chromium; `make test WORKERS=0` runs in one process. test-fast: the core's unit tests and the pages' AppTest tests, without the
# tiers marked in pyproject.toml; it skips what is missing, and lists it (-rfEs).
WORKERS ?= 2

test: $(VENV)/.dev chromium postgresql lint
	MNIST_TEST_STRICT=1 $(PY) -m pytest -n $(WORKERS) --dist loadscope

test-fast: $(VENV)/.dev
	$(PY) -m pytest -m "not slow and not browser and not mnist and not postgres"

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

# Fonts for the training digits in styles MNIST lacks (mnist_core/training/styles.py) and for the drawing
# benchmark: print fonts and handwriting fonts from Debian. Only training with font styles (the
# default model's recipe) and the benchmarks need them; the app and the tests do not.
FONT_PACKAGES := fonts-breip fonts-bwht fonts-dancingscript fonts-dkg-handwriting fonts-ecolier-court \
	fonts-femkeklaver fonts-humor-sans fonts-kaushanscript fonts-kristi fonts-leckerli-one fonts-rufscript \
	fonts-sjfonts fonts-tomsontalks fonts-yusei-magic fonts-seto fonts-tlwg-purisa-ttf fonts-lobster fonts-havana \
	fonts-isabella fonts-comic-neue fonts-kiloji fonts-yozvox-yozfont fonts-liberation fonts-liberation2 \
	fonts-freefont-ttf fonts-urw-base35 fonts-texgyre fonts-open-sans fonts-lato fonts-crosextra-carlito \
	fonts-crosextra-caladea fonts-cantarell fonts-ebgaramond fonts-sil-gentiumplus fonts-sil-charis \
	fonts-sil-andika fonts-hack fonts-firacode fonts-inconsolata fonts-jetbrains-mono fonts-go \
	fonts-linuxlibertine fonts-oldstandard fonts-quicksand fonts-opendyslexic fonts-cabin fonts-adf-accanthis \
	fonts-adf-gillius fonts-adf-universalis fonts-adf-berenis fonts-averia-gwf fonts-averia-sans-gwf \
	fonts-averia-serif-gwf fonts-f500 fonts-fanwood fonts-goudybookletter fonts-league-spartan fonts-mononoki \
	fonts-paratype fonts-play fonts-prociono fonts-radisnoir fonts-stix fonts-tuffy fonts-3270 fonts-agave \
	fonts-b612 fonts-courier-prime fonts-dosis fonts-hermit fonts-inter fonts-noto-mono fonts-oxygen \
	fonts-gnutypewriter fonts-jura fonts-oflb-euterpe fonts-anonymous-pro fonts-cardo fonts-dejavu-extra \
	fonts-blankenburg fonts-dejavu-core

fonts:
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(FONT_PACKAGES) >/dev/null \
		|| { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
		--no-install-recommends $(FONT_PACKAGES) >/dev/null; }

clean:
	rm -rf $(VENV) .pytest_cache
