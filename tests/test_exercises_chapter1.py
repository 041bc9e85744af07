"""The checks of chapter 1's exercises: right answers pass, empty ones are "not yet attempted",
every named mistake is recognised, other wrong answers get useful feedback, nothing raises.

The wrong answers below are written independently of the question module (SciPy, TensorFlow or
plain NumPy), as a learner would write them, so the tests do not merely compare the module's
mistake functions with themselves.
"""

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import expit as sp_expit
from scipy.special import log_softmax as sp_log_softmax
from scipy.special import logit as sp_logit
from scipy.special import softmax as sp_softmax

from logitlab.checking import CORRECT, INCORRECT, UNATTEMPTED
from logitlab.exercises import chapter1 as ex


def _np(x):
    return np.asarray(x)


# -- correct answers, written independently -----------------------------------------------------

def logit_scipy(p):
    return sp_logit(p)


def logit_odds(p):
    p = _np(p)
    with np.errstate(divide="ignore"):
        return np.log(p / (1 - p))


def logit_tf(p):
    p = tf.constant(p)
    return (tf.math.log(p) - tf.math.log1p(-p)).numpy()


def sigmoid_scipy(x):
    return sp_expit(x)


def sigmoid_tf(x):
    return tf.math.sigmoid(tf.constant(x)).numpy()


def sigmoid_tanh(x):
    return 0.5 * (1 + np.tanh(_np(x) / 2))


def lsm_scipy(z, axis=-1):
    return sp_log_softmax(z, axis=axis)


def lsm_tf(z, axis=-1):
    return tf.nn.log_softmax(tf.constant(z), axis=axis).numpy()


CORRECT_ANSWERS = {
    "1.1": [logit_scipy, logit_odds, logit_tf],
    "1.2": [sigmoid_scipy, sigmoid_tf, sigmoid_tanh],
    "1.3": [lsm_scipy, lsm_tf],
}


# -- the named mistakes, planted as a learner would write them ----------------------------------

def logit_log_only(p):
    return np.log(p)


def logit_flipped(p):
    p = _np(p)
    return np.log(1 - p) - np.log(p)


def logit_log10(p):
    p = _np(p)
    return np.log10(p) - np.log10(1 - p)


def logit_clipped(p):
    p = np.minimum(np.maximum(_np(p), 1e-7), 1 - 1e-7)
    return np.log(p) - np.log(1 - p)


def sigmoid_naive(x):
    return 1.0 / (1.0 + np.exp(-_np(x)))


def sigmoid_exp_ratio(x):
    return np.exp(x) / (np.exp(x) + 1)


def sigmoid_where(x):
    x = _np(x)
    positive = 1 / (1 + np.exp(-x))
    negative = np.exp(x) / (1 + np.exp(x))
    return np.where(x < 0, negative, positive)


def sigmoid_flipped(x):
    return sp_expit(-_np(x))


def lsm_returned_logits(z, axis=-1):
    return _np(z).copy()


def lsm_max_only(z, axis=-1):
    z = _np(z)
    return z - z.max(axis=axis, keepdims=True)


def lsm_log_of_softmax(z, axis=-1):
    return np.log(sp_softmax(z, axis=axis))


def lsm_log_of_naive_softmax(z, axis=-1):
    z = _np(z)
    return np.log(np.exp(z) / np.exp(z).sum(axis=axis, keepdims=True))


def lsm_no_max(z, axis=-1):
    z = _np(z)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def lsm_hard_coded_axis(z, axis=-1):
    return sp_log_softmax(z, axis=-1)


def q4_binary_logit():
    return {"recovered_logits": sp_logit(ex.Q4_PROBS)}


def q4_probabilities():
    return {"recovered_logits": ex.Q4_PROBS.copy()}


def q4_log10():
    return {"recovered_logits": np.log10(ex.Q4_PROBS) + 1.0}


def q4_epsilon():
    return {"recovered_logits": tf.math.log(tf.constant(ex.Q4_PROBS) + 1e-7)}


def q5_ratio_of_softmax():
    p = tf.nn.softmax(ex.Q5_LOGITS)
    return {"odds": p[:, 0] / p[:, 1]}


def q5_log_odds():
    return {"odds": ex.Q5_LOGITS[:, 0] - ex.Q5_LOGITS[:, 1]}


def q5_reversed():
    return {"odds": 1 / np.exp(ex.Q5_LOGITS[:, 0].astype(float) - ex.Q5_LOGITS[:, 1])}


PLANTED = {
    ("1.1", "log_only"): logit_log_only,
    ("1.1", "sign_flipped"): logit_flipped,
    ("1.1", "log10"): logit_log10,
    ("1.1", "clipped"): logit_clipped,
    ("1.2", "naive_overflow"): sigmoid_naive,
    ("1.2", "exp_ratio_overflow"): sigmoid_exp_ratio,
    ("1.2", "where_evaluates_both"): sigmoid_where,
    ("1.2", "sign_flipped"): sigmoid_flipped,
    ("1.3", "returned_logits"): lsm_returned_logits,
    ("1.3", "max_not_logsumexp"): lsm_max_only,
    ("1.3", "log_of_softmax"): lsm_log_of_softmax,
    ("1.3", "log_of_naive_softmax"): lsm_log_of_naive_softmax,
    ("1.3", "no_max_subtraction"): lsm_no_max,
    ("1.3", "ignored_axis"): lsm_hard_coded_axis,
    ("1.4", "binary_logit_per_class"): q4_binary_logit,
    ("1.4", "probabilities_as_logits"): q4_probabilities,
    ("1.4", "log10"): q4_log10,
    ("1.4", "added_epsilon"): q4_epsilon,
    ("1.5", "ratio_of_softmax"): q5_ratio_of_softmax,
    ("1.5", "log_odds_not_odds"): q5_log_odds,
    ("1.5", "reversed"): q5_reversed,
}

QUESTIONS = {q.id: q for q in ex.QUESTIONS}
VALUE_QUESTIONS = {"1.4", "1.5"}


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


@pytest.mark.parametrize("q", [ex.q4, ex.q5], ids=lambda q: q.id)
def test_the_worked_value_solutions_pass(q):
    namespace = {"tf": tf, "np": np, "ex": ex}
    exec(q.solution_code, namespace)
    result = q.evaluate(namespace)
    assert result.status == CORRECT, result.feedback


@pytest.mark.parametrize("shift", [0.0, 7.5, -1000.0, "per row"])
def test_q4_accepts_logits_shifted_by_any_constant_per_row(shift):
    logits = np.log(ex.Q4_PROBS)
    shift = np.array([[3.0], [-40.0], [0.25]]) if shift == "per row" else shift
    result = ex.q4.evaluate({"recovered_logits": logits + shift})
    assert result.status == CORRECT, result.feedback
    # and they do reproduce the probabilities
    np.testing.assert_allclose(sp_softmax(logits + shift, axis=-1), ex.Q4_PROBS, rtol=1e-9, atol=1e-15)


def test_q4_accepts_tensorflow_answers():
    logits = tf.math.log(tf.constant(ex.Q4_PROBS)) - 2.0
    assert ex.q4.evaluate({"recovered_logits": logits}).status == CORRECT


def test_q4_rejects_a_shift_per_column():
    logits = np.log(ex.Q4_PROBS) + np.array([0.0, 1.0, 0.0, 0.0])
    result = ex.q4.evaluate({"recovered_logits": logits})
    assert result.status == INCORRECT
    assert "any constant per row" in result.feedback


def test_q5_right_answers_pass():
    z = tf.constant(ex.Q5_LOGITS)
    log_p = tf.nn.log_softmax(z)
    assert ex.q5.evaluate({"odds": tf.exp(log_p[:, 0] - log_p[:, 1])}).status == CORRECT
    assert ex.q5.evaluate({"odds": [np.exp(1.5), np.exp(3.0), np.exp(2.0)]}).status == CORRECT


def test_q5_expects_the_reference_numbers():
    np.testing.assert_allclose(ex.q5.expected()["odds"], np.exp([1.5, 3.0, 2.0]), rtol=1e-6)


# -- (b) unattempted answers -------------------------------------------------------------------

@pytest.mark.parametrize("q", [ex.q4, ex.q5], ids=lambda q: q.id)
@pytest.mark.parametrize("value", ["missing", None, Ellipsis])
def test_unattempted_values_are_reported_as_such(q, value):
    given = {} if value == "missing" else {q.answer_names[0]: value}
    result = q.evaluate(given)
    assert result.status == UNATTEMPTED
    assert q.answer_names[0] in result.feedback


# -- (c) every named mistake is recognised -----------------------------------------------------

@pytest.mark.parametrize("key", sorted(PLANTED), ids=lambda k: f"{k[0]}-{k[1]}")
def test_each_named_mistake_is_recognised(key):
    qid, name = key
    q = QUESTIONS[qid]
    with np.errstate(all="ignore"):
        answers = PLANTED[key]() if qid in VALUE_QUESTIONS else {q.name: PLANTED[key]}
        result = q.evaluate(answers)
    assert result.status == INCORRECT
    assert result.mistake == name, (result.mistake, result.feedback)
    message = next(m.message for m in q.mistakes if m.name == name)
    assert result.feedback == message


def test_the_overflowing_sigmoids_really_overflow():
    """The check counts an overflow as a failure: each mistake overflows on one of the cases."""
    for function, x in [(sigmoid_naive, -1000.0), (sigmoid_exp_ratio, 1000.0),
                        (sigmoid_where, 1000.0), (sigmoid_where, -1000.0)]:
        with np.errstate(over="raise"), pytest.raises(FloatingPointError):
            function(np.float32([x]))
    with np.errstate(over="ignore", invalid="ignore"):
        assert sigmoid_naive(np.float32([-1000.0]))[0] == 0.0  # right value, after an overflow
        assert np.isnan(sigmoid_exp_ratio(np.float32([1000.0]))[0])


def test_the_overflow_rule_does_not_leak_into_the_learners_session():
    ex.q2.evaluate({"stable_sigmoid": sigmoid_naive})
    with np.errstate(over="ignore"):
        assert np.isinf(np.exp(np.float32(1000.0)))
    assert np.geterr()["over"] != "raise"


def test_log_of_softmax_really_gives_minus_inf():
    with np.errstate(divide="ignore"):
        assert np.isneginf(lsm_log_of_softmax(np.float32([0.0, -200.0]))[1])
    assert np.isnan(q5_ratio_of_softmax()["odds"].numpy()[1])


# -- (d) other wrong answers get useful feedback -----------------------------------------------

GENERIC_WRONG = {
    "1.1": lambda p: sp_logit(p) * 0.5,
    "1.2": lambda x: sp_expit(_np(x) * 2),
    "1.3": lambda z, axis=-1: sp_log_softmax(z, axis=axis) - 0.1,
}


@pytest.mark.parametrize("qid", sorted(GENERIC_WRONG))
def test_a_generic_wrong_answer_says_where_it_fails(qid):
    q = QUESTIONS[qid]
    result = q.evaluate({q.name: GENERIC_WRONG[qid]})
    assert result.status == INCORRECT
    assert result.mistake is None
    assert "wrong result" in result.feedback and "expected" in result.feedback


@pytest.mark.parametrize("q, value", [(ex.q4, np.sqrt(ex.Q4_PROBS)), (ex.q5, np.array([4.0, 20.0, 7.0]))],
                         ids=["1.4", "1.5"])
def test_a_generic_wrong_value_says_what_is_wrong(q, value):
    name = q.answer_names[0]
    result = q.evaluate({name: value})
    assert result.status == INCORRECT
    assert result.mistake is None
    assert f"`{name}` is not right" in result.feedback and "expected" in result.feedback


# -- (e) evaluate never raises -----------------------------------------------------------------

@pytest.mark.parametrize("q", [ex.q4, ex.q5], ids=lambda q: q.id)
@pytest.mark.parametrize("value", ["logits", np.zeros((2, 2)), [1, [2, 3]], object(), tf.zeros([5]),
                                   np.full((3, 4), np.nan), np.full((3, 4), -np.inf)],
                         ids=["string", "shape", "ragged", "object", "tensor", "nan", "-inf"])
def test_garbage_values_never_raise(q, value):
    result = q.evaluate({q.answer_names[0]: value})
    assert result.status == INCORRECT
    assert result.feedback
