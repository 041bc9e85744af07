"""Which kernel runs the notebooks: the standard ``python3`` kernel, of the Python running the tool.

Every notebook declares the standard kernel ``python3`` (what Colab, Binder, VS Code and any
Jupyter offer without a choice), and its first cell calls :func:`logitlab.setup`, which prepares
TensorFlow (:data:`logitlab.notebook.TENSORFLOW_ENV`). So the course needs no kernel spec of its
own: a notebook's outputs are the same in any Jupyter.

The course's tools (``logitlab execute``, ``logitlab exercises``, the grader) start that kernel
with the Python they run in (:class:`KernelManager`), whatever kernel specs the machine has: a
``python3`` spec in the user's Jupyter folder may belong to another Python, without ``logitlab``.
The kernel starts exactly as a plain ``python3`` kernel does (what C libraries write to the
process's standard error is shown in the notebook, as in any Jupyter).
"""

from __future__ import annotations

from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from traitlets import default


KERNEL_NAME = "python3"
KERNEL_SPEC_METADATA = {"name": KERNEL_NAME, "display_name": "Python 3 (ipykernel)", "language": "python"}


class CurrentPythonKernelSpecs(KernelSpecManager):
    """Kernel specs in which ``python3`` is always this Python's own ipykernel."""

    def get_kernel_spec(self, kernel_name):
        if kernel_name != KERNEL_NAME:
            return super().get_kernel_spec(kernel_name)
        from ipykernel.kernelspec import RESOURCES, get_kernel_dict

        return KernelSpec(resource_dir=RESOURCES, **get_kernel_dict())


class KernelManager(AsyncKernelManager):
    """The kernel manager of the course's tools: ``python3`` is the Python running the tool.

    Pass it to nbclient as ``NotebookClient(nb, kernel_manager_class=KernelManager)``.
    """

    @default("kernel_spec_manager")
    def _kernel_spec_manager_default(self):
        return CurrentPythonKernelSpecs(data_dir=self.data_dir)
