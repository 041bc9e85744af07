"""Run a learner's answers on a question's inputs and hand back what they gave, as data.

This module holds no checking code: it only calls the learner's functions (or reads the
learner's values) and turns what comes back into plain data, numbers in NumPy arrays, strings
and type names. The checks (:mod:`logitlab.checking`) judge that data, in the notebook for
``ex.qN.check()``, and, when grading, in a process where no learner code ever ran
(:mod:`logitlab.grading`): the grader writes the probes to a file, the learner's kernel runs
them with :func:`answer_file`, and the answers come back in a JSON file and an ``.npz`` file that
the judge reads with ``allow_pickle=False``. Nothing the learner's process produced is ever
unpickled by the judge (unpickling runs code).

A probe is ``{"call": name, "args": [...], "kwargs": {...}, "errstate": {...}}`` (call the
learner's function ``name``) or ``{"value": name}`` (read the learner's value ``name``). Its
arguments are packed with :func:`pack`: numbers and strings as they are, arrays by key into a
dict of arrays, and two markers, :class:`Seeded` (a fresh ``np.random.default_rng(seed)`` at
every call) and :class:`Built` (an object built by a ``logitlab`` function, e.g. a compiled
Keras model). Unpacking always gives fresh copies, so an answer that changes its inputs in place
changes nothing for the next probe, nor for the judge.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

__all__ = ["Built", "Outcome", "Seeded", "answer_file", "opaque", "pack", "pack_probes",
           "read_outcomes", "run", "unpack", "write_atomic", "write_probes"]

MISSING = "missing"  # the name is not defined
RETURNED = "returned"  # the function returned (or the value is) ``value``
RAISED = "raised"  # the function raised ``type_name``: ``message``
INTERRUPTED = "interrupted"  # the call was interrupted (the check's time limit)
NOT_CALLED = "not called"  # an earlier probe of the same question was interrupted


@dataclasses.dataclass(frozen=True)
class Seeded:
    """An argument that is a fresh ``np.random.default_rng(seed)`` at every call."""

    seed: int


@dataclasses.dataclass(frozen=True)
class Built:
    """An argument built by calling ``function`` of the ``logitlab`` module ``module`` on ``args``."""

    module: str
    function: str
    args: tuple = ()

    def build(self):
        if not (self.module == "logitlab" or self.module.startswith("logitlab.")):
            raise ValueError(f"only logitlab builds probe inputs, not {self.module!r}")
        return getattr(importlib.import_module(self.module), self.function)(*self.args)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one probe gave: a kind (see the constants above), a value, a type name, a message."""

    kind: str
    value: object = None  # a NumPy array or a string, when the answer is data
    type_name: str = ""
    message: str = ""

    def to_json(self, key, arrays):
        record = {"kind": self.kind, "type": self.type_name, "message": self.message}
        if isinstance(self.value, np.ndarray):
            arrays[key] = self.value
            record["array"] = key
        elif isinstance(self.value, str):
            record["text"] = self.value
        return record

    @classmethod
    def from_json(cls, record, arrays):
        value = record.get("text")
        if "array" in record:
            value = np.array(arrays[record["array"]], copy=True)
        return cls(str(record["kind"]), value, str(record.get("type", "")), str(record.get("message", "")))


def opaque(type_name):
    """A stand-in for a returned object that is not data: an instance of a class named ``type_name``."""
    return type(str(type_name) or "object", (), {"__repr__": lambda self: f"<{type(self).__name__}>"})()


# -- packing probe arguments ------------------------------------------------------------------

def pack(value, arrays):
    """``value`` as JSON-able data; arrays go into ``arrays`` under a new key."""
    if isinstance(value, (Seeded, Built)):
        kind = "seeded" if isinstance(value, Seeded) else "built"
        fields = dataclasses.asdict(value)
        if isinstance(value, Built):
            fields["args"] = [pack(a, arrays) for a in value.args]
        return {kind: fields}
    if isinstance(value, (np.ndarray, np.generic)):
        key = f"a{len(arrays)}"
        arrays[key] = np.array(value)
        return {"array": key, "scalar": isinstance(value, np.generic)}
    if isinstance(value, (tuple, list)):
        return {"list": [pack(v, arrays) for v in value], "tuple": isinstance(value, tuple)}
    if isinstance(value, dict):
        return {"dict": {str(k): pack(v, arrays) for k, v in value.items()}}
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"plain": value}
    raise TypeError(f"a probe argument must be data, not {type(value).__name__}")


def unpack(packed, arrays):
    """The value :func:`pack` packed, as a fresh object (arrays are copies)."""
    kind = next(k for k in packed if k in ("plain", "array", "list", "dict", "seeded", "built"))
    body = packed[kind]
    if kind == "plain":
        return body
    if kind == "array":
        array = np.array(arrays[body], copy=True)
        return array[()] if packed.get("scalar") else array
    if kind == "list":
        items = [unpack(v, arrays) for v in body]
        return tuple(items) if packed.get("tuple") else items
    if kind == "dict":
        return {k: unpack(v, arrays) for k, v in body.items()}
    if kind == "seeded":
        return np.random.default_rng(int(body["seed"]))
    if kind == "built":
        return Built(body["module"], body["function"], tuple(unpack(a, arrays) for a in body["args"])).build()
    raise ValueError(f"unknown probe argument {kind!r}")


def pack_probes(probes, arrays):
    """``probes`` with their arguments packed (:func:`pack`) into ``arrays``."""
    return [{**p, **{k: pack(p[k], arrays) for k in ("args", "kwargs") if k in p}} for p in probes]


# -- running probes (in the learner's kernel, or in the notebook for check()) ----------------

def _as_data(value):
    """An :class:`Outcome` for a returned value: numbers become an array, a string stays one."""
    type_name = type(value).__name__
    if isinstance(value, str):
        return Outcome(RETURNED, value, type_name)
    if value is None or value is Ellipsis:
        return Outcome(RETURNED, None, type_name)
    try:
        data = value.numpy() if hasattr(value, "numpy") and callable(value.numpy) else value
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            array = np.array(data, copy=True)
    except BaseException:  # noqa: BLE001 - anything that is not numbers is described by its type
        return Outcome(RETURNED, None, type_name)
    if array.dtype.kind not in "biufU":
        return Outcome(RETURNED, None, type_name)
    return Outcome(RETURNED, array, type_name)


def _call(function, probe, arrays):
    args = unpack(probe.get("args", {"list": []}), arrays)
    kwargs = unpack(probe.get("kwargs", {"dict": {}}), arrays)
    settings = {"all": "ignore", **probe.get("errstate", {})}
    with warnings.catch_warnings(), np.errstate(**settings):
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


def run(probes, arrays, namespace):
    """Run ``probes`` against the learner's ``namespace``; returns a list of :class:`Outcome`.

    Never raises for what an answer does; a ``KeyboardInterrupt`` (the grader's time limit) stops
    the probes: the interrupted one and those after it say so.
    """
    outcomes = []
    for index, probe in enumerate(probes):
        name = probe.get("call") or probe.get("value")
        if name not in namespace:
            outcomes.append(Outcome(MISSING))
            continue
        answer = namespace[name]
        if "value" in probe:
            outcomes.append(_as_data(answer))
            continue
        if not callable(answer):
            outcomes.append(Outcome(RETURNED, None, type(answer).__name__, "not callable"))
            continue
        try:
            outcomes.append(_as_data(_call(answer, probe, arrays)))
        except KeyboardInterrupt:
            outcomes.append(Outcome(INTERRUPTED))
            outcomes += [Outcome(NOT_CALLED)] * (len(probes) - index - 1)
            break
        except BaseException as err:  # noqa: BLE001 - SystemExit too: it is the answer's doing
            outcomes.append(Outcome(RAISED, None, type(err).__name__, _message(err)))
    return outcomes


def _message(err):
    try:
        return str(err)[:500]
    except BaseException:  # noqa: BLE001 - a __str__ that raises
        return ""


# -- files: the grader writes probes, the kernel answers, the judge reads --------------------

def write_atomic(path, write):
    """Create ``path`` atomically with ``write(temporary_path)``, with the permissions of the umask."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp creates 0600; a report follows the umask
        os.close(fd)
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _save_arrays(path, arrays):
    def write(tmp):
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
    write_atomic(path, write)


def _save_json(path, data):
    def write(tmp):
        Path(tmp).write_text(json.dumps(data), encoding="utf-8")
    write_atomic(path, write)


def _load_arrays(path):
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def write_probes(folder, probes_by_question):
    """Write ``{question id: [probe, ...]}`` (probes with unpacked arguments) into ``folder``."""
    arrays = {}
    packed = {qid: pack_probes(probes, arrays) for qid, probes in probes_by_question.items()}
    _save_arrays(Path(folder) / "probes.npz", arrays)
    _save_json(Path(folder) / "probes.json", packed)


def answer_file(probe_folder, answer_folder, qid, namespace=None):
    """Run question ``qid``'s probes against the learner's namespace; write what they gave.

    This is what the grader runs in the learner's kernel. It writes ``answer_folder/<qid>.json``
    and ``<qid>.npz``, data only.
    """
    namespace = vars(sys.modules["__main__"]) if namespace is None else namespace
    probes = json.loads((Path(probe_folder) / "probes.json").read_text(encoding="utf-8"))[qid]
    arrays = _load_arrays(Path(probe_folder) / "probes.npz")
    outcomes = run(probes, arrays, namespace)
    found = {}
    records = [o.to_json(f"o{i}", found) for i, o in enumerate(outcomes)]
    _save_arrays(Path(answer_folder) / f"{qid}.npz", found)
    _save_json(Path(answer_folder) / f"{qid}.json", records)


def read_outcomes(answer_folder, qid, count):
    """The judge's side: read ``count`` outcomes of question ``qid``, or raise ValueError.

    Only JSON and ``.npz`` files without pickles are read; anything malformed is refused.
    """
    try:
        records = json.loads((Path(answer_folder) / f"{qid}.json").read_text(encoding="utf-8"))
        arrays = _load_arrays(Path(answer_folder) / f"{qid}.npz")
        if not isinstance(records, list) or len(records) != count:
            raise ValueError("the answers do not match the question's probes")
        outcomes = []
        for record in records:
            outcome = Outcome.from_json(record, arrays)
            if outcome.kind not in (MISSING, RETURNED, RAISED, INTERRUPTED, NOT_CALLED):
                raise ValueError(f"unknown outcome {outcome.kind!r}")
            if isinstance(outcome.value, np.ndarray) and outcome.value.dtype.kind not in "biufU":
                raise ValueError("an answer is not numbers")
            outcomes.append(outcome)
        return outcomes
    except ValueError:
        raise
    except Exception as err:  # noqa: BLE001 - a missing or damaged file
        raise ValueError(f"{type(err).__name__}: {err}") from None
