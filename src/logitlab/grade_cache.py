"""Grades remembered between runs, so that grading a folder again only grades what changed.

A grade is stored under a key made of the notebook's content (its SHA-256) and the *course
version*: the package version and a hash of the grader's and the questions' own source files. A
new or edited notebook, or a new version of the course, of its questions or of the grader, is
graded again; an unchanged notebook is not. The cache is one JSON file (``grades-cache.json``)
in the cache folder, written atomically.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from pathlib import Path

__all__ = ["CACHE_FILE", "GradeCache", "course_version"]

CACHE_FILE = "grades-cache.json"


@functools.lru_cache(maxsize=1)
def course_version():
    """The package version and a hash of every source file that decides a grade.

    Example:

    >>> course_version().startswith("0.")
    True
    """
    from . import __version__

    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".json") and "__pycache__" not in path.parts:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{__version__}+{digest.hexdigest()[:16]}"


class GradeCache:
    """The grades of notebooks graded before, by content and course version.

    Args:
        folder: Where the cache file lives (created when missing).
        settings: Anything else a grade depends on (the time limit): part of the key.
    """

    def __init__(self, folder, settings=()):
        self.path = Path(folder) / CACHE_FILE
        self.settings = json.dumps(list(settings))
        self._lock = threading.Lock()
        self.hits = 0
        try:
            stored = json.loads(self.path.read_text(encoding="utf-8"))
            self._grades = stored["grades"] if stored.get("format") == 1 else {}
        except (OSError, ValueError, KeyError, TypeError):
            self._grades = {}  # no cache yet, or a damaged one: grade again

    def key(self, data):
        return hashlib.sha256(course_version().encode() + b"\0" + self.settings.encode() + b"\0" + data).hexdigest()

    def get(self, data, path):
        """The stored grade of a notebook with content ``data`` (reported under ``path``), or None."""
        from .grading import NotebookGrade

        with self._lock:
            stored = self._grades.get(self.key(data))
        if stored is None:
            return None
        self.hits += 1
        return NotebookGrade.from_json({**stored, "path": str(path)})

    def put(self, data, grade):
        """Remember ``grade``, the grade of a notebook with content ``data``."""
        with self._lock:
            self._grades[self.key(data)] = grade.to_json()

    def save(self):
        from .probing import write_atomic

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            text = json.dumps({"format": 1, "grades": self._grades}, sort_keys=True)
        write_atomic(self.path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
