"""Exercises of chapter 6: the cross-entropy of a large vocabulary without the logit matrix.

Question 1 asks for a log-sum-exp accumulated a chunk of columns at a time (the online update,
safe for chunks that are entirely ``-inf``); question 2 for the chunked loss from hidden states and
the output kernel; question 3 for the chunk size that fits a memory budget, and the number of
chunks it takes. The checks run the learner's functions on ordinary and extreme inputs (float32
logits of 1000 and 1e4, masked chunks first and last, chunk sizes of 1, that do not divide the
vocabulary, and larger than it) and name the common mistakes they recognise.
"""

from __future__ import annotations

import numpy as np

from ..checking import Case, FunctionQuestion, Mistake, ValueQuestion, questions_in
from ..numerics import logsumexp, sparse_categorical_crossentropy

__all__ = [
    "q1",
    "q2",
    "q3",
    "QUESTIONS",
    "Q3_TOKENS",
    "Q3_VOCABULARY",
    "Q3_BUDGET_MIB",
    "Q3_ARRAYS",
    "Q3_MULTIPLE",
]

_F32 = np.float32
_NEG_INF = -np.inf


def _chunks(x, chunk_size):
    x = np.asarray(x)
    return [x[:, start:start + chunk_size] for start in range(0, x.shape[1], chunk_size)]


def _online(logits, chunk_size, safe=True, rescale=True, running_max=True):
    """The online log-sum-exp of each row and the ways it goes wrong (for the mistakes)."""
    x = np.asarray(logits, dtype=float)
    m = np.full(x.shape[0], _NEG_INF)
    s = np.zeros(x.shape[0])
    for chunk in _chunks(x, chunk_size):
        chunk_max = chunk.max(axis=1)
        new_m = np.maximum(m, chunk_max)
        shift = np.where(np.isneginf(new_m), 0.0, new_m) if safe else new_m
        if not running_max:  # each chunk's sum taken relative to its own maximum
            shift = np.where(np.isneginf(chunk_max), 0.0, chunk_max)
        kept = s * np.exp(m - shift) if rescale and running_max else s
        s = kept + np.exp(chunk - shift[:, None]).sum(axis=1)
        m = new_m
    return m + np.log(s)


# -- Question 1: the chunked log-sum-exp ---------------------------------------------------------

def _lse_reference(logits, chunk_size):
    return logsumexp(logits, axis=-1)


def _lse_no_rescale(logits, chunk_size):
    return _online(logits, chunk_size, rescale=False)


def _lse_unsafe(logits, chunk_size):
    return _online(logits, chunk_size, safe=False)


def _lse_chunk_max(logits, chunk_size):
    return _online(logits, chunk_size, running_max=False)


def _lse_forgot_max(logits, chunk_size):
    x = np.asarray(logits, dtype=float)
    return np.log(np.exp(x - x.max(axis=1, keepdims=True)).sum(axis=1))


def _lse_naive(logits, chunk_size):
    x = np.asarray(logits)
    return np.log(np.sum(np.exp(x), axis=1))


q1 = FunctionQuestion(
    id="6.1",
    title="the chunked log-sum-exp",
    name="chunked_logsumexp",
    reference=_lse_reference,
    cases=[
        Case((np.array([[1.0, 2.0, 3.0, 4.0, 5.0]]), 2)),
        Case((np.array([[0.0, 0.5, 1.0, 10.0, 20.0, 30.0], [30.0, 20.0, 10.0, 1.0, 0.5, 0.0]]), 2),
             label="(two rows, the maximum in the last chunk and in the first, chunk_size=2)"),
        Case((np.array([[1000.0, 999.0, 998.0, 1001.0], [1e4, 1e4 - 1, -1e4, 0.0]], dtype=_F32), 3),
             label="(float32 logits of 1000 and 1e4, chunk_size=3)"),
        Case((np.array([[_NEG_INF, _NEG_INF, 1.0, 2.0, 0.5], [3.0, _NEG_INF, _NEG_INF, _NEG_INF, _NEG_INF]]), 2),
             label="(row 0 starts with a fully masked chunk, row 1 ends with two, chunk_size=2)"),
        Case((np.array([[0.3, -0.2, 0.1, 4.0]]), 1), label="([[0.3, -0.2, 0.1, 4]], 1): one column per chunk"),
        Case((np.array([[0.3, -0.2, 0.1, 4.0], [-5.0, -6.0, -7.0, -8.0]]), 10),
             label="(two rows of 4 logits, chunk_size=10: one chunk)"),
    ],
    mistakes=[
        Mistake(
            "sum_not_rescaled",
            _lse_no_rescale,
            "when a chunk raises the running maximum, your running sum keeps terms taken relative "
            "to the old maximum: multiply it by exp(m - m_new) before adding the new chunk's "
            "exp(z - m_new), so every term is relative to the same maximum.",
        ),
        Mistake(
            "nan_on_masked_chunk",
            _lse_unsafe,
            "a row whose first chunk is all -inf gives NaN: the running maximum is still -inf, and "
            "exp(m - m_new) = exp(-inf - (-inf)) is NaN. While m_new is -inf, shift by 0 instead "
            "(np.where(np.isneginf(m_new), 0, m_new)): exp(-inf - 0) = 0 adds nothing.",
        ),
        Mistake(
            "chunk_maximum_not_running",
            _lse_chunk_max,
            "you subtracted each chunk's own maximum and added the results: the terms of different "
            "chunks are relative to different maxima. Keep one running maximum m, and rescale the "
            "sum so far by exp(m - m_new) when it grows.",
        ),
        Mistake(
            "maximum_not_added_back",
            _lse_forgot_max,
            "your result is log(sum(exp(z - m))) without the maximum: the log-sum-exp is "
            "m + log(sum(exp(z - m))). Add the (running) maximum back at the end.",
        ),
        Mistake(
            "no_maximum_subtracted",
            _lse_naive,
            "your log-sum-exp overflows: exp(1000) is inf in float32, so the result is inf. "
            "Subtract the running maximum before exponentiating, as in chapter 2's online softmax.",
        ),
    ],
    hints=[
        "Keep, for every row, a running maximum m (start at -inf) and a running sum s (start at "
        "0) of exp(z - m) over the chunks seen so far.",
        "For each chunk: m_new = max(m, max of the chunk); s = s * exp(m - m_new) + "
        "sum(exp(chunk - m_new)); then m = m_new. At the end return m + log(s).",
        "A chunk of only -inf: while m_new is -inf, shift by 0 instead of m_new, or "
        "exp(-inf - (-inf)) gives NaN.",
    ],
)


# -- Question 2: the chunked loss -----------------------------------------------------------------

def _loss_reference(hidden, kernel, labels, chunk_size):
    h, w = np.asarray(hidden, dtype=float), np.asarray(kernel, dtype=float)
    return sparse_categorical_crossentropy(labels, h @ w, from_logits=True)


def _target(hidden, kernel, labels):
    h, w = np.asarray(hidden, dtype=float), np.asarray(kernel, dtype=float)
    return np.sum(h * w[:, np.asarray(labels)].T, axis=1)


def _chunk_lse(hidden, kernel, chunk_size, full_chunks_only=False):
    h, w = np.asarray(hidden, dtype=float), np.asarray(kernel, dtype=float)
    end = w.shape[1] - w.shape[1] % chunk_size if full_chunks_only else w.shape[1]
    return _online(h @ w[:, :end], chunk_size)


def _loss_lse_only(hidden, kernel, labels, chunk_size):
    return _chunk_lse(hidden, kernel, chunk_size)


def _loss_plus_target(hidden, kernel, labels, chunk_size):
    return _chunk_lse(hidden, kernel, chunk_size) + _target(hidden, kernel, labels)


def _loss_short_chunk_dropped(hidden, kernel, labels, chunk_size):
    return _chunk_lse(hidden, kernel, chunk_size, full_chunks_only=True) - _target(hidden, kernel, labels)


def _loss_mean(hidden, kernel, labels, chunk_size):
    return np.mean(_loss_reference(hidden, kernel, labels, chunk_size))


def _loss_sizes(hidden, kernel, labels, chunk_size):
    """The logits' size bound d * max|h| * max|w|: the loss carries the rounding of logits that large."""
    h, w = np.asarray(hidden, dtype=float), np.asarray(kernel, dtype=float)
    return {"scale": float(h.shape[1] * np.abs(h).max() * np.abs(w).max())}


def _loss_case(seed, n, d, v, chunk_size, scale=1.0, dtype=float, label=""):
    rng = np.random.default_rng(seed)
    hidden = (rng.normal(size=(n, d)) * scale).astype(dtype)
    kernel = rng.normal(size=(d, v)).astype(dtype)
    return Case((hidden, kernel, rng.integers(0, v, size=n), chunk_size), label=label)


q2 = FunctionQuestion(
    id="6.2",
    title="the cross-entropy without the logit matrix",
    name="chunked_cross_entropy",
    reference=_loss_reference,
    sizes=_loss_sizes,
    cases=[
        _loss_case(0, 4, 3, 9, 3, label="(4 tokens, d=3, V=9, chunk_size=3)"),
        _loss_case(1, 5, 4, 10, 4, label="(5 tokens, d=4, V=10, chunk_size=4: the last chunk has 2 columns)"),
        _loss_case(2, 3, 2, 7, 1, label="(3 tokens, d=2, V=7, chunk_size=1)"),
        _loss_case(3, 4, 3, 6, 50, label="(4 tokens, d=3, V=6, chunk_size=50: one chunk)"),
        _loss_case(4, 6, 5, 11, 4, scale=300.0, label="(6 tokens, d=5, V=11, logits in the thousands, chunk_size=4)"),
        _loss_case(5, 4, 3, 13, 5, scale=100.0, dtype=_F32, label="(float32, 4 tokens, d=3, V=13, chunk_size=5)"),
    ],
    mistakes=[
        Mistake(
            "label_logit_not_subtracted",
            _loss_lse_only,
            "you returned the log-sum-exp alone: the loss is logsumexp_j(h . w_j) minus the "
            "label's logit h . w_y. Subtract np.sum(hidden * kernel[:, labels].T, axis=1).",
        ),
        Mistake(
            "label_logit_added",
            _loss_plus_target,
            "you added the label's logit; the loss subtracts it: -log p_y = logsumexp(z) - z_y.",
        ),
        Mistake(
            "last_short_chunk_dropped",
            _loss_short_chunk_dropped,
            "when chunk_size does not divide V, your loop skips the last, shorter chunk, so the "
            "log-sum-exp misses its columns. Loop over range(0, V, chunk_size) and slice "
            "kernel[:, start:start + chunk_size]: the last slice is simply shorter.",
        ),
        Mistake(
            "mean_instead_of_one_loss_per_row",
            _loss_mean,
            "you returned the mean loss; return one loss per row (shape (N,)), as "
            "tf.nn.sparse_softmax_cross_entropy_with_logits does. Keras takes the mean later.",
        ),
    ],
    hints=[
        "The label's logit needs one column of the kernel per row: "
        "np.sum(hidden * kernel[:, labels].T, axis=1).",
        "The log-sum-exp is your chunked_logsumexp of question 1, but each chunk's logits are "
        "hidden @ kernel[:, start:start + chunk_size]; compute them inside the loop.",
        "The loss of each row is its log-sum-exp minus its label's logit.",
    ],
)


# -- Question 3: the chunk size for a memory budget ----------------------------------------------

#: Tokens per batch (8 sequences of 2,048), the vocabulary (Llama 3's), the budget for the
#: chunk's arrays in MiB, how many N x C float32 arrays the backward pass holds at once (logits,
#: probabilities, their gradient), and the multiple the chunk size must be (for the hardware).
Q3_TOKENS = 16_384
Q3_VOCABULARY = 128_256
Q3_BUDGET_MIB = 512
Q3_ARRAYS = 3
Q3_MULTIPLE = 128


def _chunk_answer(budget_bytes, arrays, bytes_per_number=4, round_up=False, floor_count=False):
    largest = budget_bytes / (arrays * bytes_per_number * Q3_TOKENS)
    steps = np.ceil(largest / Q3_MULTIPLE) if round_up else np.floor(largest / Q3_MULTIPLE)
    chunk_size = int(steps) * Q3_MULTIPLE
    n_chunks = Q3_VOCABULARY // chunk_size if floor_count else -(-Q3_VOCABULARY // chunk_size)
    return {"chunk_size": chunk_size, "n_chunks": n_chunks}


def _q3_expected():
    return _chunk_answer(Q3_BUDGET_MIB * 2**20, Q3_ARRAYS)


q3 = ValueQuestion(
    id="6.3",
    title="the chunk size for a memory budget",
    names=["chunk_size", "n_chunks"],
    expected=_q3_expected,
    mistakes=[
        Mistake(
            "megabytes_not_mebibytes",
            lambda: _chunk_answer(Q3_BUDGET_MIB * 10**6, Q3_ARRAYS),
            "you read 512 MiB as 512 million bytes; a mebibyte is 2**20 = 1,048,576 bytes, so the "
            "budget is 512 * 2**20 bytes.",
        ),
        Mistake(
            "one_array",
            lambda: _chunk_answer(Q3_BUDGET_MIB * 2**20, 1),
            "your chunk holds only one N x C array; the backward pass holds ex.Q3_ARRAYS = 3 of "
            "them at once (logits, probabilities, gradient), each 4 * N * C bytes.",
        ),
        Mistake(
            "chunk_size_rounded_up",
            lambda: _chunk_answer(Q3_BUDGET_MIB * 2**20, Q3_ARRAYS, round_up=True),
            "you rounded the chunk size up to a multiple of 128, which no longer fits the budget: "
            "round down (largest // 128 * 128).",
        ),
        Mistake(
            "chunk_count_rounded_down",
            lambda: {"n_chunks": _chunk_answer(Q3_BUDGET_MIB * 2**20, Q3_ARRAYS, floor_count=True)["n_chunks"]},
            "`n_chunks` leaves out the last, shorter chunk: V is not a multiple of the chunk size, "
            "so the count is rounded up, -(-V // chunk_size) or math.ceil(V / chunk_size).",
        ),
    ],
    hints=[
        "One column of the chunk costs ex.Q3_ARRAYS * 4 * ex.Q3_TOKENS bytes (three float32 "
        "arrays of N rows); the budget is ex.Q3_BUDGET_MIB * 2**20 bytes.",
        "The largest chunk is the budget divided by the cost of a column, rounded down to a "
        "multiple of ex.Q3_MULTIPLE.",
        "The number of chunks covers all ex.Q3_VOCABULARY columns: a division rounded up.",
    ],
)

QUESTIONS = questions_in(globals())
