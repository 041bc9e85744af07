# The two commands of the README: `make book` and `make test`. Both create .venv when it is
# missing, install the project into it (once: a second run reuses it), and install the course's
# Jupyter kernel. `make lab` opens the notebooks in JupyterLab with that kernel.
#   make GPU=1 test     also install TensorFlow's CUDA libraries (tensorflow[and-cuda])

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
EXTRAS := book,lab,test$(if $(GPU),$(comma)gpu)
comma  := ,
STAMP  := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
PYTEST_ARGS ?=

.PHONY: all book test lab exercises execute bench clean distclean env

all: test

env: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	$(BIN)/logitlab kernel install
	@rm -f $(VENV)/.installed-*
	@touch $@

book: $(STAMP)
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going
	@echo
	@echo "The book is built. Open this page in a browser:"
	@echo "    file://$(CURDIR)/_build/html/index.html"

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=$(CURDIR) chapters/01_logits.ipynb

# Maintainers: regenerate exercises/ from solutions/ and store their outputs.
exercises: $(STAMP)
	$(BIN)/logitlab exercises

# Maintainers: re-run every notebook and store its outputs (after a change or an upgrade).
execute: $(STAMP)
	$(BIN)/logitlab execute chapters solutions
	$(BIN)/logitlab exercises --all

# Maintainers: time the helpers against their baselines and measure the losses' peak memory
# (ratios from one run on this machine; a few minutes, up to 2.5 GB of memory).
bench: $(STAMP)
	$(BIN)/python -m logitlab.bench

clean:
	rm -rf _build .pytest_cache .hypothesis

distclean: clean
	rm -rf $(VENV)
