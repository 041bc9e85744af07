"""Chapter 6's battery: answers as learners write them (RIGHT, NAMED, UNNAMED; see
tests/test_exercises_battery.py, which runs them)."""

import math

import keras
import numpy as np
import tensorflow as tf
from scipy.special import logsumexp as sp_logsumexp

from logitlab.exercises import chapter6 as ex


# -- question 1: the chunked log-sum-exp ----------------------------------------------------------

def lse_python_loop(logits, chunk_size):
    """Row by row, chunk by chunk, in plain Python floats."""
    out = []
    for row in np.asarray(logits, dtype=float):
        m, s = -math.inf, 0.0
        for start in range(0, len(row), chunk_size):
            chunk = row[start:start + chunk_size]
            m_new = max(m, float(chunk.max()))
            if m_new == -math.inf:
                continue                                    # nothing but -inf so far
            s = s * math.exp(m - m_new) + sum(math.exp(v - m_new) for v in chunk)
            m = m_new
        out.append(m + math.log(s))
    return np.array(out)


def lse_tf(logits, chunk_size):
    """TensorFlow's reduce_logsumexp of each chunk, combined with another reduce_logsumexp."""
    x = tf.constant(np.asarray(logits, dtype=float))
    parts = [tf.reduce_logsumexp(x[:, s:s + chunk_size], axis=1) for s in range(0, x.shape[1], chunk_size)]
    return tf.reduce_logsumexp(tf.stack(parts, axis=1), axis=1).numpy()


def lse_logaddexp(logits, chunk_size):
    """Each chunk's log-sum-exp (SciPy), folded in with np.logaddexp."""
    x = np.asarray(logits, dtype=float)
    total = np.full(len(x), -np.inf)
    for start in range(0, x.shape[1], chunk_size):
        total = np.logaddexp(total, sp_logsumexp(x[:, start:start + chunk_size], axis=1))
    return total


def lse_online_in_input_dtype(logits, chunk_size):
    """The online update in the input's own dtype (float32 stays float32)."""
    x = np.asarray(logits)
    m = np.full(len(x), -np.inf, dtype=x.dtype)
    s = np.zeros(len(x), dtype=x.dtype)
    for start in range(0, x.shape[1], chunk_size):
        c = x[:, start:start + chunk_size]
        m_new = np.maximum(m, c.max(axis=1))
        shift = np.where(np.isneginf(m_new), 0, m_new).astype(x.dtype)
        s = s * np.exp(m - shift) + np.exp(c - shift[:, None]).sum(axis=1)
        m = m_new
    return m + np.log(s)


def lse_whole_row(logits, chunk_size):
    """Ignores the chunks: SciPy's log-sum-exp of each whole row is the same number."""
    return sp_logsumexp(np.asarray(logits, dtype=float), axis=1)


def lse_no_rescale(logits, chunk_size):
    x = np.asarray(logits, dtype=float)
    m, s = np.full(len(x), -np.inf), np.zeros(len(x))
    for start in range(0, x.shape[1], chunk_size):
        c = x[:, start:start + chunk_size]
        m = np.maximum(m, c.max(axis=1))
        safe = np.where(np.isinf(m), 0.0, m)
        s += np.exp(c - safe[:, None]).sum(axis=1)            # forgets s * exp(m_old - m)
    return m + np.log(s)


def lse_unsafe(logits, chunk_size):
    x = np.asarray(logits, dtype=float)
    m, s = np.full(len(x), -np.inf), np.zeros(len(x))
    for start in range(0, x.shape[1], chunk_size):
        c = x[:, start:start + chunk_size]
        m_new = np.maximum(m, c.max(axis=1))
        s = s * np.exp(m - m_new) + np.exp(c - m_new[:, None]).sum(axis=1)
        m = m_new
    return m + np.log(s)


def lse_chunk_max(logits, chunk_size):
    x = np.asarray(logits, dtype=float)
    total, top = np.zeros(len(x)), np.full(len(x), -np.inf)
    for start in range(0, x.shape[1], chunk_size):
        c = x[:, start:start + chunk_size]
        cm = c.max(axis=1)
        total += np.exp(c - np.where(np.isinf(cm), 0.0, cm)[:, None]).sum(axis=1)
        top = np.maximum(top, cm)
    return top + np.log(total)


def lse_forgot_max(logits, chunk_size):
    return sp_logsumexp(np.asarray(logits, dtype=float), axis=1) - np.max(logits, axis=1)


def lse_naive(logits, chunk_size):
    return np.log(np.exp(np.asarray(logits)).sum(axis=-1))


# -- question 2: the chunked loss -----------------------------------------------------------------

def _logits(hidden, kernel):
    return np.asarray(hidden, dtype=float) @ np.asarray(kernel, dtype=float)


def loss_tf(hidden, kernel, labels, chunk_size):
    """The fused TensorFlow loss on the full logits (chunking does not change the value)."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels, _logits(hidden, kernel)).numpy()


def loss_keras(hidden, kernel, labels, chunk_size):
    return np.asarray(keras.losses.sparse_categorical_crossentropy(labels, _logits(hidden, kernel), from_logits=True))


def loss_from_q1(hidden, kernel, labels, chunk_size):
    """Question 1's log-sum-exp on the chunk logits, minus the label's logit from the full row."""
    logits = _logits(hidden, kernel)
    return lse_python_loop(logits, chunk_size) - logits[np.arange(len(labels)), labels]


def loss_chunked_logaddexp(hidden, kernel, labels, chunk_size):
    h, w = np.asarray(hidden, dtype=float), np.asarray(kernel, dtype=float)
    total = np.full(len(h), -np.inf)
    for start in range(0, w.shape[1], chunk_size):
        total = np.logaddexp(total, sp_logsumexp(h @ w[:, start:start + chunk_size], axis=1))
    return total - np.einsum("nd,dn->n", h, w[:, labels])


def loss_scipy_full(hidden, kernel, labels, chunk_size):
    logits = _logits(hidden, kernel)
    return sp_logsumexp(logits, axis=1) - np.take_along_axis(logits, np.asarray(labels)[:, None], axis=1)[:, 0]


def loss_lse_only(hidden, kernel, labels, chunk_size):
    return lse_tf(_logits(hidden, kernel), chunk_size)


def loss_plus(hidden, kernel, labels, chunk_size):
    logits = _logits(hidden, kernel)
    return lse_tf(logits, chunk_size) + logits[np.arange(len(labels)), labels]


def loss_short_dropped(hidden, kernel, labels, chunk_size):
    """An online loop over range(V // chunk_size): the short last chunk (or the only one) is lost."""
    h, w = np.asarray(hidden, dtype=float), np.asarray(kernel, dtype=float)
    m, s = np.full(len(h), -np.inf), np.zeros(len(h))
    for i in range(w.shape[1] // chunk_size):
        z = h @ w[:, i * chunk_size:(i + 1) * chunk_size]
        m_new = np.maximum(m, z.max(axis=1))
        s = s * np.exp(m - m_new) + np.exp(z - m_new[:, None]).sum(axis=1)
        m = m_new
    return m + np.log(s) - np.einsum("nd,dn->n", h, w[:, labels])


def loss_mean(hidden, kernel, labels, chunk_size):
    return float(np.mean(loss_tf(hidden, kernel, labels, chunk_size)))


# -- question 3: values ---------------------------------------------------------------------------

def _q3(budget_bytes=ex.Q3_BUDGET_MIB * 2**20, arrays=ex.Q3_ARRAYS, up=False, floor_count=False, bytes_per_number=4):
    per_column = arrays * bytes_per_number * ex.Q3_TOKENS
    steps = budget_bytes / per_column / ex.Q3_MULTIPLE
    chunk_size = (math.ceil(steps) if up else math.floor(steps)) * ex.Q3_MULTIPLE
    count = ex.Q3_VOCABULARY // chunk_size if floor_count else math.ceil(ex.Q3_VOCABULARY / chunk_size)
    return {"chunk_size": chunk_size, "n_chunks": count}


def q3_math():
    return _q3()


def q3_numpy():
    per_column = np.int64(ex.Q3_ARRAYS * 4 * ex.Q3_TOKENS)
    chunk_size = np.floor(ex.Q3_BUDGET_MIB * 2**20 / per_column / ex.Q3_MULTIPLE) * ex.Q3_MULTIPLE
    return {"chunk_size": chunk_size, "n_chunks": np.ceil(ex.Q3_VOCABULARY / chunk_size)}


def q3_search():
    chunk_size = 0
    while (chunk_size + ex.Q3_MULTIPLE) * ex.Q3_ARRAYS * 4 * ex.Q3_TOKENS <= ex.Q3_BUDGET_MIB * 2**20:
        chunk_size += ex.Q3_MULTIPLE
    n_chunks = len(range(0, ex.Q3_VOCABULARY, chunk_size))
    return {"chunk_size": chunk_size, "n_chunks": n_chunks}


def q3_bits():
    budget = ex.Q3_BUDGET_MIB << 20
    chunk_size = (budget // (ex.Q3_ARRAYS * np.dtype(np.float32).itemsize * ex.Q3_TOKENS)) & ~(ex.Q3_MULTIPLE - 1)
    return {"chunk_size": chunk_size, "n_chunks": (ex.Q3_VOCABULARY + chunk_size - 1) // chunk_size}


def q3_tf():
    chunk_size = int(tf.math.floor(ex.Q3_BUDGET_MIB * 2**20 / (ex.Q3_ARRAYS * 4 * ex.Q3_TOKENS) / ex.Q3_MULTIPLE)) * ex.Q3_MULTIPLE
    return {"chunk_size": tf.constant(chunk_size), "n_chunks": tf.math.ceil(ex.Q3_VOCABULARY / chunk_size)}


RIGHT = {
    "6.1": [lse_python_loop, lse_tf, lse_logaddexp, lse_online_in_input_dtype, lse_whole_row],
    "6.2": [loss_tf, loss_keras, loss_from_q1, loss_chunked_logaddexp, loss_scipy_full],
    "6.3": [q3_math, q3_numpy, q3_search, q3_bits, q3_tf],
}

NAMED = {
    ("6.1", "sum_not_rescaled"): lse_no_rescale,
    ("6.1", "nan_on_masked_chunk"): lse_unsafe,
    ("6.1", "chunk_maximum_not_running"): lse_chunk_max,
    ("6.1", "maximum_not_added_back"): lse_forgot_max,
    ("6.1", "no_maximum_subtracted"): lse_naive,
    ("6.2", "label_logit_not_subtracted"): loss_lse_only,
    ("6.2", "label_logit_added"): loss_plus,
    ("6.2", "last_short_chunk_dropped"): loss_short_dropped,
    ("6.2", "mean_instead_of_one_loss_per_row"): loss_mean,
    ("6.3", "megabytes_not_mebibytes"): lambda: _q3(budget_bytes=ex.Q3_BUDGET_MIB * 10**6),
    ("6.3", "one_array"): lambda: _q3(arrays=1),
    ("6.3", "chunk_size_rounded_up"): lambda: _q3(up=True),
    ("6.3", "chunk_count_rounded_down"): lambda: _q3(floor_count=True),
}


def lse_max_only(logits, chunk_size):
    return np.max(logits, axis=1)


def lse_first_chunk(logits, chunk_size):
    return sp_logsumexp(np.asarray(logits, dtype=float)[:, :chunk_size], axis=1)


def lse_over_columns(logits, chunk_size):
    return sp_logsumexp(np.asarray(logits, dtype=float), axis=0)


def loss_zeros(hidden, kernel, labels, chunk_size):
    return np.zeros(len(labels))


def loss_first_chunk(hidden, kernel, labels, chunk_size):
    logits = _logits(hidden, kernel)
    return sp_logsumexp(logits[:, :chunk_size], axis=1) - logits[np.arange(len(labels)), labels]


def loss_label_logit_negated(hidden, kernel, labels, chunk_size):
    logits = _logits(hidden, kernel)
    return -logits[np.arange(len(labels)), labels]


UNNAMED = {
    "6.1": [lse_max_only, lse_first_chunk, lse_over_columns],
    "6.2": [loss_zeros, loss_first_chunk, loss_label_logit_negated],
    "6.3": [
        lambda: {"chunk_size": 1000, "n_chunks": 129},
        lambda: _q3(bytes_per_number=8),                               # float64 instead of float32
        lambda: {"chunk_size": ex.Q3_BUDGET_MIB * 2**20 // (ex.Q3_ARRAYS * 4 * ex.Q3_TOKENS), "n_chunks": 47},  # no multiple of 128
    ],
}
