"""Chapter 2's battery: answers as learners write them (RIGHT, NAMED, UNNAMED; see
tests/test_exercises_battery.py, which runs them)."""

import math

import numpy as np
import tensorflow as tf
from scipy.optimize import brentq
from scipy.special import logsumexp as sp_logsumexp
from scipy.special import softmax as sp_softmax
from scipy.stats import entropy as sp_entropy

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


NAMED = {
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


# -- more right answers: loops, the chapter's and the hints' formulas, float32 where allowed -----

def softmax_chapter(x, axis=-1):
    z = _np(x)
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def softmax_logsumexp_float32(x, axis=-1):
    z = np.asarray(x, dtype=np.float32)  # exp(z - lse(z)): the log-sum-exp form, in float32
    m = np.max(z, axis=axis, keepdims=True)
    lse = m + np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True))
    return np.exp(z - lse)


def softmax_loop(x, axis=-1):
    z = np.moveaxis(np.asarray(x, dtype=float), axis, -1)
    out = np.empty(z.shape)
    for index in np.ndindex(z.shape[:-1]):
        row = z[index]
        m = max(row)
        e = [math.exp(v - m) for v in row]
        out[index] = [v / sum(e) for v in e]
    return np.moveaxis(out, -1, axis)


def temperature_chapter(logits, temperature):
    z = _np(logits) / temperature
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def temperature_logsumexp(logits, temperature):
    z = _np(logits) / temperature
    return np.exp(z - sp_logsumexp(z, axis=-1, keepdims=True))


def temperature_loop(logits, temperature):
    z = np.atleast_2d(np.asarray(logits, dtype=float)) / temperature
    out = np.array([sp_softmax(row) for row in z])
    return out.reshape(np.shape(logits))


def masked_hint(logits, mask):
    z = np.where(mask, _np(logits), -np.inf)
    m = np.max(z, axis=-1, keepdims=True)
    e = np.exp(z - np.where(np.isfinite(m), m, 0))
    total = e.sum(axis=-1, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)


def masked_multiply(logits, mask):
    z = _np(logits)
    keep = np.asarray(mask, dtype=bool)
    m = np.max(np.where(keep, z, -np.inf), axis=-1, keepdims=True)
    e = np.where(keep, np.exp(z - np.where(np.isfinite(m), m, 0)), 0.0)
    total = e.sum(axis=-1, keepdims=True)
    return e / np.where(total > 0, total, 1.0)


def masked_scipy_nan_to_zero(logits, mask):
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(sp_softmax(np.where(mask, _np(logits), -np.inf), axis=-1), nan=0.0)


def q3_reference_answers():
    return q3_answers()


def q3_bisection():
    def top(t):
        z = ex.Q3_LOGITS / t
        e = np.exp(z - z.max())
        return (e / e.sum()).max()
    low, high = 0.01, 10.0
    while high - low > 1e-10:
        mid = (low + high) / 2
        low, high = (mid, high) if top(mid) > ex.Q3_TARGET else (low, mid)
    p = sp_softmax(ex.Q3_LOGITS / low)
    return {"temperature_90": low, "entropy_90": -np.sum(p * np.log(p))}


def q3_tensorflow():
    def top(t):
        return float(tf.reduce_max(tf.nn.softmax(tf.constant(ex.Q3_LOGITS) / t)))
    t = brentq(lambda t: top(t) - ex.Q3_TARGET, 0.05, 5.0, xtol=1e-12)
    p = tf.nn.softmax(tf.constant(ex.Q3_LOGITS) / t)
    return {"temperature_90": t, "entropy_90": -tf.reduce_sum(p * tf.math.log(p))}


def q3_solver_tolerance():
    t = q3_answers()["temperature_90"]
    return q3_answers(temperature=t * (1 + 2e-6))  # a bisection stopped at 1e-6 relative


def q3_log_temperature():
    t = math.exp(brentq(lambda s: sp_softmax(ex.Q3_LOGITS / math.exp(s)).max() - 0.9, -5, 5, xtol=1e-13))
    return {"temperature_90": t, "entropy_90": sp_entropy(sp_softmax(ex.Q3_LOGITS / t))}


RIGHT = {
    "2.1": [softmax_scipy, softmax_tf, softmax_chapter, softmax_logsumexp_float32, softmax_loop],
    "2.2": [temperature_scipy, temperature_tf, temperature_chapter, temperature_logsumexp, temperature_loop],
    "2.3": [q3_reference_answers, q3_bisection, q3_tensorflow, q3_solver_tolerance, q3_log_temperature],
    "2.4": [masked_tf, masked_loop, masked_hint, masked_multiply, masked_scipy_nan_to_zero],
}


# -- wrong answers that no message names -------------------------------------------------------

def softmax_sharpened(x, axis=-1):
    return sp_softmax(_np(x) * 1.1, axis=axis)


def softmax_sigmoid_each(x, axis=-1):
    return 1 / (1 + np.exp(-_np(x)))


def softmax_normalised_logits(x, axis=-1):
    z = _np(x)
    return z / np.sum(z, axis=axis, keepdims=True)


def softmax_min_shift_clipped(x, axis=-1):
    z = _np(x)
    e = np.exp(np.clip(z - np.min(z, axis=axis, keepdims=True), None, 50))
    return e / e.sum(axis=axis, keepdims=True)


def temperature_added(logits, temperature):
    return sp_softmax(_np(logits) / (temperature + 0.5), axis=-1)


def temperature_squared(logits, temperature):
    return sp_softmax(_np(logits) / temperature ** 2, axis=-1)


def temperature_subtracted(logits, temperature):
    return sp_softmax(_np(logits) - temperature, axis=-1)


def q3_rounded():
    values = q3_answers()
    return {name: round(float(v), 2) for name, v in values.items()}


def q3_guessed():
    return q3_answers(temperature=0.5)


def q3_entropy_of_logits():
    return q3_answers(entropy=sp_entropy(np.abs(ex.Q3_LOGITS)))


def masked_inverted(logits, mask):
    return masked_loop(logits, ~np.asarray(mask, dtype=bool))


def masked_halved(logits, mask):
    return masked_loop(logits, mask) * 0.5


def masked_uniform_over_kept(logits, mask):
    keep = np.asarray(mask, dtype=float) * np.ones(np.shape(logits))
    total = keep.sum(axis=-1, keepdims=True)
    return keep / np.where(total > 0, total, 1)


UNNAMED = {
    "2.1": [softmax_sharpened, softmax_sigmoid_each, softmax_normalised_logits, softmax_min_shift_clipped],
    "2.2": [temperature_added, temperature_squared, temperature_subtracted],
    "2.3": [q3_rounded, q3_guessed, q3_entropy_of_logits],
    "2.4": [masked_inverted, masked_halved, masked_uniform_over_kept],
}
