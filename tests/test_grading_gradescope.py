"""The Gradescope autograder: the zip holds setup.sh, run_autograder and the course's source;
run_autograder, run against a local copy of Gradescope's /autograder layout, writes results.json
in Gradescope's format (one test per question, the feedback as output)."""

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from logitlab.exercises import questions

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "chapter1"  # no TensorFlow: the quickest chapter to grade
SOLUTION = ROOT / "solutions" / "01_logits.ipynb"


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gradescope")
    built = subprocess.run([sys.executable, "-m", "logitlab", "autograder", "1", "--output", str(folder / "autograder.zip")],
                           capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    root = folder / "autograder"
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(folder / "autograder.zip") as archive:
        archive.extractall(root / "source")
        names = archive.namelist()
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    for name, mode in modes.items():
        os.chmod(root / "source" / name, stat.S_IMODE(mode))
    # A learner's submission with one wrong answer: question 1.2's sigmoid overflows.
    nb = nbformat.read(SOLUTION, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "def stable_sigmoid" in c.source)
    start, end = cell.source.index("### BEGIN SOLUTION"), cell.source.index("### END SOLUTION")
    cell.source = cell.source[:start] + "return 1 / (1 + np.exp(-np.asarray(x)))\n    " + cell.source[end:]
    (root / "submission").mkdir()
    nbformat.write(nb, root / "submission" / "01_logits.ipynb")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}
    done = subprocess.run([str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                          timeout=600)
    results = root / "results" / "results.json"
    return {"root": root, "names": names, "done": done,
            "results": json.loads(results.read_text()) if results.exists() else None}


def test_the_zip_holds_the_scripts_and_the_course_source(autograder):
    names = set(autograder["names"])
    assert {"setup.sh", "run_autograder", "course/pyproject.toml", "course/README.md", "course/LICENSE",
            "course/src/logitlab/grading.py", "course/src/logitlab/exercises/solutions.json"} <= names
    assert not any("__pycache__" in n for n in names)
    source = autograder["root"] / "source"
    for script in ("setup.sh", "run_autograder"):
        assert os.access(source / script, os.X_OK)
        assert subprocess.run(["bash", "-n", str(source / script)]).returncode == 0
    assert 'pip install "$ROOT/source/course"' in (source / "setup.sh").read_text()


def test_run_autograder_writes_gradescope_results(autograder):
    assert autograder["done"].returncode == 0, autograder["done"].stderr[-2000:]
    results = autograder["results"]
    expected = questions(CHAPTER)
    assert results["score"] == sum(q.points for q in expected) - expected[1].points
    assert [t["name"].split()[0] for t in results["tests"]] == [q.id for q in expected]
    for test, question in zip(results["tests"], expected):
        assert set(test) >= {"name", "score", "max_score", "output"}
        right = question.id != "1.2"
        assert test["max_score"] == question.points and test["score"] == (question.points if right else 0)
        assert test["output"].startswith("Correct" if right else "Incorrect"), test["output"]
        assert question.title in test["name"]
    assert results["score"] == sum(t["score"] for t in results["tests"])


def test_a_submission_without_the_chapter_gets_zero_and_says_why(tmp_path):
    from logitlab.gradescope import results_json

    results = results_json([], CHAPTER)
    assert results["score"] == 0 and "No exercise notebook of chapter1" in results["output"]
    assert len(results["tests"]) == len(questions(CHAPTER))


def test_an_unknown_chapter_is_refused(tmp_path):
    done = subprocess.run([sys.executable, "-m", "logitlab", "autograder", "9", "--output", str(tmp_path / "a.zip")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "unknown chapter 'chapter9'" in done.stderr


def test_the_course_source_in_the_zip_builds_the_package(autograder, tmp_path):
    # what setup.sh installs: a wheel of this very version, with the questions' data files
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path),
                           str(autograder["root"] / "source" / "course")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("logitlab-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert {"logitlab/gradescope.py", "logitlab/grading.py", "logitlab/exercises/solutions.json"} <= names
