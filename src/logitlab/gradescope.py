"""A Gradescope autograder for one chapter: ``logitlab autograder CHAPTER --output autograder.zip``.

The zip holds what Gradescope runs (its root is unpacked into ``/autograder/source``):

- ``setup.sh``: installs the course package from the copy of its source in the zip
  (``course/``), so the autograder checks answers exactly as this version of the course does,
  and the course's Jupyter kernel spec when the course has one;
- ``run_autograder``: grades ``/autograder/submission/*.ipynb`` (``python3 -m logitlab.gradescope``)
  and writes ``/autograder/results/results.json`` in Gradescope's format: the ``score``, and one
  test per question with its ``name``, ``score``, ``max_score`` and the feedback as ``output``.

``AUTOGRADER_ROOT`` (default ``/autograder``) and ``AUTOGRADER_PYTHON`` (default ``python3``)
move both scripts elsewhere: the tests run ``run_autograder`` against a local copy of that layout.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
import zipfile
from pathlib import Path

__all__ = ["build_autograder", "results_json", "run"]

ROOT = Path(__file__).resolve().parents[2]
SOURCE_FILES = ("pyproject.toml", "README.md", "LICENSE")

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, when the autograder image is built.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${AUTOGRADER_PYTHON:-python3}"
"$PYTHON" -m pip install --upgrade pip
"$PYTHON" -m pip install "$ROOT/source/course"
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for each submission: grade it, write results/results.json.
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{AUTOGRADER_PYTHON:-python3}}"
cd "$ROOT"
exec "$PYTHON" -m logitlab.gradescope --chapter {chapter} --root "$ROOT"
"""


def _source_files(root):
    """The files of the course package's source to ship: its project files and ``src/logitlab``."""
    root = Path(root)
    missing = [name for name in SOURCE_FILES if not (root / name).is_file()]
    if missing or not (root / "src" / "logitlab").is_dir():
        raise FileNotFoundError(
            f"the course's source is not at {root} (missing: {', '.join(missing) or 'src/logitlab'}); "
            "build the autograder from a checkout of the course (pip install -e .)")
    files = [root / name for name in SOURCE_FILES]
    files += sorted(p for p in (root / "src" / "logitlab").rglob("*")
                    if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    return [(p, p.relative_to(root).as_posix()) for p in files]


def build_autograder(chapter, output, root=ROOT):
    """Write the autograder zip of ``chapter`` (``"chapter3"`` or ``"3"``) to ``output``; return its path."""
    from .exercises import CHAPTERS, questions

    chapter = chapter if str(chapter).startswith("chapter") else f"chapter{int(chapter)}"
    if chapter not in CHAPTERS:
        raise ValueError(f"unknown chapter {chapter!r}: use one of {', '.join(sorted(CHAPTERS))}")
    questions(chapter)  # it must load
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)

    def add(archive, name, text, executable=False):
        info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, text)

    with zipfile.ZipFile(output, "w") as archive:
        add(archive, "setup.sh", SETUP, executable=True)
        add(archive, "run_autograder", RUN.format(chapter=chapter), executable=True)
        for path, name in _source_files(root):
            add(archive, f"course/{name}", path.read_bytes())
    return output


def results_json(grades, chapter):
    """Gradescope's ``results.json`` for the notebooks graded in one submission (the best counts)."""
    from .exercises import questions

    mine = [g for g in grades if g.chapter == chapter]
    others = [g for g in grades if g.chapter != chapter]
    if not mine:
        found = ", ".join(Path(g.path).name for g in grades) or "no notebook"
        qs = questions(chapter)
        return {"score": 0, "output": f"No exercise notebook of {chapter} was found in the submission ({found}). "
                "Submit the exercise notebook (.ipynb) of this chapter.",
                "tests": [{"name": f"{q.id} {q.title}", "score": 0, "max_score": q.points,
                           "output": "Not graded: no notebook of this chapter was submitted."} for q in qs]}
    best = max(mine, key=lambda g: g.score)
    titles = {q.id: q.title for q in questions(chapter)}
    tests = [{"name": f"{q.id} {titles.get(q.id, '')}".strip(), "score": q.points, "max_score": q.max_points,
              "output": q.feedback, "status": "passed" if q.passed else "failed"} for q in best.questions]
    output = [f"Graded {Path(best.path).name}: {best.score:g} / {best.max_score:g}."]
    if best.error:
        output.append(f"It could not be graded: {best.error}")
    output += [f"Note: {note}" for note in best.notes]
    if len(mine) > 1:
        output.append(f"{len(mine)} notebooks of {chapter} were submitted; the best one counts.")
    if others:
        output.append("Not graded here (not a notebook of this chapter): " + ", ".join(Path(g.path).name for g in others))
    return {"score": best.score, "output": "\n".join(output), "tests": tests}


def run(chapter, root, timeout=300):
    """Grade ``root/submission`` and write ``root/results/results.json``; returns its content."""
    from .grading import grade_paths
    from .probing import write_atomic

    root = Path(root)
    submission = root / "submission"
    grades = grade_paths([submission], timeout=timeout, progress=False) if any(submission.rglob("*.ipynb")) else []
    results = results_json(grades, chapter)
    (root / "results").mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2) + "\n"
    write_atomic(root / "results" / "results.json", lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m logitlab.gradescope", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chapter", required=True)
    parser.add_argument("--root", type=Path, default=Path(os.environ.get("AUTOGRADER_ROOT", "/autograder")))
    parser.add_argument("--timeout", type=int, default=300)
    args = parser.parse_args(argv)
    results = run(args.chapter, args.root, timeout=args.timeout)
    print(f"score {results['score']:g}; results written to {args.root / 'results' / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
