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




def online_hint(m, s, chunk):
    """The hints' formula: per-row maximum, rescaled sum, -inf rows guarded with np.where."""
    new_m = np.maximum(m, np.max(chunk, axis=-1))
    safe = np.where(np.isfinite(new_m), new_m, 0.0)
    new_s = s * np.exp(np.where(np.isfinite(new_m), m - safe, 0.0)) + np.sum(np.exp(chunk - safe[:, None]), axis=-1)
    return new_m, new_s


def online_loop(m, s, chunk):
    """Row by row with the chapter's one-row update, skipping a row that has nothing finite."""
    new_m, new_s = np.array(m, dtype=float), np.array(s, dtype=float)
    for i, row in enumerate(np.asarray(chunk, dtype=float)):
        row_max = max(row)
        if row_max == -math.inf:
            continue
        top = max(new_m[i], row_max)
        new_s[i] = new_s[i] * math.exp(new_m[i] - top) + sum(math.exp(v - top) for v in row)
        new_m[i] = top
    return new_m, new_s


def online_tf(m, s, chunk):
    c = tf.constant(chunk)
    new_m = tf.maximum(tf.constant(m), tf.reduce_max(c, axis=-1))
    safe = tf.where(tf.math.is_finite(new_m), new_m, tf.zeros_like(new_m))
    new_s = s * tf.exp(tf.constant(m) - safe) + tf.reduce_sum(tf.exp(c - safe[:, None]), axis=-1)
    return new_m.numpy(), new_s.numpy()


def online_via_logsumexp(m, s, chunk):
    """Through log-sum-exps: the state's m + log s, the chunk's, combined with np.logaddexp."""
    with np.errstate(divide="ignore"):
        total = np.logaddexp(m + np.log(s), sp_logsumexp(chunk, axis=-1))
    new_m = np.maximum(m, np.max(chunk, axis=-1))
    return new_m, np.where(np.isfinite(new_m), np.exp(total - np.where(np.isfinite(new_m), new_m, 0.0)), 0.0)


def online_float32(m, s, chunk):
    m, s, c = (np.asarray(a, dtype=np.float32) for a in (m, s, chunk))
    new_m = np.maximum(m, c.max(axis=-1))
    shift = np.where(new_m == -np.inf, np.float32(0), new_m)
    return new_m, s * np.exp(m - shift) + np.exp(c - shift[:, None]).sum(axis=-1)


def online_nan_to_zero(m, s, chunk):
    """The plain update, then NaN (a row that has seen only -inf) replaced by 0."""
    new_m = np.maximum(m, np.max(chunk, axis=-1))
    new_s = s * np.exp(m - new_m) + np.exp(chunk - new_m[:, None]).sum(axis=-1)
    return new_m, np.nan_to_num(new_s, nan=0.0)


# -- the named mistakes, planted as a learner would write them ----------------------------------

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


def online_unguarded_tf(m, s, chunk):
    c = tf.constant(chunk)
    new_m = tf.maximum(tf.constant(m), tf.reduce_max(c, axis=-1))
    return new_m.numpy(), (s * tf.exp(m - new_m) + tf.reduce_sum(tf.exp(c - new_m[:, None]), axis=-1)).numpy()


def online_not_rescaled(m, s, chunk):
    new_m = np.maximum(m, np.max(chunk, axis=-1))
    safe = np.where(np.isfinite(new_m), new_m, 0.0)
    return new_m, s + np.sum(np.exp(chunk - safe[:, None]), axis=-1)


def online_rescaled_upwards(m, s, chunk):
    new_m = np.maximum(m, np.max(chunk, axis=-1))
    safe = np.where(np.isfinite(new_m), new_m, 0.0)
    return new_m, s * np.exp(safe - m) + np.sum(np.exp(chunk - safe[:, None]), axis=-1)


def online_chapter_copied(m, s, chunk):
    """The chapter's guarded one-row update, applied to the batch as it is."""
    chunk_max = float(np.max(chunk))
    if chunk_max == -np.inf:
        return m, s
    new_m = np.maximum(m, chunk_max)
    return new_m, s * np.exp(m - new_m) + np.sum(np.exp(chunk - new_m[:, None]), axis=-1)


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
    ("2.1", "masked_row_nan"): online_unguarded_tf,
    ("2.1", "not_rescaled"): online_not_rescaled,
    ("2.1", "rescaled_upwards"): online_rescaled_upwards,
    ("2.1", "one_maximum_for_the_batch"): online_chapter_copied,
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
    "2.1": [online_hint, online_loop, online_tf, online_via_logsumexp, online_float32, online_nan_to_zero],
    "2.2": [temperature_scipy, temperature_tf, temperature_chapter, temperature_logsumexp, temperature_loop],
    "2.3": [q3_reference_answers, q3_bisection, q3_tensorflow, q3_solver_tolerance, q3_log_temperature],
    "2.4": [masked_tf, masked_loop, masked_hint, masked_multiply, masked_scipy_nan_to_zero],
}


# -- wrong answers that no message names -------------------------------------------------------

def online_returns_logsumexp(m, s, chunk):
    new_m, new_s = online_hint(m, s, chunk)
    with np.errstate(divide="ignore"):
        return new_m + np.log(new_s)


def online_update_only_when_max_grows(m, s, chunk):
    new_m, new_s = online_hint(m, s, chunk)
    return new_m, np.where(new_m > m, new_s, s)


def online_mean_shift(m, s, chunk):
    new_m = np.maximum(m, np.max(chunk, axis=-1))
    finite = np.where(np.isfinite(chunk), chunk, np.nan)
    shift = np.nan_to_num(np.nanmean(finite, axis=-1))
    return new_m, s * np.exp(np.where(np.isfinite(m), m - shift, -np.inf)) + np.exp(chunk - shift[:, None]).sum(axis=-1)


def online_log_of_sum(m, s, chunk):
    new_m, new_s = online_hint(m, s, chunk)
    with np.errstate(divide="ignore"):
        return new_m, np.log(new_s)


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
    "2.1": [online_returns_logsumexp, online_update_only_when_max_grows, online_mean_shift, online_log_of_sum],
    "2.2": [temperature_added, temperature_squared, temperature_subtracted],
    "2.3": [q3_rounded, q3_guessed, q3_entropy_of_logits],
    "2.4": [masked_inverted, masked_halved, masked_uniform_over_kept],
}
