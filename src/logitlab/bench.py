"""Benchmarks of logitlab's helpers, each printed as a ratio against its baseline from one run.

``make bench`` (``python -m logitlab.bench``) times, on one machine and in one run:

- :func:`logitlab.top_k_filter` against a full ``np.argsort`` and against ``tf.math.top_k``;
- :func:`logitlab.top_p_filter` against the same filter written with a full stable sort;
- :func:`logitlab.sparse_categorical_crossentropy` against TensorFlow's fused
  ``tf.nn.sparse_softmax_cross_entropy_with_logits``;
- :func:`logitlab.large_vocab.linear_cross_entropy` (forward and backward) against the plain loss
  on ``hidden @ kernel``;

and measures peak memory (:func:`measure_memory`): each loss runs in a fresh Python process whose
peak resident set size is read from the operating system (``/proc/self/status`` on Linux, with the
peak reset before each measurement; ``getrusage`` elsewhere, one process per measurement). Large
blocks are returned to the operating system as soon as they are freed (``MALLOC_MMAP_THRESHOLD_``),
so what is measured is what the computation holds at its peak. Chapter 6 draws its memory figure
with the same function.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from .notebook import TENSORFLOW_ENV

__all__ = ["best_time", "measure_memory", "memory_report", "speed_report", "main"]

#: The losses :func:`measure_memory` knows: the plain loss on the logits ``hidden @ kernel``, the
#: chunked :func:`~logitlab.large_vocab.linear_cross_entropy`, and logitlab's NumPy sparse loss.
LOSSES = ("plain", "chunked", "numpy")

_CLEAR_REFS = "/proc/self/clear_refs"
_MIB = 2**20


def best_time(fn, repeat=3):
    """The shortest of ``repeat`` timings of ``fn()`` in seconds, after one untimed warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


# ------------------------------------------------------------------------------ peak memory


def _status():
    """Current and peak resident set size of this process, in bytes (Linux)."""
    values = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) * 1024
    return values["VmRSS"], values["VmHWM"]


def _can_reset_peak():
    try:
        with open(_CLEAR_REFS, "w") as handle:
            handle.write("5")  # resets the peak resident set size to the current one
        return True
    except OSError:
        return False


def _max_resident_bytes():
    """The peak resident set size of this process so far (``getrusage``: KiB on Linux, bytes on macOS)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)


def _loss_step(loss, tokens, width, vocabulary_size, chunk_size, backward, seed=0):
    """Inputs for one measurement and a function that runs the loss on them (and its gradients)."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    if loss == "numpy":
        from .numerics import sparse_categorical_crossentropy

        logits = rng.standard_normal((tokens, vocabulary_size), dtype=np.float32)
        labels = rng.integers(0, vocabulary_size, tokens)
        return lambda: sparse_categorical_crossentropy(labels, logits, from_logits=True)

    from .large_vocab import linear_cross_entropy

    hidden = tf.constant(rng.standard_normal((tokens, width), dtype=np.float32))
    kernel = tf.constant(rng.standard_normal((width, vocabulary_size), dtype=np.float32) / np.float32(np.sqrt(width)))
    labels = tf.constant(rng.integers(0, vocabulary_size, tokens))

    def forward(h, w):
        if loss == "plain":
            return tf.nn.sparse_softmax_cross_entropy_with_logits(labels, tf.matmul(h, w))
        return linear_cross_entropy(h, w, labels, chunk_size=chunk_size)

    @tf.function
    def step(h, w):
        if not backward:
            return tf.reduce_sum(forward(h, w)), ()
        with tf.GradientTape() as tape:
            tape.watch([h, w])
            total = tf.reduce_sum(forward(h, w))
        return total, tape.gradient(total, [h, w])

    def run():
        total, gradients = step(hidden, kernel)
        return float(total) + sum(float(tf.reduce_sum(g)) for g in gradients)

    return run


def _measure_in_this_process(configs, reset_peak):
    """Run each measurement and return each one's peak memory above what was held before it."""
    import gc

    results = []
    for config in configs:
        run = _loss_step(**config)
        if reset_peak:
            run()  # trace the function and load the kernels once, outside the measurement
        else:  # the peak cannot be reset: warm up on a small problem, so as not to raise it
            _loss_step(**{**config, "tokens": 8, "vocabulary_size": min(64, config["vocabulary_size"])})()
        gc.collect()
        if reset_peak:
            _can_reset_peak()
            before, _ = _status()
        else:
            before = _max_resident_bytes()
        start = time.perf_counter()
        run()
        seconds = time.perf_counter() - start
        peak = _status()[1] if reset_peak else _max_resident_bytes()
        results.append({**config, "peak_bytes": max(0, peak - before), "seconds": seconds})
        del run
    return results


def _worker_environment():
    env = dict(os.environ, **TENSORFLOW_ENV)
    # glibc returns blocks of 64 KiB and more to the system when they are freed, so a peak
    # measured after an earlier, larger computation is not hidden by memory kept for reuse.
    env["MALLOC_MMAP_THRESHOLD_"] = str(64 * 1024)
    return env


def _run_worker(configs, reset_peak):
    command = [sys.executable, "-m", "logitlab.bench", "--worker", json.dumps({"configs": configs, "reset_peak": reset_peak})]
    done = subprocess.run(command, capture_output=True, text=True, env=_worker_environment(), check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the memory measurement failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_memory(losses, vocabulary_sizes, *, tokens=1024, width=128, chunk_size=4096, backward=True):
    """Peak memory of losses over ``tokens`` rows as the vocabulary grows, measured in a subprocess.

    Args:
        losses: Names from :data:`LOSSES`: ``"plain"`` (the logits ``hidden @ kernel`` and
            ``tf.nn.sparse_softmax_cross_entropy_with_logits``), ``"chunked"``
            (:func:`~logitlab.large_vocab.linear_cross_entropy`) or ``"numpy"``
            (:func:`logitlab.sparse_categorical_crossentropy` on given logits).
        vocabulary_sizes: The values of V to measure.
        tokens: N, the rows of ``hidden`` (tokens in a batch).
        width: d, the width of the hidden states.
        chunk_size: The chunked loss's vocabulary columns per chunk.
        backward: Whether to compute the gradients with respect to ``hidden`` and ``kernel`` too.

    Returns:
        A list of dicts, one per (loss, V): the configuration, ``peak_bytes`` (the peak resident
        memory above what the process held before the call, inputs included in the latter) and
        ``seconds`` (one call; on Linux after a first, untimed one that traced the function).
    """
    configs = [
        {
            "loss": loss,
            "tokens": tokens,
            "width": width,
            "vocabulary_size": int(v),
            "chunk_size": chunk_size,
            "backward": backward,
        }
        for v in vocabulary_sizes
        for loss in losses
    ]
    if sys.platform.startswith("linux") and _can_reset_peak():
        return _run_worker(configs, reset_peak=True)
    return [result for config in configs for result in _run_worker([config], reset_peak=False)]


# ---------------------------------------------------------------------------------- reports


def _top_p_by_full_sort(logits, p):
    """The baseline top-p filter: a stable sort of the whole vocabulary (logitlab's former code)."""
    from .numerics import softmax

    x = np.asarray(logits)
    probs = softmax(x.astype(np.float64))
    order = np.argsort(-x, axis=-1, kind="stable")
    sorted_probs = np.take_along_axis(probs, order, axis=-1)
    mass_before = np.cumsum(sorted_probs, axis=-1) - sorted_probs
    keep = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(keep, order, mass_before < p - 1e-9, axis=-1)
    return np.where(keep, x, x.dtype.type(-np.inf))


def _line(name, seconds, baseline, baseline_seconds):
    return f"{name:<44} {seconds:8.4f} s   {baseline:<38} {baseline_seconds:8.4f} s   ratio {baseline_seconds / seconds:6.2f}x"


def speed_report(print_fn=print):
    """Time each helper against its baselines and print one line per pair (larger ratio: faster)."""
    import tensorflow as tf

    from . import sampling
    from .large_vocab import linear_cross_entropy
    from .numerics import sparse_categorical_crossentropy

    rng = np.random.default_rng(0)
    logits = rng.standard_normal((256, 50_000), dtype=np.float32)
    tensor = tf.constant(logits)
    top_k = best_time(lambda: sampling.top_k_filter(logits, 50))
    print_fn("Speed (best of 3; ratio = baseline time / logitlab time)")
    print_fn(_line("top_k_filter 256 x 50,000, k=50", top_k, "full np.argsort (stable)", best_time(lambda: np.argsort(-logits, axis=-1, kind="stable"))))
    print_fn(_line("top_k_filter 256 x 50,000, k=50", top_k, "tf.math.top_k", best_time(lambda: tf.math.top_k(tensor, 50)[0].numpy())))
    for scale in (1.0, 4.0):
        x = logits * np.float32(scale)
        name = f"top_p_filter 256 x 50,000 N(0,{scale:g}^2), p=0.9"
        print_fn(_line(name, best_time(lambda: sampling.top_p_filter(x, 0.9)), "full stable sort", best_time(lambda: _top_p_by_full_sort(x, 0.9))))

    big = rng.standard_normal((4096, 32_000), dtype=np.float32)
    labels = rng.integers(0, 32_000, 4096)
    big_tensor, label_tensor = tf.constant(big), tf.constant(labels)
    print_fn(
        _line(
            "sparse_categorical_crossentropy 4096 x 32,000",
            best_time(lambda: sparse_categorical_crossentropy(labels, big, from_logits=True)),
            "tf.nn.sparse_softmax_cross_entropy...",
            best_time(lambda: tf.nn.sparse_softmax_cross_entropy_with_logits(label_tensor, big_tensor).numpy()),
        )
    )
    del big, big_tensor

    hidden = tf.constant(rng.standard_normal((1024, 128), dtype=np.float32))
    kernel = tf.constant(rng.standard_normal((128, 131_072), dtype=np.float32) / np.float32(np.sqrt(128)))
    targets = tf.constant(rng.integers(0, 131_072, 1024))

    def gradients(loss_fn):
        @tf.function
        def step(h, w):
            with tf.GradientTape() as tape:
                tape.watch([h, w])
                total = tf.reduce_sum(loss_fn(h, w))
            return tape.gradient(total, [h, w])

        return lambda: [g.numpy() for g in step(hidden, kernel)]

    chunked = gradients(lambda h, w: linear_cross_entropy(h, w, targets, chunk_size=4096))
    plain = gradients(lambda h, w: tf.nn.sparse_softmax_cross_entropy_with_logits(targets, h @ w))
    print_fn(_line("linear_cross_entropy fwd+bwd 1024x128x131,072", best_time(chunked), "plain loss on hidden @ kernel", best_time(plain)))


def memory_report(
    print_fn=print, vocabulary_sizes=(8192, 16384, 32768, 65536, 131072, 262144), tokens=2048, width=64, chunk_size=1024
):
    """Measure and print the peak memory of the plain and the chunked loss, forward and backward,
    and of logitlab's NumPy sparse loss relative to its logits. Returns the measurements."""
    print_fn(f"\nPeak memory above the inputs (MiB), N = {tokens} tokens, d = {width}, chunk = {chunk_size}, fresh process")
    print_fn(f"{'V':>8} {'plain fwd':>10} {'chunked fwd':>12} {'plain f+b':>10} {'chunked f+b':>12} {'f+b ratio':>10}")
    results = {}
    for backward in (False, True):
        for r in measure_memory(
            ("plain", "chunked"), vocabulary_sizes, tokens=tokens, width=width, chunk_size=chunk_size, backward=backward
        ):
            results[r["loss"], r["vocabulary_size"], backward] = r["peak_bytes"]
    for v in vocabulary_sizes:
        row = [results[loss, v, backward] / _MIB for backward in (False, True) for loss in ("plain", "chunked")]
        print_fn(f"{v:>8} {row[0]:10.1f} {row[1]:12.1f} {row[2]:10.1f} {row[3]:12.1f} {row[2] / row[3]:9.1f}x")
    numpy_peak = measure_memory(("numpy",), [32_000], tokens=4096)[0]["peak_bytes"]
    logits_bytes = 4096 * 32_000 * 4
    print_fn(
        f"\nsparse_categorical_crossentropy 4096 x 32,000: peak {numpy_peak / _MIB:.1f} MiB above its "
        f"logits ({logits_bytes / _MIB:.0f} MiB), {numpy_peak / logits_bytes:.3f} of their size"
    )
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m logitlab.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurements")
    args = parser.parse_args(argv)
    if args.worker:
        request = json.loads(args.worker)
        print(json.dumps(_measure_in_this_process(request["configs"], request["reset_peak"])))
        return 0
    for key, value in TENSORFLOW_ENV.items():  # TensorFlow as the notebooks run it (oneDNN off, quiet)
        os.environ.setdefault(key, value)
    speed_report()
    if not args.no_memory:
        memory_report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
