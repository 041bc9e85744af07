"""The checks of chapter 6's exercises: right answers pass, empty ones are "not yet attempted",
every named mistake is recognised, other wrong answers get useful feedback, nothing raises.

The answers below are written independently of the question module (TensorFlow, SciPy, or NumPy
in another style), as a learner would write them.
"""

import math

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import logsumexp as sp_logsumexp

from logitlab.checking import CORRECT, INCORRECT, UNATTEMPTED
from logitlab.exercises import chapter6 as ex

QUESTIONS = {q.id: q for q in ex.QUESTIONS}


# -- question 1: chunked log-sum-exp, right and wrong --------------------------------------------

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


# -- question 2: chunked loss, right and wrong ---------------------------------------------------

def loss_tf(hidden, kernel, labels, chunk_size):
    """The fused TensorFlow loss on the full logits (chunking does not change the value)."""
    logits = tf.constant(np.asarray(hidden, dtype=float)) @ tf.constant(np.asarray(kernel, dtype=float))
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits).numpy()


def loss_from_q1(hidden, kernel, labels, chunk_size):
    """Question 1's log-sum-exp on the chunk logits, minus the label's logit from the full row."""
    logits = np.asarray(hidden, dtype=float) @ np.asarray(kernel, dtype=float)
    return lse_python_loop(logits, chunk_size) - logits[np.arange(len(labels)), labels]


def loss_lse_only(hidden, kernel, labels, chunk_size):
    return lse_tf(np.asarray(hidden, dtype=float) @ np.asarray(kernel, dtype=float), chunk_size)


def loss_plus(hidden, kernel, labels, chunk_size):
    logits = np.asarray(hidden, dtype=float) @ np.asarray(kernel, dtype=float)
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


# -- question 3: values -------------------------------------------------------------------------

def q3_answers(budget_bytes=ex.Q3_BUDGET_MIB * 2**20, arrays=ex.Q3_ARRAYS, up=False, floor_count=False):
    per_column = arrays * 4 * ex.Q3_TOKENS
    steps = budget_bytes / per_column / ex.Q3_MULTIPLE
    chunk_size = (math.ceil(steps) if up else math.floor(steps)) * ex.Q3_MULTIPLE
    count = ex.Q3_VOCABULARY // chunk_size if floor_count else math.ceil(ex.Q3_VOCABULARY / chunk_size)
    return {"chunk_size": chunk_size, "n_chunks": count}


CORRECT_ANSWERS = {"6.1": [lse_python_loop, lse_tf], "6.2": [loss_tf, loss_from_q1]}

PLANTED = {
    ("6.1", "sum_not_rescaled"): lse_no_rescale,
    ("6.1", "nan_on_masked_chunk"): lse_unsafe,
    ("6.1", "chunk_maximum_not_running"): lse_chunk_max,
    ("6.1", "maximum_not_added_back"): lse_forgot_max,
    ("6.1", "no_maximum_subtracted"): lse_naive,
    ("6.2", "label_logit_not_subtracted"): loss_lse_only,
    ("6.2", "label_logit_added"): loss_plus,
    ("6.2", "last_short_chunk_dropped"): loss_short_dropped,
    ("6.2", "mean_instead_of_one_loss_per_row"): loss_mean,
    ("6.3", "megabytes_not_mebibytes"): lambda: q3_answers(budget_bytes=ex.Q3_BUDGET_MIB * 10**6),
    ("6.3", "one_array"): lambda: q3_answers(arrays=1),
    ("6.3", "chunk_size_rounded_up"): lambda: q3_answers(up=True),
    ("6.3", "chunk_count_rounded_down"): lambda: q3_answers(floor_count=True),
}


def test_every_mistake_is_planted_here():
    assert {(q.id, m.name) for q in ex.QUESTIONS for m in q.mistakes} == set(PLANTED)


@pytest.mark.parametrize("qid, answer", [(k, f) for k, fs in CORRECT_ANSWERS.items() for f in fs],
                         ids=lambda v: getattr(v, "__name__", str(v)))
def test_an_independent_right_answer_passes(qid, answer):
    q = QUESTIONS[qid]
    result = q.evaluate({q.name: answer})
    assert result.status == CORRECT, result.feedback


def test_q3_right_answers_pass_and_are_what_the_budget_allows():
    answers = q3_answers()
    assert answers == {"chunk_size": 2688, "n_chunks": 48}
    assert ex.q3.evaluate(answers).status == CORRECT
    # the chunk fits the budget and one more step of 128 would not
    per_column = ex.Q3_ARRAYS * 4 * ex.Q3_TOKENS
    assert answers["chunk_size"] * per_column <= ex.Q3_BUDGET_MIB * 2**20
    assert (answers["chunk_size"] + ex.Q3_MULTIPLE) * per_column > ex.Q3_BUDGET_MIB * 2**20
    assert (answers["n_chunks"] - 1) * answers["chunk_size"] < ex.Q3_VOCABULARY <= answers["n_chunks"] * answers["chunk_size"]


@pytest.mark.parametrize("key", sorted(PLANTED), ids=lambda k: f"{k[0]}-{k[1]}")
def test_each_named_mistake_is_recognised(key):
    qid, name = key
    q = QUESTIONS[qid]
    answers = {**q3_answers(), **PLANTED[key]()} if qid == "6.3" else {q.name: PLANTED[key]}
    with np.errstate(all="ignore"):
        result = q.evaluate(answers)
    assert result.status == INCORRECT
    assert result.mistake == name, (result.mistake, result.feedback)
    assert result.feedback == next(m.message for m in q.mistakes if m.name == name)


def test_the_mistakes_really_go_wrong_where_the_chapter_says():
    """The unsafe update is NaN on a leading masked chunk; the naive sum overflows in float32."""
    with np.errstate(all="ignore"):
        assert np.isnan(lse_unsafe(np.array([[-np.inf, -np.inf, 1.0]]), 2)).all()
        assert np.isinf(lse_naive(np.array([[1000.0, 0.0]], dtype=np.float32), 1)).all()
    assert np.isfinite(lse_python_loop(np.array([[-np.inf, -np.inf, 1.0]]), 2)).all()


@pytest.mark.parametrize("given", [{}, {"chunk_size": 2688}, {"chunk_size": None, "n_chunks": 48}])
def test_unattempted_values_are_reported_as_such(given):
    result = ex.q3.evaluate(given)
    assert result.status == UNATTEMPTED
    assert "chunk_size" in result.feedback or "n_chunks" in result.feedback


GENERIC_WRONG = {
    "6.1": lambda logits, chunk_size: np.max(logits, axis=1),
    "6.2": lambda hidden, kernel, labels, chunk_size: np.zeros(len(labels)),
}


@pytest.mark.parametrize("qid", sorted(GENERIC_WRONG))
def test_other_wrong_answers_say_which_case_failed(qid):
    q = QUESTIONS[qid]
    result = q.evaluate({q.name: GENERIC_WRONG[qid]})
    assert result.status == INCORRECT and result.mistake is None
    assert f"wrong result for `{q.name}(" in result.feedback
    wrong = ex.q3.evaluate({"chunk_size": 1000, "n_chunks": 129})
    assert wrong.status == INCORRECT and wrong.mistake is None and "`chunk_size` is not right" in wrong.feedback
