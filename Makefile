# The two commands a newcomer runs: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-test
DEMO_STAMP := $(VENV)/.installed-demo
# A persistent JAX compilation cache keeps repeated test runs fast.
export JAX_COMPILATION_CACHE_DIR ?= $(CURDIR)/.jax_cache
export PYTHONDONTWRITEBYTECODE = 1

.PHONY: test demo install properties-long bench docs clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e ".[test]"
	touch $(STAMP)

# The demo needs only the core and what makes the example data (scikit-learn), not the test tools.
$(DEMO_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e ".[examples]"
	touch $(DEMO_STAMP)

install: $(STAMP)

## make test: install (when needed) and run the whole suite: tests, properties and doctests (README included).
test: $(STAMP)
	-sh scripts/install-chromium.sh
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-ci} $(PY) -m pytest -q

## make properties-long: the Hypothesis properties with many more examples.
properties-long: $(STAMP)
	HYPOTHESIS_PROFILE=long $(PY) -m pytest -q properties

## make demo: the main job on the bundled example.
demo: $(DEMO_STAMP)
	$(PY) examples/demo.py

## make docs: regenerate the generated reference tables.
docs: $(STAMP)
	$(PY) -m imgtune.docs docs/training-parameters.md

clean:
	rm -rf .jax_cache build dist src/*.egg-info .hypothesis
