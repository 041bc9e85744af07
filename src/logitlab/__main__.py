"""The ``logitlab`` command (also ``python -m logitlab``).

  logitlab standalone PATH...    make notebooks run anywhere (setup cell, python3 kernel, links)
  logitlab execute PATH...       the same, then re-run them in a fresh kernel, storing their outputs
  logitlab exercises [--check]   generate exercises/ from solutions/ (or check it is up to date)
  logitlab grade PATH...         grade exercise notebooks (files or folders) and print a score table
  logitlab autograder CHAPTER    build a Gradescope autograder zip for one chapter
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _parser():
    parser = argparse.ArgumentParser(
        prog="logitlab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    standalone = commands.add_parser(
        "standalone",
        help="make notebooks run wherever they are opened: the setup cell first (made from "
        "_config.yml), the python3 kernel, Markdown links, glue from logitlab",
    )
    standalone.add_argument("paths", nargs="+", type=Path, help="notebooks or folders of notebooks")
    standalone.add_argument("--check", action="store_true", help="only list the notebooks it would change")

    execute = commands.add_parser("execute", help="re-run notebooks and store their outputs")
    execute.add_argument("paths", nargs="+", type=Path, help="notebooks or folders of notebooks")
    execute.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")

    exercises = commands.add_parser("exercises", help="generate exercises/ from solutions/")
    exercises.add_argument("--solutions", type=Path, default=Path("solutions"))
    exercises.add_argument("--exercises", type=Path, default=Path("exercises"))
    exercises.add_argument("--check", action="store_true", help="only report stale exercises")
    exercises.add_argument("--all", action="store_true", help="rewrite every exercise, not only stale ones")

    grade = commands.add_parser(
        "grade", help="grade exercise notebooks: run each in a fresh kernel and check every question"
    )
    grade.add_argument("paths", nargs="+", type=Path, help="exercise notebooks or folders of them")
    grade.add_argument("--timeout", type=int, default=120, metavar="SECONDS",
                       help="time limit for running one notebook (default: 120)")
    grade.add_argument("--json", type=Path, default=None, metavar="FILE", help="write the results as JSON")
    grade.add_argument("--csv", type=Path, default=None, metavar="FILE",
                       help="write a CSV with a row per notebook and question")
    grade.add_argument("--jobs", type=int, default=1, metavar="N", help="grade N notebooks at once (default: 1)")
    grade.add_argument("--cache", type=Path, default=None, metavar="DIR",
                       help="remember grades here; an unchanged notebook is not graded again "
                            "(default: .logitlab-cache next to the first report asked for)")
    grade.add_argument("--redo", "--all", dest="redo", action="store_true",
                       help="grade every notebook again, even those unchanged since the cache has them")
    grade.add_argument("--feedback", type=Path, default=None, metavar="DIR",
                       help="write one HTML feedback file per notebook into DIR")
    grade.add_argument("--gradebook", type=Path, default=None, metavar="FILE",
                       help="write a CSV with a row per learner and a column per chapter")
    grade.add_argument("--learner-from", default="folder", metavar="{folder,file-stem,regex:PATTERN}",
                       help="how the gradebook finds a notebook's learner: its first folder under the path "
                            "given (default), its file name up to the first _ - or ., or a regex's group")
    grade.add_argument("--profile", action="store_true",
                       help="print where the time went, per chapter and step")

    autograder = commands.add_parser("autograder", help="build a Gradescope autograder zip for one chapter")
    autograder.add_argument("chapter", help="the chapter: 3 or chapter3")
    autograder.add_argument("--output", type=Path, default=Path("autograder.zip"), metavar="ZIP",
                            help="where to write the zip (default: autograder.zip)")
    return parser


def _notebooks(paths):
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        else:
            yield path


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.command == "standalone":
        from .authoring import set_up_files

        changed = set_up_files(list(_notebooks(args.paths)), check=args.check)
        for path in changed:
            print(f"{path}: {'out of date' if args.check else 'updated (execute it to store its outputs)'}")
        if args.check and changed:
            print("Run `logitlab execute` on them (or `logitlab standalone`, then execute them).")
        return 1 if args.check and changed else 0
    if args.command == "execute":
        from .execution import execute_file

        for path in _notebooks(args.paths):
            seconds = execute_file(path, timeout=args.timeout)
            print(f"{path}: executed in {seconds:.1f} s")
        return 0
    if args.command == "exercises":
        from .authoring import build_exercises, stale_exercises

        if args.check:
            problems = stale_exercises(args.solutions, args.exercises)
            for problem in problems:
                print(problem)
            if problems:
                print("Run `logitlab exercises` (or `make exercises`) to regenerate them.")
            return 1 if problems else 0
        for path, seconds in build_exercises(args.solutions, args.exercises, only_stale=not args.all):
            print(f"{path}: generated and executed in {seconds:.1f} s")
        return 0
    if args.command == "grade":
        from .grading import main as grade_main

        try:
            return grade_main(args.paths, timeout=args.timeout, json_path=args.json, csv_path=args.csv,
                              jobs=args.jobs, cache_dir=args.cache, redo=args.redo, feedback_dir=args.feedback,
                              gradebook_path=args.gradebook, learner_from=args.learner_from,
                              profile=args.profile)
        except ValueError as err:  # a bad --learner-from
            print(f"logitlab grade: error: {err}", file=sys.stderr)
            return 2
    if args.command == "autograder":
        from .gradescope import build_autograder

        try:
            path = build_autograder(args.chapter, args.output)
        except (ValueError, FileNotFoundError) as err:
            print(f"logitlab autograder: error: {err}", file=sys.stderr)
            return 2
        print(f"wrote {path}: upload it as the autograder of {args.chapter} on Gradescope")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
