"""Input validation shared by every public function of :mod:`logitlab`.

One place checks what the numerics and the sampler receive, in the manner of scikit-learn's
``check_array``: each error says what was received and what was expected, and how to fix it.
Every error is a :class:`ValueError`.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "as_float_array",
    "check_axis",
    "check_logits",
    "check_probabilities",
    "check_targets",
    "check_same_shape",
    "check_sparse_labels",
    "check_temperature",
    "check_positive_integer",
]

_FLOATS = (np.float16, np.float32, np.float64)


def _symbolic(x, name):
    return ValueError(
        f"{name} is a symbolic tensor ({type(x).__name__}) with no value yet; "
        "logitlab works on concrete values: pass a NumPy array or an eager tensor."
    )


def _to_numpy(x, name):
    """Turn a list, NumPy array, TensorFlow tensor or scalar into a NumPy array."""
    if hasattr(x, "numpy") and callable(x.numpy):  # an eager TensorFlow tensor or variable
        try:
            x = x.numpy()
        except Exception as err:  # a symbolic tensor has no value yet
            raise _symbolic(x, name) from err
    try:
        array = np.asarray(x)
    except NotImplementedError as err:  # TensorFlow's symbolic tensor (inside tf.function)
        raise _symbolic(x, name) from err
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"{name} could not be read as a numeric array ({err}); expected a list, "
            "NumPy array or TensorFlow tensor of numbers with a rectangular shape."
        ) from err
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_
    ):
        raise ValueError(
            f"{name} must hold numbers, got an array of dtype {array.dtype}; expected a list, "
            "NumPy array or TensorFlow tensor of numbers with a rectangular shape."
        )
    if np.iscomplexobj(array):
        raise ValueError(f"{name} must be real-valued, got complex dtype {array.dtype}.")
    return array


def as_float_array(x, name="x"):
    """Return ``x`` as a floating NumPy array.

    Float16, float32 and float64 inputs keep their dtype; integers, booleans and Python lists
    become float64 (as NumPy would), and other floats (bfloat16) become float32.
    """
    array = _to_numpy(x, name)
    if array.dtype in _FLOATS:
        return array
    if np.issubdtype(array.dtype, np.floating):
        return array.astype(np.float32)
    return array.astype(np.float64)


def check_axis(axis, ndim, name="axis"):
    """Return ``axis`` as a non-negative integer, or raise if it does not fit ``ndim`` dims."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {axis!r} of type {type(axis).__name__}.")
    if ndim == 0:
        raise ValueError(
            "the input is a scalar (0 dimensions), but these functions work along a class axis; "
            "pass at least a 1-D array of logits or probabilities."
        )
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{name}={axis} is out of range for an input with {ndim} dimension(s); "
            f"expected an integer in [{-ndim}, {ndim - 1}]."
        )
    return int(axis) % ndim


def _first_index(mask):
    index = tuple(int(i) for i in np.argwhere(mask)[0])
    return index if len(index) != 1 else index[0]


def check_finite_or_masked(x, name):
    """Raise on NaN or +inf values (``-inf`` is allowed: it masks a class)."""
    if np.isnan(x).any():
        raise ValueError(
            f"{name} contains NaN (first at index {_first_index(np.isnan(x))}); NaN usually comes "
            "from an earlier overflow or a division 0/0. Find where it first appears and remove it; "
            "logitlab will not turn NaN into a loss or a probability."
        )
    if np.isposinf(x).any():
        raise ValueError(
            f"{name} contains +inf (first at index {_first_index(np.isposinf(x))}); a logit of "
            "+inf has no softmax. Use a large finite value instead; only -inf is allowed, to mask "
            "a class."
        )


def check_logits(x, axis, name="logits", allow_all_masked=False):
    """Validate logits: no NaN, no ``+inf``, and at least one finite value along ``axis``.

    Returns the largest logit along ``axis`` (a NumPy array or scalar), which callers may reuse:
    one pass over the logits decides the usual case, since a maximum that is finite everywhere
    rules out NaN, ``+inf`` and slices of only ``-inf``; the diagnosis runs only on failure.
    """
    if x.shape[axis] == 0:
        check_finite_or_masked(x, name)
        raise ValueError(f"{name} has no classes along axis {axis} (size 0); expected at least one.")
    top = np.max(x, axis=axis)
    if np.isfinite(top).all():
        return top
    check_finite_or_masked(x, name)
    if not allow_all_masked:
        all_masked = np.all(np.isneginf(x), axis=axis)
        if np.any(all_masked):
            where = _first_index(all_masked) if np.ndim(all_masked) else ()
            raise ValueError(
                f"every logit of {name} is -inf along axis {axis} at position {where}: every class "
                "is masked, so softmax is undefined (0/0). Leave at least one class unmasked."
            )
    return top


def check_probabilities(y_pred, name="y_pred"):
    """Validate probabilities for a loss called with ``from_logits=False``."""
    if np.isnan(y_pred).any():
        raise ValueError(
            f"{name} contains NaN (first at index {_first_index(np.isnan(y_pred))}); "
            "a probability cannot be NaN. Find where it first appears upstream."
        )
    outside = (y_pred < 0) | (y_pred > 1)
    if outside.any():
        index = _first_index(outside)
        value = y_pred[np.unravel_index(np.argmax(outside), y_pred.shape)] if y_pred.ndim else y_pred
        raise ValueError(
            f"{name} has values outside [0, 1] (for example {float(value):.6g} at index {index}), "
            "but from_logits=False expects probabilities. These look like logits (raw scores "
            "from a layer with no activation): you probably meant from_logits=True."
        )


def check_targets(y_true, name="y_true"):
    """Validate one-hot, soft or binary targets: finite values in [0, 1]."""
    if not np.isfinite(y_true).all():
        raise ValueError(
            f"{name} contains NaN or inf (first at index {_first_index(~np.isfinite(y_true))}); "
            "targets must be probabilities in [0, 1]."
        )
    outside = (y_true < 0) | (y_true > 1)
    if outside.any():
        value = y_true[np.unravel_index(np.argmax(outside), y_true.shape)] if y_true.ndim else y_true
        raise ValueError(
            f"{name} has values outside [0, 1] (for example {float(value):.6g} at index "
            f"{_first_index(outside)}); expected one-hot or soft labels, each a probability. "
            "For integer class labels use sparse_categorical_crossentropy."
        )


def check_same_shape(y_true, y_pred, sparse_hint=True):
    """Raise unless ``y_true`` and ``y_pred`` have the same shape."""
    if y_true.shape == y_pred.shape:
        return
    hint = ""
    if sparse_hint and y_pred.ndim >= 1 and y_true.shape in (y_pred.shape[:-1], y_pred.shape[:-1] + (1,)):
        hint = (
            " y_true looks like integer class labels: use sparse_categorical_crossentropy, "
            "or one-hot encode the labels first."
        )
    raise ValueError(
        f"y_true and y_pred must have the same shape, got y_true {y_true.shape} and y_pred "
        f"{y_pred.shape}.{hint}"
    )


def check_sparse_labels(y_true, n_classes, batch_shape, name="y_true"):
    """Return integer class labels of shape ``batch_shape``, validated against ``n_classes``."""
    labels = _to_numpy(y_true, name)
    if labels.shape == batch_shape + (1,):  # Keras accepts labels with a trailing axis of 1
        labels = labels.reshape(batch_shape)
    if labels.shape != batch_shape:
        hint = ""
        if labels.shape == batch_shape + (n_classes,):
            hint = " These look like one-hot labels: use categorical_crossentropy, or take argmax."
        raise ValueError(
            f"{name} must hold one integer class label per example, shape {batch_shape} "
            f"(or {batch_shape + (1,)}), got shape {labels.shape}.{hint}"
        )
    if labels.dtype == np.bool_:
        labels = labels.astype(np.int64)
    if np.issubdtype(labels.dtype, np.floating):
        if not np.isfinite(labels).all():
            raise ValueError(f"{name} contains NaN or inf; expected integer class labels.")
        fractional = labels != np.round(labels)
        if fractional.any():
            value = labels[np.unravel_index(np.argmax(fractional), labels.shape)] if labels.ndim else labels
            raise ValueError(
                f"{name} must hold integer class labels, got the non-integer value {float(value):g} "
                f"at index {_first_index(fractional)}. Sparse labels are class indices in "
                f"[0, {n_classes}); for soft labels use categorical_crossentropy."
            )
    labels = labels.astype(np.int64)
    bad = (labels < 0) | (labels >= n_classes)
    if bad.any():
        value = labels[np.unravel_index(np.argmax(bad), labels.shape)] if labels.ndim else labels
        raise ValueError(
            f"{name} contains the label {int(value)} at index {_first_index(bad)}, outside "
            f"[0, {n_classes}) for n_classes={n_classes}. Labels must be class indices from 0 to "
            f"{n_classes - 1}; if yours start at 1, subtract 1. (On a GPU or under XLA, TensorFlow "
            "returns NaN for such a label instead of raising.)"
        )
    return labels


def check_temperature(temperature, allow_zero=False):
    """Return ``temperature`` as a float, or raise if it is not positive and finite."""
    if isinstance(temperature, (bool, np.bool_)) or not isinstance(temperature, numbers.Real):
        raise ValueError(
            f"temperature must be a real number, got {temperature!r} of type "
            f"{type(temperature).__name__}."
        )
    t = float(temperature)
    lowest = "0 (greedy) or a positive number" if allow_zero else "a positive number"
    if not np.isfinite(t) or t < 0 or (t == 0 and not allow_zero):
        raise ValueError(
            f"temperature must be {lowest}, got {temperature!r}. Temperature divides the logits: "
            "below 1 sharpens the distribution, above 1 flattens it."
        )
    return t


def check_positive_integer(value, name, hint=""):
    """Return ``value`` as an ``int``, or raise if it is not an integer of at least 1."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.{' ' + hint if hint else ''}")
    return int(value)
