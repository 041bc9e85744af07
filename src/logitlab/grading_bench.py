"""How fast the grader is: ``make bench-grading`` (``python -m logitlab.grading_bench``).

For each chapter, ``--copies`` copies of its solution notebook are graded with ``--jobs``
notebooks at once, and the same copies are executed once each with nbclient
(:func:`logitlab.execution.execute_notebook`, a fresh kernel per notebook, ``--jobs`` at once) in
the same run: the baseline. It prints, per chapter, the seconds per notebook of each (wall time
divided by the number of notebooks) and their ratio, then the whole batch graded at once and the
time a class of ``--learners`` learners would take at that rate, and the load average of the
machine (it is shared: the ratios, measured in the same run, are what to compare).

With ``--profile`` the grader's own breakdown (waiting for a kernel, running the notebook,
running the probes, judging) is printed as well.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]


def _solutions(folder):
    return sorted(Path(folder).glob("0*.ipynb"))


def _copies(source, target, copies):
    target.mkdir(parents=True, exist_ok=True)
    return [shutil.copyfile(source, target / f"learner{i:03d}_{source.name}") for i in range(copies)]


def _execute_all(paths, jobs):
    from .execution import execute_notebook

    def one(path):
        nb = nbformat.read(path, as_version=4)
        execute_notebook(nb, Path(path).parent, timeout=600, allow_errors=True)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(one, paths))
    return time.perf_counter() - start


def _grade_all(paths, jobs, profile):
    from .grading import grade_paths

    start = time.perf_counter()
    grades = grade_paths(paths, jobs=jobs, progress=False, **({"profile": profile} if profile is not None else {}))
    seconds = time.perf_counter() - start
    wrong = [g.path for g in grades if g.error or g.score != g.max_score]
    if wrong:
        raise SystemExit(f"the solutions did not all score full marks: {wrong}")
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m logitlab.grading_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--solutions", type=Path, default=ROOT / "solutions")
    parser.add_argument("--copies", type=int, default=4, help="notebooks per chapter (default: 4)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks at once (default: 2)")
    parser.add_argument("--learners", type=int, default=100, help="class size to extrapolate to (default: 100)")
    parser.add_argument("--profile", action="store_true", help="print the grader's own breakdown")
    parser.add_argument("--chapters", default="", help="comma-separated chapter numbers (default: all)")
    args = parser.parse_args(argv)
    sources = _solutions(args.solutions)
    if args.chapters:
        wanted = {int(c) for c in args.chapters.split(",")}
        sources = [s for s in sources if int(s.name[:2]) in wanted]
    profile = {} if args.profile else None
    rows = []
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory(prefix="logitlab-bench-") as folder:
        folder = Path(folder)
        everything = []
        for source in sources:
            paths = _copies(source, folder / source.stem, args.copies)
            everything += paths
            executed = _execute_all(paths, args.jobs) / len(paths)
            graded = _grade_all(paths, args.jobs, profile) / len(paths)
            rows.append((source.stem, executed, graded))
            print(f"  {source.stem:22} nbclient {executed:6.2f} s/notebook   grade {graded:6.2f} s/notebook"
                  f"   ratio {graded / executed:5.2f}", flush=True)
        batch = _grade_all(everything, args.jobs, profile)
    per_notebook = batch / len(everything)
    class_minutes = per_notebook * args.learners * len(sources) / 60
    print()
    print(f"{'chapter':22} {'nbclient s/nb':>13} {'grade s/nb':>11} {'ratio':>6}")
    for stem, executed, graded in rows:
        print(f"{stem:22} {executed:13.2f} {graded:11.2f} {graded / executed:6.2f}")
    executed = sum(r[1] for r in rows) / len(rows)
    graded = sum(r[2] for r in rows) / len(rows)
    print(f"{'mean':22} {executed:13.2f} {graded:11.2f} {graded / executed:6.2f}")
    print()
    print(f"whole batch ({len(everything)} notebooks, {len(sources)} chapters mixed, --jobs {args.jobs}): "
          f"{batch:.1f} s, {per_notebook:.2f} s per notebook")
    print(f"a class of {args.learners} learners x {len(sources)} chapters at that rate: {class_minutes:.1f} minutes")
    if profile:
        print()
        print("grader breakdown (seconds summed over notebooks, all runs):")
        for key, seconds in sorted(profile.items()):
            print(f"  {key:28} {seconds:8.1f}")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
