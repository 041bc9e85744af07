"""The checks of chapter 2's exercises: right answers pass, empty ones are "not yet attempted",
every named mistake is recognised, other wrong answers get useful feedback, nothing raises.

The wrong answers below are written independently of the question module (SciPy, TensorFlow or
plain NumPy), as a learner would write them, so the tests do not merely compare the module's
mistake functions with themselves.
"""

import numpy as np
import pytest
import tensorflow as tf
from scipy.optimize import brentq
from scipy.special import softmax as sp_softmax
from scipy.stats import entropy as sp_entropy

from logitlab.checking import CORRECT, INCORRECT, UNATTEMPTED
from logitlab.exercises import chapter2 as ex


def _np(x):
    return np.asarray(x)


# -- correct answers, written independently -----------------------------------------------------

def softmax_scipy(x, axis=-1):
    return sp_softmax(x, axis=axis)


def softmax_tf(x, axis=-1):
    return tf.nn.softmax(tf.constant(x), axis=axis).numpy()


def temperature_scipy(logits, temperature):
    return sp_softmax(_np(logits) / temperature, axis=-1)


def temperature_tf(logits, temperature):
    return tf.nn.softmax(tf.constant(logits) / temperature, axis=-1).numpy()


def masked_tf(logits, mask):
    x = tf.where(tf.constant(mask), tf.constant(logits), float("-inf"))
    p = tf.nn.softmax(x, axis=-1)
    return tf.where(tf.math.is_nan(p), tf.zeros_like(p), p).numpy()  # a fully masked row is NaN


def masked_loop(logits, mask):
    """Row by row, as a learner might write it: softmax over the allowed classes only."""
    shape = np.shape(mask)
    logits, mask = np.atleast_2d(logits), np.atleast_2d(mask)
    out = np.zeros(logits.shape)
    for i, (row, keep) in enumerate(zip(logits, mask)):
        if keep.any():
            out[i, keep] = sp_softmax(row[keep].astype(float))
    return out.reshape(shape)


CORRECT_ANSWERS = {
    "2.1": [softmax_scipy, softmax_tf],
    "2.2": [temperature_scipy, temperature_tf],
    "2.4": [masked_tf, masked_loop],
}


# -- the named mistakes, planted as a learner would write them ----------------------------------

def softmax_no_max(x, axis=-1):
    e = np.exp(_np(x))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_mean_shift(x, axis=-1):
    x = _np(x)
    e = np.exp(x - x.mean(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_global_max(x, axis=-1):
    x = _np(x)
    e = np.exp(x - x.max())
    return e / e.sum(axis=axis, keepdims=True)


def softmax_hard_coded_axis(x, axis=-1):
    return sp_softmax(x, axis=-1)


def softmax_whole_array(x, axis=-1):
    return sp_softmax(x)  # scipy's default axis=None normalises the whole array


def softmax_twice(x, axis=-1):
    return tf.nn.softmax(tf.nn.softmax(tf.constant(x), axis=axis), axis=axis).numpy()


def temperature_multiplied(logits, temperature):
    return sp_softmax(_np(logits) * temperature, axis=-1)


def temperature_power_not_renormalised(logits, temperature):
    return sp_softmax(logits, axis=-1) ** (1 / temperature)


def temperature_divides_exp(logits, temperature):
    x = _np(logits)
    e = np.exp(x - x.max(axis=-1, keepdims=True)) / temperature
    return e / e.sum(axis=-1, keepdims=True)


def temperature_no_max(logits, temperature):
    e = np.exp(_np(logits) / temperature)
    return e / e.sum(axis=-1, keepdims=True)


def masked_zero(logits, mask):
    return sp_softmax(_np(logits) * _np(mask), axis=-1)


def masked_after_softmax(logits, mask):
    return sp_softmax(logits, axis=-1) * _np(mask)


def masked_renormalised(logits, mask):
    p = tf.nn.softmax(tf.constant(logits), axis=-1).numpy() * _np(mask)
    return p / p.sum(axis=-1, keepdims=True)


def masked_finite(logits, mask):
    return tf.nn.softmax(tf.where(tf.constant(mask), tf.constant(logits), -1e4), axis=-1).numpy()


def masked_nan_rows(logits, mask):
    return tf.nn.softmax(tf.where(tf.constant(mask), tf.constant(logits), float("-inf")), axis=-1).numpy()


def _solve(top_probability):
    return brentq(lambda t: top_probability(t) - ex.Q3_TARGET, 1e-3, 1e3, xtol=1e-14)


def q3_answers(temperature=None, entropy=None):
    t = _solve(lambda t: sp_softmax(ex.Q3_LOGITS / t).max())
    h = sp_entropy(sp_softmax(ex.Q3_LOGITS / t))
    return {"temperature_90": t if temperature is None else temperature,
            "entropy_90": h if entropy is None else entropy}


def q3_multiplied():
    t = _solve(lambda t: sp_softmax(ex.Q3_LOGITS * t).max())
    return q3_answers(temperature=t, entropy=sp_entropy(sp_softmax(ex.Q3_LOGITS * t)))


def q3_bits():
    t = q3_answers()["temperature_90"]
    return q3_answers(entropy=sp_entropy(sp_softmax(ex.Q3_LOGITS / t), base=2))


def q3_entropy_at_one():
    return q3_answers(entropy=sp_entropy(sp_softmax(ex.Q3_LOGITS)))


PLANTED = {
    ("2.1", "no_max_subtraction"): softmax_no_max,
    ("2.1", "mean_instead_of_max"): softmax_mean_shift,
    ("2.1", "global_max"): softmax_global_max,
    ("2.1", "ignored_axis"): softmax_hard_coded_axis,
    ("2.1", "whole_array"): softmax_whole_array,
    ("2.1", "softmax_twice"): softmax_twice,
    ("2.2", "multiplied_by_temperature"): temperature_multiplied,
    ("2.2", "temperature_after_softmax"): temperature_power_not_renormalised,
    ("2.2", "temperature_ignored"): temperature_divides_exp,
    ("2.2", "no_max_subtraction"): temperature_no_max,
    ("2.3", "multiplied_by_temperature"): q3_multiplied,
    ("2.3", "entropy_in_bits"): q3_bits,
    ("2.3", "entropy_at_temperature_one"): q3_entropy_at_one,
    ("2.4", "mask_with_zero"): masked_zero,
    ("2.4", "zeroed_after_softmax"): masked_after_softmax,
    ("2.4", "renormalised_after_softmax"): masked_renormalised,
    ("2.4", "finite_mask_value"): masked_finite,
    ("2.4", "nan_for_empty_row"): masked_nan_rows,
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


def test_q3_right_answers_pass():
    assert ex.q3.evaluate(q3_answers()).status == CORRECT
    namespace = {"np": np, "ex": ex}
    exec(ex.q3.solution_code, namespace)
    result = ex.q3.evaluate(namespace)
    assert result.status == CORRECT, result.feedback
    # a bisection stopped at a tolerance of 1e-6 is accepted too
    t = q3_answers()["temperature_90"]
    assert ex.q3.evaluate(q3_answers(temperature=t * (1 + 2e-6))).status == CORRECT


def test_q3_expects_the_reference_numbers():
    expected = ex.q3.expected()
    t = expected["temperature_90"]
    assert sp_softmax(ex.Q3_LOGITS / t).max() == pytest.approx(0.9, abs=1e-12)
    assert 0.3 < t < 0.5
    assert expected["entropy_90"] == pytest.approx(sp_entropy(sp_softmax(ex.Q3_LOGITS / t)), rel=1e-12)


def test_the_reference_masked_softmax_keeps_the_dtype_and_zeros_empty_rows():
    p = ex.q4.reference(np.float32([[1, 2], [3, 4]]), np.array([[True, False], [False, False]]))
    assert p.dtype == np.float32
    np.testing.assert_array_equal(p, [[1, 0], [0, 0]])


# -- (b) unattempted answers -------------------------------------------------------------------

@pytest.mark.parametrize("given", [{}, {"temperature_90": 0.4}, {"temperature_90": None, "entropy_90": 0.4}])
def test_unattempted_values_are_reported_as_such(given):
    result = ex.q3.evaluate(given)
    assert result.status == UNATTEMPTED
    assert "_90" in result.feedback


# -- (c) every named mistake is recognised -----------------------------------------------------

@pytest.mark.parametrize("key", sorted(PLANTED), ids=lambda k: f"{k[0]}-{k[1]}")
def test_each_named_mistake_is_recognised(key):
    qid, name = key
    q = QUESTIONS[qid]
    with np.errstate(all="ignore"):
        answers = PLANTED[key]() if qid == "2.3" else {q.name: PLANTED[key]}
        result = q.evaluate(answers)
    assert result.status == INCORRECT
    assert result.mistake == name, (result.mistake, result.feedback)
    message = next(m.message for m in q.mistakes if m.name == name)
    assert result.feedback == message


def test_the_naive_formula_really_breaks_on_the_extreme_cases():
    """The mistakes are recognised because they give NaN where the right answer is finite."""
    with np.errstate(all="ignore"):
        assert np.isnan(softmax_no_max(np.float32([1000, 0]))).any()
        assert np.isnan(softmax_no_max(np.float32([-1000, -1000]))).all()
        assert np.isnan(softmax_global_max(np.float32([[0, 0], [-1000, -1000]]))[1]).all()
        assert np.isnan(softmax_mean_shift(np.float32([1000, 0]))).any()
        assert np.isnan(temperature_no_max(np.float32([3, 2.9, 0]), 0.01)).any()
        assert np.isnan(masked_renormalised(np.float32([1000, 0, 5]), np.array([False, True, True]))).all()
    np.testing.assert_array_equal(ex.q1.reference(np.float32([1000, 0])), [1, 0])


# -- (d) other wrong answers get useful feedback -----------------------------------------------

GENERIC_WRONG = {
    "2.1": lambda x, axis=-1: sp_softmax(_np(x) * 1.1, axis=axis),
    "2.2": lambda logits, temperature: sp_softmax(_np(logits) / (temperature + 0.5), axis=-1),
    "2.4": lambda logits, mask: masked_loop(logits, mask) * 0.5,
}


@pytest.mark.parametrize("qid", sorted(GENERIC_WRONG))
def test_a_generic_wrong_answer_says_where_it_fails(qid):
    q = QUESTIONS[qid]
    result = q.evaluate({q.name: GENERIC_WRONG[qid]})
    assert result.status == INCORRECT
    assert result.mistake is None
    assert "wrong result" in result.feedback and "expected" in result.feedback


def test_a_generic_wrong_value_says_what_is_wrong():
    result = ex.q3.evaluate(q3_answers(temperature=0.5))
    assert result.status == INCORRECT
    assert result.mistake is None
    assert "`temperature_90` is not right" in result.feedback and "expected" in result.feedback


# -- (e) evaluate never raises -----------------------------------------------------------------

@pytest.mark.parametrize(
    "given",
    [
        {"temperature_90": "hot", "entropy_90": "high"},
        {"temperature_90": np.zeros((2, 2)), "entropy_90": 0.0},
        {"temperature_90": [1, [2, 3]], "entropy_90": object()},
        {"temperature_90": tf.constant(0.4), "entropy_90": np.array([1.0, 2.0])},
    ],
)
def test_garbage_values_never_raise(given):
    result = ex.q3.evaluate(given)
    assert result.status == INCORRECT
    assert result.feedback
