"""What every notebook of the course calls: :func:`setup` in its first cell, and :func:`glue`.

A notebook runs in whatever Jupyter opened it (Colab, Binder, VS Code, JupyterLab) with the
standard ``python3`` kernel, so the kernel's environment cannot be prepared beforehand: the
notebook's first cell calls :func:`setup`, which prepares TensorFlow before anything imports it.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
import tempfile

# The one place that decides how TensorFlow runs in the course (the notebooks, the tests, the
# grader's worker):
# - ``TF_ENABLE_ONEDNN_OPTS=0``: oneDNN's kernels change the last digits of float32 results and
#   print a notice at import; without them, results are the same from run to run.
# - ``TF_CPP_MIN_LOG_LEVEL=3``: TensorFlow's C++ logger stays quiet after it is configured.
# - ``KERAS_BACKEND=tensorflow``: one backend.
TENSORFLOW_ENV = {
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "KERAS_BACKEND": "tensorflow",
}

READY = "logitlab is set up: TensorFlow runs without oneDNN and without C++ logs; Keras uses TensorFlow."

# myst_nb's glue: the value's display formats are stored under this prefix when display=False
# (read by the website's {glue} roles), and under no prefix when the value is also shown.
GLUE_PREFIX = "application/papermill.record/"


def setup(quiet=False):
    """Prepare TensorFlow for the course; the first code cell of every notebook calls it.

    Sets :data:`TENSORFLOW_ENV` in ``os.environ`` and arranges for TensorFlow to be imported,
    whenever the notebook first imports it, with the process's standard error (file descriptor 2)
    sent to a temporary file: what TensorFlow's C++ libraries write there while they load
    (``absl`` lines such as "Could not find cuda drivers" or a failed ``cuInit``) bypasses its
    logger, and a Jupyter kernel would show it in the notebook. If the import fails, those lines
    are written to ``sys.stderr`` with the error. A notebook that never imports TensorFlow does
    not pay for it (the exercises of chapters 1 and 2, and grading them).

    Args:
        quiet: Whether to skip the printed confirmation.

    Returns:
        None.

    Example:

    >>> import logitlab
    >>> logitlab.setup(quiet=True)
    >>> import os
    >>> os.environ["TF_ENABLE_ONEDNN_OPTS"]
    '0'
    """
    if "tensorflow" in sys.modules:
        missing = {k: v for k, v in TENSORFLOW_ENV.items() if os.environ.get(k) != v}
        if missing:
            print(
                "TensorFlow was imported before logitlab.setup(), without "
                + ", ".join(f"{k}={v}" for k, v in missing.items())
                + ": restart the kernel and run the setup cell first, or some printed digits "
                "may differ from the course's.",
                file=sys.stderr,
            )
    os.environ.update(TENSORFLOW_ENV)
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietTensorFlowFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowFinder())
    if not quiet:
        print(READY)


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` for its first import and loads it with file descriptor 2 diverted."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # one import only; the real finders locate the package
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader(importlib.abc.Loader):
    """Wraps a loader: the module's code runs with fd 2 sent to a temporary file."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        for stream in (sys.stdout, sys.stderr, sys.__stderr__):
            if stream is not None:
                stream.flush()
        with tempfile.TemporaryFile() as log:
            saved = os.dup(2)
            os.dup2(log.fileno(), 2)
            try:
                self.loader.exec_module(module)
            except BaseException:
                os.dup2(saved, 2)
                log.seek(0)
                sys.stderr.write(log.read().decode("utf-8", "replace"))
                raise
            finally:
                os.dup2(saved, 2)
                os.close(saved)


def glue(name, value, display=True):
    """Store ``value`` in the cell's outputs under ``name``, for the website's ``{glue}`` roles.

    The same output as ``myst_nb.glue`` (the website's build reads it), without needing
    ``myst_nb``: the notebooks run with only the course package installed.

    Args:
        name: The key the prose refers to (``{glue:text}`name:.4f```).
        value: The object to store; its display formats (``text/plain``, ...) are stored.
        display: Whether the value is also shown in the notebook.

    Returns:
        None.

    Example:

    >>> from logitlab import glue
    >>> glue("answer", 42, display=False)   # in a notebook: stored, not shown
    """
    from IPython.core.formatters import format_display_data
    from IPython.display import display as ipython_display

    bundle, metadata = format_display_data(value)
    prefix = "" if display else GLUE_PREFIX
    metadata["scrapbook"] = {"name": name, "mime_prefix": prefix}
    ipython_display({prefix + k: v for k, v in bundle.items()}, raw=True, metadata=metadata)
