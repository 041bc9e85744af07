"""Chapter 5's battery: answers as learners write them (RIGHT, NAMED, UNNAMED; see
tests/test_exercises_battery.py, which runs them)."""

import math

import keras
import numpy as np
import tensorflow as tf
from scipy.special import logsumexp as sp_logsumexp
from scipy.special import softmax as sp_softmax

import logitlab as ll
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




def _nucleus_size(z, p):
    return int(np.isfinite(ll.top_p_filter(z, p)).sum())


def q1_logitlab():
    z, p, k = ex.Q1_LOGITS, ex.Q1_P, ex.Q1_K
    sizes = [_nucleus_size(z / t, p) for t in ex.Q1_TEMPERATURES]
    depends = any(not np.array_equal(ll.top_k_filter(z / t, k), ll.top_k_filter(z, k) / t)
                  for t in ex.Q1_TEMPERATURES)
    return {"nucleus_sizes": sizes, "top_k_depends_on_order": depends}


def q1_searchsorted():
    """The nucleus ends at the first token whose cumulative mass reaches p."""
    sizes = []
    for t in ex.Q1_TEMPERATURES:
        probs = np.sort(sp_softmax(ex.Q1_LOGITS / t))[::-1]
        sizes.append(int(np.searchsorted(np.cumsum(probs), ex.Q1_P)) + 1)
    return {"nucleus_sizes": np.array(sizes), "top_k_depends_on_order": np.bool_(False)}


def q1_loop():
    sizes = []
    for t in ex.Q1_TEMPERATURES.tolist():
        weights = sorted((math.exp(v / t) for v in ex.Q1_LOGITS.tolist()), reverse=True)
        total, mass, count = sum(weights), 0.0, 0
        for w in weights:
            if mass >= ex.Q1_P:
                break
            mass += w / total
            count += 1
        sizes.append(count)
    return {"nucleus_sizes": sizes, "top_k_depends_on_order": False}


def q1_tensorflow():
    z = tf.constant(ex.Q1_LOGITS)
    sizes = []
    for t in ex.Q1_TEMPERATURES:
        probs = tf.sort(tf.nn.softmax(z / t), direction="DESCENDING")
        before = tf.math.cumsum(probs, exclusive=True)
        sizes.append(int(tf.reduce_sum(tf.cast(before < ex.Q1_P, tf.int32))))
    same = all(np.array_equal(tf.math.top_k(z / t, ex.Q1_K).indices, tf.math.top_k(z, ex.Q1_K).indices)
               for t in ex.Q1_TEMPERATURES)
    return {"nucleus_sizes": tf.constant(sizes), "top_k_depends_on_order": not same}


def q1_typed_in():
    """Predicted, then typed in: a cold distribution needs fewer tokens, a hot one more."""
    return {"nucleus_sizes": [1, 2, 3, 5, 6], "top_k_depends_on_order": False}


def q1_scipy_and_sets():
    sizes, kept_sets = [], set()
    for t in ex.Q1_TEMPERATURES:
        probs = sp_softmax(ex.Q1_LOGITS / t)
        order = np.argsort(-probs, kind="stable")
        before = np.concatenate([[0.0], np.cumsum(probs[order])[:-1]])
        sizes.append(int(np.sum(before < ex.Q1_P)))
        kept_sets.add(frozenset(order[:ex.Q1_K].tolist()))
    return {"nucleus_sizes": np.array(sizes, dtype=np.int32), "top_k_depends_on_order": len(kept_sets) > 1}


def nucleus_logitlab(logits, p, temperature):
    return ll.softmax(ll.top_p_filter(np.asarray(logits) / temperature, p))


def nucleus_hint(logits, p, temperature):
    z = topp_hint(_np(logits) / temperature, p)
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def nucleus_loop(logits, p, temperature):
    z = np.atleast_2d(topp_loop(_np(logits).astype(float) / temperature, p))
    return np.array([sp_softmax(row) for row in z]).reshape(np.shape(logits))


def nucleus_tf(logits, p, temperature):
    x = tf.constant(logits, dtype=tf.float64) / temperature
    order = tf.argsort(x, direction="DESCENDING", stable=True)
    sorted_probs = tf.gather(tf.nn.softmax(x), order, batch_dims=len(x.shape) - 1)
    keep_sorted = tf.math.cumsum(sorted_probs, axis=-1, exclusive=True) < p
    keep = tf.scatter_nd(tf.expand_dims(order, -1), keep_sorted, order.shape) if len(x.shape) == 1 else \
        tf.stack([tf.scatter_nd(tf.expand_dims(o, -1), k, o.shape) for o, k in zip(order, keep_sorted)])
    return tf.nn.softmax(tf.where(keep, x, tf.constant(-np.inf, tf.float64))).numpy()


def nucleus_float32(logits, p, temperature):
    z = np.asarray(logits, dtype=np.float32) / np.float32(temperature)
    kept = topp_hint(z, p)
    return np.exp(kept - sp_logsumexp(kept, axis=-1, keepdims=True)).astype(np.float32)


def nucleus_renormalised(logits, p, temperature):
    """The softmax of z / T, zero outside the nucleus, divided by what is left."""
    probs = sp_softmax(_np(logits).astype(float) / temperature, axis=-1)
    kept = np.where(np.isfinite(topp_loop(_np(logits).astype(float) / temperature, p)), probs, 0.0)
    return kept / kept.sum(axis=-1, keepdims=True)


# -- the named mistakes, planted as a learner would write them ----------------------------------

def topk_plus_one(logits, k):
    x = _np(logits)
    idx = np.argsort(x, axis=-1, kind="stable")[..., -(k + 1):]
    out = np.full(x.shape, -np.inf)
    np.put_along_axis(out, idx, np.take_along_axis(x, idx, axis=-1), axis=-1)
    return out


def topk_zero(logits, k):
    x = _np(logits)
    kept = tf.math.top_k(x, k=k).indices.numpy()
    out = np.zeros_like(x)
    np.put_along_axis(out, kept, np.take_along_axis(x, kept, axis=-1), axis=-1)
    return out


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


def q1_filter_first():
    """The nucleus chosen on the raw logits, the temperature applied afterwards."""
    size = _nucleus_size(ex.Q1_LOGITS, ex.Q1_P)
    return {"nucleus_sizes": [size] * len(ex.Q1_TEMPERATURES), "top_k_depends_on_order": False}


def q1_multiplied():
    return {"nucleus_sizes": [_nucleus_size(ex.Q1_LOGITS * t, ex.Q1_P) for t in ex.Q1_TEMPERATURES],
            "top_k_depends_on_order": False}


def q1_cumulative_at_most_p():
    sizes = [int(np.sum(np.cumsum(np.sort(sp_softmax(ex.Q1_LOGITS / t))[::-1]) <= ex.Q1_P))
             for t in ex.Q1_TEMPERATURES]
    return {"nucleus_sizes": sizes, "top_k_depends_on_order": False}


def q1_top_k_guess():
    return {"nucleus_sizes": [1, 2, 3, 5, 6], "top_k_depends_on_order": True}


def _fixed_but(logits, p, temperature, ascending=False, boundary=False, last=False, unstable=False):
    """The notebook's buggy function with all its bugs fixed but the one(s) named."""
    z = np.asarray(logits, dtype=float)
    scaled = z if last else z / temperature
    probs = ll.softmax(scaled)
    order = np.argsort(probs if ascending else -probs, axis=-1, kind="stable")
    sorted_probs = np.take_along_axis(probs, order, axis=-1)
    before = np.cumsum(sorted_probs, axis=-1) - sorted_probs
    keep_sorted = before <= p if boundary else before < p - 1e-12
    keep = np.zeros(z.shape, dtype=bool)
    np.put_along_axis(keep, order, keep_sorted, axis=-1)
    kept = np.where(keep, scaled, -np.inf) / (temperature if last else 1.0)
    e = np.exp(kept) if unstable else np.exp(kept - np.max(kept, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def nucleus_temperature_left_last(logits, p, temperature):
    return _fixed_but(logits, p, temperature, last=True)


def nucleus_ascending_left(logits, p, temperature):
    return _fixed_but(logits, p, temperature, ascending=True)


def nucleus_boundary_left(logits, p, temperature):
    return _fixed_but(logits, p, temperature, boundary=True)


def nucleus_exp_left(logits, p, temperature):
    return _fixed_but(logits, p, temperature, unstable=True)


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
    ("5.1", "filter_before_temperature"): q1_filter_first,
    ("5.1", "temperature_multiplied"): q1_multiplied,
    ("5.1", "crossing_token_dropped"): q1_cumulative_at_most_p,
    ("5.1", "top_k_depends_on_order"): q1_top_k_guess,
    ("5.2", "not_renormalised"): probs_not_renormalised,
    ("5.2", "zero_instead_of_inf"): probs_zero_logits,
    ("5.2", "unstable_softmax"): probs_naive,
    ("5.2", "normalised_over_batch"): probs_over_batch,
    ("5.3", "temperature_multiplied"): q3_multiplied,
    ("5.3", "unstable_softmax"): q3_naive,
    ("5.3", "argmax_over_batch"): q3_argmax_over_batch,
    ("5.3", "extra_axis"): q3_extra_axis,
    ("5.4", "filter_before_temperature"): nucleus_temperature_left_last,
    ("5.4", "least_likely_first"): nucleus_ascending_left,
    ("5.4", "boundary_token_kept"): nucleus_boundary_left,
    ("5.4", "unstable_softmax"): nucleus_exp_left,
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
    "5.1": [q1_logitlab, q1_searchsorted, q1_loop, q1_tensorflow, q1_typed_in, q1_scipy_and_sets],
    "5.2": [topk_probs_tf, topk_probs_renormalised, topk_probs_hint, topk_probs_float32_logsumexp, topk_probs_loop],
    "5.3": [q3_answers, q3_numpy, q3_float32_chapter, q3_keras, q3_top_k_column, q3_loop],
    "5.4": [nucleus_logitlab, nucleus_hint, nucleus_loop, nucleus_tf, nucleus_float32, nucleus_renormalised],
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


def probs_default_sort(logits, k):
    z = topk_default_sort(logits, k)
    return sp_softmax(z, axis=-1)


def probs_uniform(logits, k):
    kept = np.isfinite(topk_hint(logits, k)).astype(float)
    return kept / kept.sum(axis=-1, keepdims=True)


def probs_k_minus_one(logits, k):
    return sp_softmax(topk_hint(logits, max(k - 1, 1)), axis=-1)


def q1_one_more_everywhere():
    return {"nucleus_sizes": [2, 3, 4, 6, 7], "top_k_depends_on_order": False}


def q1_fractions():
    return {"nucleus_sizes": np.array([1, 2, 3, 5, 6]) / len(ex.Q1_LOGITS), "top_k_depends_on_order": False}


def q1_top_k_as_text():
    return {"nucleus_sizes": [1, 2, 3, 5, 6], "top_k_depends_on_order": "no"}


def q1_sizes_at_one_temperature_only():
    return {"nucleus_sizes": _nucleus_size(ex.Q1_LOGITS / 0.5, ex.Q1_P), "top_k_depends_on_order": False}


def nucleus_buggy_as_given(logits, p, temperature):
    return _fixed_but(logits, p, temperature, ascending=True, boundary=True, last=True, unstable=True)


def nucleus_not_renormalised(logits, p, temperature):
    z = _np(logits).astype(float) / temperature
    return np.where(np.isfinite(topp_hint(z, p)), sp_softmax(z, axis=-1), 0.0)


def nucleus_top_k_instead(logits, p, temperature):
    z = np.atleast_2d(_np(logits).astype(float) / temperature)
    k = int(np.ceil(p * z.shape[-1]))
    return sp_softmax(topk_hint(z, k), axis=-1).reshape(np.shape(logits))


def nucleus_multiplied(logits, p, temperature):
    return nucleus_hint(_np(logits) * temperature ** 2, p, temperature)


def q3_argmin():
    return q3_answers(greedy_ids=tf.argmin(tf.constant(ex.Q3_LOGITS), axis=-1))


def q3_no_temperature():
    return q3_answers(cool_probs=tf.nn.softmax(tf.constant(ex.Q3_LOGITS)))


def q3_temperature_two():
    return q3_answers(cool_probs=tf.nn.softmax(tf.constant(ex.Q3_LOGITS) / 2.0))


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
    "5.1": [q1_one_more_everywhere, q1_fractions, q1_top_k_as_text, q1_sizes_at_one_temperature_only],
    "5.2": [probs_default_sort, probs_uniform, probs_k_minus_one],
    "5.3": [q3_argmin, q3_no_temperature, q3_temperature_two],
    "5.4": [nucleus_buggy_as_given, nucleus_not_renormalised, nucleus_top_k_instead, nucleus_multiplied],
    "5.5": [sample_global_random, sample_own_generator, sample_greedy, sample_probabilities],
}
