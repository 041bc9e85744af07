# The two commands of the README: `make book` and `make test`. Both create .venv when it is
# missing and install the project into it (once: a second run reuses it). `make lab` installs only
# what running the notebooks needs (the course package and JupyterLab) and opens JupyterLab on the
# repository's folder; every notebook runs in the standard python3 kernel.
#   make GPU=1 test     also install TensorFlow's CUDA libraries (tensorflow[and-cuda])

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
EXTRAS := book,lab,test$(if $(GPU),$(comma)gpu)
comma  := ,
STAMP  := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
LAB_EXTRAS := lab$(if $(GPU),$(comma)gpu)
LAB_STAMP  := $(VENV)/.lab-$(subst $(comma),-,$(LAB_EXTRAS))
PYTEST_ARGS ?=

.PHONY: all book test lab exercises execute clean distclean env

all: test

env: $(STAMP)

# $(call install,EXTRAS): create .venv if it is missing and install the project with EXTRAS.
define install
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(1)]"
endef

$(STAMP): pyproject.toml
	$(call install,$(EXTRAS))
	@rm -f $(VENV)/.installed-*
	@touch $@

# A learner's install: the course package (with TensorFlow, Keras, ...) and JupyterLab, no more.
$(LAB_STAMP): pyproject.toml
	$(call install,$(LAB_EXTRAS))
	@rm -f $(VENV)/.lab-*
	@touch $@

book: $(STAMP)
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going
	@echo
	@echo "The book is built. Open this page in a browser:"
	@echo "    file://$(CURDIR)/_build/html/index.html"

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lab: $(LAB_STAMP)
	$(BIN)/jupyter lab --notebook-dir=$(CURDIR)

# Maintainers: regenerate exercises/ from solutions/ and store their outputs.
exercises: $(STAMP)
	$(BIN)/logitlab exercises

# Maintainers: re-run every notebook and store its outputs (after a change or an upgrade).
execute: $(STAMP)
	$(BIN)/logitlab execute chapters solutions
	$(BIN)/logitlab exercises --all

clean:
	rm -rf _build .pytest_cache .hypothesis

distclean: clean
	rm -rf $(VENV)
