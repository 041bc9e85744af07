"""The one place that decides the environment of the course's Jupyter kernel.

Every notebook declares the kernel ``logitlab``; the website build, the tests (nbval), the
grader and ``make lab`` all start it, so they all run TensorFlow the same way:

- ``TF_ENABLE_ONEDNN_OPTS=0``: oneDNN's kernels change the last digits of float32 results and
  print a notice at import; without them, results are the same from run to run.
- ``TF_CPP_MIN_LOG_LEVEL=3``: TensorFlow's C++ logger stays quiet.
- ``KERAS_BACKEND=tensorflow`` and ``PYTHONHASHSEED=0``: one backend, one hash order.
- ``--IPKernelApp.capture_fd_output=False``: what C++ code writes straight to the process's
  stderr (TensorFlow's ``absl`` lines with timestamps, printed before its logger is configured)
  goes to the terminal that started Jupyter instead of into the notebook's outputs. Python's own
  warnings, such as Keras', still appear in the notebook.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

KERNEL_NAME = "logitlab"
DISPLAY_NAME = "Python 3 (logitlab)"
KERNEL_ENV = {
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "KERAS_BACKEND": "tensorflow",
    "PYTHONHASHSEED": "0",
}


def kernel_spec(python=None):
    """Return the ``kernel.json`` content of the course's kernel for a Python executable."""
    return {
        "argv": [
            python or sys.executable,
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
            "--IPKernelApp.capture_fd_output=False",
        ],
        "display_name": DISPLAY_NAME,
        "language": "python",
        "env": dict(KERNEL_ENV),
        "metadata": {"debugger": True},
    }


def install(prefix=None):
    """Install the kernel spec under ``prefix`` (default: this Python's ``sys.prefix``).

    Returns the folder it was installed to.
    """
    from jupyter_client.kernelspec import KernelSpecManager

    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "kernel.json"), "w") as handle:
            json.dump(kernel_spec(), handle, indent=1)
        return KernelSpecManager().install_kernel_spec(
            folder, KERNEL_NAME, prefix=prefix or sys.prefix, replace=True
        )
