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

.PHONY: all book test test-portable lab exercises execute bench bench-grading clean distclean env

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

# The notebook tests (nbval) again under other machines' float32 kernels and under XLA. TensorFlow
# picks its float32 matrix-product kernel by the CPU's instruction set when it runs, and XLA (the
# default of Keras on a GPU) compiles its own: a stored output that only one of them reproduces
# fails here. `make test` covers the native run; CI runs the other three (.ci/run).
#   make test-portable                          all four variants
#   make -k test-portable PORTABLE_VARIANTS=xla  one of them
NOTEBOOK_DIRS     := chapters solutions exercises
PORTABLE_VARIANTS ?= native avx2 sse41 xla
PORTABLE_ENV_native :=
PORTABLE_ENV_avx2   := ONEDNN_MAX_CPU_ISA=AVX2
PORTABLE_ENV_sse41  := ONEDNN_MAX_CPU_ISA=SSE41
PORTABLE_ENV_xla    := TF_XLA_FLAGS="--tf_xla_auto_jit=2 --tf_xla_cpu_global_jit"

test-portable: $(addprefix test-portable-,$(PORTABLE_VARIANTS))

test-portable-%: $(STAMP)
	@test -n "$(filter $*,native avx2 sse41 xla)" || { echo "unknown variant '$*': use native, avx2, sse41 or xla" >&2; exit 2; }
	@echo "== notebooks, variant $*: $(or $(PORTABLE_ENV_$*),the machine's own kernels)"
	$(PORTABLE_ENV_$*) $(BIN)/python -m pytest $(NOTEBOOK_DIRS) $(PYTEST_ARGS)

lab: $(LAB_STAMP)
	$(BIN)/jupyter lab --notebook-dir=$(CURDIR)

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

# The grader's speed: seconds per notebook per chapter, against executing the same notebooks once
# with nbclient in the same run, and the time a class of 100 would take at that rate.
#   make bench-grading BENCH_GRADING_ARGS="--copies 8 --profile"
BENCH_GRADING_ARGS ?= --copies 4 --jobs 2 --profile
bench-grading: $(STAMP)
	$(BIN)/python -m logitlab.grading_bench $(BENCH_GRADING_ARGS)

clean:
	rm -rf _build .pytest_cache .hypothesis

distclean: clean
	rm -rf $(VENV)
