"""A learner's notebook runs anywhere: a fresh environment, the plain `python3` kernel, no network.

A new virtual environment gets only the course package, installed with `pip install` from a copy
of the repository's sources (no extras: no myst_nb, no jupyter-book; ipykernel comes with the
package). Every chapter and exercise notebook, copied outside the repository, then runs top to
bottom under nbval in that environment's plain `python3` kernel (what `ipykernel install` writes),
started as a Jupyter server starts it, with none of the course's environment variables set and
with package indexes and git unreachable: a setup cell that tried to install anything would fail,
and nbval compares every output with the stored one, so TensorFlow's C++ lines must not leak.
The setup cell's other path is tested too: with `logitlab` uninstalled, the cell installs it from
its repository URL, which git is told to fetch from a local copy of the sources.

Building the environment needs the package index (or pip's cache), once per run; the tests in
this module run on one worker (`--dist loadscope`).
"""

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import nbformat
import pytest
import yaml

from logitlab.__main__ import main
from logitlab.authoring import SETUP_CELL_ID, set_up_notebook, setup_cell_source
from logitlab.notebook import READY, TENSORFLOW_ENV, glue

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for folder in ("chapters", "exercises") for p in (ROOT / folder).glob("*.ipynb"))
IDS = [str(p.relative_to(ROOT)) for p in NOTEBOOKS]
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "src")
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing answers


def _run(*command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, command))} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A virtual environment with only the course package, and a `python3` kernel spec for it."""
    base = tmp_path_factory.mktemp("standalone")
    source = base / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
        else:
            shutil.copy2(ROOT / name, source / name)
    venv = base / "venv"
    _run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    _run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", source)
    # What building the package needs, for the offline install of the setup cell's other path.
    build_requires = tomllib.loads((source / "pyproject.toml").read_text())["build-system"]["requires"]
    wheels = base / "wheels"
    _run(python, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--dest", wheels, *build_requires)
    # The plain python3 kernel of the new environment, started without PYTEST_CURRENT_TEST in its
    # environment (as by a Jupyter server): ipykernel captures file descriptors 1 and 2 only then.
    jupyter = base / "jupyter"
    _run(python, "-m", "ipykernel", "install", "--prefix", jupyter)
    spec_file = jupyter / "share" / "jupyter" / "kernels" / "python3" / "kernel.json"
    spec = json.loads(spec_file.read_text())
    assert spec["argv"][0] == str(python) and "env" not in spec, spec
    spec["argv"] = ["env", "-u", "PYTEST_CURRENT_TEST", *spec["argv"]]
    spec_file.write_text(json.dumps(spec))
    return {"base": base, "source": source, "python": python, "wheels": wheels,
            "jupyter_path": jupyter / "share" / "jupyter"}


def _offline_env(fresh, **extra):
    """The environment of a learner's Jupyter: no course variables, no package index, no git remote."""
    env = {k: v for k, v in os.environ.items()
           if k not in TENSORFLOW_ENV and k not in {"PYTHONHASHSEED", "PYTHONPATH", "VIRTUAL_ENV"}
           and not k.startswith(("PIP_", "GIT_CONFIG"))}
    env.update(
        JUPYTER_PATH=str(fresh["jupyter_path"]),
        JUPYTER_DATA_DIR=str(fresh["base"] / "jupyter-data"),
        IPYTHONDIR=str(fresh["base"] / "ipython"),
        MPLCONFIGDIR=str(fresh["base"] / "matplotlib"),
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INDEX="1",
        PIP_INDEX_URL=UNREACHABLE + "/simple",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        GIT_ALLOW_PROTOCOL="file",  # git+https:// fails
        HTTP_PROXY=UNREACHABLE, HTTPS_PROXY=UNREACHABLE, http_proxy=UNREACHABLE, https_proxy=UNREACHABLE,
    )
    env.update(extra)
    return env


def _nbval(fresh, *notebooks, junit=None):
    """Run notebooks under nbval in the fresh environment's python3 kernel; return the process."""
    ini = fresh["base"] / "pytest.ini"
    ini.write_text("[pytest]\n")
    folder = notebooks[0].parent.parent
    return subprocess.run(
        [sys.executable, "-m", "pytest", *map(str, notebooks), "-c", str(ini), "--rootdir", str(folder),
         "--nbval", "--nbval-kernel-name", "python3", "--nbval-cell-timeout", "300",
         "--nbval-sanitize-with", str(ROOT / "tests" / "nbval_sanitize.cfg"),
         "-p", "no:xdist", "-p", "no:cacheprovider", "-p", "no:randomly", "-q",
         *([f"--junitxml={junit}"] if junit else [])],
        cwd=folder, env=_offline_env(fresh), capture_output=True, text=True,
    )


@pytest.fixture(scope="module")
def learner_run(fresh):
    """Every notebook, copied outside the repository, run in one nbval session; results by notebook."""
    copies = []
    for notebook in NOTEBOOKS:
        folder = fresh["base"] / "learner" / notebook.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        copies.append(Path(shutil.copy2(notebook, folder / notebook.name)))
    junit = fresh["base"] / "learner.xml"
    report = _nbval(fresh, *copies, junit=junit)
    results = {name: [] for name in IDS}
    for case in ElementTree.parse(junit).iter("testcase"):
        # nbval's items are "chapters/01_logits.ipynb::Cell 3": JUnit's classname is "chapters.01_logits.ipynb"
        name = case.get("classname").replace(".", "/", 1)
        problems = [child.text or child.get("message", "") for child in case if child.tag in ("failure", "error")]
        results.setdefault(name, []).append((case.get("name"), float(case.get("time")), problems))
    return report, results


def test_the_kernel_is_the_fresh_environment_and_shows_what_c_code_writes(fresh):
    # The harness itself: the kernel is the new environment's Python, logitlab comes from its
    # site-packages (not from the repository), and what C code writes to file descriptor 2 reaches
    # the notebook, as in Jupyter: so a TensorFlow C++ line would make the notebooks below fail.
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                           "display_name": "Python 3 (ipykernel)"}})
    code = (f"import os, sys, logitlab\nprint(sys.prefix == {str(fresh['python'].parent.parent)!r})\n"
            "print(logitlab.__file__.startswith(sys.prefix))\n_ = os.write(2, b'from C\\n')")
    nb.cells = [nbformat.v4.new_code_cell(code, execution_count=1, outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="True\nTrue\n"),
        nbformat.v4.new_output("stream", name="stderr", text="from C\n"),
    ])]
    probe = fresh["base"] / "probe" / "probe.ipynb"
    probe.parent.mkdir(exist_ok=True)
    nbformat.write(nb, probe)
    report = _nbval(fresh, probe)
    assert report.returncode == 0, report.stdout[-3000:]
    nb.cells[0].outputs.pop()  # without the line from C, the comparison must fail
    nbformat.write(nb, probe)
    assert _nbval(fresh, probe).returncode == 1


@pytest.mark.parametrize("name", IDS)
def test_notebook_runs_in_a_fresh_environment_with_the_plain_kernel(learner_run, name):
    report, results = learner_run
    cells = results[name]
    assert cells, f"nbval ran no cell of {name}:\n{report.stdout[-3000:]}"
    failed = [(cell, problems) for cell, _, problems in cells if problems]
    assert not failed, "\n\n".join(f"{cell}:\n{''.join(problems)[-3000:]}" for cell, problems in failed)
    print(f"{name}: {len(cells)} cells in {sum(t for _, t, _ in cells):.1f} s")


def test_the_setup_cell_installs_logitlab_when_it_is_missing(fresh):
    python = fresh["python"]
    _run(python, "-m", "pip", "uninstall", "--quiet", "--yes", "logitlab")
    try:
        # The repository the setup cell names, served by git from a local copy of the sources.
        repository = fresh["base"] / "repository"
        if not repository.exists():
            shutil.copytree(fresh["source"], repository)
            git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org", "-C", str(repository)]
            _run(*git, "init", "--quiet")
            _run(*git, "add", "--all")
            _run(*git, "commit", "--quiet", "--message", "the course's sources")
        url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
        env = _offline_env(
            fresh, PIP_FIND_LINKS=str(fresh["wheels"]),
            GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0=f"url.{repository.as_uri()}.insteadOf", GIT_CONFIG_VALUE_0=url,
        )
        nb = nbformat.v4.new_notebook()
        nb.cells = [
            nbformat.v4.new_code_cell(setup_cell_source(ROOT / "_config.yml")),
            nbformat.v4.new_code_cell(
                "import os, sys\nprint(logitlab.__file__.startswith(sys.prefix), os.environ['TF_ENABLE_ONEDNN_OPTS'],"
                " 'tensorflow' in sys.modules)\nimport tensorflow\nprint('tensorflow' in sys.modules)"
            ),
        ]
        path = fresh["base"] / "missing" / "setup.ipynb"
        path.parent.mkdir(exist_ok=True)
        nbformat.write(nb, path)
        script = (
            "import sys, nbformat\nfrom nbclient import NotebookClient\n"
            "nb = nbformat.read(sys.argv[1], as_version=4)\n"
            "NotebookClient(nb, kernel_name='python3', timeout=600).execute()\n"
            "nbformat.write(nb, sys.argv[1])\n"
        )
        # The kernel is started by the fresh environment's own Python (it has nbclient).
        _run(python, "-c", script, path, env=env, cwd=path.parent)
        setup, check = nbformat.read(path, as_version=4).cells
        printed = "".join(o.get("text", "") for o in setup.outputs if o["output_type"] == "stream")
        assert READY in printed, printed
        # setup() defers TensorFlow to its first import, which then writes nothing to the notebook
        assert all(o["output_type"] == "stream" for o in check.outputs), check.outputs
        assert "".join(o["text"] for o in check.outputs if o["name"] == "stdout") == "True 0 False\nTrue\n"
        assert not [o["text"] for o in check.outputs if o["name"] == "stderr"]
    finally:
        # Leave the environment as the fixture made it, whatever happened.
        if subprocess.run([python, "-c", "import logitlab"], capture_output=True).returncode:
            _run(python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                 "--find-links", fresh["wheels"], fresh["source"])


@pytest.mark.parametrize("value, display", [(0.8393433, False), (856, False), ("a text", True), (2.5, True)])
def test_logitlab_glue_stores_what_myst_nb_glue_stores(monkeypatch, value, display):
    # The chapters glue with logitlab.glue, which needs no myst_nb: the stored outputs (read by
    # the website's {glue} roles, compared by nbval) must be the same as myst_nb's.
    myst_glue = pytest.importorskip("myst_nb.ext.glue")
    import IPython.display

    calls = []
    monkeypatch.setattr(myst_glue, "ipy_display", lambda *a, **k: calls.append((a, k)))
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: calls.append((a, k)))
    myst_glue.glue("name", value, display=display)
    glue("name", value, display=display)
    assert len(calls) == 2 and calls[0] == calls[1]


# Binder: repo2docker builds the image from binder/ (Docker is not available here, so what it
# needs is checked statically). It picks the first build pack whose files it finds; with only
# requirements.txt and runtime.txt that is its Python build pack, which runs
# `pip install -r binder/requirements.txt` from the repository's root folder.
BINDER = ROOT / "binder"
OTHER_BUILD_PACKS = ("Dockerfile", "environment.yml", "Pipfile", "Pipfile.lock", "Project.toml", "REQUIRE",
                     "install.R", "DESCRIPTION", "default.nix", "setup.py")


def test_binder_installs_the_course_package_and_nothing_takes_precedence():
    present = [name for name in OTHER_BUILD_PACKS if (BINDER / name).exists()]
    assert not present, f"repo2docker would build from {present} and ignore binder/requirements.txt"
    lines = [line.strip() for line in (BINDER / "requirements.txt").read_text().splitlines()]
    assert [line for line in lines if line and not line.startswith("#")] == ["."], (
        "binder/requirements.txt installs the repository's package ('.', pip's path from the root folder)"
    )
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["name"] == "logitlab" and project["build-system"]["requires"]


def test_binder_python_is_one_the_course_supports():
    from packaging.specifiers import SpecifierSet

    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert runtime.startswith("python-"), "runtime.txt names the Python as python-X.Y"
    supported = SpecifierSet(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"])
    assert runtime.removeprefix("python-") + ".0" in supported


def test_launch_buttons_open_the_page_in_jupyterlab_on_binder_and_colab():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["repository"]["url"].startswith("https://github.com/")  # Binder's and Colab's `gh` providers
    assert config["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert config["launch_buttons"]["notebook_interface"] == "jupyterlab"


# The tool that makes a notebook run anywhere (`logitlab standalone`, and `logitlab execute`).

@pytest.fixture
def book(tmp_path):
    """A small book: _config.yml, chapters/01.ipynb linking to chapters/02.ipynb, which has a title."""
    shutil.copy2(ROOT / "_config.yml", tmp_path / "_config.yml")
    (tmp_path / "chapters").mkdir()
    other = nbformat.v4.new_notebook()
    other.cells = [nbformat.v4.new_markdown_cell("# The `other` chapter\n\nText.")]
    nbformat.write(other, tmp_path / "chapters" / "02.ipynb")
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "logitlab", "display_name": "Python 3 (logitlab)",
                                                          "language": "python"}})
    nb.cells = [
        nbformat.v4.new_markdown_cell("# One\n\nSee {doc}`02` and {doc}`its exercises <02>`."),
        nbformat.v4.new_code_cell("from myst_nb import glue\nimport numpy as np\nprint(1)"),
    ]
    path = tmp_path / "chapters" / "01.ipynb"
    nbformat.write(nb, path)
    return path


def test_set_up_notebook_makes_a_notebook_run_anywhere(book):
    nb = nbformat.read(book, as_version=4)
    assert set_up_notebook(nb, book)
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "code"]
    assert nb.cells[1].id == SETUP_CELL_ID and nb.cells[1].source == setup_cell_source(ROOT / "_config.yml")
    assert nb.cells[0].source == "# One\n\nSee [The `other` chapter](02.ipynb) and [its exercises](02.ipynb)."
    assert nb.cells[2].source == "from logitlab import glue\nimport numpy as np\nprint(1)"
    assert nb.metadata.kernelspec == {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    assert not set_up_notebook(nb, book), "a second pass must change nothing"


def test_a_stale_setup_cell_is_replaced_and_loses_its_outputs_a_current_one_keeps_them(book):
    nb = nbformat.read(book, as_version=4)
    set_up_notebook(nb, book)
    output = nbformat.v4.new_output("stream", name="stdout", text="ready\n")
    nb.cells[1].outputs, nb.cells[1].execution_count = [output], 1
    assert not set_up_notebook(nb, book) and nb.cells[1].outputs == [output]
    nb.cells[1].source = "import logitlab\nlogitlab.setup()"
    assert set_up_notebook(nb, book)
    assert nb.cells[1].source == setup_cell_source(ROOT / "_config.yml")
    assert (nb.cells[1].outputs, nb.cells[1].execution_count) == ([], None)
    assert sum(c.get("id") == SETUP_CELL_ID for c in nb.cells) == 1


def test_a_link_to_a_missing_notebook_and_a_bad_repository_url_are_named(book):
    nb = nbformat.read(book, as_version=4)
    nb.cells[0].source = "See {doc}`../exercises/09`."
    with pytest.raises(FileNotFoundError, match="exercises/09.ipynb"):
        set_up_notebook(nb, book)
    config = book.parent.parent / "_config.yml"
    config.write_text(config.read_text().replace("url: https://github.com", "url: git@github.com:"))
    with pytest.raises(ValueError, match="repository.url must be the repository's https:// URL"):
        set_up_notebook(nbformat.read(book, as_version=4), book)


def test_the_command_checks_or_updates_notebooks(book, capsys):
    before = book.read_text()
    assert main(["standalone", "--check", str(book.parent)]) == 1
    assert book.read_text() == before and "01.ipynb: out of date" in capsys.readouterr().out
    assert main(["standalone", str(book.parent)]) == 0
    assert main(["standalone", "--check", str(book.parent)]) == 0
    assert nbformat.read(book, as_version=4).cells[1].id == SETUP_CELL_ID
