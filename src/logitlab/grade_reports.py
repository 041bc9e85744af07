"""The grader's reports: the text table, JSON, the per-question CSV, the gradebook, feedback files.

Every file is written atomically, with the permissions the umask gives a new file.

The *gradebook* (``--gradebook FILE``) has one row per learner and one column per chapter, then
the total; rows are sorted by learner. The learner of a notebook is found from the path of the
notebook relative to the folder given on the command line (:func:`learner_of`), by ``learner_from``:

- ``folder``: the first folder under it (``class/alice/03_cross_entropy.ipynb`` gives ``alice``);
  a notebook directly in it gives its file name up to the first ``_``, ``-`` or ``.``;
- ``file-stem``: the file name up to the first ``_``, ``-`` or ``.`` (``alice_03.ipynb`` gives ``alice``);
- ``regex:PATTERN``: the group named ``learner`` of ``PATTERN``, else its first group, else the
  whole match, searched in that relative path (``regex:^(\\w+)@`` for ``alice@example.org/...``).

A learner with several notebooks of one chapter gets the best of their scores. A notebook whose
learner cannot be found is left out of the gradebook and named in a warning.

The *feedback* files (``--feedback DIR``) are HTML, one per notebook, named after its path: the
score, each question's verdict and feedback, the notes of what happened, and the learner's own
answer cells. Everything in them that comes from the notebook or the grader is escaped.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from pathlib import Path

from .exercises import CHAPTERS

__all__ = ["format_notebook", "format_summary", "learner_of", "write_csv", "write_feedback",
           "write_gradebook", "write_json"]


def _write_atomic(path, text):
    """Write ``text`` to ``path`` atomically, with the permissions the umask gives a new file."""
    from .probing import write_atomic

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8", newline=""))


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



# -- the gradebook ----------------------------------------------------------------------------

LEARNER_FROM = ("folder", "file-stem", "regex:PATTERN")


def _stem_key(name):
    return re.split(r"[_.\-]", name, maxsplit=1)[0]


def learner_of(path, root, learner_from="folder"):
    """The learner a notebook belongs to (see the module docstring), or None.

    Args:
        path: The notebook's path.
        root: The folder (or file) given on the command line that holds it.
        learner_from: ``"folder"``, ``"file-stem"`` or ``"regex:PATTERN"``.

    Returns:
        The learner's key, a non-empty string, or None when it cannot be found.

    Example:

    >>> learner_of("class/alice/03_cross_entropy.ipynb", "class")
    'alice'
    >>> learner_of("class/bob_03_cross_entropy.ipynb", "class", "file-stem")
    'bob'
    >>> learner_of("class/c.d@uni.org-03.ipynb", "class", r"regex:^(.+@[\\w.]+)-")
    'c.d@uni.org'
    """
    path, root = Path(path), Path(root)
    try:
        relative = path.relative_to(root) if root != path else Path(path.name)
    except ValueError:
        relative = Path(path.name)
    if learner_from == "folder":
        key = relative.parts[0] if len(relative.parts) > 1 else _stem_key(relative.name)
    elif learner_from == "file-stem":
        key = _stem_key(relative.name)
    elif learner_from.startswith("regex:"):
        found = re.search(learner_from[len("regex:"):], relative.as_posix())
        if found is None:
            return None
        key = found.group("learner") if "learner" in found.re.groupindex else (found.group(1) if found.re.groups else found.group(0))
    else:
        raise ValueError(f"learner_from={learner_from!r}: use one of {', '.join(LEARNER_FROM)}")
    return key or None


def check_learner_from(value):
    """``value`` if it is a valid ``--learner-from``, else a ValueError that says the choices."""
    if value in ("folder", "file-stem"):
        return value
    if value.startswith("regex:"):
        try:
            re.compile(value[len("regex:"):])
        except re.error as err:
            raise ValueError(f"--learner-from {value!r}: the pattern does not compile ({err})") from None
        return value
    raise ValueError(f"--learner-from {value!r}: use one of {', '.join(LEARNER_FROM)}")


def gradebook_rows(grades, learners):
    """The gradebook as ``(header, rows)``; ``learners`` maps a notebook path to its learner."""
    chapters = sorted(CHAPTERS, key=lambda c: int(c[len("chapter"):]))
    best = {}
    for g in grades:
        learner = learners.get(g.path)
        if learner is None or not g.counted:
            continue
        row = best.setdefault(learner, {})
        row[g.chapter] = max(row.get(g.chapter, g.score), g.score)
    header = ["learner", *chapters, "total"]
    rows = []
    for learner in sorted(best):
        scores = best[learner]
        rows.append([learner, *(_fmt(scores[c]) if c in scores else "" for c in chapters),
                     _fmt(sum(scores.values()))])
    return header, rows


def write_gradebook(grades, learners, path):
    """Write the gradebook CSV (see the module docstring) to ``path``."""
    header, rows = gradebook_rows(grades, learners)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    _write_atomic(path, buffer.getvalue())


# -- feedback files ---------------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #1b1b1b; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #ccc; padding: .4rem .6rem; text-align: left; vertical-align: top; }
td.verdict.passed { color: #0a6b2d; font-weight: 600; } td.verdict.failed { color: #a3160b; font-weight: 600; }
pre { background: #f5f5f5; padding: .6rem; overflow-x: auto; white-space: pre-wrap; }
.feedback { white-space: pre-wrap; }
"""


def feedback_name(path, root):
    """The feedback file's name for a notebook: its path under ``root``, ``/`` as ``__``, ``.html``."""
    path, root = Path(path), Path(root)
    try:
        relative = path.relative_to(root) if root != path else Path(path.name)
    except ValueError:
        relative = Path(path.name)
    return "__".join(relative.with_suffix("").parts) + ".html"


def _answer_cells(path, grade):
    """``{question id: [cell source, ...]}``: the learner's cells that define each question's answer."""
    import nbformat

    from .exercises import questions
    from .grading import _defining_cell

    try:
        nb = nbformat.read(path, as_version=4)  # read only: the submitted file is never changed
        by_id = {q.id: q for q in questions(grade.chapter)}
    except Exception:  # noqa: BLE001 - an unreadable notebook has no answers to show
        return {}
    found = {}
    for q in grade.questions:
        question = by_id.get(q.id)
        cells = sorted({i for name in (question.answer_names if question else ())
                        if (i := _defining_cell(nb, name)) is not None})
        found[q.id] = [nb.cells[i].source for i in cells]
    return found


def feedback_html(grade, answers=None):
    """One notebook's feedback as a standalone HTML page (every piece of text escaped)."""
    e = html.escape
    answers = answers or {}
    title = f"Feedback: {Path(grade.path).name}"
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{e(title)}</title><style>{_STYLE}</style></head><body>",
             f"<h1>{e(title)}</h1>",
             f"<p>Chapter: {e(grade.chapter or 'unknown')}. Score: <strong>{e(_fmt(grade.score))} / "
             f"{e(_fmt(grade.max_score))}</strong></p>"]
    if grade.error:
        parts.append(f'<p class="error"><strong>This notebook could not be graded:</strong> {e(grade.error)}</p>')
    if grade.questions:
        parts.append('<h2>Questions</h2><table><thead><tr><th scope="col">Question</th><th scope="col">Result</th>'
                     '<th scope="col">Points</th><th scope="col">Feedback</th></tr></thead><tbody>')
        for q in grade.questions:
            verdict = "passed" if q.passed else "failed"
            parts.append(f'<tr><td>{e(q.id)}</td><td class="verdict {verdict}">{verdict}</td>'
                         f"<td>{e(_fmt(q.points))} / {e(_fmt(q.max_points))}</td>"
                         f'<td class="feedback">{e(q.feedback)}</td></tr>')
        parts.append("</tbody></table>")
    if grade.notes:
        parts.append("<h2>What happened when your notebook ran</h2><ul>")
        parts += [f"<li>{e(note)}</li>" for note in grade.notes]
        parts.append("</ul>")
    if grade.questions:
        parts.append("<h2>Your answers</h2>")
        for q in grade.questions:
            parts.append(f"<h3>Question {e(q.id)}</h3>")
            cells = answers.get(q.id) or []
            if not cells:
                parts.append("<p>No cell of your notebook defines this answer.</p>")
            parts += [f"<pre><code>{e(source)}</code></pre>" for source in cells]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_feedback(grades, roots, folder):
    """Write one feedback file per notebook into ``folder``; ``roots`` maps a path to its root.

    Returns the paths written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for grade in grades:
        target = folder / feedback_name(grade.path, roots.get(grade.path, Path(grade.path).parent))
        answers = _answer_cells(grade.path, grade) if grade.chapter else {}
        _write_atomic(target, feedback_html(grade, answers))
        written.append(target)
    return written
