"""The checks of chapter 5's exercises: right answers pass, empty ones are "not yet attempted",
every named mistake is recognised, other wrong answers get useful feedback, nothing raises.

The wrong answers below are written independently of the question module (TensorFlow, SciPy or
plain NumPy in another style), as a learner would write them, so the tests do not merely compare
the module's mistake functions with themselves.
"""

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import softmax as sp_softmax

from logitlab.checking import CORRECT, INCORRECT, UNATTEMPTED
from logitlab.exercises import chapter5 as ex

QUESTIONS = {q.id: q for q in ex.QUESTIONS}


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


CORRECT_ANSWERS = {
    "5.1": [topk_tf, topk_rank],
    "5.2": [topk_probs_tf, topk_probs_renormalised],
    "5.4": [topp_loop, topp_tf],
    "5.5": [sample_top_k_tf_probs, sample_top_k_gumbel, sample_top_k_inverse_cdf],
}


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


PLANTED = {
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


def _worked_solution(q):
    namespace = {"np": np, "tf": tf, "ex": ex}
    exec(ex.q1.solution_code, namespace)   # questions 2 and 5 build on question 1's function
    exec(q.solution_code, namespace)
    return namespace


def test_q5_worked_solution_passes_and_the_reference_stands_for_a_distribution():
    result = ex.q5.evaluate({"sample_top_k": _worked_solution(ex.q5)["sample_top_k"]})
    assert result.status == CORRECT, result.feedback
    probs, n = ex.q5.reference(np.array([2.0, 1.0, 0.0]), 2)
    np.testing.assert_allclose(probs, sp_softmax([2.0, 1.0, -np.inf]))
    assert n == ex.Q5_DRAWS


def test_q5_verdicts_are_reproducible():
    answers = {"sample_top_k": sample_top_k_tf_probs}
    assert ex.q5.evaluate(answers) == ex.q5.evaluate(answers)


def test_q3_right_answers_pass():
    assert ex.q3.evaluate(q3_answers()).status == CORRECT
    numpy_answers = {
        "greedy_ids": np.argmax(ex.Q3_LOGITS, axis=-1),
        "cool_probs": sp_softmax(ex.Q3_LOGITS.astype(float) / ex.Q3_TEMPERATURE, axis=-1),
    }
    assert ex.q3.evaluate(numpy_answers).status == CORRECT
    namespace = _worked_solution(ex.q3)
    assert ex.q3.evaluate(namespace).status == CORRECT


def test_q3_expects_finite_sharpened_probabilities():
    expected = ex.q3.expected()
    assert expected["greedy_ids"].tolist() == [4, 0, 1, 0]
    assert np.all(np.isfinite(expected["cool_probs"]))
    np.testing.assert_allclose(expected["cool_probs"].sum(axis=-1), 1.0, rtol=1e-6)


# -- the cases are fair: the boundaries of top-p are far from every p, except the exact one -----

def test_top_p_cases_are_clear_of_the_boundary_except_where_it_is_exact():
    for case in ex.q4.cases:
        logits, p = case.args
        x = np.atleast_2d(np.asarray(logits, dtype=float))
        for row in x:
            probs = sp_softmax(row)
            order = np.argsort(-row, kind="stable")
            mass_before = np.cumsum(probs[order]) - probs[order]
            gaps = np.abs(mass_before - p)
            exact = np.all(row == row[0])   # equal logits: probabilities and sums are exact
            assert exact or gaps.min() > 1e-3, (case.label, gaps.min())


def test_q5_mistakes_are_far_from_the_right_distribution():
    """Each named mistake is off by much more than the tolerance on at least one case."""
    for mistake in ex.q5.mistakes:
        worst = 0.0
        for case in ex.q5.cases:
            right, _ = case.call(ex.q5.reference)
            wrong, _ = case.call(mistake.answer)
            worst = max(worst, np.max(np.abs(np.asarray(right) - np.asarray(wrong))))
        assert worst > 4 * ex.Q5_TOLERANCE, mistake.name


# -- (b) unattempted answers -------------------------------------------------------------------

@pytest.mark.parametrize("given", [{}, {"greedy_ids": np.zeros(4)}, {"greedy_ids": None, "cool_probs": 1.0}])
def test_unattempted_values_are_reported_as_such(given):
    result = ex.q3.evaluate(given)
    assert result.status == UNATTEMPTED
    assert "greedy_ids" in result.feedback or "cool_probs" in result.feedback


# -- (c) every named mistake is recognised -----------------------------------------------------

@pytest.mark.parametrize("key", sorted(PLANTED), ids=lambda k: f"{k[0]}-{k[1]}")
def test_each_named_mistake_is_recognised(key):
    qid, name = key
    q = QUESTIONS[qid]
    answers = PLANTED[key]() if qid == "5.3" else {q.name: PLANTED[key]}
    with np.errstate(all="ignore"):
        result = q.evaluate(answers)
    assert result.status == INCORRECT
    assert result.mistake == name, (result.mistake, result.feedback)
    message = next(m.message for m in q.mistakes if m.name == name)
    assert result.feedback == message


def test_the_mistakes_really_go_wrong_where_the_chapter_says():
    """k=0 raises in logitlab; zeros keep an 'excluded' token; the naive softmax is NaN."""
    import logitlab as ll

    with pytest.raises(ValueError, match="k=0 would keep no token"):
        ll.top_k_filter([1.0, 2.0], 0)
    assert np.argmax(topk_zero(np.array([-2.0, -0.5, -3.0, -1.0]), 2)) in (0, 2)
    with np.errstate(all="ignore"):
        assert np.isnan(probs_naive(np.float32([[1000, 999, 0]]), 2)).any()
    assert topp_crossing_excluded(np.array([3.0, 0.0, 1.0, 2.0]), 0.2).tolist() == [-np.inf] * 4


# -- (d) other wrong answers get useful feedback -----------------------------------------------

GENERIC_WRONG = {
    "5.1": lambda logits, k: np.where(_np(logits) > np.mean(logits), _np(logits), -np.inf),
    "5.2": lambda logits, k: sp_softmax(logits, axis=-1),
    "5.4": lambda logits, p: _np(logits) * 1.0,
    "5.5": lambda logits, k, rng, num_samples=1, temperature=1.0: np.zeros(num_samples, dtype=int),
}


@pytest.mark.parametrize("qid", sorted(GENERIC_WRONG))
def test_a_generic_wrong_answer_says_where_it_fails(qid):
    q = QUESTIONS[qid]
    with np.errstate(all="ignore"):
        result = q.evaluate({q.name: GENERIC_WRONG[qid]})
    assert result.status == INCORRECT
    assert result.mistake is None
    assert "wrong result" in result.feedback
    assert ("expected" in result.feedback) or ("frequencies" in result.feedback) or ("drawn" in result.feedback)


def test_a_sampler_that_draws_an_excluded_token_is_told_so():
    def uniform(logits, k, rng, num_samples=1, temperature=1.0):
        return rng.integers(0, len(logits), size=num_samples)

    result = ex.q5.evaluate({"sample_top_k": uniform})
    assert result.status == INCORRECT and result.mistake is None
    assert "probability is 0" in result.feedback


def test_a_sampler_with_the_wrong_shape_is_told_so():
    def one_draw(logits, k, rng, num_samples=1, temperature=1.0):
        return sample_top_k_tf_probs(logits, k, rng, 1, temperature)

    result = ex.q5.evaluate({"sample_top_k": one_draw})
    assert result.status == INCORRECT
    assert "shape" in result.feedback


def test_a_generic_wrong_value_says_what_is_wrong():
    result = ex.q3.evaluate(q3_answers(greedy_ids=tf.argmin(tf.constant(ex.Q3_LOGITS), axis=-1)))
    assert result.status == INCORRECT
    assert result.mistake is None
    assert "`greedy_ids` is not right" in result.feedback and "expected" in result.feedback


# -- (e) evaluate never raises -----------------------------------------------------------------

@pytest.mark.parametrize(
    "given",
    [
        {"greedy_ids": "ids", "cool_probs": "probs"},
        {"greedy_ids": np.zeros((2, 2)), "cool_probs": 0.0},
        {"greedy_ids": [1, [2, 3]], "cool_probs": object()},
        {"greedy_ids": tf.zeros([4]), "cool_probs": np.full((4, 6), np.nan)},
    ],
)
def test_garbage_values_never_raise(given):
    result = ex.q3.evaluate(given)
    assert result.status == INCORRECT
    assert result.feedback
