"""Running notebooks for the maintainers' commands (`logitlab execute`, `logitlab exercises`)."""

import json
import sys

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError

from logitlab.execution import execute_notebook

LINE = "a line from the kernel process"


def _notebook(*sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    return nb


@pytest.fixture
def noisy_kernel(tmp_path, monkeypatch):
    """Kernels started from now on write a line to their process's stderr as Python starts.

    As Jupyter's kernel application and the debugger do before the kernel captures its standard
    error (a ``sitecustomize`` module runs when Python starts).
    """
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(f"import os\nos.write(2, b'{LINE}\\n')\n")
    monkeypatch.setenv("PYTHONPATH", str(site))


def test_the_kernels_own_log_stays_out_of_the_terminal(noisy_kernel, tmp_path, capfd):
    nb = _notebook("print(6 * 7)")
    execute_notebook(nb, tmp_path, timeout=60)
    assert nb.cells[0].outputs == [nbformat.v4.new_output("stream", name="stdout", text="42\n")]
    assert LINE not in capfd.readouterr().err


def test_the_kernels_own_log_is_shown_when_execution_fails(noisy_kernel, tmp_path, capfd):
    nb = _notebook("1 / 0")
    with pytest.raises(CellExecutionError, match="ZeroDivisionError"):
        execute_notebook(nb, tmp_path, timeout=60)
    assert LINE in capfd.readouterr().err


def test_what_a_cell_writes_to_file_descriptor_2_is_in_the_notebook_as_in_any_jupyter(tmp_path, monkeypatch):
    # The course's tools start the plain python3 kernel: stored outputs are what a learner sees.
    # (ipykernel does not capture file descriptors in a kernel started by a pytest test, as it
    # finds PYTEST_CURRENT_TEST in its environment; `logitlab execute` is not run by pytest.)
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    nb = _notebook("import os; os.write(2, b'from C\\n'); print('done')")
    execute_notebook(nb, tmp_path, timeout=60)
    streams = {o["name"]: o["text"] for o in nb.cells[0].outputs}
    assert streams == {"stderr": "from C\n", "stdout": "done\n"}


def test_the_kernel_is_this_python_whatever_python3_kernel_spec_the_machine_has(tmp_path, monkeypatch):
    # A user's own `python3` kernel spec (say, of the system's Python) comes first in Jupyter's
    # search path; the course's tools must not run notebooks with it.
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps(
        {"argv": ["/nonexistent/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
         "display_name": "Python 3 (another Python)", "language": "python"}
    ))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    nb = _notebook("import sys; print(sys.executable)")
    execute_notebook(nb, tmp_path, timeout=60)
    assert nb.cells[0].outputs[0]["text"] == sys.executable + "\n"
