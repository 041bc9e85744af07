"""The grader: full marks for solutions, zero for untouched exercises, named feedback for planted
mistakes, and correct grades for hostile submissions, whose files are never modified.

All submissions are graded in one batch (two at a time) by the real command, which is what an
instructor runs; the tests then read its JSON and CSV reports.
"""

import csv
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from logitlab.authoring import make_exercise
from logitlab.exercises import questions

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))
BASE = ROOT / "solutions" / "03_cross_entropy.ipynb"  # hostile and planted submissions start here
TIMEOUT = 60


def _region(source, new_body):
    """Replace the solution region of a cell by ``new_body`` (indented like the region)."""
    match = re.search(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION\n?", source, re.S | re.M)
    assert match, "no solution region"
    indent = match.group(1)
    body = "".join(indent + line + "\n" for line in new_body.strip("\n").splitlines())
    return source[: match.start()] + body + source[match.end():]


def _answer_cell(nb, marker):
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and marker in c.source)


def _with_answer(nb, marker, body):
    index = _answer_cell(nb, marker)
    nb.cells[index].source = _region(nb.cells[index].source, body)
    return nb


def _insert_after(nb, marker, code):
    nb.cells.insert(_answer_cell(nb, marker) + 1, nbformat.v4.new_code_cell(code))
    return nb


def _base():
    return nbformat.read(BASE, as_version=4)


NO_MAX = "return np.log(np.sum(np.exp(np.asarray(x)), axis=axis))"
NOT_ADDED_BACK = (
    "x = np.asarray(x)\nm = np.max(x, axis=axis, keepdims=True)\n"
    "return np.log(np.sum(np.exp(x - m), axis=axis))"
)
LOG_OF_SOFTMAX = (
    "z = np.asarray(logits)\ne = np.exp(z - z.max(axis=-1, keepdims=True))\n"
    "p = e / e.sum(axis=-1, keepdims=True)\nreturn -np.sum(np.asarray(y_true) * np.log(p), axis=-1)"
)
SIGN_FLIPPED = (
    "z = np.asarray(logits)\ne = np.exp(z - z.max(axis=-1, keepdims=True))\n"
    "return np.asarray(y_true) - e / e.sum(axis=-1, keepdims=True)"
)

# name -> (notebook builder, expected: {question id: (passed, text expected in the feedback)})
PLANTED = {
    "planted_no_max": (lambda: _with_answer(_base(), "def logsumexp", NO_MAX),
                       {"3.1": (False, "log(sum(exp(x))) directly")}),
    "planted_not_added_back": (lambda: _with_answer(_base(), "def logsumexp", NOT_ADDED_BACK),
                               {"3.1": (False, "never added it back")}),
    "planted_log_of_softmax": (lambda: _with_answer(_base(), "def cross_entropy_from_logits", LOG_OF_SOFTMAX),
                               {"3.2": (False, "took the log of the softmax")}),
    "planted_sign_flipped": (lambda: _with_answer(_base(), "def ce_gradient", SIGN_FLIPPED),
                             {"3.4": (False, "sign")}),
}

def _prefixed(nb, marker, code):
    """Put ``code`` at the top of the cell that holds ``marker``."""
    index = _answer_cell(nb, marker)
    nb.cells[index].source = code + "\n" + nb.cells[index].source
    return nb


CANARY = Path(tempfile.gettempdir()) / f"logitlab-grader-canary-{os.getpid()}"

# Answers that try to reach the judge, each with what it must get.
PATCH_THE_COMPARISON = """
import logitlab.checking as c, logitlab.tolerance as t
c.same = lambda *a, **k: None
t.compare = lambda *a, **k: None
for q in ex.QUESTIONS:
    q.compare = lambda *a, **k: None
c.Question.judge = lambda self, outcomes: c.CheckResult(c.CORRECT)
return np.log(np.sum(np.exp(np.asarray(x)), axis=axis))
"""
PATCH_NUMPY = """
np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), dtype=bool)
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
"""
FORGE_THE_ANSWER_FILES = f"""
import json, os
import logitlab.probing as probing

class Payload:  # unpickling this would run a command
    def __reduce__(self):
        return (os.system, ("touch {CANARY}",))

def forged(probe_folder, answer_folder, qid, namespace=None):
    with open(os.path.join(answer_folder, qid + ".npz"), "wb") as handle:
        np.savez(handle, o0=np.array([Payload()], dtype=object))
    count = len(json.load(open(os.path.join(probe_folder, "probes.json")))[qid])
    record = {{"kind": "returned", "type": "ndarray", "message": "", "array": "o0"}}
    json.dump([record] * count, open(os.path.join(answer_folder, qid + ".json"), "w"))

probing.answer_file = forged
"""
SHADOW_A_MODULE = f"""
for name in ("keras", "scipy", "tensorflow"):
    with open(name + ".py", "w") as handle:
        handle.write("open({str(CANARY)!r}, 'w').write('the judge imported me')\\nraise ImportError('shadow')\\n")
"""

HOSTILE = {
    # A cell raises: the rest of the notebook still runs and earns its marks; the notes say so.
    "hostile_raises": (lambda: _insert_after(_base(), "def logsumexp", "raise RuntimeError('boom')"),
                       {"3.1": (True, "Correct"), "3.5": (True, "Correct")}),
    # A cell loops forever: it is interrupted at the time limit; what came before keeps its marks.
    "hostile_loops": (lambda: _insert_after(_base(), "ex.q2.check()", "while True:\n    pass"),
                      {"3.1": (True, "Correct"), "3.2": (True, "Correct"), "3.3": (False, "stopped before")}),
    # A function that loops forever when the grader calls it.
    "hostile_loops_in_check": (lambda: _with_answer(_base(), "def logsumexp", "while True:\n    pass"),
                               {"3.1": (False, "time limit"), "3.2": (True, "Correct")}),
    # A cell kills the kernel: the notebook is run again without it.
    "hostile_exits": (lambda: _insert_after(_base(), "def logsumexp", "import os\nos._exit(3)"),
                      {"3.1": (True, "Correct"), "3.5": (True, "Correct")}),
    # Huge output is discarded, never stored.
    "hostile_prints": (lambda: _insert_after(_base(), "def logsumexp",
                                             "for _ in range(20000):\n    print('spam ' * 200)"),
                       {"3.1": (True, "Correct"), "3.4": (True, "Correct")}),
    # A wrong answer with a fake "Correct" printed, and checks redefined in the kernel.
    "hostile_fakes": (lambda: _insert_after(
        _with_answer(_base(), "def logsumexp", NO_MAX), "def logsumexp",
        "import logitlab.checking as c\n"
        "c.Question.evaluate = lambda self, answers: c.CheckResult(c.CORRECT)\n"
        "ex.q1.check = lambda *a, **k: print('Correct')\n"
        "print('Correct')\n"), {"3.1": (False, "log(sum(exp(x))) directly"), "3.2": (True, "Correct")}),
    # A wrong function that, when the grader calls it, rebinds every comparison and the judgement.
    "hostile_patches_the_comparison": (
        lambda: _with_answer(_base(), "def logsumexp", PATCH_THE_COMPARISON),
        {"3.1": (False, "log(sum(exp(x))) directly"), "3.2": (True, "Correct"), "3.3": (True, "Correct")}),
    # A wrong answer in a notebook that patches NumPy's comparisons.
    "hostile_patches_numpy": (lambda: _insert_after(_with_answer(_base(), "def logsumexp", NO_MAX), "import",
                                                    PATCH_NUMPY),
                              {"3.1": (False, "log(sum(exp(x))) directly"), "3.2": (True, "Correct")}),
    # Forged answer files holding a pickle that would run a command: refused, never unpickled.
    "hostile_forges_the_answer_files": (
        lambda: _insert_after(_base(), "import", FORGE_THE_ANSWER_FILES),
        {qid: (False, "could not be read back") for qid in ("3.1", "3.2", "3.3", "3.4", "3.5")}),
    # Module files written where the notebook runs: the judge never imports them.
    "hostile_shadows_modules": (
        lambda: _insert_after(nbformat.read(ROOT / "solutions" / "04_from_logits.ipynb", as_version=4),
                              "from logitlab.exercises import", SHADOW_A_MODULE),
        {"4.2": (True, "Correct"), "4.5": (True, "Correct")}),
    # The learner's function exits the process that checks it.
    "hostile_exits_in_check": (lambda: _with_answer(_base(), "def logsumexp", "raise SystemExit(0)"),
                               {"3.1": (False, "SystemExit"), "3.2": (True, "Correct")}),
    # The learner's function kills the kernel when it is called: that question only.
    "hostile_kills_in_check": (lambda: _with_answer(_base(), "def logsumexp", "import os\nos._exit(3)"),
                               {"3.1": (False, "stopped the kernel while it was being checked"),
                                "3.2": (True, "Correct"), "3.5": (True, "Correct")}),
}

# What happened is said in the feedback of the questions it affects.
HAPPENED = {
    "syntax_error": (lambda: _with_answer(_base(), "def logsumexp", "return np.log(np.sum(np.exp(x)) +"),
                     {"3.1": (False, "SyntaxError"), "3.2": (True, "Correct")}),
    "raised_before_def": (lambda: _prefixed(_base(), "def logsumexp", "raise ValueError('oops')"),
                          {"3.1": (False, "raised ValueError: oops"), "3.2": (True, "Correct")}),
    "killed_before_def": (lambda: _prefixed(_base(), "def logsumexp", "import os\nos._exit(3)"),
                          {"3.1": (False, "stopped the kernel and was left out"), "3.2": (True, "Correct")}),
}


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("submissions")
    (folder / "solutions").mkdir()
    (folder / "untouched").mkdir()
    for path in SOLUTIONS:
        (folder / "solutions" / path.name).write_bytes(path.read_bytes())
    for path in SOLUTIONS:  # freshly generated from the solutions, so this test needs no execution
        nbformat.write(make_exercise(nbformat.read(path, as_version=4)), folder / "untouched" / path.name)
    for name, (build, _) in {**PLANTED, **HOSTILE, **HAPPENED}.items():
        nbformat.write(build(), folder / f"{name}.ipynb")
    (folder / "broken.ipynb").write_text("{ this is not a notebook")
    plain = nbformat.v4.new_notebook()
    plain.cells = [nbformat.v4.new_code_cell("print('hello')")]
    nbformat.write(plain, folder / "not_an_exercise.ipynb")

    unknown = nbformat.read(BASE, as_version=4)
    unknown.metadata["logitlab"] = {"chapter": "chapter99"}
    unknown.cells[1].source = unknown.cells[1].source.replace("chapter3", "chapter99")
    nbformat.write(unknown, folder / "unknown_chapter.ipynb")
    CANARY.unlink(missing_ok=True)
    before = {p: _sha(p) for p in folder.rglob("*.ipynb")}
    report, table = folder / "out" / "grades.json", folder / "out" / "grades.csv"
    report.parent.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "logitlab", "grade", str(folder), "--timeout", str(TIMEOUT),
         "--jobs", "2", "--json", str(report), "--csv", str(table)],
        capture_output=True, text=True, timeout=3600,
    )
    after = {p: _sha(p) for p in folder.rglob("*.ipynb")}
    grades = {Path(nb["path"]).relative_to(folder).as_posix(): nb for nb in json.loads(report.read_text())["notebooks"]}
    return {"folder": folder, "done": done, "grades": grades, "report": report, "table": table,
            "before": before, "after": after}


def _questions_of(grade):
    return {q["id"]: q for q in grade["questions"]}


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_every_solution_scores_full_marks(batch, path):
    grade = batch["grades"][f"solutions/{path.name}"]
    assert grade["error"] is None
    failed = {q["id"]: q["feedback"] for q in grade["questions"] if not q["passed"]}
    assert not failed and grade["score"] == grade["max_score"] > 0


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_every_untouched_exercise_scores_zero_not_attempted(batch, path):
    grade = batch["grades"][f"untouched/{path.name}"]
    assert grade["error"] is None and grade["score"] == 0
    assert grade["max_score"] == sum(q.points for q in questions(f"chapter{int(path.name[:2])}"))
    for q in grade["questions"]:
        assert q["feedback"].startswith("Not yet attempted"), q


@pytest.mark.parametrize("name", list(PLANTED) + list(HOSTILE) + list(HAPPENED))
def test_planted_and_hostile_submissions_get_the_expected_grades(batch, name):
    expected = {**PLANTED, **HOSTILE, **HAPPENED}[name][1]
    grade = batch["grades"][f"{name}.ipynb"]
    assert grade["error"] is None, grade["error"]
    got = _questions_of(grade)
    for qid, (passed, text) in expected.items():
        assert got[qid]["passed"] is passed, (qid, got[qid])
        assert text in got[qid]["feedback"], (qid, got[qid]["feedback"])
        assert got[qid]["points"] == (got[qid]["max_points"] if passed else 0)


def test_notes_explain_what_happened(batch):
    notes = {name: " ".join(batch["grades"][f"{name}.ipynb"]["notes"]) for name in {**HOSTILE, **HAPPENED}}
    assert "time limit" in notes["hostile_loops"]
    assert "stopped the kernel" in notes["hostile_exits"]
    assert "raised RuntimeError: boom" in notes["hostile_raises"]
    assert "raised SyntaxError" in notes["syntax_error"]
    assert "raised ValueError: oops" in notes["raised_before_def"]
    assert "stopped the kernel" in notes["killed_before_def"]
    assert "while question 3.1" in notes["hostile_kills_in_check"]


def test_nothing_the_learner_wrote_ran_in_the_judge(batch):
    assert not CANARY.exists(), CANARY.read_text()


def test_a_syntax_error_is_not_called_not_attempted(batch):
    feedback = _questions_of(batch["grades"]["syntax_error.ipynb"])["3.1"]["feedback"]
    assert not feedback.startswith("Not yet attempted") and "cell" in feedback, feedback


def test_submitted_files_are_never_modified(batch):
    assert batch["before"] == batch["after"]


def test_bad_files_get_an_error_and_the_batch_goes_on(batch):
    assert "could not read" in batch["grades"]["broken.ipynb"]["error"]
    assert "not a logitlab exercise notebook" in batch["grades"]["not_an_exercise.ipynb"]["error"]
    assert "unknown exercise chapter" in batch["grades"]["unknown_chapter.ipynb"]["error"]
    assert batch["done"].returncode == 1  # not every notebook could be graded
    assert "Graded" in batch["done"].stdout and "broken.ipynb" in batch["done"].stdout
    assert "not in the total" in batch["done"].stdout


def test_json_report_has_the_documented_shape(batch):
    report = json.loads(batch["report"].read_text())
    assert set(report) == {"score", "max_score", "not_counted", "notebooks"}
    counted = [nb for nb in report["notebooks"] if nb["chapter"] is not None]
    assert report["score"] == sum(nb["score"] for nb in counted)
    assert report["max_score"] == sum(nb["max_score"] for nb in counted) > 0
    assert sorted(report["not_counted"]) == sorted(nb["path"] for nb in report["notebooks"] if nb["chapter"] is None)
    assert len(report["not_counted"]) == 3
    for nb in report["notebooks"]:
        assert {"path", "chapter", "score", "max_score", "error", "questions", "notes"} <= set(nb)
        if nb["chapter"] is not None:  # graded or not, a chapter's notebook keeps its maximum
            assert nb["max_score"] == sum(q.points for q in questions(nb["chapter"]))
        for q in nb["questions"]:
            assert set(q) == {"id", "points", "max_points", "passed", "feedback"}


def test_csv_has_a_row_per_notebook_and_question(batch):
    rows = list(csv.DictReader(batch["table"].open()))
    expected = sum(max(1, len(nb["questions"])) for nb in batch["grades"].values())
    assert len(rows) == expected
    assert {"path", "chapter", "question", "points", "max_points", "passed", "feedback"} <= set(rows[0])
    chapters = {r["path"]: r["chapter"] for r in rows}
    assert all(chapters[nb["path"]] == (nb["chapter"] or "") for nb in batch["grades"].values())


def test_reports_follow_the_umask(batch):
    umask = os.umask(0)
    os.umask(umask)
    for path in (batch["report"], batch["table"]):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, oct(path.stat().st_mode)


def test_exit_code_is_zero_when_every_notebook_was_graded(tmp_path):
    nbformat.write(make_exercise(nbformat.read(BASE, as_version=4)), tmp_path / "a.ipynb")
    done = subprocess.run([sys.executable, "-m", "logitlab", "grade", str(tmp_path / "a.ipynb")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "question" in done.stdout and "Not yet attempted" in done.stdout
