"""Bad input to any public function of logitlab raises a ValueError whose message names the problem
and says how to fix it. Each test asserts on both halves of the message, not only on the type.
"""

import numpy as np
import pytest
import tensorflow as tf

import logitlab as ll

LOGITS = np.array([[0.5, 1.5, 0.1], [2.2, 1.3, 1.7]])
PROBS = ll.softmax(LOGITS)
ONE_HOT = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
LABELS = np.array([1, 2])

# Every public function that takes logits, as a function of the logits alone.
ON_LOGITS = {
    "softmax": lambda x: ll.softmax(x),
    "log_softmax": lambda x: ll.log_softmax(x),
    "logsumexp": lambda x: ll.logsumexp(x),
    "sigmoid": lambda x: ll.sigmoid(x),
    "categorical_crossentropy": lambda x: ll.categorical_crossentropy(ONE_HOT, x, from_logits=True),
    "sparse_categorical_crossentropy": lambda x: ll.sparse_categorical_crossentropy(LABELS, x, from_logits=True),
    "binary_crossentropy": lambda x: ll.binary_crossentropy(ONE_HOT, x, from_logits=True),
    "top_k_filter": lambda x: ll.top_k_filter(x, k=2),
    "top_p_filter": lambda x: ll.top_p_filter(x, p=0.9),
    "sample": lambda x: ll.sample(x, seed=0),
}
# ... and every one that takes probabilities (from_logits=False).
ON_PROBS = {
    "categorical_crossentropy": lambda p: ll.categorical_crossentropy(ONE_HOT, p),
    "sparse_categorical_crossentropy": lambda p: ll.sparse_categorical_crossentropy(LABELS, p),
    "binary_crossentropy": lambda p: ll.binary_crossentropy(ONE_HOT, p),
}
WITH_AXIS = {
    "softmax": lambda x, axis: ll.softmax(x, axis=axis),
    "log_softmax": lambda x, axis: ll.log_softmax(x, axis=axis),
    "logsumexp": lambda x, axis: ll.logsumexp(x, axis=axis),
    "categorical_crossentropy": lambda x, axis: ll.categorical_crossentropy(ONE_HOT, x, from_logits=True, axis=axis),
    "sparse_categorical_crossentropy": lambda x, axis: ll.sparse_categorical_crossentropy(LABELS, x, axis=axis),
    "top_k_filter": lambda x, axis: ll.top_k_filter(x, k=1, axis=axis),
    "top_p_filter": lambda x, axis: ll.top_p_filter(x, p=0.5, axis=axis),
}
ALL_MASKED_RAISES = sorted(set(ON_LOGITS) - {"logsumexp", "sigmoid", "binary_crossentropy"})


def with_value(array, index, value):
    out = np.array(array, dtype=np.float64)
    out[index] = value
    return out


# ------------------------------------------------------------------------------- bad values


@pytest.mark.parametrize("name", sorted(ON_LOGITS))
@pytest.mark.parametrize("kind", ["numpy", "tensor"])
def test_nan_logits(name, kind):
    x = with_value(LOGITS, (1, 2), np.nan)
    x = tf.constant(x) if kind == "tensor" else x
    with pytest.raises(ValueError, match=r"contains NaN.*(Find where|upstream)") as info:
        ON_LOGITS[name](x)
    if name != "sigmoid":
        assert "(1, 2)" in str(info.value)  # where the first NaN is


@pytest.mark.parametrize("name", sorted(ON_PROBS))
def test_nan_probabilities(name):
    with pytest.raises(ValueError, match=r"y_pred contains NaN.*Find where it first appears"):
        ON_PROBS[name](with_value(PROBS, (0, 1), np.nan))


@pytest.mark.parametrize("name", sorted(set(ON_LOGITS) - {"sigmoid"}))
def test_plus_inf_logits(name):
    with pytest.raises(ValueError, match=r"contains \+inf .*index \(0, 1\).*large finite value.*only -inf"):
        ON_LOGITS[name](with_value(LOGITS, (0, 1), np.inf))


def test_sigmoid_accepts_infinities():
    np.testing.assert_array_equal(ll.sigmoid([-np.inf, np.inf]), [0.0, 1.0])


@pytest.mark.parametrize("name", ALL_MASKED_RAISES)
def test_a_row_of_only_minus_inf(name):
    x = with_value(LOGITS, (1, slice(None)), -np.inf)
    with pytest.raises(ValueError, match=r"every logit .* is -inf .*position 1.*Leave at least one class unmasked"):
        ON_LOGITS[name](x)


def test_a_row_of_only_minus_inf_is_allowed_where_it_has_a_meaning():
    x = with_value(LOGITS, (1, slice(None)), -np.inf)
    assert np.isneginf(ll.logsumexp(x)[1])  # the log of an empty sum
    assert ll.binary_crossentropy(np.zeros_like(x), x, from_logits=True)[1] == 0.0


@pytest.mark.parametrize("name", sorted(ON_PROBS))
@pytest.mark.parametrize("value", [2.5, -0.3, 1e4])
def test_logits_passed_as_probabilities(name, value):
    with pytest.raises(ValueError, match=r"outside \[0, 1\].*look like logits.*you probably meant from_logits=True"):
        ON_PROBS[name](with_value(PROBS, (0, 0), value))


@pytest.mark.parametrize("name", sorted(ON_PROBS))
def test_raw_logits_passed_as_probabilities_names_the_value(name):
    with pytest.raises(ValueError, match=r"for example 1\.5 at index \(0, 1\)"):
        ON_PROBS[name](LOGITS)


# ------------------------------------------------------------------------------------ labels


@pytest.mark.parametrize("label", [3, 7, -1])
@pytest.mark.parametrize("from_logits", [True, False])
def test_sparse_label_outside_the_classes(label, from_logits):
    y_pred = LOGITS if from_logits else PROBS
    with pytest.raises(ValueError, match=rf"the label {label} at index 1, outside \[0, 3\) for n_classes=3.*from 0 to 2"):
        ll.sparse_categorical_crossentropy([0, label], y_pred, from_logits=from_logits)


def test_labels_starting_at_one_get_the_hint_and_the_gpu_note():
    with pytest.raises(ValueError, match=r"if yours start at 1, subtract 1.*GPU.*NaN"):
        ll.sparse_categorical_crossentropy([1, 3], LOGITS, from_logits=True)


@pytest.mark.parametrize("labels", [[1.5, 0.0], np.array([0.0, 2.25], dtype=np.float32), tf.constant([0.5, 1.0])])
def test_non_integer_sparse_labels(labels):
    with pytest.raises(ValueError, match=r"must hold integer class labels, got the non-integer value \d\.\d+.*class indices in \[0, 3\)"):
        ll.sparse_categorical_crossentropy(labels, LOGITS, from_logits=True)


def test_whole_float_labels_are_accepted():
    np.testing.assert_allclose(
        ll.sparse_categorical_crossentropy([1.0, 2.0], LOGITS, from_logits=True),
        ll.sparse_categorical_crossentropy(np.array([1, 2], dtype=np.int32), LOGITS, from_logits=True),
    )


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nan_or_inf_sparse_labels(value):
    with pytest.raises(ValueError, match=r"y_true contains NaN or inf; expected integer class labels"):
        ll.sparse_categorical_crossentropy([0.0, value], LOGITS, from_logits=True)


def test_one_hot_labels_given_to_the_sparse_loss():
    with pytest.raises(ValueError, match=r"one integer class label per example, shape \(2,\).*got shape \(2, 3\).*look like one-hot labels: use categorical_crossentropy"):
        ll.sparse_categorical_crossentropy(ONE_HOT, LOGITS, from_logits=True)


def test_sparse_labels_of_the_wrong_length():
    with pytest.raises(ValueError, match=r"shape \(2,\) \(or \(2, 1\)\), got shape \(3,\)"):
        ll.sparse_categorical_crossentropy([0, 1, 2], LOGITS, from_logits=True)


def test_integer_labels_given_to_the_categorical_loss():
    with pytest.raises(ValueError, match=r"same shape, got y_true \(2,\) and y_pred \(2, 3\).*integer class labels: use sparse_categorical_crossentropy, or one-hot encode"):
        ll.categorical_crossentropy(LABELS, LOGITS, from_logits=True)


def test_integer_labels_of_the_right_shape_given_to_the_categorical_loss():
    with pytest.raises(ValueError, match=r"y_true has values outside \[0, 1\].*for example 2.*For integer class labels use sparse_categorical_crossentropy"):
        ll.categorical_crossentropy([[2, 0, 0], [0, 0, 1]], LOGITS, from_logits=True)


@pytest.mark.parametrize("loss", [ll.categorical_crossentropy, ll.binary_crossentropy])
def test_shape_mismatch(loss):
    with pytest.raises(ValueError, match=r"y_true and y_pred must have the same shape, got y_true \(2, 4\) and y_pred \(2, 3\)") as info:
        loss(np.zeros((2, 4)), LOGITS, from_logits=True)
    assert "sparse" not in str(info.value)  # no one-hot/sparse hint when it does not apply


def test_binary_loss_has_no_sparse_hint():
    with pytest.raises(ValueError, match=r"same shape") as info:
        ll.binary_crossentropy([1.0, 0.0], LOGITS, from_logits=True)
    assert "sparse" not in str(info.value)


@pytest.mark.parametrize("loss", [ll.categorical_crossentropy, ll.binary_crossentropy])
@pytest.mark.parametrize("value", [np.nan, np.inf, -0.5, 1.5])
def test_bad_targets(loss, value):
    with pytest.raises(ValueError, match=r"y_true (contains NaN or inf|has values outside \[0, 1\]).*(probabilities in \[0, 1\]|each a probability)"):
        loss(with_value(ONE_HOT, (1, 0), value), LOGITS, from_logits=True)


# ------------------------------------------------------------------------ temperature and axis


@pytest.mark.parametrize("func", [ll.softmax, ll.log_softmax])
@pytest.mark.parametrize("temperature", [0, 0.0, -1.0, -1e-9, np.nan, np.inf, -np.inf])
def test_temperature_not_positive(func, temperature):
    with pytest.raises(ValueError, match=r"temperature must be a positive number, got .*Temperature divides the logits"):
        func(LOGITS, temperature=temperature)


@pytest.mark.parametrize("temperature", [-1.0, -0.1, np.nan, np.inf])
def test_sample_temperature_negative_or_not_finite(temperature):
    with pytest.raises(ValueError, match=r"temperature must be 0 \(greedy\) or a positive number, got"):
        ll.sample(LOGITS, temperature=temperature)


@pytest.mark.parametrize("temperature", ["2", None, True, [1.0]])
def test_temperature_not_a_number(temperature):
    with pytest.raises(ValueError, match=r"temperature must be a real number, got"):
        ll.softmax(LOGITS, temperature=temperature)
    with pytest.raises(ValueError, match=r"temperature must be a real number"):
        ll.sample(LOGITS, temperature=temperature)


@pytest.mark.parametrize("name", sorted(WITH_AXIS))
@pytest.mark.parametrize("axis", [2, -3, 10])
def test_axis_out_of_range(name, axis):
    with pytest.raises(ValueError, match=rf"axis={axis} is out of range for an input with 2 dimension\(s\); expected an integer in \[-2, 1\]"):
        WITH_AXIS[name](LOGITS, axis)


@pytest.mark.parametrize("name", sorted(WITH_AXIS))
@pytest.mark.parametrize("axis", [1.0, "1", None, True])
def test_axis_not_an_integer(name, axis):
    with pytest.raises(ValueError, match=r"axis must be an integer, got"):
        WITH_AXIS[name](LOGITS, axis)


def test_numpy_integer_axis_is_accepted():
    np.testing.assert_allclose(ll.softmax(LOGITS, axis=np.int64(0)), ll.softmax(LOGITS, axis=0))


# --------------------------------------------------------------------- things that are not arrays


@pytest.mark.parametrize("name", sorted(ON_LOGITS))
@pytest.mark.parametrize("bad", [["a", "b", "c"], "logits", np.array([["x", "y"]])], ids=["strings", "str", "unicode_array"])
def test_strings(name, bad):
    with pytest.raises(ValueError, match=r"must hold numbers, got an array of dtype .*expected a list, NumPy array or TensorFlow tensor of numbers"):
        ON_LOGITS[name](bad)


@pytest.mark.parametrize("name", sorted(ON_LOGITS))
def test_ragged_lists(name):
    with pytest.raises(ValueError, match=r"(could not be read as a numeric array|must hold numbers).*rectangular shape"):
        ON_LOGITS[name]([[1.0, 2.0, 3.0], [1.0, 2.0]])


def _call_with_targets(name, y_true):
    return getattr(ll, name)(y_true, PROBS)


@pytest.mark.parametrize("name", sorted(ON_PROBS))
def test_string_and_ragged_targets(name):
    strings = ["a", "b"] if name == "sparse_categorical_crossentropy" else [["a"] * 3] * 2
    with pytest.raises(ValueError, match=r"y_true must hold numbers, got an array of dtype"):
        _call_with_targets(name, strings)
    with pytest.raises(ValueError, match=r"y_true .*rectangular shape"):
        _call_with_targets(name, [[0.0, 1.0, 0.0], [1.0]])


def test_complex_input():
    with pytest.raises(ValueError, match=r"must be real-valued, got complex"):
        ll.softmax(np.array([1 + 2j, 3 + 0j]))


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp", "sparse_categorical_crossentropy", "top_k_filter", "top_p_filter", "sample"])
def test_scalar_input(name):
    with pytest.raises(ValueError, match=r"scalar \(0 dimensions\).*pass at least a 1-D array"):
        ON_LOGITS[name](3.0)


def test_sigmoid_accepts_a_scalar():
    assert ll.sigmoid(0.0) == 0.5


@pytest.mark.parametrize("loss", [ll.categorical_crossentropy, ll.binary_crossentropy])
def test_scalar_losses(loss):
    with pytest.raises(ValueError, match=r"scalar \(0 dimensions\).*pass at least a 1-D array"):
        loss(1.0, 0.5)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp", "top_k_filter", "top_p_filter", "sample"])
def test_no_classes(name):
    with pytest.raises(ValueError, match=r"(no classes along axis 1 \(size 0\); expected at least one|k must be an integer in \[1, 0\])"):
        ON_LOGITS[name](np.zeros((2, 0)))


def test_symbolic_tensor_inside_tf_function():
    @tf.function
    def traced(x):
        return ll.softmax(x)

    with pytest.raises(ValueError, match=r"symbolic tensor .*no value yet.*pass a NumPy array or an eager tensor"):
        traced(tf.constant(LOGITS))


def test_errors_are_value_errors_for_every_sampling_argument():
    for call in [
        lambda: ll.top_k_filter(LOGITS, k=0),
        lambda: ll.top_k_filter(LOGITS, k=4),
        lambda: ll.top_k_filter(LOGITS, k=1.5),
        lambda: ll.top_p_filter(LOGITS, p=0),
        lambda: ll.top_p_filter(LOGITS, p="0.5"),
        lambda: ll.sample(LOGITS, num_samples=0),
        lambda: ll.sample(LOGITS, top_k=10),
        lambda: ll.sample(LOGITS, top_p=1.5),
    ]:
        with pytest.raises(ValueError):
            call()
