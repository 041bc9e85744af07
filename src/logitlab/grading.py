"""Batch grading of exercise notebooks: ``logitlab grade PATH...``.

For each submitted notebook the grader

1. copies it into a private temporary folder (the submitted file is only ever read, once);
2. starts a worker process, the *judge*, which runs the notebook cell by cell in a fresh
   ``python3`` kernel, within a time limit for the whole notebook: a cell that runs past the
   limit is interrupted and the later cells are skipped; a cell that kills the kernel is left
   out and the notebook is run again without it; outputs are discarded as they arrive (a
   notebook that prints without end cannot fill the memory); only error names are noted. The
   notebook's own ``ex.qN.check()`` cells are skipped: the grader runs the checks.
3. runs each question's *probes* in that kernel (:mod:`logitlab.probing`: call the learner's
   function on the question's inputs, or read the learner's value), each question within its own
   time limit; the kernel writes what they gave as data, JSON and ``.npz`` files, which the judge
   reads with ``allow_pickle=False``. Nothing the learner's process produced is unpickled, and
   learner code never runs in the judge, which compares the data with its own references
   (:meth:`logitlab.checking.Question.judge`). A notebook that redefines ``check``, rebinds the
   comparison, patches NumPy or prints "Correct" only changes its own kernel.
4. The judge sends its result to the grader on a pipe the kernel does not inherit.

A question earns its points when its check passes. The notes of a notebook, and the feedback of
each question it affects, say what happened: a cell that raised (a ``SyntaxError`` included), a
cell stopped at the time limit, a cell that killed the kernel. A notebook that could not be
graded at all gets ``error`` set and 0 points; when its chapter is known it keeps the chapter's
maximum, so totals and percentages stay meaningful, and a file that is not an exercise notebook
is counted apart. Reports are written atomically, with the permissions of the umask.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from .exercises import CHAPTERS

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
    chapter: str | None = None

    @property
    def counted(self):
        """Whether the notebook counts in the totals: it is an exercise notebook of a known chapter."""
        return self.chapter is not None

    def to_json(self):
        return {
            "path": self.path,
            "chapter": self.chapter,
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
    except ImportError as err:  # an unknown chapter, or a chapter module that does not import
        known = chapter in CHAPTERS
        return NotebookGrade(str(path), 0, 0, f"unknown exercise chapter {chapter!r}" if not known
                             else f"the questions of {chapter} could not be loaded ({err})", [])

    with tempfile.TemporaryDirectory(prefix="logitlab-grade-") as folder:
        work, judge = Path(folder) / "submission", Path(folder) / "judge"
        work.mkdir()
        judge.mkdir()
        copy = work / "notebook.ipynb"
        copy.write_bytes(data)
        # -I: the judge never imports from its working directory or from PYTHON* variables, so a
        # module file written by the notebook (say keras.py) cannot stand in for the real one.
        command = [sys.executable, "-I", "-m", "logitlab.grading", str(copy), str(judge / "result"), str(timeout)]
        crashed, output = None, b""
        try:
            completed = subprocess.run(
                command, cwd=judge, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, timeout=timeout + WORKER_GRACE + CHECK_SECONDS * len(questions),
                env=_worker_env(),
            )
            output = completed.stdout
            if completed.returncode != 0:
                tail = completed.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
                crashed = f"the grading worker stopped with exit code {completed.returncode} {tail[0]}".strip()
        except subprocess.TimeoutExpired as err:
            output = err.stdout or b""
            crashed = "the grading worker ran out of time and was stopped"
        partial = _read_partial(output)
    return _assemble(path, chapter, questions, partial, crashed)


def _worker_env():
    from .kernel import KERNEL_ENV

    env = dict(os.environ)
    env.update(KERNEL_ENV)
    return env


def _read_partial(output):
    """The worker's last complete result line (it writes one after each question)."""
    for line in reversed(output.decode("utf-8", "replace").splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
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
    # a notebook that could not be graded keeps its chapter's maximum: its 0 counts as a 0
    return NotebookGrade(str(path), score, sum(q.points for q in questions), error, grades, notes, chapter)


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


# -- the worker: run the notebook and the probes in a kernel, judge the data here -------------

class _CheckTimeout(BaseException):
    """Raised by the alarm when a check runs too long (BaseException: checks catch Exception)."""


def _write_atomic(path, text):
    """Write ``text`` to ``path`` atomically, with the permissions the umask gives a new file."""
    from .probing import write_atomic

    write_atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8", newline=""))


_PROBE = "__import__('logitlab.probing', fromlist=['answer_file']).answer_file({probes!r}, {answers!r}, {qid!r})\n"


@dataclasses.dataclass
class _Run:
    """What happened while running a notebook and its probes in the kernel."""

    notes: list = dataclasses.field(default_factory=list)
    errors: dict = dataclasses.field(default_factory=dict)  # cell index -> "SyntaxError: ..."
    killers: set = dataclasses.field(default_factory=set)  # cells left out: they stopped the kernel
    stopped: str | None = None  # why the later cells were not run (the notebook's time limit)
    probes: dict = dataclasses.field(default_factory=dict)  # question id -> "ok", "timeout", ...


def _run_notebook(nb, cwd, timeout, probe_folder, answer_folder, questions):
    """Run ``nb`` within ``timeout`` seconds, leaving out cells that kill the kernel; then run each
    question's probes in the same kernel (each within ``CHECK_SECONDS``). Returns a :class:`_Run`.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    from .kernel import KERNEL_NAME, KernelManager

    run = _Run()

    class QuietClient(NotebookClient):
        def output(self, outs, msg, display_id, cell_index):  # discard every output, note errors
            if msg.get("msg_type") == "error" and cell_index in graded:
                content = msg.get("content", {})
                evalue = re.sub(r"\(\d+\.py, line (\d+)\)", r"(line \1)", str(content.get("evalue", "")))
                run.errors.setdefault(cell_index, f"{content.get('ename', 'Error')}: {evalue}"[:300])
            return None

    deadline = time.monotonic() + timeout
    # The grader judges every question itself, so the notebook's own check cells are not run.
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and not _only_checks(c.source)]
    graded = set(code)  # the notebook's cells (the probe cells appended later are not noted)
    for _attempt in range(6):
        client = QuietClient(
            nb, kernel_name=KERNEL_NAME, kernel_manager_class=KernelManager, allow_errors=True,
            interrupt_on_timeout=True,
            resources={"metadata": {"path": str(cwd)}}, record_timing=False,
        )
        dead_at, dead_probe = None, None
        run.errors.clear()
        run.stopped = None
        with client.setup_kernel():
            for index in code:
                if index in run.killers:
                    continue
                if time.monotonic() >= deadline:
                    run.stopped = f"the notebook reached its time limit of {timeout} s before cell {index}; later cells were not run"
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
                    run.stopped = f"cell {index} could not be run ({type(err).__name__}); later cells were not run"
                    break
                if time.monotonic() - started >= limit:
                    run.errors.pop(index, None)
                    run.stopped = f"cell {index} was interrupted at the notebook's time limit of {timeout} s; later cells were not run"
                    break
            if dead_at is None:
                dead_probe = _run_probes(client, nb, probe_folder, answer_folder, questions, run)
                if dead_probe is None:
                    break
        if dead_at is not None:
            run.killers.add(dead_at)
            run.notes.append(f"cell {dead_at} stopped the kernel; the notebook was run again without it")
        else:
            run.notes.append(f"the kernel stopped while question {dead_probe}'s answer was being run; "
                             "the notebook was run again to check the other questions")
        if time.monotonic() >= deadline:
            run.notes.append("no time was left to run the notebook again")
            break
    else:
        run.notes.append("the kernel kept stopping; grading gave up on running the notebook")
    if run.stopped:
        run.notes.append(run.stopped)
    for index, error in sorted(run.errors.items()):
        run.notes.append(f"cell {index} raised {error}")
    return run


def _run_probes(client, nb, probe_folder, answer_folder, questions, run):
    """Run each question's probes in the kernel; returns the id of a question that killed it."""
    from nbclient.exceptions import DeadKernelError

    for question in questions:
        if question.id in run.probes:
            continue
        cell = nbformat.v4.new_code_cell(_PROBE.format(probes=str(probe_folder), answers=str(answer_folder), qid=question.id))
        nb.cells.append(cell)
        client.timeout = CHECK_SECONDS
        started = time.monotonic()
        try:
            client.execute_cell(cell, len(nb.cells) - 1)
        except DeadKernelError:
            run.probes[question.id] = "killed"
            return question.id
        except Exception:  # the kernel could not be interrupted
            run.probes[question.id] = "timeout"
            continue
        finally:
            nb.cells.remove(cell)
        run.probes[question.id] = "timeout" if time.monotonic() - started >= CHECK_SECONDS else "ok"
    return None


_CHECK_LINE = re.compile(r"^\s*(#.*)?$|^\s*[A-Za-z_]\w*\.q\d+\.(check|hint|solution)\(\s*\d*\s*\)\s*(#.*)?$")


def _only_checks(source):
    """Whether a cell holds nothing but ``ex.qN.check()`` / ``hint()`` / ``solution()`` calls."""
    lines = source.splitlines()
    return bool(source.strip()) and all(_CHECK_LINE.match(line) for line in lines)


def _defining_cell(nb, name):
    """The index of the last code cell that defines ``name`` (``def name`` or ``name = ...``)."""
    pattern = re.compile(rf"^\s*(def\s+{re.escape(name)}\s*\(|{re.escape(name)}\s*(:[^=\n]*)?=[^=])", re.M)
    found = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and pattern.search(c.source)]
    return found[-1] if found else None


def _alarm(signum, frame):
    raise _CheckTimeout()


def _judge_question(question, answer_folder, status):
    """Judge one question from the data its probes wrote (never from anything executable)."""
    from .probing import MISSING, read_outcomes

    if status == "killed":
        return {"passed": False, "feedback": "Incorrect: your code stopped the kernel while it was being checked."}
    if status == "timeout":
        return {"passed": False, "feedback": f"Incorrect: your code did not finish within the check's time limit of {CHECK_SECONDS} s (an endless loop?)."}
    if status is None:
        return {"passed": False, "feedback": "Not graded: the question's answer could not be run (the kernel stopped)."}
    try:
        outcomes = read_outcomes(answer_folder, question.id, len(question.probes()))
    except ValueError as err:
        return {"passed": False, "feedback": f"Incorrect: the answers could not be read back from your notebook ({err})."}
    signal.alarm(CHECK_SECONDS)
    try:
        outcome = question.judge(outcomes)
        return {"passed": outcome.passed, "feedback": str(outcome),
                "missing": any(o.kind == MISSING for o in outcomes)}
    except _CheckTimeout:
        return {"passed": False, "feedback": f"Incorrect: checking took longer than {CHECK_SECONDS} s."}
    finally:
        signal.alarm(0)


def _what_happened(nb, question, run):
    """Why a question's answer may be missing or wrong: its cell raised, was cut, or was left out."""
    said = []
    for name in question.answer_names:
        index = _defining_cell(nb, name)
        if index is None:
            continue
        if index in run.killers:
            said.append(f"cell {index}, which defines `{name}`, stopped the kernel and was left out")
        elif index in run.errors:
            said.append(f"cell {index}, which defines `{name}`, raised {run.errors[index]}")
    return "; ".join(dict.fromkeys(said))


def _worker(notebook_path, result_path, timeout):
    """Entry point of the worker process (``python -m logitlab.grading NB RESULT TIMEOUT``).

    This process is the judge: learner code never runs in it. The notebook and the probes run
    in a kernel (another process); what comes back is read as data (JSON and ``.npz`` without
    pickles). The result goes to the parent on a pipe that the kernel does not inherit.
    """
    result_fd = os.dup(1)  # the parent reads the result here; the kernel gets /dev/null instead
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = open(1, "w", closefd=False)
    result = {"error": None, "questions": {}, "notes": []}
    nb = nbformat.read(notebook_path, as_version=4)
    questions = _questions(chapter_of(nb))
    folder = Path(result_path).parent
    probe_folder, answer_folder = folder / "probes", folder / "answers"
    probe_folder.mkdir(exist_ok=True)
    answer_folder.mkdir(exist_ok=True)
    from .probing import write_probes

    write_probes(probe_folder, {q.id: q.probes() for q in questions})
    run = _run_notebook(nb, Path(notebook_path).parent, timeout, probe_folder, answer_folder, questions)
    result["notes"] = run.notes
    signal.signal(signal.SIGALRM, _alarm)
    for question in questions:
        record = _judge_question(question, answer_folder, run.probes.get(question.id))
        happened = _what_happened(nb, question, run)
        if record.pop("missing", False) and happened:
            record["feedback"] = f"Incorrect: {happened}, so the answer was never defined."
        elif not record["passed"] and run.stopped and record["feedback"].startswith("Not yet attempted"):
            record["feedback"] = f"Not graded: the notebook was stopped before its answer was defined ({run.stopped})."
        elif happened and not record["passed"]:
            record["feedback"] += f" (Note: {happened}.)"
        result["questions"][question.id] = record
        os.write(result_fd, (json.dumps(result) + "\n").encode("utf-8"))
    os.write(result_fd, (json.dumps(result) + "\n").encode("utf-8"))
    return 0


# -- reports ----------------------------------------------------------------------------------

def _fmt(points):
    return f"{points:g}"


def format_notebook(grade):
    """A plain-text table for one notebook."""
    chapter = f" ({grade.chapter})" if grade.chapter else ""
    lines = [f"{grade.path}{chapter}: {_fmt(grade.score)} / {_fmt(grade.max_score)}"]
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
    counted = [g for g in grades if g.counted]
    graded = [g for g in counted if g.error is None]
    total, best = sum(g.score for g in counted), sum(g.max_score for g in counted)
    percent = f" ({100 * total / best:.0f}%)" if best else ""
    lines = [f"Graded {len(graded)} of {len(grades)} notebook(s); total {_fmt(total)} / {_fmt(best)}{percent}."]
    apart = len(grades) - len(counted)
    if apart:
        lines.append(f"{apart} file(s) are not exercise notebooks of a known chapter and are not in the total.")
    width = max((len(g.path) for g in grades), default=0)
    for g in grades:
        score = f"{_fmt(g.score)} / {_fmt(g.max_score)}" if g.counted else "not counted"
        status = f"{score}  error: {g.error}" if g.error else score
        lines.append(f"  {g.path.ljust(width)}  {g.chapter or '-':9}  {status}")
    return "\n".join(lines)


def write_json(grades, path):
    counted = [g for g in grades if g.counted]
    report = {
        "score": sum(g.score for g in counted),
        "max_score": sum(g.max_score for g in counted),
        "not_counted": [g.path for g in grades if not g.counted],
        "notebooks": [g.to_json() for g in grades],
    }
    _write_atomic(path, json.dumps(report, indent=2) + "\n")


def write_csv(grades, path):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["path", "chapter", "question", "points", "max_points", "passed", "feedback",
                     "notebook_score", "notebook_max_score", "error"])
    for g in grades:
        if not g.questions:
            writer.writerow([g.path, g.chapter or "", "", "", "", "", "", g.score, g.max_score, g.error or ""])
        for q in g.questions:
            writer.writerow([g.path, g.chapter or "", q.id, q.points, q.max_points, q.passed, q.feedback,
                             g.score, g.max_score, g.error or ""])
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
