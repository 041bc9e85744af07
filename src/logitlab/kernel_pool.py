"""Kernels started ahead of need, for the grader.

Starting a kernel and importing TensorFlow in it takes seconds; a :class:`KernelPool` does it in
the background while the notebooks before are running, so a notebook's kernel is ready when its
turn comes. Each kernel starts in its own empty temporary folder (the learner's notebook runs
there and may write files there) and is *warmed* with imports chosen by the caller (say
``import tensorflow`` for a notebook that imports it), so the notebook's own import is instant.
A kernel is used for one notebook only, then shut down and its folder removed.

The kernel is the course's (:data:`logitlab.kernel.KERNEL_NAME`, this Python's own, started by
:class:`logitlab.kernel.KernelManager` as every course tool starts it), with its standard output and error sent to
``/dev/null``: nothing a notebook prints reaches the grader's terminal.
"""

from __future__ import annotations

import dataclasses
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

__all__ = ["KernelPool", "PooledKernel", "warm_imports"]

STARTUP_SECONDS = 120


def warm_imports(source):
    """The modules worth importing ahead for a notebook whose code is ``source``.

    NumPy always; TensorFlow (and Keras) only when the notebook imports one of them: a chapter
    whose notebook does not need TensorFlow never pays for it.

    Example:

    >>> warm_imports("import numpy as np\\nimport keras")
    ('numpy', 'tensorflow', 'keras')
    >>> warm_imports("import numpy as np")
    ('numpy',)
    """
    import re

    modules = ["numpy"]
    if re.search(r"^\s*(import|from)\s+(tensorflow|keras)\b", source, re.M):
        modules += ["tensorflow", "keras"]
    return tuple(modules)


@dataclasses.dataclass
class PooledKernel:
    """A started kernel (``manager``), its private folder, and the seconds spent starting it."""

    manager: object
    folder: Path
    warm: tuple
    start_seconds: float
    error: str | None = None

    def shutdown(self):
        try:
            _sync(self.manager.shutdown_kernel(now=True))
        except Exception:  # noqa: BLE001 - a kernel that is already gone
            pass
        shutil.rmtree(self.folder, ignore_errors=True)


def _sync(result):
    """``result``, awaited if it is awaitable (the kernel managers' methods may be coroutines)."""
    import inspect

    if not inspect.isawaitable(result):
        return result
    from jupyter_core.utils import run_sync

    async def wait():
        return await result

    return run_sync(wait)()


def _start(kernel_name, warm, root, env=None):
    from jupyter_client import BlockingKernelClient

    started = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="kernel-", dir=root))
    from .kernel import KernelManager  # this Python's own python3 kernel, like every course tool

    manager = KernelManager(kernel_name=kernel_name)
    kernel = PooledKernel(manager, folder, warm, 0.0)
    client = BlockingKernelClient()
    try:
        _sync(manager.start_kernel(cwd=str(folder), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   stdin=subprocess.DEVNULL, **({"env": dict(env)} if env is not None else {})))
        client.load_connection_info(manager.get_connection_info())
        client.start_channels()
        client.wait_for_ready(timeout=STARTUP_SECONDS)
        if warm:
            # Imported under private names and deleted: the learner's namespace stays empty.
            code = "".join(f"import {m} as _logitlab_warm\n" for m in warm) + "del _logitlab_warm\n"
            reply = client.execute_interactive(code, silent=True, store_history=False, timeout=STARTUP_SECONDS,
                                               output_hook=lambda msg: None)
            if reply["content"].get("status") != "ok":
                kernel.error = f"warming the kernel failed: {reply['content'].get('ename')}"
    except Exception as err:  # noqa: BLE001 - the notebook's own run will meet the same problem
        kernel.error = f"{type(err).__name__}: {err}"
    finally:
        if client.channels_running:
            client.stop_channels()
    kernel.start_seconds = time.perf_counter() - started
    return kernel


class KernelPool:
    """Start kernels ahead of need, ``ahead`` at a time, warmed as the next notebooks need.

    Args:
        kernel_name: The kernel spec to start.
        root: The folder under which each kernel gets its own temporary folder.
        ahead: How many kernels may be started (or starting) and not yet taken.
        env: The kernels' environment (default: this process's, with the kernel spec's own).

    Give :meth:`plan` the warm-up of each notebook to come, in order, then :meth:`take` once per
    notebook in that order; :meth:`fresh` starts one now (for a notebook run a second time).
    """

    def __init__(self, kernel_name, root, ahead=1, env=None):
        from concurrent.futures import ThreadPoolExecutor

        self.kernel_name, self.root, self.ahead, self.env = kernel_name, Path(root), max(1, ahead), env
        self._slots = threading.Semaphore(self.ahead)
        self._starting = queue.Queue()  # (warm, future of a PooledKernel), in plan order
        self._executor = ThreadPoolExecutor(max_workers=self.ahead, thread_name_prefix="kernel-start")
        self._stop = threading.Event()
        self._feeder = None

    def plan(self, warms):
        warms = [tuple(w) for w in warms]
        self._feeder = threading.Thread(target=self._feed, args=(warms,), daemon=True)
        self._feeder.start()

    def _feed(self, warms):
        for warm in warms:
            while not self._slots.acquire(timeout=0.2):
                if self._stop.is_set():
                    return
            if self._stop.is_set():
                return
            self._starting.put((warm, self._executor.submit(_start, self.kernel_name, warm, self.root, self.env)))

    def take(self, warm):
        """The next planned kernel (waiting for it if it is still starting)."""
        planned, future = self._starting.get()
        kernel = future.result()
        self._slots.release()
        if planned != tuple(warm):  # taken out of plan order: never hand out a wrongly warmed kernel
            kernel.shutdown()
            return self.fresh(warm)
        return kernel

    def fresh(self, warm):
        return _start(self.kernel_name, tuple(warm), self.root, self.env)

    def close(self):
        """Stop starting kernels; shut down those started and not taken."""
        self._stop.set()
        if self._feeder is not None:
            self._feeder.join()
        while True:
            try:
                _warm, future = self._starting.get_nowait()
            except queue.Empty:
                break
            future.result().shutdown()
        self._executor.shutdown(wait=True)
