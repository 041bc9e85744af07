"""The grader: full marks for solutions, zero for untouched exercises, named feedback for planted
mistakes, and correct grades for hostile submissions, whose files are never modified; and what an
instructor gets with them: feedback files, a gradebook, and re-grading only what changed.

All submissions (a class folder of 30 mixed ones) are graded in one batch (two at a time) by the
real command, which is what an instructor runs; the tests then read its reports. The batch is
graded again with its cache (nothing to run) and once more after a late submission (one to run).
"""

import csv
import hashlib
import html
import io
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
from logitlab.exercises import CHAPTERS, questions

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

MARKUP = """
# </code></pre><script>document.title = "pwned"</script>
raise ValueError("<img src=x onerror=alert(1)>")
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
    # Markup in the answer and in the error it raises: the feedback file shows it as text.
    "hostile_markup": (lambda: _with_answer(_base(), "def logsumexp", MARKUP),
                       {"3.1": (False, "<img src=x onerror="), "3.2": (True, "Correct")}),
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
    out = tmp_path_factory.mktemp("out")
    report, table, gradebook, feedback = out / "grades.json", out / "grades.csv", out / "gradebook.csv", out / "feedback"
    command = [sys.executable, "-m", "logitlab", "grade", str(folder), "--timeout", str(TIMEOUT), "--jobs", "2",
               "--json", str(report), "--csv", str(table), "--gradebook", str(gradebook), "--feedback", str(feedback)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    after = {p: _sha(p) for p in folder.rglob("*.ipynb")}
    grades = {Path(nb["path"]).relative_to(folder).as_posix(): nb for nb in json.loads(report.read_text())["notebooks"]}
    first = {"report": report.read_text(), "gradebook": gradebook.read_text(), "table": table.read_text()}
    # Graded again: every notebook comes from the cache; then a late submission: only it is run.
    again = subprocess.run(command + ["--profile"], capture_output=True, text=True, timeout=600)
    second = {"report": report.read_text(), "gradebook": gradebook.read_text(), "table": table.read_text()}
    late = folder / "late_submission.ipynb"
    nbformat.write(_insert_after(_with_answer(_base(), "def logsumexp", NO_MAX), "def logsumexp", "# late"), late)
    after_late = subprocess.run(command + ["--profile"], capture_output=True, text=True, timeout=600)
    return {"folder": folder, "done": done, "grades": grades, "report": report, "table": table,
            "before": before, "after": after, "gradebook": gradebook, "feedback": feedback,
            "first": first, "second": second, "again": again, "after_late": after_late,
            "late": json.loads(report.read_text())}


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
    report = json.loads(batch["first"]["report"])
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
    rows = list(csv.DictReader(io.StringIO(batch["first"]["table"])))
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


# -- what the instructor gets besides the grades ----------------------------------------------

def test_grading_again_reuses_every_unchanged_grade(batch):
    assert batch["again"].returncode == batch["done"].returncode, batch["again"].stderr[-2000:]
    graded = len(batch["grades"]) - 3  # the three files that are not exercise notebooks are never cached
    assert f"{graded} notebook(s) unchanged" in batch["again"].stdout
    assert "notebook and probes" not in batch["again"].stdout  # no kernel was started: nothing ran
    assert batch["second"] == batch["first"]  # same reports, byte for byte: stable


def test_a_late_submission_is_the_only_notebook_graded_again(batch):
    output = batch["after_late"].stdout
    assert f"{len(batch['grades']) - 3} notebook(s) unchanged" in output
    profile = output[output.index("Profile:"):]
    assert re.search(r"chapter3\s+notebook and probes\s+[\d.]+\s+[\d.]+", profile), profile
    assert not re.search(r"chapter[1245]\s+notebook and probes", profile), profile
    late = next(nb for nb in batch["late"]["notebooks"] if nb["path"].endswith("late_submission.ipynb"))
    assert _questions_of(late)["3.1"]["passed"] is False and _questions_of(late)["3.2"]["passed"] is True


def test_gradebook_has_a_row_per_learner_and_a_column_per_chapter(batch):
    rows = list(csv.reader(io.StringIO(batch["first"]["gradebook"])))
    header, body = rows[0], rows[1:]
    assert header == ["learner", *CHAPTERS, "total"]   # every discovered chapter, in order
    learners = [r[0] for r in body]
    assert learners == sorted(learners) and len(set(learners)) == len(learners)
    book = {r[0]: dict(zip(header, r)) for r in body}
    # --learner-from folder (the default): a folder's notebooks are one learner's; a file directly
    # in the class folder is the learner its name starts with (up to the first _, - or .).
    full = {f"chapter{int(p.name[:2])}": sum(q.points for q in questions(f"chapter{int(p.name[:2])}")) for p in SOLUTIONS}
    assert {c: float(book["solutions"][c]) for c in full} == {c: float(v) for c, v in full.items()}
    assert float(book["solutions"]["total"]) == sum(full.values())
    assert all(float(book["untouched"][c]) == 0 for c in full)
    hostile = [nb for path, nb in batch["grades"].items() if path.startswith("hostile_") and nb["chapter"] == "chapter3"]
    assert float(book["hostile"]["chapter3"]) == max(nb["score"] for nb in hostile)  # the best notebook counts
    assert book["hostile"]["chapter1"] == ""  # nothing submitted is not a zero
    assert "broken" not in book and "not" not in book  # not exercise notebooks: not in the gradebook


@pytest.mark.parametrize("layout, path, learner", [
    ("folder", "alice/03_cross_entropy.ipynb", "alice"),
    ("folder", "bob_03_cross_entropy.ipynb", "bob"),
    ("file-stem", "week1/carol-03.ipynb", "carol"),
    ("regex:^(?P<learner>[^/]+@[^/]+)/", "d.e@uni.org/03.ipynb", "d.e@uni.org"),
    ("regex:submissions_(\\d+)", "x/submissions_42_03.ipynb", "42"),
    ("regex:^nomatch$", "alice/03.ipynb", None),
])
def test_learner_keys_follow_the_layout(layout, path, learner):
    from logitlab.grade_reports import learner_of

    assert learner_of(Path("class") / path, Path("class"), layout) == learner


def test_a_bad_learner_layout_is_refused_with_the_choices(tmp_path):
    done = subprocess.run([sys.executable, "-m", "logitlab", "grade", str(tmp_path), "--learner-from", "email"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "folder, file-stem, regex:PATTERN" in done.stderr


def test_a_feedback_file_per_notebook_with_answers_verdicts_and_notes(batch):
    files = sorted(p.name for p in batch["feedback"].glob("*.html"))
    assert len(files) == len(batch["grades"]) + 1  # and the late submission
    page = (batch["feedback"] / "planted_no_max.html").read_text()
    assert "3.1" in page and "failed" in page and "passed" in page
    assert "log(sum(exp(x))) directly" in html.unescape(page)  # the question's feedback
    assert "np.log(np.sum(np.exp(np.asarray(x)), axis=axis))" in html.unescape(page)  # the learner's own code
    notes = html.unescape((batch["feedback"] / "hostile_raises.html").read_text())
    assert "raised RuntimeError: boom" in notes
    assert (batch["feedback"] / "solutions__01_logits.html").exists()


def test_feedback_files_escape_what_the_learner_wrote(batch):
    page = (batch["feedback"] / "hostile_markup.html").read_text()
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_a_feedback_file_renders_in_chromium(batch):
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("no /usr/bin/chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    shots = ROOT / "artifacts"
    shots.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium))
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1400})
            for name in ("hostile_markup", "planted_no_max"):
                page.goto((batch["feedback"] / f"{name}.html").as_uri())
                assert page.title() == f"Feedback: {name}.ipynb"  # the planted script never ran
                assert page.locator("td.verdict.failed").count() >= 1
                page.screenshot(path=str(shots / f"feedback_{name}.png"), full_page=True)
        finally:
            browser.close()


def test_the_cache_key_follows_the_content_the_course_version_and_the_settings(tmp_path, monkeypatch):
    from logitlab import grade_cache
    from logitlab.grading import NotebookGrade, QuestionGrade

    grade = NotebookGrade("a.ipynb", 1, 2, None, [QuestionGrade("1.1", 1, 1, True, "Correct")], ["n"], "chapter1")
    cache = grade_cache.GradeCache(tmp_path, settings=(60,))
    cache.put(b"notebook", grade)
    cache.save()
    again = grade_cache.GradeCache(tmp_path, settings=(60,))
    assert again.get(b"notebook", "b.ipynb").to_json() == {**grade.to_json(), "path": "b.ipynb"}
    assert again.get(b"notebook changed", "a.ipynb") is None
    assert grade_cache.GradeCache(tmp_path, settings=(120,)).get(b"notebook", "a.ipynb") is None
    monkeypatch.setattr(grade_cache, "course_version", lambda: "0.2.0+other")
    assert grade_cache.GradeCache(tmp_path, settings=(60,)).get(b"notebook", "a.ipynb") is None


def test_redo_grades_an_unchanged_notebook_again(tmp_path):
    nbformat.write(make_exercise(nbformat.read(SOLUTIONS[0], as_version=4)), tmp_path / "a.ipynb")
    command = [sys.executable, "-m", "logitlab", "grade", str(tmp_path / "a.ipynb"), "--cache", str(tmp_path / "cache")]
    runs = [subprocess.run(command + extra, capture_output=True, text=True, timeout=600)
            for extra in ([], [], ["--redo"])]
    assert [("unchanged since" in r.stdout) for r in runs] == [False, True, False], [r.stdout for r in runs]
    assert all(r.returncode == 0 and "Not yet attempted" in r.stdout for r in runs)


@pytest.mark.parametrize("module", ["logitlab.kernel_pool", "logitlab.grade_reports", "logitlab.grade_cache"])
def test_docstring_examples_of_the_grading_modules(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_one_judge_serves_a_batch_and_is_restarted_when_it_dies(tmp_path):
    from logitlab.judging import Judge

    chapter1 = questions("chapter1")
    judge = Judge()
    try:
        first = judge.judge("chapter1", tmp_path, {"1.1": "timeout", "1.2": "ok"}, chapter1)
        second = judge.judge("chapter1", tmp_path, {"1.1": "killed"}, chapter1)
        assert judge.starts == 1  # one process for both notebooks
        assert "time limit" in first["1.1"]["feedback"] and "stopped the kernel" in second["1.1"]["feedback"]
        assert "could not be read back" in first["1.2"]["feedback"]  # no answer files: refused, not crashed
        judge._process.kill()
        judge._process.wait()
        assert "stopped the kernel" in judge.judge("chapter1", tmp_path, {"1.1": "killed"}, chapter1)["1.1"]["feedback"]
        assert judge.starts == 2
        broken = judge.judge("chapter99", tmp_path, {}, chapter1)  # a request the judge dies of
        assert all(v["feedback"] == "Not graded: the judge could not check this answer." for v in broken.values())
    finally:
        judge.close()
