"""Running notebooks in the standard ``python3`` kernel of this Python (authoring tools, grader)."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from .kernel import KERNEL_NAME, KernelManager

__all__ = ["execute_notebook", "KERNEL_NAME"]


def execute_notebook(nb, cwd, timeout=600, allow_errors=False, kernel_name=KERNEL_NAME):
    """Execute ``nb`` (a ``NotebookNode``) in place in a fresh kernel; return seconds taken.

    Args:
        nb: The notebook to run; its cells receive the new outputs.
        cwd: The folder the kernel starts in (the notebook's own folder).
        timeout: Seconds allowed for each cell.
        allow_errors: Whether to go on after a cell raises.
        kernel_name: The kernel to start; by default ``python3`` of the Python running this.

    Returns:
        The wall-clock seconds the execution took.
    """
    start = time.perf_counter()
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel_name,
        kernel_manager_class=KernelManager,
        allow_errors=allow_errors,
        record_timing=False,
        resources={"metadata": {"path": str(cwd)}},
    )
    # The kernel process's own log lines (written before it captures its standard error, such
    # as the debugger's "frozen modules" warning) are kept out of the terminal, and shown only
    # when the execution fails.
    with tempfile.TemporaryFile() as kernel_log:
        try:
            client.execute(stderr=kernel_log)
        except Exception:
            kernel_log.seek(0)
            sys.stderr.write(kernel_log.read().decode("utf-8", "replace"))
            raise
    return time.perf_counter() - start


def execute_file(path, timeout=600):
    """Execute the notebook at ``path`` and write it back with its outputs; return seconds.

    The notebook's setup cell and kernel are brought up to date first
    (:func:`logitlab.authoring.set_up_notebook`).
    """
    from .authoring import set_up_notebook

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    set_up_notebook(nb, path)
    seconds = execute_notebook(nb, path.parent, timeout=timeout)
    nbformat.write(nb, path)
    return seconds
