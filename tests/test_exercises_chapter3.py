"""The checks of chapter 3's exercises: right answers pass, empty ones are "not yet attempted",
every named mistake is recognised, other wrong answers get useful feedback, nothing raises.

The wrong answers below are written independently of the question module (SciPy, TensorFlow or
plain NumPy), as a learner would write them, so the tests do not merely compare the module's
mistake functions with themselves.
"""

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import log_softmax as sp_log_softmax
from scipy.special import logsumexp as sp_logsumexp
from scipy.special import softmax as sp_softmax

from logitlab.checking import CORRECT, INCORRECT, UNATTEMPTED
from logitlab.exercises import chapter3 as ex


def _np(x):
    return np.asarray(x)


def _rows(labels):
    labels = _np(labels)
    return np.arange(labels.shape[0]), labels


# -- correct answers, written independently -----------------------------------------------------

def lse_scipy(x, axis=-1):
    return sp_logsumexp(x, axis=axis)


def lse_tf(x, axis=-1):
    return tf.reduce_logsumexp(tf.constant(x), axis=axis).numpy()


def ce_scipy(y_true, logits):
    return -np.sum(_np(y_true) * sp_log_softmax(logits, axis=-1), axis=-1)


def ce_tf(y_true, logits):
    return tf.nn.softmax_cross_entropy_with_logits(labels=tf.constant(y_true), logits=tf.constant(logits)).numpy()


def sparse_scipy(labels, logits):
    rows, labels = _rows(labels)
    return -sp_log_softmax(logits, axis=-1)[rows, labels]


def grad_scipy(y_true, logits):
    return sp_softmax(logits, axis=-1) - _np(y_true)


CORRECT_ANSWERS = {
    "3.1": [lse_scipy, lse_tf],
    "3.2": [ce_scipy, ce_tf],
    "3.3": [sparse_scipy],
    "3.4": [grad_scipy],
}


# -- the named mistakes, planted as a learner would write them ----------------------------------

def lse_no_max(x, axis=-1):
    return np.log(np.exp(_np(x)).sum(axis=axis))


def lse_not_added_back(x, axis=-1):
    x = _np(x)
    return np.log(np.exp(x - x.max(axis=axis, keepdims=True)).sum(axis=axis))


def lse_hard_coded_axis(x, axis=-1):
    x = _np(x)
    m = x.max(axis=-1)
    return m + np.log(np.exp(x - m[..., None]).sum(axis=-1))


def lse_global_max(x, axis=-1):
    x = _np(x)
    return x.max() + np.log(np.exp(x - x.max()).sum(axis=axis))


def ce_log_of_softmax(y_true, logits):
    return -np.sum(_np(y_true) * np.log(sp_softmax(logits, axis=-1)), axis=-1)


def ce_unstable_softmax(y_true, logits):
    e = np.exp(_np(logits))
    return -np.sum(_np(y_true) * np.log(e / e.sum(axis=-1, keepdims=True)), axis=-1)


def ce_batch_mean(y_true, logits):
    return float(np.mean(ce_scipy(y_true, logits)))


def ce_no_log_softmax(y_true, logits):
    return -(_np(y_true) * _np(logits)).sum(axis=-1)


def ce_wrong_axis(y_true, logits):
    return -(_np(y_true) * sp_log_softmax(logits, axis=-1)).sum(axis=0)


def sparse_off_by_one(labels, logits):
    rows, labels = _rows(labels)
    return -sp_log_softmax(logits, axis=-1)[rows, labels - 1]


def sparse_labels_as_weights(labels, logits):
    return -(_np(labels).reshape(-1, 1) * sp_log_softmax(logits, axis=-1)).sum(axis=-1)


def sparse_log_of_softmax(labels, logits):
    rows, labels = _rows(labels)
    return -np.log(sp_softmax(logits, axis=-1)[rows, labels])


def sparse_picked_logit(labels, logits):
    rows, labels = _rows(labels)
    return -_np(logits)[rows, labels]


def grad_sign_flipped(y_true, logits):
    return _np(y_true) - sp_softmax(logits, axis=-1)


def grad_no_softmax(y_true, logits):
    return _np(logits) - _np(y_true)


def grad_unstable_softmax(y_true, logits):
    e = np.exp(_np(logits))
    return e / e.sum(axis=-1, keepdims=True) - _np(y_true)


def grad_of_mean(y_true, logits):
    logits = _np(logits)
    n = len(logits) if logits.ndim == 2 else 1
    return (sp_softmax(logits, axis=-1) - _np(y_true)) / n


def q5_answers(losses, mean=None):
    losses = tf.convert_to_tensor(losses)
    return {"batch_losses": losses, "batch_mean_loss": tf.reduce_mean(losses) if mean is None else mean}


def q5_swapped():
    return q5_answers(tf.nn.softmax_cross_entropy_with_logits(ex.Q5_LOGITS, ex.Q5_LABELS))


def q5_naive():
    probabilities = tf.nn.softmax(ex.Q5_LOGITS)
    return q5_answers(-tf.reduce_sum(ex.Q5_LABELS * tf.math.log(probabilities), axis=-1))


def q5_sum():
    losses = tf.nn.softmax_cross_entropy_with_logits(labels=ex.Q5_LABELS, logits=ex.Q5_LOGITS)
    return q5_answers(losses, tf.reduce_sum(losses))


def q5_extra_axis():
    log_p = tf.nn.log_softmax(ex.Q5_LOGITS)
    return q5_answers(-tf.reduce_sum(ex.Q5_LABELS * log_p, axis=-1, keepdims=True))


PLANTED = {
    ("3.1", "no_max_subtraction"): lse_no_max,
    ("3.1", "max_not_added_back"): lse_not_added_back,
    ("3.1", "ignored_axis"): lse_hard_coded_axis,
    ("3.1", "global_max"): lse_global_max,
    ("3.2", "log_of_softmax"): ce_log_of_softmax,
    ("3.2", "unstable_softmax"): ce_unstable_softmax,
    ("3.2", "batch_mean"): ce_batch_mean,
    ("3.2", "no_log_softmax"): ce_no_log_softmax,
    ("3.2", "wrong_axis"): ce_wrong_axis,
    ("3.3", "off_by_one"): sparse_off_by_one,
    ("3.3", "labels_as_weights"): sparse_labels_as_weights,
    ("3.3", "log_of_softmax"): sparse_log_of_softmax,
    ("3.3", "picked_logit"): sparse_picked_logit,
    ("3.4", "sign_flipped"): grad_sign_flipped,
    ("3.4", "forgot_softmax"): grad_no_softmax,
    ("3.4", "unstable_softmax"): grad_unstable_softmax,
    ("3.4", "gradient_of_mean"): grad_of_mean,
    ("3.5", "swapped_arguments"): q5_swapped,
    ("3.5", "naive_formula"): q5_naive,
    ("3.5", "sum_not_mean"): q5_sum,
    ("3.5", "extra_axis"): q5_extra_axis,
}

QUESTIONS = {q.id: q for q in ex.QUESTIONS}


def test_every_mistake_is_planted_here():
    named = {(q.id, m.name) for q in ex.QUESTIONS for m in q.mistakes}
    assert named == set(PLANTED)


# -- (a) right answers pass --------------------------------------------------------------------

@pytest.mark.parametrize("qid, answer", [(k, f) for k, fs in CORRECT_ANSWERS.items() for f in fs],
                         ids=lambda v: getattr(v, "__name__", str(v)))
def test_an_independent_right_answer_passes(qid, answer):
    q = QUESTIONS[qid]
    result = q.evaluate({q.name: answer})
    assert result.status == CORRECT, result.feedback


def test_q5_right_answers_pass():
    losses = tf.nn.softmax_cross_entropy_with_logits(labels=ex.Q5_LABELS, logits=ex.Q5_LOGITS)
    assert ex.q5.evaluate(q5_answers(losses)).status == CORRECT
    numpy_losses = -np.sum(ex.Q5_LABELS * sp_log_softmax(ex.Q5_LOGITS, axis=-1), axis=-1)
    result = ex.q5.evaluate({"batch_losses": numpy_losses, "batch_mean_loss": float(np.mean(numpy_losses))})
    assert result.status == CORRECT, result.feedback
    namespace = {"tf": tf, "np": np, "ex": ex}
    exec(ex.q5.solution_code, namespace)
    assert ex.q5.evaluate(namespace).status == CORRECT


def test_q5_expects_the_reference_numbers():
    expected = ex.q5.expected()
    np.testing.assert_allclose(expected["batch_losses"], [0.5824196, 1.3132616, 150.0, np.log(5)], rtol=1e-6)
    assert expected["batch_losses"].shape == (4,)


# -- (b) unattempted answers -------------------------------------------------------------------

@pytest.mark.parametrize("given", [{}, {"batch_losses": np.zeros(4)}, {"batch_losses": None, "batch_mean_loss": 1.0}])
def test_unattempted_values_are_reported_as_such(given):
    result = ex.q5.evaluate(given)
    assert result.status == UNATTEMPTED
    assert "batch_" in result.feedback


# -- (c) every named mistake is recognised -----------------------------------------------------

@pytest.mark.parametrize("key", sorted(PLANTED), ids=lambda k: f"{k[0]}-{k[1]}")
def test_each_named_mistake_is_recognised(key):
    qid, name = key
    q = QUESTIONS[qid]
    answers = PLANTED[key]() if qid == "3.5" else {q.name: PLANTED[key]}
    with np.errstate(all="ignore"):
        result = q.evaluate(answers)
    assert result.status == INCORRECT
    assert result.mistake == name, (result.mistake, result.feedback)
    message = next(m.message for m in q.mistakes if m.name == name)
    assert result.feedback == message


def test_the_naive_formula_really_breaks_on_the_extreme_cases():
    """The mistakes are recognised because they give inf or NaN where the right answer is finite."""
    with np.errstate(all="ignore"):
        assert np.isinf(lse_no_max(np.float32([1000, 1000])))
        assert np.isinf(ce_log_of_softmax(np.float32([[1, 0]]), np.float32([[0, 200]]))).all()
        assert np.isnan(ce_unstable_softmax(np.float32([[1, 0]]), np.float32([[0, 200]]))).all()
    assert np.isnan(q5_naive()["batch_losses"].numpy()[2])


# -- (d) other wrong answers get useful feedback -----------------------------------------------

GENERIC_WRONG = {
    "3.1": lambda x, axis=-1: np.max(x, axis=axis),
    "3.2": lambda y_true, logits: -np.sum(_np(y_true) * sp_log_softmax(logits, axis=-1), axis=-1) + 0.1,
    "3.3": lambda labels, logits: sparse_scipy(labels, logits) * 2,
    "3.4": lambda y_true, logits: sp_softmax(logits, axis=-1),
}


@pytest.mark.parametrize("qid", sorted(GENERIC_WRONG))
def test_a_generic_wrong_answer_says_where_it_fails(qid):
    q = QUESTIONS[qid]
    result = q.evaluate({q.name: GENERIC_WRONG[qid]})
    assert result.status == INCORRECT
    assert result.mistake is None
    assert "wrong result" in result.feedback and "expected" in result.feedback


def test_a_generic_wrong_value_says_what_is_wrong():
    losses = tf.nn.softmax_cross_entropy_with_logits(labels=ex.Q5_LABELS, logits=ex.Q5_LOGITS)
    result = ex.q5.evaluate({"batch_losses": losses * 3, "batch_mean_loss": tf.reduce_mean(losses)})
    assert result.status == INCORRECT
    assert result.mistake is None
    assert "`batch_losses` is not right" in result.feedback and "expected" in result.feedback


# -- (e) evaluate never raises -----------------------------------------------------------------

@pytest.mark.parametrize(
    "given",
    [
        {"batch_losses": "loss", "batch_mean_loss": "mean"},
        {"batch_losses": np.zeros((2, 2)), "batch_mean_loss": 0.0},
        {"batch_losses": [1, [2, 3]], "batch_mean_loss": object()},
        {"batch_losses": tf.zeros([4]), "batch_mean_loss": np.array([1.0, 2.0])},
    ],
)
def test_garbage_values_never_raise(given):
    result = ex.q5.evaluate(given)
    assert result.status == INCORRECT
    assert result.feedback
