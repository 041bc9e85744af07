"""logitlab.large_vocab: the chunked linear cross-entropy against TensorFlow's fused loss.

The oracle is ``tf.nn.sparse_softmax_cross_entropy_with_logits(labels, hidden @ kernel + bias)``
and its gradients from a ``GradientTape``. Tolerances follow the dtype and the size of the
quantities compared: a float32 sum of d products of size |h||w| carries a rounding error of a
few ulps of that size, so the losses are compared with an absolute tolerance of a few ulps of
d * max|h| * max|W|, and the gradients (sums over N rows or V classes) of N * max|gradient|.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from logitlab.large_vocab import LinearCrossEntropyModel, linear_cross_entropy

EPS = {tf.float32: np.finfo(np.float32).eps, tf.float64: np.finfo(np.float64).eps}


def problem(n=24, d=6, v=50, dtype=tf.float32, scale=3.0, seed=0):
    rng = np.random.default_rng(seed)
    hidden = tf.constant(rng.standard_normal((n, d)) * scale, dtype)
    kernel = tf.constant(rng.standard_normal((d, v)), dtype)
    bias = tf.constant(rng.standard_normal(v), dtype)
    labels = tf.constant(rng.integers(0, v, n))
    return hidden, kernel, bias, labels


def loss_and_gradients(loss_fn, hidden, kernel, bias, labels):
    """Losses and the gradients of a weighted sum of them (weights 1..N, so each row counts)."""
    with tf.GradientTape() as tape:
        tape.watch([hidden, kernel, bias])
        losses = loss_fn(hidden, kernel, bias, labels)
        total = tf.reduce_sum(losses * tf.cast(tf.range(1, tf.shape(losses)[0] + 1), losses.dtype))
    return [losses, *tape.gradient(total, [hidden, kernel, bias])]


def reference(hidden, kernel, bias, labels):
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels, hidden @ kernel + bias)


def chunked(chunk_size, use_bias=True):
    def loss_fn(hidden, kernel, bias, labels):
        return linear_cross_entropy(hidden, kernel, labels, bias=bias if use_bias else None, chunk_size=chunk_size)

    return loss_fn


def assert_close(actual, expected, dtype, scale):
    """Equal up to 4 ulps of ``scale``, a bound on the size of the terms that were summed (the
    errors measured on this project's machine stay below 0.3 ulps of it)."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert np.all(np.isfinite(actual))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=4 * EPS[dtype] * scale)


def assert_matches_reference(hidden, kernel, bias, labels, loss_fn, dtype, use_bias=True):
    """The losses and the gradients with respect to hidden, kernel (and bias, if it is used)."""
    out = loss_and_gradients(loss_fn, hidden, kernel, bias, labels)
    if not use_bias:
        assert out[3] is None  # the bias given to the oracle is zeros, unused by the loss
        out = out[:3]
    expected = loss_and_gradients(reference, hidden, kernel, bias, labels)
    logit_scale = float(tf.reduce_max(tf.abs(hidden)) * tf.reduce_max(tf.abs(kernel))) * hidden.shape[1]
    n = hidden.shape[0]
    assert out[0].dtype == dtype and out[0].shape == (n,)
    assert_close(out[0], expected[0], dtype, logit_scale + 1)
    for actual, wanted in zip(out[1:], expected[1:]):
        assert actual.dtype == dtype and actual.shape == wanted.shape
        assert_close(actual, wanted, dtype, n * (float(np.abs(wanted).max()) + 1))
    return out


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@pytest.mark.parametrize("chunk_size", [1, 7, 10, 50, 64], ids=lambda c: f"chunk{c}")
@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no-bias"])
def test_loss_and_both_gradients_match_tensorflow(dtype, chunk_size, use_bias):
    """Chunks that divide V = 50 (10, 50), that do not (7: a short last chunk), of one column,
    and one larger than the vocabulary."""
    hidden, kernel, bias, labels = problem(dtype=dtype)
    if not use_bias:
        bias = tf.zeros_like(bias)
    assert_matches_reference(hidden, kernel, bias, labels, chunked(chunk_size, use_bias), dtype, use_bias)


@pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])
def test_inside_tf_function_and_xla(jit_compile):
    hidden, kernel, bias, labels = problem(n=9, v=23)
    loss_fn = tf.function(chunked(5), jit_compile=jit_compile)
    assert_matches_reference(hidden, kernel, bias, labels, loss_fn, tf.float32)


def test_large_logits_do_not_overflow():
    hidden, kernel, bias, labels = problem(scale=400.0)  # logits in the thousands
    out = assert_matches_reference(hidden, kernel, bias, labels, chunked(8), tf.float32)
    assert float(tf.reduce_max(out[0])) > 100


@pytest.mark.parametrize("chunk_size", [8, 5])
def test_fully_masked_chunks(chunk_size):
    """A bias of -inf masks classes: here the first 16 classes (whole chunks: the running maximum
    is still -inf when the second chunk arrives) and the last 10 (vocabulary padding). The loss
    equals TensorFlow's with the mask replaced by a very negative finite bias, and no NaN appears."""
    hidden, kernel, bias, labels = problem(v=50)
    masked = np.zeros(50, dtype=bool)
    masked[:16] = masked[40:] = True
    labels = tf.constant(np.random.default_rng(1).integers(16, 40, hidden.shape[0]))
    masked_bias = tf.where(masked, -np.inf, bias)
    out = loss_and_gradients(chunked(chunk_size), hidden, kernel, masked_bias, labels)
    expected = loss_and_gradients(reference, hidden, kernel, tf.where(masked, -1e30, bias), labels)
    for actual, wanted in zip(out, expected):
        assert np.all(np.isfinite(actual.numpy()))
        np.testing.assert_allclose(actual.numpy(), wanted.numpy(), rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(out[2].numpy()[:, masked], 0)  # masked columns get no gradient


@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16])
def test_half_precision_inputs_accumulate_in_float32(dtype):
    """float16/bfloat16 inputs: the loss is float32 and equals float32 arithmetic on the same
    (rounded) inputs; the gradients come back in the inputs' dtype."""
    hidden, kernel, bias, labels = problem(v=300, scale=8.0)
    hidden, kernel, bias = (tf.cast(x, dtype) for x in (hidden, kernel, bias))
    out = loss_and_gradients(chunked(64), hidden, kernel, bias, labels)
    wide = [tf.cast(x, tf.float32) for x in (hidden, kernel, bias)]
    expected = loss_and_gradients(reference, *wide, labels)
    assert out[0].dtype == tf.float32
    np.testing.assert_allclose(out[0].numpy(), expected[0].numpy(), rtol=1e-5, atol=1e-4)
    for actual, wanted in zip(out[1:], expected[1:]):
        assert actual.dtype == dtype
        rounded = tf.cast(tf.cast(wanted, dtype), tf.float32).numpy()  # the best the dtype can hold
        step = {tf.float16: 2e-3, tf.bfloat16: 1.6e-2}[dtype]
        np.testing.assert_allclose(tf.cast(actual, tf.float32).numpy(), rounded, rtol=step, atol=step)


def test_float16_logits_would_overflow_but_the_loss_does_not():
    """Logits of about 1e5 do not fit in float16 (largest 65504); computed in float32 they do."""
    hidden = tf.constant([[300.0, 300.0]], tf.float16)
    kernel = tf.constant([[200.0, -200.0, 0.0], [200.0, 0.0, 1.0]], tf.float16)
    assert not np.isfinite((hidden @ kernel).numpy()).all()
    out = linear_cross_entropy(hidden, kernel, [1], chunk_size=2)
    np.testing.assert_allclose(out.numpy(), [120000.0 + 60000.0], rtol=1e-6)


@pytest.mark.parametrize(
    "labels, message",
    [
        ([0, 1, 5], r"labels contains the label 5 at index 2, outside \[0, 5\)"),
        ([0, -1, 2], r"labels contains the label -1 at index 1"),
        ([0, 1], r"labels must hold one integer class label per example, shape \(3,\)"),
        ([[0, 1, 2]], r"labels must hold one integer class label per row of hidden"),
        ([0.0, 1.0, 2.0], r"labels must be integer class indices, got dtype float32"),
    ],
)
def test_bad_labels_raise_when_eager(labels, message):
    hidden, kernel, _, _ = problem(n=3, v=5)
    with pytest.raises(ValueError, match=message):
        linear_cross_entropy(hidden, kernel, labels)


def test_a_label_on_a_masked_class_raises():
    hidden, kernel, _, _ = problem(n=3, v=5)
    bias = tf.constant([0.0, -np.inf, 0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match=r"labels\[2\] = 1 is a masked class \(its bias is -inf\)"):
        linear_cross_entropy(hidden, kernel, [0, 2, 1], bias=bias)
    with pytest.raises(ValueError, match=r"every logit of bias is -inf"):
        linear_cross_entropy(hidden, kernel, [0, 2, 1], bias=tf.fill([5], -np.inf))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"chunk_size": 0}, r"chunk_size must be a positive integer, got 0\. It is the number of vocabulary columns"),
        ({"chunk_size": 2.5}, r"chunk_size must be a positive integer, got 2\.5"),
        ({"chunk_size": True}, r"chunk_size must be a positive integer, got True"),
        ({"kernel": tf.zeros((5, 4))}, r"hidden has 6 features per row but kernel has 5 rows"),
        ({"kernel": tf.zeros((6, 5), tf.int32)}, r"kernel must be a floating tensor"),
        ({"bias": tf.zeros(4)}, r"bias must have shape \(5,\)"),
        ({"hidden": tf.zeros((3, 2, 6))}, r"flatten the batch and time axes first"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    hidden, kernel, _, _ = problem(n=3, v=5)
    args = {"hidden": hidden, "kernel": kernel, "labels": [0, 1, 2]} | kwargs
    with pytest.raises(ValueError, match=message):
        linear_cross_entropy(args.pop("hidden"), args.pop("kernel"), args.pop("labels"), **args)


@pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])
def test_out_of_range_label_in_a_graph_gives_nan_for_its_row(jit_compile):
    """Inside tf.function the labels have no value to check: the row of a bad label gets NaN
    (loss and hidden-state gradient), the other rows' losses are unaffected."""
    hidden, kernel, bias, _ = problem(n=3, v=5)
    loss_fn = tf.function(chunked(2), jit_compile=jit_compile)
    out = loss_and_gradients(loss_fn, hidden, kernel, bias, tf.constant([0, 7, 2]))
    losses = out[0].numpy()
    assert np.isnan(losses[1]) and np.all(np.isfinite(losses[[0, 2]]))
    assert np.isnan(out[1].numpy()[1]).all() and np.isfinite(out[1].numpy()[[0, 2]]).all()
    assert np.isnan(out[2].numpy()).all()  # the kernel is shared: its gradient is NaN, training notices


def tiny_language_model_data(vocabulary_size=37, length=6, n=64):
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, vocabulary_size, (n, length + 1))
    return tokens[:, :-1], tokens[:, 1:]


def test_model_fit_follows_the_plain_dense_and_sparse_crossentropy():
    """The same small language model, trained with the chunked loss and with Dense(V) +
    SparseCategoricalCrossentropy(from_logits=True) from the same weights, has the same loss
    curve and the same logits after training."""
    vocabulary_size, width = 37, 8
    x, y = tiny_language_model_data(vocabulary_size)
    weights = np.random.default_rng(1).random(y.shape)  # sample weights count too

    def body():
        return keras.Sequential([keras.layers.Embedding(vocabulary_size, width), keras.layers.Dense(width, activation="tanh")])

    keras.utils.set_random_seed(0)
    model = LinearCrossEntropyModel(body(), vocabulary_size, chunk_size=10)
    model.build((None, x.shape[1]))
    plain = keras.Sequential([keras.Input((x.shape[1],)), body(), keras.layers.Dense(vocabulary_size)])
    plain.set_weights(model.get_weights())
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    plain.compile(optimizer=keras.optimizers.SGD(0.5), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    kwargs = {"epochs": 4, "batch_size": 16, "shuffle": False, "verbose": 0, "sample_weight": weights}
    chunked_curve = model.fit(x, y, **kwargs).history["loss"]
    plain_curve = plain.fit(x, y, **kwargs).history["loss"]
    assert chunked_curve[-1] < chunked_curve[0]
    np.testing.assert_allclose(chunked_curve, plain_curve, rtol=1e-5)
    np.testing.assert_allclose(model.logits(x).numpy(), plain(x).numpy(), rtol=1e-4, atol=1e-4)


def test_model_fit_under_mixed_precision():
    """Under Keras' mixed_bfloat16 policy the hidden states are bfloat16 and the kernel float32:
    the loss is computed in float32 and training lowers it."""
    vocabulary_size = 37
    x, y = tiny_language_model_data(vocabulary_size)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        keras.utils.set_random_seed(0)
        body = keras.Sequential([keras.layers.Embedding(vocabulary_size, 8), keras.layers.Dense(8, activation="tanh")])
        model = LinearCrossEntropyModel(body, vocabulary_size, chunk_size=10)
        model.build((None, x.shape[1]))
        assert model(x[:2]).dtype == "bfloat16" and model.head.kernel.dtype == "float32"
        model.compile(optimizer=keras.optimizers.SGD(0.5))
        curve = model.fit(x, y, epochs=3, batch_size=16, verbose=0).history["loss"]
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert np.all(np.isfinite(curve)) and curve[-1] < curve[0]
