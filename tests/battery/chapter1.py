"""Chapter 1's battery: answers as learners write them (RIGHT, NAMED, UNNAMED; see
tests/test_exercises_battery.py, which runs them)."""

import math

import numpy as np
import tensorflow as tf
from scipy.special import expit as sp_expit
from scipy.special import log_softmax as sp_log_softmax
from scipy.special import logsumexp as sp_logsumexp
from scipy.special import logit as sp_logit
from scipy.special import softmax as sp_softmax

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


NAMED = {
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


# -- more right answers: loops, the chapter's and the hints' formulas, float32 where allowed -----

def logit_two_logs(p):
    p = _np(p)
    with np.errstate(divide="ignore"):
        return np.log(p) - np.log(1 - p)  # the chapter's formula


def logit_loop(p):
    p = _np(p)
    out = np.empty(p.shape)
    for i, v in np.ndenumerate(p):
        v = float(v)
        out[i] = -math.inf if v == 0 else math.inf if v == 1 else math.log(v) - math.log1p(-v)
    return out


def sigmoid_hint(x):
    x = _np(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_loop(x):
    x = _np(x)
    out = np.empty(x.shape, dtype=x.dtype)
    for i, v in np.ndenumerate(x):
        out[i] = 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))
    return out


def sigmoid_float32_softplus(x):
    x = np.asarray(x, dtype=np.float32)
    return np.exp(-np.logaddexp(np.float32(0), -x))  # exp(-softplus(-x)), in float32


def lsm_chapter_float32(z, axis=-1):
    z = np.asarray(z, dtype=np.float32)  # the chapter's formula, in float32 (the example)
    m = np.max(z, axis=axis, keepdims=True)
    return z - (m + np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True)))


def lsm_scipy_logsumexp(z, axis=-1):
    return _np(z) - sp_logsumexp(z, axis=axis, keepdims=True)


def lsm_loop(z, axis=-1):
    z = np.moveaxis(np.asarray(z, dtype=float), axis, -1)
    out = np.empty(z.shape)
    for index in np.ndindex(z.shape[:-1]):
        row = z[index]
        m = max(row)
        out[index] = row - (m + math.log(sum(math.exp(v - m) for v in row)))
    return np.moveaxis(out, -1, axis)


def q4_log():
    return {"recovered_logits": np.log(ex.Q4_PROBS)}


def q4_shifted_per_row():
    return {"recovered_logits": np.log(ex.Q4_PROBS) + np.array([[3.0], [-40.0], [0.25]])}


def q4_tf_shifted():
    return {"recovered_logits": tf.math.log(tf.constant(ex.Q4_PROBS)) - 2.0}


def q4_float32():
    return {"recovered_logits": np.log(ex.Q4_PROBS.astype(np.float32))}


def q4_centred():
    logp = np.log(ex.Q4_PROBS)
    return {"recovered_logits": logp - logp.mean(axis=-1, keepdims=True)}


def q5_exp_difference():
    return {"odds": np.exp(ex.Q5_LOGITS[:, 0] - ex.Q5_LOGITS[:, 1])}


def q5_log_softmax_tf():
    log_p = tf.nn.log_softmax(tf.constant(ex.Q5_LOGITS))
    return {"odds": tf.exp(log_p[:, 0] - log_p[:, 1])}


def q5_typed_in():
    return {"odds": [math.exp(1.5), math.exp(3.0), math.exp(2.0)]}


def q5_loop():
    return {"odds": np.array([math.exp(float(a) - float(b)) for a, b, _ in ex.Q5_LOGITS])}


def q5_scipy():
    log_p = sp_log_softmax(ex.Q5_LOGITS.astype(float), axis=-1)
    return {"odds": np.exp(log_p[:, 0] - log_p[:, 1])}


RIGHT = {
    "1.1": [logit_scipy, logit_odds, logit_tf, logit_two_logs, logit_loop],
    "1.2": [sigmoid_scipy, sigmoid_tf, sigmoid_tanh, sigmoid_hint, sigmoid_loop, sigmoid_float32_softplus],
    "1.3": [lsm_scipy, lsm_tf, lsm_chapter_float32, lsm_scipy_logsumexp, lsm_loop],
    "1.4": [q4_log, q4_shifted_per_row, q4_tf_shifted, q4_float32, q4_centred],
    "1.5": [q5_exp_difference, q5_log_softmax_tf, q5_typed_in, q5_loop, q5_scipy],
}


# -- wrong answers that no message names -------------------------------------------------------

def logit_half(p):
    return sp_logit(p) * 0.5


def logit_plus_in_denominator(p):
    p = _np(p)
    return np.log(p / (1 + p))


def logit_ratio_of_logs(p):
    p = _np(p)
    return np.log(p) / np.log1p(-p)


def logit_math_loop_without_guard(p):
    return np.array([math.log(v / (1 - v)) for v in np.ravel(p)]).reshape(np.shape(p))


def sigmoid_doubled(x):
    return sp_expit(_np(x) * 2)


def sigmoid_clipped_probabilities(x):
    return np.clip(sp_expit(x), 0.01, 0.99)


def sigmoid_missing_one(x):
    x = _np(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / e, e)


def lsm_shifted(z, axis=-1):
    return sp_log_softmax(z, axis=axis) - 0.1


def lsm_mean_not_max(z, axis=-1):
    z = _np(z)
    return z - np.mean(z, axis=axis, keepdims=True)


def lsm_float16(z, axis=-1):
    return sp_log_softmax(np.asarray(z, dtype=np.float16), axis=axis)


def lsm_no_keepdims_last_axis(z, axis=-1):
    z = _np(z)
    return (z.T - sp_logsumexp(z, axis=axis)).T


def q4_shift_per_column():
    return {"recovered_logits": np.log(ex.Q4_PROBS) + np.array([0.0, 1.0, 0.0, 0.0])}


def q4_sqrt():
    return {"recovered_logits": np.sqrt(ex.Q4_PROBS)}


def q4_one_minus_log():
    return {"recovered_logits": np.log1p(-ex.Q4_PROBS)}


def q5_probability_ratio_without_softmax():
    z = ex.Q5_LOGITS.astype(float)
    return {"odds": z[:, 0] / z[:, 1]}


def q5_second_minus_third():
    return {"odds": np.exp(ex.Q5_LOGITS[:, 1] - ex.Q5_LOGITS[:, 2])}


def q5_made_up():
    return {"odds": np.array([4.0, 20.0, 7.0])}


UNNAMED = {
    "1.1": [logit_half, logit_plus_in_denominator, logit_ratio_of_logs, logit_math_loop_without_guard],
    "1.2": [sigmoid_doubled, sigmoid_clipped_probabilities, sigmoid_missing_one],
    "1.3": [lsm_shifted, lsm_mean_not_max, lsm_float16, lsm_no_keepdims_last_axis],
    "1.4": [q4_shift_per_column, q4_sqrt, q4_one_minus_log],
    "1.5": [q5_probability_ratio_without_softmax, q5_second_minus_third, q5_made_up],
}
