"""Running notebooks for the maintainers' commands (`logitlab execute`, `logitlab exercises`)."""

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError

from logitlab.execution import execute_notebook

# Written to the kernel process's own stderr (file descriptor 2), as C libraries and Jupyter's
# kernel application do; the course's kernel keeps such lines out of the notebook.
KERNEL_SIDE = "import os; os.write(2, b'a line from the kernel process\\n')"


def _notebook(*sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    return nb


def test_the_kernels_own_log_stays_out_of_the_terminal(tmp_path, capfd):
    nb = _notebook(KERNEL_SIDE, "print(6 * 7)")
    execute_notebook(nb, tmp_path, timeout=60)
    assert nb.cells[1].outputs[0]["text"] == "42\n"
    assert "a line from the kernel process" not in capfd.readouterr().err


def test_the_kernels_own_log_is_shown_when_execution_fails(tmp_path, capfd):
    nb = _notebook(KERNEL_SIDE, "1 / 0")
    with pytest.raises(CellExecutionError, match="ZeroDivisionError"):
        execute_notebook(nb, tmp_path, timeout=60)
    assert "a line from the kernel process" in capfd.readouterr().err
