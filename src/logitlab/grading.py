"""Batch grading of exercise notebooks: ``logitlab grade PATH...``.

For each submitted notebook the grader

1. copies it into a private temporary folder (the submitted file is only ever read, once);
2. runs it cell by cell in a fresh ``python3`` kernel, within a time limit for the whole
   notebook: a cell that runs past the limit is interrupted and the later cells are skipped; a
   cell that kills the kernel is left out and the notebook is run again without it; outputs are
   discarded as they arrive (a notebook that prints without end cannot fill the memory), and
   nothing the notebook prints is ever read;
   The notebook's own ``ex.qN.check()`` cells are skipped: the grader runs the checks.
3. takes each question's answers (the functions and values the learner defined) out of the
   kernel with cloudpickle, and evaluates every question's check itself, in a separate worker
   process with the grader's own copy of the checks, so a notebook that redefines ``check`` or
   prints "Correct" changes nothing. Each check has its own time limit.

A question earns its points when its check passes. A notebook that could not be graded at all
(not an exercise notebook, unreadable, a worker that crashed) gets ``error`` set and 0 points;
the rest of the batch is graded. Results are written atomically (``--json``, ``--csv``).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import pickle
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

__all__ = ["NotebookGrade", "QuestionGrade", "grade_paths", "grade_notebook", "find_notebooks"]

CHECK_SECONDS = 20  # the time limit of one question's check
WORKER_GRACE = 60  # seconds a worker gets beyond the notebook's limit before it is killed


@dataclasses.dataclass
class QuestionGrade:
    id: str
    points: float
    max_points: float
    passed: bool
    feedback: str


@dataclasses.dataclass
class NotebookGrade:
    path: str
    score: float
    max_score: float
    error: str | None
    questions: list
    notes: list = dataclasses.field(default_factory=list)

    def to_json(self):
        return {
            "path": self.path,
            "score": self.score,
            "max_score": self.max_score,
            "error": self.error,
            "questions": [dataclasses.asdict(q) for q in self.questions],
            "notes": list(self.notes),
        }


# -- finding what to grade --------------------------------------------------------------------

def find_notebooks(paths):
    """Expand files and folders into a sorted list of notebook paths (checkpoints skipped)."""
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        else:
            found.append(path)
    return found


def chapter_of(nb):
    """The exercise chapter a notebook belongs to: its metadata, else its import line."""
    from .authoring import chapter_of as imported_chapter

    chapter = nb.metadata.get("logitlab", {}).get("chapter")
    if isinstance(chapter, str) and re.fullmatch(r"chapter\d+", chapter):
        return chapter
    return imported_chapter(nb)


def _questions(chapter):
    from .exercises import questions

    return questions(chapter)


# -- the parent: one worker process per notebook ---------------------------------------------

def grade_notebook(path, timeout=120):
    """Grade one notebook in a worker process; never raises for a bad submission."""
    path = Path(path)
    try:
        data = path.read_bytes()
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception as err:
        return NotebookGrade(str(path), 0, 0, f"could not read the notebook: {type(err).__name__}: {err}", [])
    chapter = chapter_of(nb)
    if chapter is None:
        return NotebookGrade(str(path), 0, 0, "not a logitlab exercise notebook (no `from logitlab.exercises import chapterN` and no logitlab metadata)", [])
    try:
        questions = _questions(chapter)
    except ImportError:
        return NotebookGrade(str(path), 0, 0, f"unknown exercise chapter {chapter!r}", [])

    with tempfile.TemporaryDirectory(prefix="logitlab-grade-") as folder:
        work = Path(folder) / "submission"
        work.mkdir()
        copy = work / "notebook.ipynb"
        copy.write_bytes(data)
        result_file = Path(folder) / "result.json"
        command = [sys.executable, "-m", "logitlab.grading", str(copy), str(result_file), str(timeout)]
        crashed = None
        try:
            completed = subprocess.run(
                command, cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, timeout=timeout + WORKER_GRACE + CHECK_SECONDS * len(questions),
                env=_worker_env(),
            )
            if completed.returncode != 0:
                tail = completed.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
                crashed = f"the grading worker stopped with exit code {completed.returncode} {tail[0]}".strip()
        except subprocess.TimeoutExpired:
            crashed = "the grading worker ran out of time and was stopped"
        partial = _read_partial(result_file)
    return _assemble(path, chapter, questions, partial, crashed)


def _worker_env():
    from .kernel import KERNEL_ENV

    env = dict(os.environ)
    env.update(KERNEL_ENV)
    return env


def _read_partial(result_file):
    try:
        return json.loads(result_file.read_text())
    except Exception:
        return {"questions": {}, "notes": []}


def _assemble(path, chapter, questions, partial, crashed):
    grades, notes = [], list(partial.get("notes", []))
    if crashed:
        notes.append(crashed)
    for question in questions:
        record = partial.get("questions", {}).get(question.id)
        if record is None:
            reason = "see the notebook's error" if crashed else "the question could not be checked"
            grades.append(QuestionGrade(question.id, 0, question.points, False, f"not graded ({reason})."))
            continue
        passed = bool(record["passed"])
        grades.append(QuestionGrade(question.id, question.points if passed else 0, question.points,
                                    passed, record["feedback"]))
    error = partial.get("error")
    if error is None and crashed and not partial.get("questions"):
        error = crashed
    score = sum(g.points for g in grades)
    return NotebookGrade(str(path), score, sum(q.points for q in questions), error, grades, notes)


def grade_paths(paths, timeout=120, jobs=1, progress=None):
    """Grade every notebook found under ``paths``; returns a list of :class:`NotebookGrade`.

    ``jobs`` notebooks are graded at once (each in its own kernel and worker process); a
    progress bar is shown on stderr when there is more than one notebook.
    """
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    notebooks = find_notebooks(paths)
    show = progress if progress is not None else len(notebooks) > 1
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(grade_notebook, p, timeout) for p in notebooks]
        bar = tqdm(total=len(futures), desc="grading", unit="notebook", file=sys.stderr, disable=not show)
        for future in futures:
            future.add_done_callback(lambda _: bar.update(1))
        grades = [f.result() for f in futures]
        bar.close()
    return grades


# -- the worker: run the notebook, take out the answers, evaluate ---------------------------

class _CheckTimeout(BaseException):
    """Raised by the alarm when a check runs too long (BaseException: checks catch Exception)."""


def _write_atomic(path, text):
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


_DUMP = """
def __logitlab_dump(path, names):
    import builtins, pickle
    import cloudpickle
    space = builtins.globals()
    found = {}
    for name in names:
        if name not in space:
            continue
        try:
            found[name] = ("ok", cloudpickle.dumps(space[name]))
        except BaseException as err:
            found[name] = ("error", f"{type(err).__name__}: {err}")
    with open(path, "wb") as handle:
        pickle.dump(found, handle)
__logitlab_dump(PATH, NAMES)
"""


def _run_notebook(nb, cwd, timeout, dump_path, names):
    """Run ``nb`` within ``timeout`` seconds, leaving out cells that kill the kernel; dump answers.

    Returns a list of notes on what went wrong while running.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    from .kernel import KERNEL_NAME, KernelManager

    class QuietClient(NotebookClient):
        def output(self, outs, msg, display_id, cell_index):  # discard every output
            return None

    deadline = time.monotonic() + timeout
    killers, notes = set(), []
    # The grader evaluates every check itself, so the notebook's own check cells are not run.
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and not _only_checks(c.source)]
    for _attempt in range(5):
        client = QuietClient(
            nb, kernel_name=KERNEL_NAME, kernel_manager_class=KernelManager, allow_errors=True,
            interrupt_on_timeout=True,
            resources={"metadata": {"path": str(cwd)}}, record_timing=False,
        )
        dead_at = None
        with client.setup_kernel():
            for index in code:
                if index in killers:
                    continue
                if time.monotonic() >= deadline:
                    notes.append(f"the notebook reached its time limit of {timeout} s before cell {index}; later cells were not run")
                    break
                limit = max(1, math.ceil(deadline - time.monotonic()))
                client.timeout = limit  # past it, the cell is interrupted (interrupt_on_timeout)
                started = time.monotonic()
                try:
                    client.execute_cell(nb.cells[index], index)
                except DeadKernelError:
                    dead_at = index
                    break
                except Exception as err:  # a cell that timed out and could not be interrupted
                    notes.append(f"cell {index} could not be run: {type(err).__name__}")
                    break
                if time.monotonic() - started >= limit:
                    notes.append(f"cell {index} was interrupted at the notebook's time limit of {timeout} s; later cells were not run")
                    break
            if dead_at is None:
                dump = nbformat.v4.new_code_cell(
                    _DUMP.replace("PATH", repr(str(dump_path))).replace("NAMES", repr(list(names))))
                try:
                    client.timeout = 60
                    nb.cells.append(dump)
                    client.execute_cell(dump, len(nb.cells) - 1)
                except Exception as err:
                    notes.append(f"the answers could not be read from the kernel ({type(err).__name__})")
                return notes
        killers.add(dead_at)
        notes.append(f"cell {dead_at} stopped the kernel; the notebook was run again without it")
        if time.monotonic() >= deadline:
            notes.append("no time was left to run the notebook again")
            return notes
    notes.append("the kernel kept stopping; grading gave up on running the notebook")
    return notes


_CHECK_LINE = re.compile(r"^\s*(#.*)?$|^\s*[A-Za-z_]\w*\.q\d+\.(check|hint|solution)\(\s*\d*\s*\)\s*(#.*)?$")


def _only_checks(source):
    """Whether a cell holds nothing but ``ex.qN.check()`` / ``hint()`` / ``solution()`` calls."""
    lines = source.splitlines()
    return bool(source.strip()) and all(_CHECK_LINE.match(line) for line in lines)


def _load_answers(dump_path):
    try:
        with open(dump_path, "rb") as handle:
            found = pickle.load(handle)
    except Exception:
        return {}, {}
    answers, problems = {}, {}
    for name, (status, payload) in found.items():
        if status != "ok":
            problems[name] = f"`{name}` could not be taken out of your notebook ({payload})"
            continue
        try:
            answers[name] = pickle.loads(payload)
        except BaseException as err:
            problems[name] = f"`{name}` could not be loaded for checking ({type(err).__name__}: {err})"
    return answers, problems


def _alarm(signum, frame):
    raise _CheckTimeout()


def _worker(notebook_path, result_path, timeout):
    """Entry point of the worker process (``python -m logitlab.grading NB RESULT TIMEOUT``)."""
    result = {"error": None, "questions": {}, "notes": []}
    nb = nbformat.read(notebook_path, as_version=4)
    questions = _questions(chapter_of(nb))
    names = sorted({n for q in questions for n in q.answer_names})
    dump_path = Path(result_path).with_name("answers.pkl")
    result["notes"] += _run_notebook(nb, Path(notebook_path).parent, timeout, dump_path, names)
    _write_atomic(result_path, json.dumps(result))
    answers, problems = _load_answers(dump_path)
    stopped = next((n for n in result["notes"] if "time limit" in n or "gave up" in n), None)
    signal.signal(signal.SIGALRM, _alarm)
    for question in questions:
        trouble = [problems[n] for n in question.answer_names if n in problems]
        if trouble:
            record = {"passed": False, "feedback": "; ".join(trouble) + "."}
        elif stopped and any(n not in answers for n in question.answer_names):
            record = {"passed": False, "feedback": f"Not graded: the notebook was stopped before its answer was defined ({stopped})."}
        else:
            sink = io.StringIO()
            signal.alarm(CHECK_SECONDS)
            try:
                stdout, stderr = sys.stdout, sys.stderr
                sys.stdout = sys.stderr = sink  # what the learner's code prints is not read
                outcome = question.evaluate(question.collect(answers))
                record = {"passed": outcome.passed, "feedback": str(outcome)}
            except _CheckTimeout:
                record = {"passed": False, "feedback": f"Incorrect: checking took longer than {CHECK_SECONDS} s (an endless loop?)."}
            except BaseException as err:  # SystemExit or KeyboardInterrupt from learner code
                record = {"passed": False, "feedback": f"Incorrect: your code stopped the check ({type(err).__name__})."}
            finally:
                signal.alarm(0)
                sys.stdout, sys.stderr = stdout, stderr
        result["questions"][question.id] = record
        _write_atomic(result_path, json.dumps(result))
    return 0


# -- reports ----------------------------------------------------------------------------------

def _fmt(points):
    return f"{points:g}"


def format_notebook(grade):
    """A plain-text table for one notebook."""
    lines = [f"{grade.path}: {_fmt(grade.score)} / {_fmt(grade.max_score)}"]
    if grade.error:
        lines.append(f"  error: {grade.error}")
    rows = [("question", "points", "result", "feedback")]
    for q in grade.questions:
        rows.append((q.id, f"{_fmt(q.points)}/{_fmt(q.max_points)}", "passed" if q.passed else "failed", q.feedback))
    if len(rows) > 1:
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for row in rows:
            lines.append("  " + "  ".join(row[i].ljust(widths[i]) for i in range(3)) + "  " + row[3])
    for note in grade.notes:
        lines.append(f"  note: {note}")
    return "\n".join(lines)


def format_summary(grades):
    graded = [g for g in grades if g.error is None]
    total, best = sum(g.score for g in grades), sum(g.max_score for g in grades)
    lines = [f"Graded {len(graded)} of {len(grades)} notebook(s); total {_fmt(total)} / {_fmt(best)}."]
    width = max((len(g.path) for g in grades), default=0)
    for g in grades:
        status = f"error: {g.error}" if g.error else f"{_fmt(g.score)} / {_fmt(g.max_score)}"
        lines.append(f"  {g.path.ljust(width)}  {status}")
    return "\n".join(lines)


def write_json(grades, path):
    report = {
        "score": sum(g.score for g in grades),
        "max_score": sum(g.max_score for g in grades),
        "notebooks": [g.to_json() for g in grades],
    }
    _write_atomic(path, json.dumps(report, indent=2) + "\n")


def write_csv(grades, path):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["path", "question", "points", "max_points", "passed", "feedback", "notebook_score", "notebook_max_score", "error"])
    for g in grades:
        if not g.questions:
            writer.writerow([g.path, "", "", "", "", "", g.score, g.max_score, g.error or ""])
        for q in g.questions:
            writer.writerow([g.path, q.id, q.points, q.max_points, q.passed, q.feedback, g.score, g.max_score, g.error or ""])
    _write_atomic(path, buffer.getvalue())


def main(paths, timeout=120, json_path=None, csv_path=None, jobs=1, out=None):
    """The ``logitlab grade`` command; returns the exit code (0 when every notebook was graded)."""
    out = out or sys.stdout
    notebooks = find_notebooks(paths)
    missing = [p for p in notebooks if not p.exists()]
    if not notebooks:
        print("No notebooks found under: " + ", ".join(map(str, paths)), file=out)
        return 2
    grades = grade_paths(paths, timeout=timeout, jobs=jobs)
    for grade in grades:
        print(format_notebook(grade) + "\n", file=out)
    if len(grades) > 1:
        print(format_summary(grades), file=out)
    if json_path:
        write_json(grades, json_path)
    if csv_path:
        write_csv(grades, csv_path)
    return 0 if not missing and all(g.error is None for g in grades) else 1


if __name__ == "__main__":
    sys.exit(_worker(sys.argv[1], sys.argv[2], int(sys.argv[3])))
