"""logitlab.sampling: top-k and top-p filters and the sampler.

The top-k filter is compared with ``tf.math.top_k`` on random logits full of ties (small integers),
the top-p filter with an independent implementation of its definition, and the sampler's
frequencies with the filtered softmax by a chi-square test at a fixed seed.
"""

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy.special import softmax as sp_softmax
from scipy.stats import chisquare

import logitlab as ll

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def tied_logits(draw, min_dims=1, max_dims=3, dtype=np.float64):
    """Small integer-valued logits: many ties at the k-th value; some rows with a -inf mask."""
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=7))
    x = draw(hnp.arrays(np.int64, shape, elements=st.integers(-3, 3))).astype(dtype)
    if draw(st.booleans()):
        mask = draw(hnp.arrays(np.bool_, shape))
        mask[..., 0] = False
        x[mask] = -np.inf
    return x


@st.composite
def random_logits(draw, min_dims=1, max_dims=3):
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=7))
    return draw(hnp.arrays(np.float64, shape, elements=st.floats(-10, 10)))


def kept(filtered):
    return np.isfinite(filtered)


# ---------------------------------------------------------------------------------------- top-k


@SETTINGS
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_top_k_matches_tf_math_top_k_with_ties(data, dtype):
    x = data.draw(tied_logits(dtype=dtype))
    k = data.draw(st.integers(1, x.shape[-1]))
    out = ll.top_k_filter(x, k)
    assert out.dtype == dtype and out.shape == x.shape
    _, indices = tf.math.top_k(tf.constant(x), k=k)  # ties: the lower index first
    expected = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(expected, indices.numpy().astype(np.int64), True, axis=-1)
    # a masked (-inf) entry that tf.math.top_k had to pick is not "kept": it stays -inf
    np.testing.assert_array_equal(kept(out), expected & np.isfinite(x))
    np.testing.assert_array_equal(out[kept(out)], x[kept(out)])  # kept values unchanged
    assert np.all(np.isneginf(out[~expected]))


def test_top_k_ties_keep_the_lower_index():
    np.testing.assert_array_equal(ll.top_k_filter([2.0, 1.0, 2.0, 2.0], k=2), [2.0, -np.inf, 2.0, -np.inf])
    np.testing.assert_array_equal(ll.top_k_filter([1.0, 3.0, 2.0, 3.0], k=2), [-np.inf, 3.0, -np.inf, 3.0])
    np.testing.assert_array_equal(ll.top_k_filter([0.0, 0.0, 0.0], k=1), [0.0, -np.inf, -np.inf])


@SETTINGS
@given(x=random_logits(min_dims=2), data=st.data())
def test_top_k_on_axis_0_is_top_k_of_the_transpose(x, data):
    k = data.draw(st.integers(1, x.shape[0]))
    out = ll.top_k_filter(x, k, axis=0)
    np.testing.assert_array_equal(out, np.moveaxis(ll.top_k_filter(np.moveaxis(x, 0, -1), k), -1, 0))
    assert np.all(kept(out).sum(axis=0) == k)


def test_top_k_with_k_equal_to_vocab_keeps_everything_and_k_1_is_argmax():
    x = np.array([[0.3, -1.0, 2.0, 2.0], [5.0, 1.0, 0.0, 7.0]])
    np.testing.assert_array_equal(ll.top_k_filter(x, 4), x)
    np.testing.assert_array_equal(np.argmax(ll.top_k_filter(x, 1), axis=-1), np.argmax(x, axis=-1))


def test_top_k_accepts_tensors_and_returns_numpy():
    out = ll.top_k_filter(tf.constant([[1.0, 3.0, 2.0]], tf.float32), k=np.int64(2))
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_array_equal(out, [[-np.inf, 3.0, 2.0]])


@pytest.mark.parametrize("k", [0, -1, 4, 100])
def test_top_k_out_of_range(k):
    extra = r".*k=0 would keep no token at all; k=1 is greedy decoding" if k == 0 else ""
    with pytest.raises(ValueError, match=rf"k must be an integer in \[1, 3\] \(the vocabulary size\), got {k}\.{extra}"):
        ll.top_k_filter([1.0, 2.0, 3.0], k)
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 3\]"):
        ll.sample([1.0, 2.0, 3.0], top_k=k)


@pytest.mark.parametrize("k", [1.5, 2.0, "2", None, True])
def test_top_k_not_an_integer(k):
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 3\] \(the vocabulary size\), got .* of type"):
        ll.top_k_filter([1.0, 2.0, 3.0], k)


# ---------------------------------------------------------------------------------------- top-p


def reference_top_p(x, p):
    """The definition, row by row: from the most likely down (lower index first on ties), keep the
    smallest prefix whose probability reaches p."""
    out = np.full(x.shape, -np.inf)
    for row in np.ndindex(x.shape[:-1]):
        logits = x[row]
        probs = sp_softmax(logits)
        order = np.lexsort((np.arange(logits.size), -logits))
        total, n = 0.0, 0
        while total < p and n < logits.size:
            total += probs[order[n]]
            n += 1
        out[row][order[:n]] = logits[order[:n]]
    return out


def near_a_boundary(x, p):
    """True if p is within rounding of the mass of some prefix (the boundary is tested apart)."""
    probs = sp_softmax(x, axis=-1)
    sorted_probs = np.take_along_axis(probs, np.argsort(-x, axis=-1, kind="stable"), axis=-1)
    return bool(np.any(np.abs(np.cumsum(sorted_probs, axis=-1) - p) < 1e-6))


@SETTINGS
@given(data=st.data(), p=st.floats(0.01, 1.0))
def test_top_p_matches_its_definition(data, p):
    x = data.draw(st.one_of(random_logits(), tied_logits()))
    assume(not near_a_boundary(x, p))
    out = ll.top_p_filter(x, p)
    np.testing.assert_array_equal(out, reference_top_p(x, p))
    # the kept set reaches p, and dropping its least likely member would not
    probs = sp_softmax(x, axis=-1)
    kept_mass = np.where(kept(out), probs, 0).sum(axis=-1)
    assert np.all(kept_mass >= p - 1e-9)
    smallest_kept = np.where(kept(out), probs, np.inf).min(axis=-1)
    assert np.all(kept_mass - smallest_kept < p)


@pytest.mark.parametrize(
    "probs, p, n_kept",
    [
        ([0.25, 0.25, 0.25, 0.25], 0.5, 2),  # exact in binary
        ([0.25, 0.25, 0.25, 0.25], 0.25, 1),
        ([0.25, 0.25, 0.25, 0.25], 0.2500001, 2),
        ([0.5, 0.25, 0.125, 0.125], 0.75, 2),
        ([0.5, 0.25, 0.125, 0.125], 0.875, 3),
        ([0.1, 0.2, 0.7], 0.9, 2),  # 0.7 + 0.2 is a hair below 0.9 in floating point
        ([0.6, 0.2, 0.2], 0.8, 2),
        ([0.3, 0.3, 0.4], 0.7, 2),
        ([0.4, 0.3, 0.2, 0.1], 0.9, 3),
        ([0.4, 0.3, 0.2, 0.1], 0.9000001, 4),
        ([0.5, 0.3, 0.15, 0.05], 0.75, 2),
        ([0.5, 0.5], 1e-12, 1),  # the most likely token is always kept
    ],
)
def test_top_p_keeps_the_smallest_set_whose_mass_reaches_p_at_the_boundary(probs, p, n_kept):
    out = ll.top_p_filter(np.log(probs), p)
    assert kept(out).sum() == n_kept
    order = np.lexsort((np.arange(len(probs)), -np.asarray(probs)))
    np.testing.assert_array_equal(np.flatnonzero(kept(out)), np.sort(order[:n_kept]))


def test_top_p_1_keeps_everything_even_masked_entries_stay_masked():
    x = np.array([[3.0, -np.inf, -40.0, 0.0], [-1e4, 0.0, 1e4, 2.0]])
    np.testing.assert_array_equal(ll.top_p_filter(x, 1.0), x)
    np.testing.assert_array_equal(ll.top_p_filter(x, 1), x)


def test_top_p_ties_enter_the_nucleus_lower_index_first():
    np.testing.assert_array_equal(ll.top_p_filter([1.0, 2.0, 2.0, 2.0], 0.5), [-np.inf, 2.0, 2.0, -np.inf])


@SETTINGS
@given(x=random_logits(min_dims=2), p=st.floats(0.05, 1.0))
def test_top_p_on_axis_0_is_top_p_of_the_transpose(x, p):
    out = ll.top_p_filter(x, p, axis=0)
    np.testing.assert_array_equal(out, np.moveaxis(ll.top_p_filter(np.moveaxis(x, 0, -1), p), -1, 0))


def test_top_p_accepts_tensors_and_keeps_dtype():
    out = ll.top_p_filter(tf.constant(np.log([[0.5, 0.3, 0.2]]), tf.float32), 0.6)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_array_equal(kept(out), [[True, True, False]])


@pytest.mark.parametrize("p", [0, 0.0, -0.1, 1.0001, 2, np.nan, np.inf, "0.5", None, True])
def test_top_p_outside_0_1(p):
    with pytest.raises(ValueError, match=r"p must be a number in \(0, 1\], got .*top-p keeps the smallest set"):
        ll.top_p_filter([1.0, 2.0], p)
    if p is not None:  # sample(top_p=None) means no top-p filter
        with pytest.raises(ValueError, match=r"p must be a number in \(0, 1\]"):
            ll.sample([1.0, 2.0], top_p=p)


# --------------------------------------------------------------------------------------- sample


def test_sample_shape_and_dtype():
    x = np.zeros((2, 3, 5))
    assert ll.sample(x, seed=0).shape == (2, 3, 1)
    out = ll.sample(x, seed=0, num_samples=4)
    assert out.shape == (2, 3, 4) and out.dtype == np.int64 and isinstance(out, np.ndarray)
    assert ll.sample(np.zeros(5), seed=0, num_samples=3).shape == (3,)
    assert ll.sample(tf.zeros((2, 5)), seed=0).shape == (2, 1)  # as tf.random.categorical


@SETTINGS
@given(x=tied_logits())
def test_greedy_is_argmax_with_lower_index_on_ties_and_equals_top_k_1(x):
    greedy = ll.sample(x, temperature=0, num_samples=3)
    expected = np.argmax(x, axis=-1)[..., None]
    np.testing.assert_array_equal(greedy, np.broadcast_to(expected, greedy.shape))
    top1 = ll.sample(x, top_k=1, seed=1, num_samples=3)
    np.testing.assert_array_equal(top1, greedy)
    tf_first = tf.math.top_k(tf.constant(x), k=1).indices.numpy()  # TensorFlow's tie rule too
    np.testing.assert_array_equal(greedy[..., :1], tf_first)


def test_greedy_ignores_top_k_and_top_p_and_seed():
    x = [[0.0, 5.0, 1.0], [2.0, 2.0, -1.0]]
    for kwargs in [{}, {"top_k": 2}, {"top_p": 0.3}, {"seed": 123}]:
        np.testing.assert_array_equal(ll.sample(x, temperature=0, num_samples=2, **kwargs), [[1, 1], [0, 0]])


def test_same_seed_same_ids_different_seeds_differ():
    x = np.zeros((4, 50))
    a = ll.sample(x, seed=7, num_samples=20)
    np.testing.assert_array_equal(a, ll.sample(x, seed=7, num_samples=20))
    np.testing.assert_array_equal(a, ll.sample(tf.constant(x), seed=7, num_samples=20))
    assert not np.array_equal(a, ll.sample(x, seed=8, num_samples=20))
    gen_a, gen_b = np.random.default_rng(3), np.random.default_rng(3)
    np.testing.assert_array_equal(ll.sample(x, seed=gen_a), ll.sample(x, seed=gen_b))


@SETTINGS
@given(
    x=st.one_of(random_logits(), tied_logits()),
    data=st.data(),
    temperature=st.floats(0.1, 5),
)
def test_tokens_outside_top_k_and_top_p_are_never_sampled(x, data, temperature):
    vocab = x.shape[-1]
    top_k = data.draw(st.one_of(st.none(), st.integers(1, vocab)))
    top_p = data.draw(st.one_of(st.none(), st.floats(0.05, 1.0)))
    ids = ll.sample(x, temperature=temperature, top_k=top_k, top_p=top_p, seed=0, num_samples=50)
    assert ids.shape == x.shape[:-1] + (50,)
    allowed = np.isfinite(x)
    z = (x - x.max(axis=-1, keepdims=True)) / temperature
    if top_k is not None:
        allowed &= kept(ll.top_k_filter(z, top_k))
        z = ll.top_k_filter(z, top_k)
    if top_p is not None:
        allowed &= kept(ll.top_p_filter(z, top_p))
    assert np.all(np.take_along_axis(allowed, ids, axis=-1))


def chi_square_p_value(ids, probs):
    """p-value of observed id counts against expected probabilities (zero-probability ids must not occur)."""
    counts = np.bincount(ids.ravel(), minlength=len(probs))
    support = probs > 0
    assert counts[~support].sum() == 0
    return chisquare(counts[support], probs[support] / probs[support].sum() * counts.sum()).pvalue


N = 20_000


@pytest.mark.parametrize(
    "temperature, top_k, top_p",
    [(1.0, None, None), (0.7, 4, None), (2.0, None, 0.8), (1.3, 5, 0.9), (1.0, None, 1.0), (0.5, 6, None)],
)
def test_frequencies_follow_the_filtered_softmax(temperature, top_k, top_p):
    x = np.array([2.0, 1.0, 0.5, 0.0, -1.0, -3.0])
    z = x / temperature
    if top_k is not None:
        z = ll.top_k_filter(z, top_k)
    if top_p is not None:
        z = ll.top_p_filter(z, top_p)
    probs = ll.softmax(z)
    ids = ll.sample(x, temperature=temperature, top_k=top_k, top_p=top_p, seed=2024, num_samples=N)
    assert chi_square_p_value(ids, probs) > 1e-3
    # independent of logitlab: the expected probabilities from SciPy on the kept tokens
    keep = np.isfinite(z)
    np.testing.assert_allclose(probs[keep], sp_softmax(x[keep] / temperature), rtol=1e-12)


def test_top_p_1_can_sample_every_token():
    ids = ll.sample(np.zeros(8), top_p=1.0, seed=0, num_samples=2000)
    assert set(np.unique(ids)) == set(range(8))
    assert chi_square_p_value(ids, np.full(8, 1 / 8)) > 1e-3


def test_batched_frequencies_are_per_row():
    x = np.array([[[3.0, 0.0, 0.0]], [[0.0, 0.0, 3.0]], [[0.0, 0.0, 0.0]]])  # shape (3, 1, 3)
    ids = ll.sample(x, seed=5, num_samples=N)
    assert ids.shape == (3, 1, N)
    for row in range(3):
        assert chi_square_p_value(ids[row, 0], sp_softmax(x[row, 0])) > 1e-3


def test_masked_tokens_are_never_sampled():
    x = np.array([[0.0, -np.inf, 0.0], [-np.inf, -np.inf, -50.0]])
    ids = ll.sample(x, seed=0, num_samples=5000, temperature=3.0)
    assert not np.any(ids[0] == 1)
    assert np.all(ids[1] == 2)


@pytest.mark.parametrize("temperature", [1e-3, 0.01])
def test_small_temperature_approaches_greedy(temperature):
    x = [1.0, 1.5, 0.2]
    np.testing.assert_array_equal(ll.sample(x, temperature=temperature, seed=0, num_samples=200), 1)


def test_huge_logits_sample_without_warnings():
    x = np.array([[1e4, -1e4, 0.0], [1e300, 1e300, -1e300]])
    ids = ll.sample(x, seed=0, num_samples=1000)
    assert np.all(ids[0] == 0)
    assert set(np.unique(ids[1])) == {0, 1}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"temperature": -1.0}, r"temperature must be 0 \(greedy\) or a positive number, got -1\.0"),
        ({"num_samples": 0}, r"num_samples must be a positive integer, got 0"),
        ({"num_samples": 2.0}, r"num_samples must be a positive integer"),
        ({"top_k": 0}, r"k must be an integer in \[1, 3\].*k=0 would keep no token"),
        ({"top_p": 0.0}, r"p must be a number in \(0, 1\]"),
    ],
)
def test_sample_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ll.sample([1.0, 2.0, 3.0], **kwargs)


@pytest.mark.parametrize(
    "call",
    [
        lambda x: ll.sample(x, seed=0),
        lambda x: ll.top_k_filter(x, 2),
        lambda x: ll.top_p_filter(x, 0.5),
    ],
    ids=["sample", "top_k_filter", "top_p_filter"],
)
def test_nan_logits_are_refused(call):
    with pytest.raises(ValueError, match=r"logits contains NaN \(first at index \(1, 0\)\).*Find where it first appears"):
        call(np.array([[1.0, 2.0, 3.0], [np.nan, 0.0, 0.0]]))


# --------------------------------------------------------------- long runs of ties, wide rows


def tf_top_k_mask(x, k):
    _, indices = tf.math.top_k(tf.constant(x), k=k)
    expected = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(expected, indices.numpy().astype(np.int64), True, axis=-1)
    return expected


@pytest.mark.parametrize("k", [1, 49, 50, 51, 300, 999, 1000])
def test_top_k_long_runs_of_ties_go_to_the_lower_index(k):
    """Rows of 1000 logits with long runs of equal values: all equal; two values; a run of 600
    ties straddling the k-th place; a few distinct values above a long tied tail. The selection
    finds the k-th value without sorting, so the ties must be counted from the left."""
    rng = np.random.default_rng(k)
    rows = [
        np.zeros(1000),
        np.repeat([1.0, 0.0], 500),
        np.concatenate([np.full(600, 2.0), np.full(400, 5.0)]),
        np.concatenate([np.full(900, -1.0), rng.permutation(100).astype(float)]),
        rng.integers(0, 3, 1000).astype(float),
        np.where(rng.random(1000) < 0.5, -np.inf, 0.0),
    ]
    x = np.stack(rows).astype(np.float32)
    x[-1, 0] = 0.0  # never a row of only -inf
    out = ll.top_k_filter(x, k)
    expected = tf_top_k_mask(x, k)
    np.testing.assert_array_equal(kept(out), expected & np.isfinite(x))
    np.testing.assert_array_equal(out[kept(out)], x[kept(out)])
    # the rows with no -inf keep exactly k entries, and they are the first k of the tie run
    assert np.all(kept(out)[:-1].sum(axis=-1) == k)
    np.testing.assert_array_equal(np.flatnonzero(kept(out)[0]), np.arange(k))


@pytest.mark.parametrize("p", [0.00123, 0.30017, 0.50017, 0.97017])
def test_top_p_long_runs_of_ties_and_wide_nuclei(p):
    """Flat rows put thousands of tokens in the nucleus (the filter widens its sorted head several
    times); ties are taken from the left; peaked and flat rows share a batch."""
    rng = np.random.default_rng(1)
    rows = [
        np.zeros(3000),
        np.repeat([1.0, 0.0, -1.0], 1000),
        rng.integers(-2, 3, 3000).astype(float),
        rng.standard_normal(3000) * 0.1,
        rng.standard_normal(3000) * 8,  # peaked: a few tokens
    ]
    x = np.stack(rows)
    assert not near_a_boundary(x, p)
    out = ll.top_p_filter(x, p)
    np.testing.assert_array_equal(out, reference_top_p(x, p))
    x32 = x.astype(np.float32)  # probabilities are computed in float64 whatever the input
    assert not near_a_boundary(x32.astype(np.float64), p)
    np.testing.assert_array_equal(ll.top_p_filter(x32, p), reference_top_p(x32.astype(np.float64), p).astype(np.float32))
    # 3000 equal logits: the first ceil(3000 p) tokens
    np.testing.assert_array_equal(np.flatnonzero(kept(out[0])), np.arange(int(np.ceil(3000 * p))))
