"""The judge: one process that checks a whole batch of answers, as data.

``python -I -m logitlab.judging`` reads requests on its standard input, one JSON line each::

    {"chapter": "chapter3", "answers": "/tmp/.../answers", "status": {"3.1": "ok", ...}}

and answers each with one JSON line on its standard output: ``{"3.1": {"passed": ..., "feedback":
..., "missing": ...}, ...}``. It reads the answers the learner's kernel wrote (JSON and ``.npz``
files, with ``allow_pickle=False``: :func:`logitlab.probing.read_outcomes`) and compares them with
its own references (:meth:`logitlab.checking.Question.judge`). No learner code ever runs in this
process, so one judge serves a whole batch (the grader starts it once, not once per notebook);
``-I`` keeps modules a notebook wrote in its folder out of its imports, and it runs in an empty
folder. Each question's judgement has a time limit (``CHECK_SECONDS``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

__all__ = ["CHECK_SECONDS", "Judge", "judge_question"]

CHECK_SECONDS = 20  # the time limit of one question's check (probes in the kernel, judging here)


class _CheckTimeout(BaseException):
    """Raised by the alarm when a check runs too long (BaseException: checks catch Exception)."""


def _alarm(signum, frame):
    raise _CheckTimeout()


def judge_question(question, answer_folder, status):
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


def _serve():
    """The judge process's loop (see the module docstring)."""
    from .exercises import questions

    results = os.fdopen(os.dup(1), "w", encoding="utf-8")  # answers go here, nothing else does
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = open(1, "w", closefd=False)
    signal.signal(signal.SIGALRM, _alarm)
    for line in sys.stdin:
        request = json.loads(line)
        status = request.get("status", {})
        verdicts = {q.id: judge_question(q, request["answers"], status.get(q.id))
                    for q in questions(request["chapter"])}
        results.write(json.dumps(verdicts) + "\n")
        results.flush()
    return 0


class Judge:
    """The grader's handle on one judge process, shared by its threads; restarted if it dies.

    Example:

    >>> judge = Judge()          # doctest: +SKIP
    >>> judge.judge("chapter1", answers_folder, {"1.1": "ok"})   # doctest: +SKIP
    >>> judge.close()            # doctest: +SKIP
    """

    def __init__(self, env=None):
        self._env, self._lock, self._process = env, threading.Lock(), None
        self._folder = tempfile.TemporaryDirectory(prefix="logitlab-judge-")
        self.starts = 0

    def start(self):
        """Start the judge process now (it is started on first use otherwise)."""
        with self._lock:
            if self._process is None:
                self._start()

    def _start(self):
        self.starts += 1
        self._process = subprocess.Popen(
            [sys.executable, "-I", "-m", "logitlab.judging"], cwd=self._folder.name, env=self._env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1,
        )

    def judge(self, chapter, answers, status, questions=()):
        """The verdicts for one notebook, ``{question id: {...}}``; a judge that died is restarted."""
        request = json.dumps({"chapter": chapter, "answers": str(answers), "status": status}) + "\n"
        # A judge that answers nothing in this time is stopped (each question has its alarm; this
        # is for what an alarm cannot interrupt), and the request is not tried again.
        limit = CHECK_SECONDS * (len(questions) + 1) + 60
        with self._lock:
            for _attempt in range(2):
                if self._process is None or self._process.poll() is not None:
                    self._start()
                watchdog = threading.Timer(limit, self._process.kill)
                watchdog.start()
                started = time.monotonic()
                try:
                    self._process.stdin.write(request)
                    self._process.stdin.flush()
                    line = self._process.stdout.readline()
                    if line:
                        return json.loads(line)
                except (OSError, ValueError):
                    pass
                finally:
                    watchdog.cancel()
                self._process.kill()
                self._process.wait()
                self._process = None
                if time.monotonic() - started >= limit:
                    break
        return {q.id: {"passed": False, "feedback": "Not graded: the judge could not check this answer."}
                for q in questions}

    def close(self):
        with self._lock:
            if self._process is not None:
                self._process.stdin.close()
                try:
                    self._process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
                self._process = None
        self._folder.cleanup()


if __name__ == "__main__":
    sys.exit(_serve())
