"""Chapter 5's battery: answers as learners write them (RIGHT, NAMED, UNNAMED; see
tests/test_exercises_battery.py, which runs them)."""

import keras
import numpy as np
import tensorflow as tf
from scipy.special import logsumexp as sp_logsumexp
from scipy.special import softmax as sp_softmax

from logitlab.exercises import chapter5 as ex



def _np(x):
    return np.asarray(x)


# -- correct answers, written independently -----------------------------------------------------

def topk_tf(logits, k):
    """tf.math.top_k: exactly k values per row, the lower index first on ties."""
    x = tf.constant(logits)
    indices = tf.math.top_k(x, k=k).indices.numpy()
    keep = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(keep, indices, True, axis=-1)
    return np.where(keep, x.numpy(), -np.inf)


def topk_rank(logits, k):
    """A rank computed with a double stable argsort."""
    x = _np(logits)
    ranks = np.argsort(np.argsort(-x, axis=-1, kind="stable"), axis=-1, kind="stable")
    return np.where(ranks < k, x, -np.inf)


def topk_probs_tf(logits, k):
    return tf.nn.softmax(topk_tf(logits, k)).numpy()


def topk_probs_renormalised(logits, k):
    p = sp_softmax(_np(logits, ).astype(float), axis=-1)
    kept = np.where(np.isfinite(topk_rank(logits, k)), p, 0.0)
    return kept / kept.sum(axis=-1, keepdims=True)


def topp_loop(logits, p):
    """Row by row, token by token, as a learner might write it in plain Python."""
    x = np.atleast_2d(_np(logits)).astype(float)
    out = np.full(x.shape, -np.inf)
    for r, row in enumerate(x):
        probs = sp_softmax(row)
        mass = 0.0
        for i in sorted(range(len(row)), key=lambda j: (-row[j], j)):
            if mass >= p:
                break
            out[r, i] = row[i]
            mass += probs[i]
    return out.reshape(_np(logits).shape)


def topp_tf(logits, p):
    x = tf.constant(logits, dtype=tf.float64)
    order = tf.argsort(x, direction="DESCENDING", stable=True)
    sorted_probs = tf.gather(tf.nn.softmax(x), order, batch_dims=len(x.shape) - 1)
    mass_before = tf.math.cumsum(sorted_probs, axis=-1, exclusive=True)
    keep_sorted = (mass_before < p).numpy()
    keep = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(keep, order.numpy(), keep_sorted, axis=-1)
    return np.where(keep, _np(logits), -np.inf)


def sample_top_k_tf_probs(logits, k, rng, num_samples=1, temperature=1.0):
    probs = topk_probs_tf(_np(logits).astype(float) / temperature, k)
    return rng.choice(len(probs), size=num_samples, p=probs)


def sample_top_k_gumbel(logits, k, rng, num_samples=1, temperature=1.0):
    z = topk_rank(_np(logits).astype(float) / temperature, k)
    return np.argmax(z + rng.gumbel(size=(num_samples, len(z))), axis=-1)


def sample_top_k_inverse_cdf(logits, k, rng, num_samples=1, temperature=1.0):
    probs = topk_probs_renormalised(_np(logits).astype(float) / temperature, k)
    cdf = np.cumsum(probs)
    return np.minimum(np.searchsorted(cdf, rng.random(num_samples) * cdf[-1], side="right"), len(probs) - 1)




# -- the named mistakes, planted as a learner would write them ----------------------------------

def topk_plus_one(logits, k):
    x = _np(logits)
    idx = np.argsort(x, axis=-1, kind="stable")[..., -(k + 1):]
    out = np.full(x.shape, -np.inf)
    np.put_along_axis(out, idx, np.take_along_axis(x, idx, axis=-1), axis=-1)
    return out


def topk_strict(logits, k):
    x = tf.constant(logits)
    kth = tf.math.top_k(x, k=k).values[..., -1:]
    return tf.where(x > kth, x, -np.inf).numpy()


def topk_zero(logits, k):
    x = _np(logits)
    kept = tf.math.top_k(x, k=k).indices.numpy()
    out = np.zeros_like(x)
    np.put_along_axis(out, kept, np.take_along_axis(x, kept, axis=-1), axis=-1)
    return out


def topk_ties_all(logits, k):
    x = _np(logits)
    kth = np.partition(x, -k, axis=-1)[..., -k]
    return np.where(x >= kth[..., None], x, -np.inf)


def topk_ties_higher(logits, k):
    x = _np(logits)
    idx = np.argsort(x, axis=-1, kind="stable")[..., ::-1][..., :k]
    keep = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(keep, idx, True, axis=-1)
    return np.where(keep, x, -np.inf)


def topk_whole_batch(logits, k):
    x = _np(logits)
    kth = np.sort(x.ravel())[::-1][k - 1]
    return np.where(x >= kth, x, -np.inf)


def probs_not_renormalised(logits, k):
    p = tf.nn.softmax(tf.constant(logits)).numpy()
    return np.where(np.isfinite(topk_tf(logits, k)), p, 0.0)


def probs_zero_logits(logits, k):
    return sp_softmax(topk_zero(logits, k), axis=-1)


def probs_naive(logits, k):
    e = np.exp(topk_tf(logits, k))
    return e / e.sum(axis=-1, keepdims=True)


def probs_over_batch(logits, k):
    z = topk_tf(logits, k)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum()


def topp_crossing_excluded(logits, p):
    x = np.atleast_2d(_np(logits)).astype(float)
    out = np.full(x.shape, -np.inf)
    for r, row in enumerate(x):
        probs = sp_softmax(row)
        mass = 0.0
        for i in np.argsort(-row, kind="stable"):
            mass += probs[i]
            if mass > p:
                break
            out[r, i] = row[i]
    return out.reshape(_np(logits).shape)


def topp_boundary_kept(logits, p):
    x = tf.constant(logits, dtype=tf.float64)
    order = tf.argsort(x, direction="DESCENDING", stable=True)
    sorted_probs = tf.gather(tf.nn.softmax(x), order, batch_dims=len(x.shape) - 1)
    keep_sorted = (tf.math.cumsum(sorted_probs, axis=-1, exclusive=True) <= p).numpy()
    keep = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(keep, order.numpy(), keep_sorted, axis=-1)
    return np.where(keep, _np(logits), -np.inf)


def topp_ascending(logits, p):
    x = _np(logits).astype(float)
    probs = sp_softmax(x, axis=-1)
    order = np.argsort(x, axis=-1, kind="stable")          # forgot to reverse
    sorted_probs = np.take_along_axis(probs, order, axis=-1)
    keep_sorted = np.cumsum(sorted_probs, axis=-1) - sorted_probs < p
    keep = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(keep, order, keep_sorted, axis=-1)
    return np.where(keep, x, -np.inf)


def topp_probabilities(logits, p):
    probs = sp_softmax(_np(logits).astype(float), axis=-1)
    return np.where(np.isfinite(topp_loop(logits, p)), probs, 0.0)


def sample_no_filter(logits, k, rng, num_samples=1, temperature=1.0):
    probs = sp_softmax(_np(logits).astype(float) / temperature)
    return rng.choice(len(probs), size=num_samples, p=probs)


def sample_uniform(logits, k, rng, num_samples=1, temperature=1.0):
    top = tf.math.top_k(tf.constant(logits), k=k).indices.numpy()
    return rng.choice(top, size=num_samples)


def sample_multiplied(logits, k, rng, num_samples=1, temperature=1.0):
    probs = topk_probs_renormalised(_np(logits).astype(float) * temperature, k)
    return rng.choice(len(probs), size=num_samples, p=probs)


def sample_k_plus_one(logits, k, rng, num_samples=1, temperature=1.0):
    z = topk_plus_one(_np(logits).astype(float) / temperature, k)
    return np.argmax(z + rng.gumbel(size=(num_samples, len(z))), axis=-1)


def q3_answers(greedy_ids=None, cool_probs=None):
    logits = tf.constant(ex.Q3_LOGITS)
    return {
        "greedy_ids": tf.argmax(logits, axis=-1) if greedy_ids is None else greedy_ids,
        "cool_probs": tf.nn.softmax(logits / ex.Q3_TEMPERATURE) if cool_probs is None else cool_probs,
    }


def q3_multiplied():
    return q3_answers(cool_probs=tf.nn.softmax(tf.constant(ex.Q3_LOGITS) * ex.Q3_TEMPERATURE))


def q3_naive():
    e = tf.exp(tf.constant(ex.Q3_LOGITS) / ex.Q3_TEMPERATURE)
    return q3_answers(cool_probs=e / tf.reduce_sum(e, axis=-1, keepdims=True))


def q3_argmax_over_batch():
    return q3_answers(greedy_ids=tf.argmax(tf.constant(ex.Q3_LOGITS), axis=0))


def q3_extra_axis():
    return q3_answers(greedy_ids=tf.math.top_k(tf.constant(ex.Q3_LOGITS), k=1).indices)


NAMED = {
    ("5.1", "kept_k_plus_one"): topk_plus_one,
    ("5.1", "strict_threshold"): topk_strict,
    ("5.1", "zero_instead_of_inf"): topk_zero,
    ("5.1", "ties_keep_more_than_k"): topk_ties_all,
    ("5.1", "ties_prefer_higher_index"): topk_ties_higher,
    ("5.1", "whole_batch_threshold"): topk_whole_batch,
    ("5.2", "not_renormalised"): probs_not_renormalised,
    ("5.2", "zero_instead_of_inf"): probs_zero_logits,
    ("5.2", "unstable_softmax"): probs_naive,
    ("5.2", "normalised_over_batch"): probs_over_batch,
    ("5.3", "temperature_multiplied"): q3_multiplied,
    ("5.3", "unstable_softmax"): q3_naive,
    ("5.3", "argmax_over_batch"): q3_argmax_over_batch,
    ("5.3", "extra_axis"): q3_extra_axis,
    ("5.4", "crossing_token_excluded"): topp_crossing_excluded,
    ("5.4", "boundary_token_kept"): topp_boundary_kept,
    ("5.4", "least_likely_kept"): topp_ascending,
    ("5.4", "returned_probabilities"): topp_probabilities,
    ("5.5", "no_filter"): sample_no_filter,
    ("5.5", "uniform_over_top_k"): sample_uniform,
    ("5.5", "temperature_multiplied"): sample_multiplied,
    ("5.5", "kept_k_plus_one"): sample_k_plus_one,
}


# -- more right answers: loops, the chapter's and the hints' formulas, float32 where allowed -----

def topk_hint(logits, k):
    x = _np(logits)
    order = np.argsort(-x, axis=-1, kind="stable")
    keep = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(keep, order[..., :k], True, axis=-1)
    return np.where(keep, x, -np.inf)


def topk_loop(logits, k):
    x = np.atleast_2d(_np(logits))
    out = np.full(x.shape, -np.inf, dtype=float)
    for r, row in enumerate(x):
        for i in sorted(range(len(row)), key=lambda j: (-row[j], j))[:k]:
            out[r, i] = row[i]
    return out.reshape(_np(logits).shape)


def topk_lexsort(logits, k):
    x = np.atleast_2d(_np(logits))
    out = np.full(x.shape, -np.inf, dtype=x.dtype)
    for r, row in enumerate(x):
        chosen = np.lexsort((np.arange(len(row)), -row))[:k]
        out[r, chosen] = row[chosen]
    return out.reshape(_np(logits).shape)


def topk_probs_hint(logits, k):
    z = topk_hint(logits, k)
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def topk_probs_float32_logsumexp(logits, k):
    z = topk_hint(np.asarray(logits, dtype=np.float32), k)
    return np.exp(z - sp_logsumexp(z, axis=-1, keepdims=True)).astype(np.float32)


def topk_probs_loop(logits, k):
    z = np.atleast_2d(topk_loop(logits, k))
    return np.array([sp_softmax(row) for row in z]).reshape(np.shape(logits))


def topp_hint(logits, p):
    x = _np(logits)
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    probs = e / np.sum(e, axis=-1, keepdims=True)
    order = np.argsort(-x, axis=-1, kind="stable")
    sorted_probs = np.take_along_axis(probs, order, axis=-1)
    mass_before = np.cumsum(sorted_probs, axis=-1) - sorted_probs
    keep = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(keep, order, mass_before < p, axis=-1)
    return np.where(keep, x, -np.inf)


def topp_float32(logits, p):
    return topp_hint(np.asarray(logits, dtype=np.float32), p)


def topp_count(logits, p):
    """How many tokens to keep: the first position where the mass before reaches p."""
    x = np.atleast_2d(_np(logits))
    out = np.full(x.shape, -np.inf)
    for r, row in enumerate(x):
        order = np.argsort(-row, kind="stable")
        mass = np.cumsum(sp_softmax(row.astype(float))[order])
        count = int(np.sum(np.concatenate([[0.0], mass[:-1]]) < p))
        out[r, order[:count]] = row[order[:count]]
    return out.reshape(_np(logits).shape)


def sample_hint(logits, k, rng, num_samples=1, temperature=1.0):
    z = topk_hint(np.asarray(logits, dtype=float) / temperature, k)
    e = np.exp(z - np.max(z))
    return rng.choice(len(e), size=num_samples, p=e / e.sum())


def sample_multinomial(logits, k, rng, num_samples=1, temperature=1.0):
    probs = topk_probs_hint(np.asarray(logits, dtype=float) / temperature, k)
    return rng.multinomial(1, probs, size=num_samples).argmax(axis=-1)


def sample_among_kept(logits, k, rng, num_samples=1, temperature=1.0):
    z = topk_hint(np.asarray(logits, dtype=float) / temperature, k)
    kept = np.flatnonzero(np.isfinite(z))
    return rng.choice(kept, size=num_samples, p=sp_softmax(z[kept]))


def q3_numpy():
    return {"greedy_ids": np.argmax(ex.Q3_LOGITS, axis=-1),
            "cool_probs": sp_softmax(ex.Q3_LOGITS / ex.Q3_TEMPERATURE, axis=-1)}


def q3_float32_chapter():
    z = ex.Q3_LOGITS / np.float32(ex.Q3_TEMPERATURE)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return {"greedy_ids": z.argmax(axis=-1), "cool_probs": e / e.sum(axis=-1, keepdims=True)}


def q3_keras():
    return {"greedy_ids": keras.ops.argmax(ex.Q3_LOGITS, axis=-1),
            "cool_probs": keras.ops.softmax(ex.Q3_LOGITS / ex.Q3_TEMPERATURE, axis=-1)}


def q3_top_k_column():
    logits = tf.constant(ex.Q3_LOGITS)
    return q3_answers(greedy_ids=tf.math.top_k(logits, k=1).indices[:, 0],
                      cool_probs=tf.exp(tf.nn.log_softmax(logits / ex.Q3_TEMPERATURE)))


def q3_loop():
    ids = [max(range(len(row)), key=lambda i: row[i]) for row in ex.Q3_LOGITS.tolist()]
    return {"greedy_ids": ids, "cool_probs": np.array([sp_softmax(row / 0.5) for row in ex.Q3_LOGITS])}


RIGHT = {
    "5.1": [topk_tf, topk_rank, topk_hint, topk_loop, topk_lexsort],
    "5.2": [topk_probs_tf, topk_probs_renormalised, topk_probs_hint, topk_probs_float32_logsumexp, topk_probs_loop],
    "5.3": [q3_answers, q3_numpy, q3_float32_chapter, q3_keras, q3_top_k_column, q3_loop],
    "5.4": [topp_loop, topp_tf, topp_hint, topp_float32, topp_count],
    "5.5": [sample_top_k_tf_probs, sample_top_k_gumbel, sample_top_k_inverse_cdf, sample_hint,
            sample_multinomial, sample_among_kept],
}


# -- wrong answers that no message names -------------------------------------------------------

def topk_default_sort(logits, k):
    """np.argsort without kind="stable": ties keep the lower index only on short rows."""
    x = _np(logits)
    keep = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(keep, np.argsort(-x, axis=-1)[..., :k], True, axis=-1)
    return np.where(keep, x, -np.inf)


def topk_argpartition(logits, k):
    x = _np(logits)
    keep = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(keep, np.argpartition(-x, k - 1, axis=-1)[..., :k], True, axis=-1)
    return np.where(keep, x, -np.inf)


def topk_mask_only(logits, k):
    return np.isfinite(topk_hint(logits, k))


def topk_smallest(logits, k):
    x = _np(logits)
    return -topk_hint(-x, k)


def probs_default_sort(logits, k):
    z = topk_default_sort(logits, k)
    return sp_softmax(z, axis=-1)


def probs_uniform(logits, k):
    kept = np.isfinite(topk_hint(logits, k)).astype(float)
    return kept / kept.sum(axis=-1, keepdims=True)


def probs_k_minus_one(logits, k):
    return sp_softmax(topk_hint(logits, max(k - 1, 1)), axis=-1)


def q3_argmin():
    return q3_answers(greedy_ids=tf.argmin(tf.constant(ex.Q3_LOGITS), axis=-1))


def q3_no_temperature():
    return q3_answers(cool_probs=tf.nn.softmax(tf.constant(ex.Q3_LOGITS)))


def q3_temperature_two():
    return q3_answers(cool_probs=tf.nn.softmax(tf.constant(ex.Q3_LOGITS) / 2.0))


def topp_token_count(logits, p):
    x = np.atleast_2d(_np(logits))
    count = int(np.ceil(p * x.shape[-1]))
    return topk_hint(x, count).reshape(_np(logits).shape)


def topp_inverted(logits, p):
    x = _np(logits)
    return np.where(np.isfinite(topp_hint(x, p)), -np.inf, x)


def topp_no_max(logits, p):
    x = _np(logits)
    e = np.exp(x)
    probs = e / e.sum(axis=-1, keepdims=True)
    order = np.argsort(-x, axis=-1, kind="stable")
    sorted_probs = np.take_along_axis(probs, order, axis=-1)
    keep = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(keep, order, np.cumsum(sorted_probs, axis=-1) - sorted_probs < p, axis=-1)
    return np.where(keep, x, -np.inf)


def sample_global_random(logits, k, rng, num_samples=1, temperature=1.0):
    """Ignores the generator it is given: the same seed gives different draws."""
    probs = topk_probs_hint(np.asarray(logits, dtype=float) / temperature, k)
    return np.random.choice(len(probs), size=num_samples, p=probs)


def sample_own_generator(logits, k, rng, num_samples=1, temperature=1.0):
    """Ignores the generator it is given for one of its own: every seed gives the same draws."""
    probs = topk_probs_hint(np.asarray(logits, dtype=float) / temperature, k)
    return np.random.default_rng(1234).choice(len(probs), size=num_samples, p=probs)


def sample_greedy(logits, k, rng, num_samples=1, temperature=1.0):
    return np.full(num_samples, int(np.argmax(logits)))


def sample_probabilities(logits, k, rng, num_samples=1, temperature=1.0):
    return topk_probs_hint(np.asarray(logits, dtype=float) / temperature, k)


UNNAMED = {
    "5.1": [topk_default_sort, topk_argpartition, topk_mask_only, topk_smallest],
    "5.2": [probs_default_sort, probs_uniform, probs_k_minus_one],
    "5.3": [q3_argmin, q3_no_temperature, q3_temperature_two],
    "5.4": [topp_token_count, topp_inverted, topp_no_max],
    "5.5": [sample_global_random, sample_own_generator, sample_greedy, sample_probabilities],
}
