"""Batch grading of exercise notebooks: ``logitlab grade PATH...``.

The grader process itself runs no learner code and judges nothing. For each submitted notebook it

1. reads it (the submitted file is only ever read) and finds its chapter;
2. runs it cell by cell in a fresh kernel of the course (:data:`logitlab.execution.KERNEL_NAME`),
   started ahead of need in its own empty folder (:mod:`logitlab.kernel_pool`; TensorFlow is
   imported ahead only for notebooks that import it), within a time limit for the whole
   notebook: a cell that runs past the limit is interrupted and the later cells are skipped; a
   cell that kills the kernel is left out and the notebook is run again without it in another
   fresh kernel; outputs are discarded as they arrive (a notebook that prints without end cannot
   fill the memory); only error names are noted. The notebook's own ``ex.qN.check()`` cells are
   skipped: the grader runs the checks.
3. runs each question's *probes* in that kernel (:mod:`logitlab.probing`: call the learner's
   function on the question's inputs, or read the learner's value), each question within its own
   time limit; the kernel writes what they gave as data, JSON and ``.npz`` files.
4. hands the answer files to the *judge* (:mod:`logitlab.judging`), one process for the whole
   batch, started with ``python -I`` in an empty folder, which reads them with
   ``allow_pickle=False`` and compares them with its own references
   (:meth:`logitlab.checking.Question.judge`). Nothing the learner's process produced is
   unpickled, and learner code never runs in the judge. A notebook that redefines ``check``,
   rebinds the comparison, patches NumPy or prints "Correct" only changes its own kernel.

``jobs`` notebooks run at once; with a cache (:mod:`logitlab.grade_cache`) an unchanged notebook
is not graded again. The reports are in :mod:`logitlab.grade_reports`.

A question earns its points when its check passes. The notes of a notebook, and the feedback of
each question it affects, say what happened: a cell that raised (a ``SyntaxError`` included), a
cell stopped at the time limit, a cell that killed the kernel. A notebook that could not be
graded at all gets ``error`` set and 0 points; when its chapter is known it keeps the chapter's
maximum, so totals and percentages stay meaningful, and a file that is not an exercise notebook
is counted apart. Reports are written atomically, with the permissions of the umask.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat

from .exercises import CHAPTERS

from .judging import CHECK_SECONDS  # the time limit of one question's check

__all__ = ["NotebookGrade", "QuestionGrade", "grade_paths", "grade_notebook", "find_notebooks"]


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

    @classmethod
    def from_json(cls, data):
        """The grade :meth:`to_json` gave (the grade cache stores grades this way)."""
        questions = [QuestionGrade(**q) for q in data["questions"]]
        return cls(data["path"], data["score"], data["max_score"], data["error"], questions,
                   list(data["notes"]), data["chapter"])


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


# -- the grader: kernels run the notebooks, one judge process checks the answers ---------------

@dataclasses.dataclass
class _Submission:
    """A notebook to run: where it was, its bytes, its chapter and questions, its kernel warm-up."""

    path: Path
    data: bytes
    nb: object
    chapter: str
    questions: list
    warm: tuple


def _prepare(path):
    """A :class:`_Submission`, or the :class:`NotebookGrade` of a file that cannot be graded."""
    from .kernel_pool import warm_imports

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
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    return _Submission(path, data, nb, chapter, questions, warm_imports(source))


def grade_notebook(path, timeout=120):
    """Grade one notebook (see :func:`grade_paths`); never raises for a bad submission."""
    return grade_paths([path], timeout=timeout, progress=False)[0]


def _worker_env():
    from .notebook import TENSORFLOW_ENV

    env = dict(os.environ)
    env.update(TENSORFLOW_ENV)
    return env


def _assemble(submission, run, verdicts):
    """The :class:`NotebookGrade` of a notebook from what happened when it ran and the verdicts."""
    nb, questions = submission.nb, submission.questions
    grades = []
    for question in questions:
        record = dict(verdicts.get(question.id) or {"passed": False, "feedback": "Not graded: the question could not be checked."})
        happened = _what_happened(nb, question, run)
        if record.pop("missing", False) and happened:
            record["feedback"] = f"Incorrect: {happened}, so the answer was never defined."
        elif not record["passed"] and run.stopped and record["feedback"].startswith("Not yet attempted"):
            record["feedback"] = f"Not graded: the notebook was stopped before its answer was defined ({run.stopped})."
        elif happened and not record["passed"]:
            record["feedback"] += f" (Note: {happened}.)"
        passed = bool(record["passed"])
        grades.append(QuestionGrade(question.id, question.points if passed else 0, question.points,
                                    passed, record["feedback"]))
    score = sum(g.points for g in grades)
    return NotebookGrade(str(submission.path), score, sum(q.points for q in questions), None, grades,
                         list(run.notes), submission.chapter)


class _Profile:
    """Seconds spent, summed by ``(chapter, step)``, shared by the grader's threads."""

    def __init__(self, into=None):
        self.into = into
        self._lock = threading.Lock()

    def add(self, chapter, step, seconds):
        if self.into is not None:
            with self._lock:
                key = f"{chapter} {step}"
                self.into[key] = self.into.get(key, 0.0) + seconds


def _run_one(submission, pool, kernel, probe_folders, timeout, profile):
    """Run one notebook in ``kernel`` (from ``pool``) and its probes; returns ``(run, answer folder)``."""
    profile.add(submission.chapter, "kernel start (ahead, background)", kernel.start_seconds)
    answers = Path(tempfile.mkdtemp(prefix="answers-", dir=pool.root))
    kernels = iter([kernel])

    def next_kernel():
        # the first from the pool; a notebook run again (a cell killed the kernel) gets a fresh one
        return next(kernels, None) or pool.fresh(submission.warm)

    started = time.perf_counter()
    run = _run_notebook(submission, next_kernel, timeout, probe_folders[submission.chapter], answers, profile)
    profile.add(submission.chapter, "notebook and probes", time.perf_counter() - started)
    return run, answers


def _failed(submission, err):
    """The grade of a notebook the grader itself failed on (its chapter keeps its maximum)."""
    return NotebookGrade(str(submission.path), 0, sum(q.points for q in submission.questions),
                         f"the grader failed on this notebook ({type(err).__name__}: {err})", [], [],
                         submission.chapter)


def grade_paths(paths, timeout=120, jobs=1, progress=None, cache=None, redo=False, profile=None):
    """Grade every notebook found under ``paths``; returns a list of :class:`NotebookGrade`.

    ``jobs`` notebooks run at once, each in its own fresh kernel, started ahead of need
    (:class:`logitlab.kernel_pool.KernelPool`, warmed with TensorFlow only for notebooks that import
    it); one judge process (:class:`logitlab.judging.Judge`) checks the answers of the whole batch,
    as data. With ``cache`` (a :class:`logitlab.grade_cache.GradeCache`), a notebook graded before
    with the same content and course version is not graded again, unless ``redo``. ``profile``, a
    dict, receives the seconds spent per chapter and step. A progress bar is shown on stderr when
    there is more than one notebook to run.
    """
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    from .execution import KERNEL_NAME
    from .judging import Judge
    from .kernel_pool import KernelPool
    from .probing import write_probes

    notebooks = find_notebooks(paths)
    prepared = [_prepare(p) for p in notebooks]
    grades = [p if isinstance(p, NotebookGrade) else None for p in prepared]
    todo = []
    for index, item in enumerate(prepared):
        if grades[index] is not None:
            continue
        found = None if (cache is None or redo) else cache.get(item.data, item.path)
        if found is not None:
            grades[index] = found
        else:
            todo.append(index)
    if not todo:
        return grades
    # the longest notebooks first, so that no job is left with a long one at the end
    todo.sort(key=lambda i: (len(prepared[i].warm) == 1, i))
    show = progress if progress is not None else len(todo) > 1
    stats = _Profile(profile)
    with tempfile.TemporaryDirectory(prefix="logitlab-grade-") as root:
        probe_folders = {}
        for chapter in sorted({prepared[i].chapter for i in todo}):
            folder = Path(root) / f"probes-{chapter}"
            folder.mkdir()
            write_probes(folder, {q.id: q.probes() for q in _questions(chapter)})
            probe_folders[chapter] = folder
        pool = KernelPool(KERNEL_NAME, root, ahead=max(1, jobs), env=_worker_env())
        pool.plan(prepared[i].warm for i in todo)
        judge = Judge(env=_worker_env())
        judge.start()  # its imports overlap with the first kernels' start
        order, lock = iter(todo), threading.Lock()
        bar = tqdm(total=len(todo), desc="grading", unit="notebook", file=sys.stderr, disable=not show)

        def finish(index, run, answers):  # in the judging thread: the kernels go on meanwhile
            submission = prepared[index]
            try:
                started = time.perf_counter()
                verdicts = judge.judge(submission.chapter, answers, run.probes, submission.questions)
                stats.add(submission.chapter, "judge", time.perf_counter() - started)
                grade = _assemble(submission, run, verdicts)
                if cache is not None:
                    cache.put(submission.data, grade)
            except Exception as err:  # noqa: BLE001 - the grader's own failure: this notebook only
                grade = _failed(submission, err)
            finally:
                shutil.rmtree(answers, ignore_errors=True)
            grades[index] = grade
            bar.update(1)

        def work(judging):
            while True:
                with lock:  # notebooks and pooled kernels are taken in the same order
                    index = next(order, None)
                    if index is None:
                        return
                    submission = prepared[index]
                    waited = time.perf_counter()
                    kernel = pool.take(submission.warm)
                    stats.add(submission.chapter, "waiting for a kernel", time.perf_counter() - waited)
                try:
                    run, answers = _run_one(submission, pool, kernel, probe_folders, timeout, stats)
                except Exception as err:  # noqa: BLE001 - the grader's own failure: this notebook only
                    grades[index] = _failed(submission, err)
                    bar.update(1)
                    continue
                judging.submit(finish, index, run, answers)

        try:
            with ThreadPoolExecutor(max_workers=1) as judging:
                with ThreadPoolExecutor(max_workers=max(1, jobs)) as threads:
                    for future in [threads.submit(work, judging) for _ in range(max(1, jobs))]:
                        future.result()
        finally:
            bar.close()
            pool.close()
            judge.close()
            if profile is not None:
                profile["judge process starts"] = profile.get("judge process starts", 0) + judge.starts
    return grades


# -- running a notebook and its probes in a kernel --------------------------------------------

_PROBE = "__import__('logitlab.probing', fromlist=['answer_file']).answer_file({probes!r}, {answers!r}, {qid!r})\n"


@dataclasses.dataclass
class _Run:
    """What happened while running a notebook and its probes in the kernel."""

    notes: list = dataclasses.field(default_factory=list)
    errors: dict = dataclasses.field(default_factory=dict)  # cell index -> "SyntaxError: ..."
    killers: set = dataclasses.field(default_factory=set)  # cells left out: they stopped the kernel
    stopped: str | None = None  # why the later cells were not run (the notebook's time limit)
    probes: dict = dataclasses.field(default_factory=dict)  # question id -> "ok", "timeout", ...


def _run_notebook(submission, next_kernel, timeout, probe_folder, answer_folder, profile):
    """Run the notebook within ``timeout`` seconds in kernels from ``next_kernel()``, leaving out
    cells that kill the kernel; then run each question's probes in the same kernel (each within
    ``CHECK_SECONDS``). Returns a :class:`_Run`.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    from .execution import KERNEL_NAME

    nb = nbformat.reads(submission.data.decode("utf-8"), as_version=4)  # a private copy
    questions = submission.questions
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
        kernel = next_kernel()
        client = QuietClient(
            nb, km=kernel.manager, kernel_name=KERNEL_NAME, allow_errors=True, interrupt_on_timeout=True,
            resources={"metadata": {"path": str(kernel.folder)}}, record_timing=False,
        )
        dead_at, dead_probe = None, None
        run.errors.clear()
        run.stopped = None
        try:
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
                    started = time.perf_counter()
                    dead_probe = _run_probes(client, nb, probe_folder, answer_folder, questions, run)
                    profile.add(submission.chapter, "probes", time.perf_counter() - started)
        finally:
            if client.kc is not None:
                client.kc.stop_channels()
            kernel.shutdown()
        if dead_at is None and dead_probe is None:
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


# -- the command ------------------------------------------------------------------------------

def _roots(paths, notebooks):
    """``{notebook path: the command-line path that holds it}`` (the learner's key is found below it)."""
    roots = {}
    for notebook in notebooks:
        for root in map(Path, paths):
            if notebook == root or root in notebook.parents:
                roots.setdefault(str(notebook), root)
    return roots


def main(paths, timeout=120, json_path=None, csv_path=None, jobs=1, out=None, cache_dir=None, redo=False,
         feedback_dir=None, gradebook_path=None, learner_from="folder", profile=False):
    """The ``logitlab grade`` command; returns the exit code (0 when every notebook was graded).

    With ``cache_dir`` (by default the folder of the first report asked for, if any), notebooks
    graded before with the same content and course version are not graded again unless ``redo``.
    """
    from .grade_cache import GradeCache
    from .grade_reports import (check_learner_from, format_notebook, format_summary, learner_of, write_csv,
                                write_feedback, write_gradebook, write_json)

    out = out or sys.stdout
    learner_from = check_learner_from(learner_from)
    notebooks = find_notebooks(paths)
    missing = [p for p in notebooks if not p.exists()]
    if not notebooks:
        print("No notebooks found under: " + ", ".join(map(str, paths)), file=out)
        return 2
    reports = [p for p in (json_path, csv_path, gradebook_path) if p]
    if cache_dir is None and reports:
        cache_dir = Path(reports[0]).parent / ".logitlab-cache"
    cache = GradeCache(cache_dir, settings=(timeout,)) if cache_dir else None
    seconds = {} if profile else None
    started = time.perf_counter()
    grades = grade_paths(paths, timeout=timeout, jobs=jobs, cache=cache, redo=redo, profile=seconds)
    elapsed = time.perf_counter() - started
    if cache is not None:
        cache.save()
    for grade in grades:
        print(format_notebook(grade) + "\n", file=out)
    if len(grades) > 1:
        print(format_summary(grades), file=out)
    if cache is not None and cache.hits:
        print(f"{cache.hits} notebook(s) unchanged since they were graded: their grades were reused "
              f"(from {cache.path}; --redo grades every notebook again).", file=out)
    if json_path:
        write_json(grades, json_path)
    if csv_path:
        write_csv(grades, csv_path)
    roots = _roots(paths, notebooks)
    if gradebook_path:
        learners = {g.path: learner_of(g.path, roots.get(g.path, Path(g.path).parent), learner_from) for g in grades}
        unknown = sorted(p for p, learner in learners.items() if learner is None)
        if unknown:
            print(f"warning: no learner found for {len(unknown)} notebook(s) with --learner-from {learner_from}; "
                  "they are not in the gradebook: " + ", ".join(unknown), file=out)
        write_gradebook(grades, learners, gradebook_path)
    if feedback_dir:
        write_feedback(grades, roots, feedback_dir)
    if seconds is not None:
        print(format_profile(seconds, grades, elapsed), file=out)
    return 0 if not missing and all(g.error is None for g in grades) else 1


def format_profile(seconds, grades, elapsed):
    """The ``--profile`` table: seconds per chapter and step, and per notebook."""
    counts = {}
    for g in grades:
        counts[g.chapter] = counts.get(g.chapter, 0) + 1
    lines = [f"Profile: {len(grades)} notebook(s) in {elapsed:.1f} s wall time "
             f"({elapsed / max(1, len(grades)):.2f} s per notebook); load average "
             + " ".join(f"{x:.2f}" for x in os.getloadavg()) + ".",
             f"  {'chapter':10} {'step':36} {'seconds':>8} {'per notebook':>13}"]
    for key in sorted(k for k in seconds if k != "judge process starts"):
        chapter, step = key.split(" ", 1)
        lines.append(f"  {chapter:10} {step:36} {seconds[key]:8.1f} {seconds[key] / max(1, counts.get(chapter, 1)):13.2f}")
    lines.append(f"  judge process starts: {seconds.get('judge process starts', 0)}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main([Path(p) for p in sys.argv[1:]]))
