"""logitlab's numerics against TensorFlow and Keras as the oracle.

Every function is compared with ``tf.nn`` / ``keras.ops`` / ``keras.losses`` on the same inputs:
the reference numbers of the course brief, then many random inputs drawn by Hypothesis in float32
and float64, including logits as large as the dtype allows and ``-inf`` masks. The probability
path of the losses is compared with Keras given ``tf.nn.softmax`` output, which carries no
``_keras_logits``, so Keras takes its clipping path (renormalise, clip to ``[1e-7, 1 - 1e-7]``).

No logitlab call may emit a ``RuntimeWarning`` (overflow, division by zero, invalid value): the
module turns them into errors.
"""

import warnings

import hypothesis.extra.numpy as hnp
import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import logitlab as ll

pytestmark = [
    pytest.mark.filterwarnings("error::RuntimeWarning"),
    # Keras' own advice on one-class inputs, which the random shapes include on purpose
    pytest.mark.filterwarnings("ignore:In loss .* num_classes > 1"),
    pytest.mark.filterwarnings("ignore:You are using a softmax over axis"),
]

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FLOATS = [np.float32, np.float64]
#: (rtol, atol) for comparing logitlab with TensorFlow: a few units in the last place.
TOL = {np.float32: (2e-5, 2e-6), np.float64: (1e-10, 1e-12)}


def close(actual, expected, dtype):
    rtol, atol = TOL[dtype]
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=rtol, atol=atol)


def tf_const(x, dtype=None):
    return tf.constant(np.asarray(x, dtype=dtype))


# --------------------------------------------------------------------------------- strategies


def _bound(dtype, huge):
    # A quarter of the largest float: x - max(x) stays finite, so the oracle has a finite answer.
    return float(np.finfo(dtype).max) / 4 if huge else 1e4


@st.composite
def logit_arrays(draw, dtype, huge=False, min_dims=1, max_dims=3):
    """Float arrays mixing ordinary logits with extreme ones (up to 1e4, or the dtype's limit)."""
    width = 32 if dtype == np.float32 else 64
    bound = _bound(dtype, huge)
    elements = st.one_of(
        st.floats(-20, 20, width=width),
        st.floats(-bound, bound, width=width),
        st.sampled_from([0.0, 1000.0, -1000.0, 1e4, -1e4]),
    )
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=5))
    return draw(hnp.arrays(dtype, shape, elements=elements))


@st.composite
def logits_and_axis(draw, dtype, huge=False, min_dims=1, max_dims=3):
    x = draw(logit_arrays(dtype, huge, min_dims, max_dims))
    return x, draw(st.integers(-x.ndim, x.ndim - 1))


@st.composite
def masked_logits_and_axis(draw, dtype, min_dims=1, max_dims=3, last_axis=False):
    """Logits with some entries -inf, never a whole slice along the axis."""
    x, axis = draw(logits_and_axis(dtype, min_dims=min_dims, max_dims=max_dims))
    axis = -1 if last_axis else axis
    mask = draw(hnp.arrays(np.bool_, x.shape))
    first = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(first, np.zeros_like(np.take(x, [0], axis=axis), dtype=int), True, axis=axis)
    mask &= ~(first & np.all(mask, axis=axis, keepdims=True))
    return np.where(mask, dtype(-np.inf), x), axis


@st.composite
def probability_rows(draw, dtype, min_classes=1):
    """2-D probabilities as a model might give them: softmax of (extreme) logits, or raw values
    in [0, 1] that do not sum to 1 and include exact 0 and 1; never an all-zero row."""
    width = 32 if dtype == np.float32 else 64
    n, c = draw(st.integers(1, 5)), draw(st.integers(min_classes, 5))
    if draw(st.booleans()):
        x = draw(hnp.arrays(dtype, (n, c), elements=st.floats(-200, 200, width=width)))
        return tf.nn.softmax(tf.constant(x)).numpy()
    # No subnormals: TensorFlow's CPU kernels flush them to 0, so Keras computes 0 / 0 = NaN for a
    # row like [1e-45] where logitlab (NumPy) divides correctly; see the test below.
    values = st.one_of(
        st.floats(0, 1, width=width, allow_subnormal=False), st.sampled_from([0.0, 1.0, 1e-9, 1 - 1e-7])
    )
    p = draw(hnp.arrays(dtype, (n, c), elements=values))
    p[:, 0] = np.where(p.sum(axis=1) == 0, dtype(0.5), p[:, 0])  # Keras: NaN; see the test below
    return p


@st.composite
def targets_for(draw, shape, dtype, soft=None):
    """One-hot or soft labels of ``shape`` (classes on the last axis)."""
    n, c = shape
    soft = draw(st.booleans()) if soft is None else soft
    if soft:
        w = draw(hnp.arrays(dtype, (n, c), elements=st.floats(0, 1, width=32)))
        w[:, 0] += 1e-3
        return (w / w.sum(axis=1, keepdims=True)).astype(dtype)
    labels = draw(hnp.arrays(np.int64, n, elements=st.integers(0, c - 1)))
    return np.eye(c, dtype=dtype)[labels]


# ------------------------------------------------------------------------- reference numbers


def test_reference_softmax_of_four_logits():
    out = ll.softmax([0.1, 0.3, 0.5, 0.9])
    np.testing.assert_allclose(out, [0.16838508, 0.20566600, 0.25120102, 0.37474789], atol=5e-9)
    assert out.dtype == np.float64


LOGITS = [[0.5, 1.5, 0.1], [2.2, 1.3, 1.7]]
ONE_HOT = [[0, 1, 0], [0, 0, 1]]


def test_reference_cross_entropy_example():
    probs = ll.softmax(LOGITS)
    np.testing.assert_allclose(
        probs, [[0.22786300, 0.61939586, 0.15274114], [0.49674623, 0.20196195, 0.30129182]], atol=5e-9
    )
    losses = ll.categorical_crossentropy(ONE_HOT, LOGITS, from_logits=True)
    np.testing.assert_allclose(losses, [0.47901070, 1.19967598], atol=5e-9)
    assert losses.mean() == pytest.approx(0.83934334, abs=5e-9)
    # The same numbers from probabilities, from integer labels, and from Keras.
    np.testing.assert_allclose(ll.categorical_crossentropy(ONE_HOT, probs), losses, rtol=1e-12)
    np.testing.assert_allclose(ll.sparse_categorical_crossentropy([1, 2], LOGITS, from_logits=True), losses, rtol=1e-12)
    keras_losses = keras.losses.categorical_crossentropy(tf_const(ONE_HOT, np.float64), tf_const(LOGITS), from_logits=True)
    np.testing.assert_allclose(losses, keras_losses.numpy(), rtol=1e-12)


def test_reference_tensorflow_sparse_example_in_float32():
    logits = np.array([[2, -5, 0.5, -0.1], [0, 0, 1.9, 1.4], [-100, 100, -100, -100]], dtype=np.float32)
    out = ll.sparse_categorical_crossentropy([0, 3, 1], logits, from_logits=True)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [0.2975075, 1.144833, 0.0], rtol=1e-6, atol=1e-6)
    expected = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[0, 3, 1], logits=logits)
    np.testing.assert_allclose(out, expected.numpy(), rtol=2e-6, atol=1e-7)


def test_reference_float32_softmax_of_1000_and_0():
    x = np.array([1000.0, 0.0], dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(x) / np.exp(x).sum()
    assert np.isnan(naive[0])  # the naive formula breaks ...
    out = ll.softmax(x)  # ... the stable one does not
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [1.0, 0.0])


@pytest.mark.parametrize("dtype", FLOATS)
def test_reference_probability_zero_on_true_class_costs_minus_log_epsilon(dtype):
    cost = -np.log(1e-7)
    assert cost == pytest.approx(16.118, abs=5e-4)
    y_pred = np.array([[1.0, 0.0]], dtype=dtype)
    rel = 1e-6 if dtype == np.float32 else 1e-12
    assert ll.categorical_crossentropy([[0, 1]], y_pred)[0] == pytest.approx(cost, rel=rel)
    assert ll.sparse_categorical_crossentropy([1], y_pred)[0] == pytest.approx(cost, rel=rel)
    assert ll.binary_crossentropy([[1.0]], np.array([[0.0]], dtype=dtype))[0] == pytest.approx(cost, rel=rel)
    # and it is what Keras gives for probabilities that carry no logits
    p = tf.nn.softmax(tf.constant([[2.0, 0.0, -50.0]], dtype=dtype))
    expected = keras.losses.categorical_crossentropy(tf.constant([[0, 0, 1]], dtype=dtype), p)
    close(ll.categorical_crossentropy([[0, 0, 1]], p), expected.numpy(), dtype)
    assert expected.numpy()[0] == pytest.approx(16.118, abs=5e-3)


# --------------------------------------------------------------- softmax, log_softmax, logsumexp


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("huge", [False, True], ids=["to1e4", "dtype_max"])
@SETTINGS
@given(data=st.data())
def test_softmax_family_matches_tensorflow(dtype, huge, data):
    x, axis = data.draw(logits_and_axis(dtype, huge))
    t = tf.constant(x)
    p = ll.softmax(x, axis=axis)
    assert p.dtype == dtype and p.shape == x.shape
    close(p, tf.nn.softmax(t, axis=axis).numpy(), dtype)
    close(p, keras.ops.softmax(t, axis=axis).numpy(), dtype)
    close(ll.log_softmax(x, axis=axis), tf.nn.log_softmax(t, axis=axis).numpy(), dtype)
    close(ll.log_softmax(t, axis=axis), keras.ops.log_softmax(t, axis=axis).numpy(), dtype)
    for keepdims in (False, True):
        out = ll.logsumexp(x, axis=axis, keepdims=keepdims)
        expected = tf.reduce_logsumexp(t, axis=axis, keepdims=keepdims).numpy()
        assert out.shape == expected.shape and out.dtype == dtype
        close(out, expected, dtype)
        close(out, keras.ops.logsumexp(t, axis=axis, keepdims=keepdims).numpy(), dtype)
    assert np.all(np.isfinite(p)) and np.all(np.isfinite(ll.logsumexp(x, axis=axis)))


@pytest.mark.parametrize("dtype", FLOATS)
@SETTINGS
@given(data=st.data())
def test_softmax_family_with_minus_inf_masks_matches_tensorflow(dtype, data):
    x, axis = data.draw(masked_logits_and_axis(dtype))
    t = tf.constant(x)
    p = ll.softmax(x, axis=axis)
    close(p, tf.nn.softmax(t, axis=axis).numpy(), dtype)
    assert np.all(p[np.isneginf(x)] == 0)  # a masked class gets probability exactly 0
    np.testing.assert_allclose(p.sum(axis=axis), 1, rtol=TOL[dtype][0] * 10)
    log_p = ll.log_softmax(x, axis=axis)
    close(log_p, tf.nn.log_softmax(t, axis=axis).numpy(), dtype)
    assert np.all(np.isneginf(log_p) == np.isneginf(x))
    close(ll.logsumexp(x, axis=axis), tf.reduce_logsumexp(t, axis=axis).numpy(), dtype)


def test_logsumexp_of_an_all_masked_slice_is_minus_inf_like_tensorflow():
    x = np.array([[-np.inf, -np.inf], [0.0, -np.inf]])
    out = ll.logsumexp(x, axis=-1)
    np.testing.assert_array_equal(out, [-np.inf, 0.0])
    np.testing.assert_array_equal(out, tf.reduce_logsumexp(x, axis=-1).numpy())
    np.testing.assert_array_equal(ll.logsumexp(x, axis=0), tf.reduce_logsumexp(x, axis=0).numpy())


@pytest.mark.parametrize("dtype", FLOATS)
@SETTINGS
@given(data=st.data())
def test_softmax_rows_sum_to_one_and_shift_invariance(dtype, data):
    x, axis = data.draw(logits_and_axis(dtype, huge=False))
    p = ll.softmax(x, axis=axis)
    assert np.all((p >= 0) & (p <= 1))
    np.testing.assert_allclose(p.sum(axis=axis), 1, rtol=TOL[dtype][0] * 10)
    # Adding a constant to every logit of a slice changes nothing (small integers: exact shifts
    # for the ordinary values; a large relative rounding only for values already far behind).
    shift = data.draw(st.integers(-50, 50))
    shifted = ll.softmax(x + dtype(shift), axis=axis)
    np.testing.assert_allclose(shifted, p, rtol=1e-3 if dtype == np.float32 else 1e-9, atol=TOL[dtype][1] * 10)
    # ... also per slice, with a different constant in each slice.
    per_slice = data.draw(hnp.arrays(np.int64, p.sum(axis=axis, keepdims=True).shape, elements=st.integers(-50, 50)))
    shifted = ll.softmax(x + per_slice.astype(dtype), axis=axis)
    np.testing.assert_allclose(shifted, p, rtol=1e-3 if dtype == np.float32 else 1e-9, atol=TOL[dtype][1] * 10)


@pytest.mark.parametrize("dtype", FLOATS)
@SETTINGS
@given(data=st.data(), temperature=st.floats(0.05, 20))
def test_temperature_is_softmax_of_logits_over_t(dtype, data, temperature):
    x, axis = data.draw(logits_and_axis(dtype))
    x = np.clip(x, -1000, 1000)  # x / T must stay finite for the oracle
    t = tf.constant(x) / tf.constant(temperature, dtype=dtype)
    close(ll.softmax(x, axis=axis, temperature=temperature), tf.nn.softmax(t, axis=axis).numpy(), dtype)
    # log_softmax values are up to 2e4 in size here: compare relative to their scale.
    scale = max(1.0, float(np.max(np.abs(x))) / temperature)
    np.testing.assert_allclose(
        ll.log_softmax(x, axis=axis, temperature=temperature),
        tf.nn.log_softmax(t, axis=axis).numpy(),
        rtol=TOL[dtype][0],
        atol=TOL[dtype][1] * scale * 10,
    )


def test_temperature_sharpens_and_flattens():
    x = [2.0, 1.0, 0.0]
    p1, cold, hot = ll.softmax(x), ll.softmax(x, temperature=0.5), ll.softmax(x, temperature=4.0)
    assert cold[0] > p1[0] > hot[0]
    np.testing.assert_allclose(ll.softmax(x, temperature=1e-3), [1, 0, 0], atol=1e-12)


@pytest.mark.parametrize("dtype", FLOATS)
@SETTINGS
@given(data=st.data())
def test_log_softmax_is_log_of_softmax_where_finite(dtype, data):
    x, axis = data.draw(logits_and_axis(dtype))
    p = ll.softmax(x, axis=axis)
    log_p = ll.log_softmax(x, axis=axis)
    ok = p > np.finfo(dtype).tiny * 1e6  # where log(softmax) has not lost its digits to underflow
    close(log_p[ok], np.log(p[ok]), dtype)
    assert np.all(np.isfinite(log_p))  # log_softmax never takes the log of an underflowed 0
    if np.ptp(x) < 100:  # log_softmax = x - logsumexp(x), slice by slice
        close(ll.logsumexp(x, axis=axis, keepdims=True), (x - log_p).mean(axis=axis, keepdims=True), dtype)


def test_log_softmax_stays_finite_where_log_of_softmax_is_minus_inf():
    x = np.array([0.0, -200.0], dtype=np.float32)
    with np.errstate(divide="ignore"):
        assert np.isneginf(np.log(ll.softmax(x))[1])
    np.testing.assert_array_equal(ll.log_softmax(x), [0.0, -200.0])


@pytest.mark.parametrize("dtype", FLOATS)
def test_logsumexp_axis0_and_keepdims_examples(dtype):
    x = np.array([[1000.0, -1000.0, 3.0], [1000.0, 2.0, -np.inf]], dtype=dtype)
    for axis in (0, 1, -1):
        for keepdims in (False, True):
            out = ll.logsumexp(x, axis=axis, keepdims=keepdims)
            close(out, tf.reduce_logsumexp(x, axis=axis, keepdims=keepdims).numpy(), dtype)
    assert ll.logsumexp(x, axis=0).shape == (3,)
    assert ll.logsumexp(x, axis=0, keepdims=True).shape == (1, 3)
    assert ll.logsumexp([1000.0, 1000.0]) == pytest.approx(1000 + np.log(2))


# -------------------------------------------------------------------------------------- sigmoid


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("huge", [False, True], ids=["to1e4", "dtype_max"])
@SETTINGS
@given(data=st.data())
def test_sigmoid_matches_tensorflow(dtype, huge, data):
    x = data.draw(logit_arrays(dtype, huge, min_dims=0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = ll.sigmoid(x)
    assert out.dtype == dtype and out.shape == x.shape
    close(out, tf.sigmoid(tf.constant(x)).numpy(), dtype)
    close(out, keras.ops.sigmoid(tf.constant(x)).numpy(), dtype)


@pytest.mark.parametrize("dtype", FLOATS)
def test_sigmoid_of_plus_minus_1e4_without_warnings(dtype):
    x = np.array([-1e4, -100.0, 0.0, 100.0, 1e4, -np.inf, np.inf], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = ll.sigmoid(x)
    np.testing.assert_array_equal(out[[0, 2, 4, 5, 6]], [0.0, 0.5, 1.0, 0.0, 1.0])
    close(out[:5], tf.sigmoid(x[:5]).numpy(), dtype)


@SETTINGS
@given(x=st.floats(-700, 700))
def test_sigmoid_is_two_class_softmax_and_inverts_the_logit(x):
    s = ll.sigmoid(x)
    assert s == pytest.approx(ll.softmax([x, 0.0])[0], rel=1e-12, abs=1e-300)
    if 1e-12 < s < 1 - 1e-12:
        assert np.log(s / (1 - s)) == pytest.approx(x, abs=1e-4 * max(1, abs(x)))


# -------------------------------------------------------------------------------------- losses


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("huge", [False, True], ids=["to1e4", "dtype_max"])
@SETTINGS
@given(data=st.data())
def test_categorical_crossentropy_from_logits_matches_tensorflow(dtype, huge, data):
    x = data.draw(logit_arrays(dtype, huge, min_dims=2, max_dims=2))
    y = data.draw(targets_for(x.shape, dtype))
    out = ll.categorical_crossentropy(y, x, from_logits=True)
    assert out.dtype == dtype and out.shape == x.shape[:1]
    expected = tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=x).numpy()
    close(out, expected, dtype)
    close(out, keras.losses.categorical_crossentropy(tf.constant(y), tf.constant(x), from_logits=True).numpy(), dtype)
    # integer labels give the same losses (when the targets are exactly one-hot: a row such as
    # [1, 1e-8] has its maximum at 1 but a loss of its own)
    if np.all(y.max(axis=1) == 1) and np.all((y == 0) | (y == 1)):
        labels = y.argmax(axis=1)
        sparse = ll.sparse_categorical_crossentropy(labels, x, from_logits=True)
        close(sparse, expected, dtype)
        close(sparse, tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=x).numpy(), dtype)
        close(
            sparse,
            keras.losses.sparse_categorical_crossentropy(labels, tf.constant(x), from_logits=True).numpy(),
            dtype,
        )


@pytest.mark.parametrize("dtype", FLOATS)
@SETTINGS
@given(data=st.data())
def test_categorical_crossentropy_on_another_axis(dtype, data):
    x, axis = data.draw(logits_and_axis(dtype, min_dims=2, max_dims=3))
    labels = data.draw(hnp.arrays(np.int64, tuple(int(n) for n in np.delete(x.shape, axis)), elements=st.integers(0, x.shape[axis] - 1)))
    y = np.moveaxis(np.eye(x.shape[axis], dtype=dtype)[labels], -1, axis)
    out = ll.categorical_crossentropy(y, x, from_logits=True, axis=axis)
    expected = keras.losses.categorical_crossentropy(
        tf.constant(y), tf.constant(x), from_logits=True, axis=axis % x.ndim  # Keras takes no other negative axis
    )
    close(out, expected.numpy(), dtype)
    # the sparse loss on the same axis is the loss on logits with that axis moved last
    close(ll.sparse_categorical_crossentropy(labels, x, from_logits=True, axis=axis), out, dtype)
    close(ll.sparse_categorical_crossentropy(labels, np.moveaxis(x, axis, -1), from_logits=True), out, dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@SETTINGS
@given(data=st.data())
def test_crossentropy_from_masked_logits(dtype, data):
    x, _ = data.draw(masked_logits_and_axis(dtype, min_dims=2, max_dims=2, last_axis=True))
    masked = np.isneginf(x)
    # labels on unmasked classes: the loss is finite and equals TensorFlow's with -inf replaced
    # by a very negative finite number (TensorFlow itself gives NaN for 0 * -inf).
    scores = data.draw(hnp.arrays(np.float64, x.shape, elements=st.floats(0, 1)))
    labels = np.argmax(np.where(masked, -1.0, scores), axis=1)
    y = np.eye(x.shape[1], dtype=dtype)[labels]
    finite = np.where(masked, -np.finfo(dtype).max / 2, x)
    expected = tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=finite).numpy()
    out = ll.categorical_crossentropy(y, x, from_logits=True)
    assert np.all(np.isfinite(out))
    close(out, expected, dtype)
    close(ll.sparse_categorical_crossentropy(labels, x, from_logits=True), expected, dtype)
    close(ll.sparse_categorical_crossentropy(labels, x, from_logits=True),
          tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=x).numpy(), dtype)
    # a label on a masked class costs +inf (the model gave it probability 0)
    if masked.any():
        row, col = np.argwhere(masked)[0]
        labels[row] = col
        y = np.eye(x.shape[1], dtype=dtype)[labels]
        assert np.isposinf(ll.categorical_crossentropy(y, x, from_logits=True)[row])
        assert np.isposinf(ll.sparse_categorical_crossentropy(labels, x, from_logits=True)[row])


@pytest.mark.parametrize("dtype", FLOATS)
@SETTINGS
@given(data=st.data())
def test_losses_on_probabilities_follow_keras_clipping_path(dtype, data):
    p = data.draw(probability_rows(dtype))
    y = data.draw(targets_for(p.shape, dtype))
    # tf.nn.softmax output and plain tensors carry no _keras_logits: Keras renormalises and clips.
    expected = keras.losses.categorical_crossentropy(tf.constant(y), tf.constant(p)).numpy()
    out = ll.categorical_crossentropy(y, p)
    assert out.dtype == dtype
    close(out, expected, dtype)
    close(ll.categorical_crossentropy(tf.constant(y), tf.constant(p)), expected, dtype)
    assert np.all(out <= -np.log(dtype(1e-7)) * 1.0001)  # clipping bounds every loss
    labels = data.draw(hnp.arrays(np.int64, p.shape[0], elements=st.integers(0, p.shape[1] - 1)))
    close(
        ll.sparse_categorical_crossentropy(labels, p),
        keras.losses.sparse_categorical_crossentropy(tf.constant(labels), tf.constant(p)).numpy(),
        dtype,
    )


def test_subnormal_probabilities_where_keras_gives_nan():
    # TensorFlow flushes the subnormal sum to 0 and Keras returns NaN; NumPy renormalises to 1.
    p = np.array([[1e-45]], dtype=np.float32)
    assert np.isnan(keras.losses.categorical_crossentropy(tf.constant([[1.0]]), tf.constant(p)).numpy()[0])
    assert ll.categorical_crossentropy([[1.0]], p)[0] == pytest.approx(-np.log(np.float32(1) - np.float32(1e-7)), rel=1e-6)  # clipped to 1 - 1e-7


def test_all_zero_probability_row_is_documented_behaviour():
    # Keras gives NaN here (0 / 0 when it renormalises); logitlab clips every class to 1e-7.
    out = ll.categorical_crossentropy([[0, 1, 0]], [[0.0, 0.0, 0.0]])
    assert out[0] == pytest.approx(-np.log(1e-7))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("huge", [False, True], ids=["to1e4", "dtype_max"])
@SETTINGS
@given(data=st.data())
def test_binary_crossentropy_from_logits_matches_tensorflow(dtype, huge, data):
    x = data.draw(logit_arrays(dtype, huge, min_dims=1, max_dims=3))
    width = 32 if dtype == np.float32 else 64
    z = data.draw(hnp.arrays(dtype, x.shape, elements=st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0, 1, width=width))))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = ll.binary_crossentropy(z, x, from_logits=True)
    assert out.dtype == dtype and out.shape == x.shape[:-1]
    expected = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=x), axis=-1).numpy()
    close(out, expected, dtype)
    close(out, keras.losses.binary_crossentropy(tf.constant(z), tf.constant(x), from_logits=True).numpy(), dtype)


def test_binary_crossentropy_with_minus_inf_logits():
    x = np.array([[-np.inf, 2.0], [-np.inf, 0.0]])
    out = ll.binary_crossentropy([[0.0, 1.0], [1.0, 0.0]], x, from_logits=True)
    assert out[0] == pytest.approx(np.log1p(np.exp(-2.0)) / 2)
    assert np.isposinf(out[1])


@pytest.mark.parametrize("dtype", FLOATS)
@SETTINGS
@given(data=st.data())
def test_binary_crossentropy_on_probabilities_matches_keras(dtype, data):
    p = data.draw(probability_rows(dtype))
    width = 32 if dtype == np.float32 else 64
    z = data.draw(hnp.arrays(dtype, p.shape, elements=st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0, 1, width=width))))
    out = ll.binary_crossentropy(z, p)
    close(out, keras.losses.binary_crossentropy(tf.constant(z), tf.constant(p)).numpy(), dtype)
    sig = tf.sigmoid(tf.constant(p * 40 - 20)).numpy()  # probabilities from tf.sigmoid: clipped path too
    close(ll.binary_crossentropy(z, sig), keras.losses.binary_crossentropy(tf.constant(z), tf.constant(sig)).numpy(), dtype)


def test_losses_return_one_loss_per_example():
    y, x = np.eye(3)[[0, 2, 1, 1]], np.zeros((4, 3))
    assert ll.categorical_crossentropy(y, x, from_logits=True).shape == (4,)
    assert ll.sparse_categorical_crossentropy([0, 2, 1, 1], x, from_logits=True).shape == (4,)
    assert ll.sparse_categorical_crossentropy([[0], [2], [1], [1]], x, from_logits=True).shape == (4,)
    assert ll.binary_crossentropy(np.ones((4, 1)), np.zeros((4, 1)), from_logits=True).shape == (4,)
    assert ll.categorical_crossentropy(np.zeros((2, 5, 3)) + [1, 0, 0], np.zeros((2, 5, 3))).shape == (2, 5)


# ------------------------------------------------------------------------ input types and dtypes

CALLS = {
    "softmax": lambda x, yi, yo: ll.softmax(x),
    "log_softmax": lambda x, yi, yo: ll.log_softmax(x, temperature=2.0),
    "logsumexp": lambda x, yi, yo: ll.logsumexp(x),
    "sigmoid": lambda x, yi, yo: ll.sigmoid(x),
    "cce_logits": lambda x, yi, yo: ll.categorical_crossentropy(yo, x, from_logits=True),
    "cce_probs": lambda x, yi, yo: ll.categorical_crossentropy(yo, ll.softmax(x)),
    "scce_logits": lambda x, yi, yo: ll.sparse_categorical_crossentropy(yi, x, from_logits=True),
    "scce_probs": lambda x, yi, yo: ll.sparse_categorical_crossentropy(yi, ll.softmax(x)),
    "bce_logits": lambda x, yi, yo: ll.binary_crossentropy(yo, x, from_logits=True),
    "bce_probs": lambda x, yi, yo: ll.binary_crossentropy(yo, ll.sigmoid(x)),
}
X = [[0.5, 1.5, 0.1], [2.2, 1.3, 1.7]]
YI = [1, 2]
YO = [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("kind", ["numpy", "tensor", "list"])
def test_every_function_keeps_the_floating_dtype_and_returns_numpy(name, dtype, kind):
    x = np.array(X, dtype=dtype)
    if kind == "tensor":
        x = tf.constant(x)
    elif kind == "list":
        x = x.tolist()
    out = CALLS[name](x, YI, YO)
    assert isinstance(out, np.ndarray)
    expected_dtype = np.float64 if kind == "list" else dtype
    assert out.dtype == expected_dtype
    reference = CALLS[name](np.array(X, dtype=np.float64), YI, YO)
    tol = {np.float16: 2e-3, np.float32: 1e-6, np.float64: 1e-12}[dtype]  # the input's rounding
    np.testing.assert_allclose(out.astype(np.float64), reference, rtol=tol, atol=tol)


@pytest.mark.parametrize("func", [ll.softmax, ll.log_softmax, ll.sigmoid])
def test_float16_matches_tensorflow_float16(func):
    x = np.array([[-8.0, 0.5, 3.0, 11.0], [30000.0, -30000.0, 0.0, 1.0]], dtype=np.float16)
    oracle = {ll.softmax: tf.nn.softmax, ll.log_softmax: tf.nn.log_softmax, ll.sigmoid: tf.sigmoid}[func]
    out = func(x)
    assert out.dtype == np.float16
    expected = oracle(tf.constant(x, tf.float32)).numpy().astype(np.float16)  # computed in float32, rounded
    np.testing.assert_array_equal(out, expected)


def test_integer_and_boolean_inputs_become_float64():
    assert ll.softmax(np.array([1, 2, 3])).dtype == np.float64
    assert ll.sigmoid(np.array([True, False])).dtype == np.float64
    assert ll.categorical_crossentropy(np.eye(2, dtype=int), np.eye(2, dtype=np.float32)).dtype == np.float32


def test_loss_dtype_follows_y_pred():
    y = np.eye(3, dtype=np.float64)[[0, 1]]
    x = np.zeros((2, 3), dtype=np.float32)
    assert ll.categorical_crossentropy(y, x, from_logits=True).dtype == np.float32
    assert ll.binary_crossentropy(y.astype(np.float16), x, from_logits=True).dtype == np.float32
    assert ll.sparse_categorical_crossentropy(np.array([0.0, 2.0]), x).dtype == np.float32


# ------------------------------------------------------------------ the sparse loss, by blocks


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("axis", [-1, 0])
def test_sparse_loss_over_many_blocks_matches_tensorflow(monkeypatch, dtype, axis):
    """The loss is computed a block of rows at a time; blocks of 7 rows (the last one short) give
    the losses TensorFlow gives on the whole batch, with masks and huge logits in it."""
    monkeypatch.setattr(ll.numerics, "_BLOCK_SIZE", 7 * 50)
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((40, 50)) * 10).astype(dtype)
    x[3, :49] = -np.inf  # one class left
    x[5, 7] = 3e4 if dtype == np.float16 else 1e30
    labels = rng.integers(0, 50, 40)
    labels[3] = 49
    out = ll.sparse_categorical_crossentropy(labels, x if axis == -1 else x.T, from_logits=True, axis=axis)
    assert out.dtype == dtype and out.shape == (40,)
    finite = np.where(np.isneginf(x), -np.finfo(np.float32).max / 2, x).astype(np.float32 if dtype == np.float16 else dtype)
    expected = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=finite).numpy().astype(dtype)
    if dtype == np.float16:
        np.testing.assert_allclose(out.astype(np.float32), expected.astype(np.float32), rtol=1e-3, atol=1e-3)
    else:
        close(out, expected, dtype)
    assert out[3] == 0
