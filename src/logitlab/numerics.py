"""Numerically stable softmax, log-softmax, log-sum-exp, sigmoid and cross-entropy in NumPy.

Every function takes lists, NumPy arrays or TensorFlow tensors, returns NumPy arrays and keeps the
input's floating dtype (float16 is computed in float32 and rounded back). The losses use the
argument names and order of ``keras.losses`` and return one loss per example, as Keras does;
with ``from_logits=False`` they follow Keras' probability path (renormalise, clip to
``[1e-7, 1 - 1e-7]``), so they agree with Keras on the same inputs.
"""

from __future__ import annotations

import numpy as np

from .validation import (
    as_float_array,
    check_axis,
    check_finite_or_masked,
    check_logits,
    check_probabilities,
    check_same_shape,
    check_sparse_labels,
    check_targets,
    check_temperature,
)

__all__ = [
    "EPSILON",
    "softmax",
    "log_softmax",
    "logsumexp",
    "sigmoid",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "binary_crossentropy",
]

#: Keras' fuzz factor (``keras.config.epsilon()``): probabilities are clipped to
#: ``[EPSILON, 1 - EPSILON]`` before their logarithm is taken.
EPSILON = 1e-7


def _compute_dtype(dtype):
    """float16 is too narrow for exp and log: compute in float32 and round back at the end."""
    return np.float32 if dtype == np.float16 else np.dtype(dtype).type  # a scalar type: callable


def _to_dtype(out, dtype):
    """Cast a result back to the input's dtype; a float16 result beyond its range becomes +-inf
    (the correctly rounded value), without NumPy's overflow warning."""
    with np.errstate(over="ignore"):
        return out.astype(dtype)


def _shifted(x, axis, temperature):
    """``(x - max(x)) / temperature`` along ``axis``: every value is <= 0, the largest is 0."""
    top = np.max(x, axis=axis, keepdims=True)
    with np.errstate(invalid="ignore"):  # -inf - finite is -inf, never NaN here
        return (x - top) / x.dtype.type(temperature)


def _log_softmax(x, axis, temperature=1.0):
    z = _shifted(x, axis, temperature)
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def logsumexp(x, axis=-1, keepdims=False):
    """Computes ``log(sum(exp(x)))`` along an axis without overflow.

    The largest value is factored out first: ``logsumexp(x) = m + log(sum(exp(x - m)))`` with
    ``m = max(x)``, so every exponent is at most 0 and nothing overflows.

    Args:
        x: Logits: a list, NumPy array or TensorFlow tensor. ``-inf`` entries are allowed (they
            contribute nothing); NaN and ``+inf`` raise ``ValueError``.
        axis: The axis to reduce. Defaults to ``-1``.
        keepdims: If ``True``, the reduced axis is kept with size 1.

    Returns:
        A NumPy array of the input's floating dtype. A slice whose entries are all ``-inf``
        gives ``-inf`` (the log of an empty sum).

    Example:

    >>> logsumexp([1000.0, 1000.0]).round(4)
    np.float64(1000.6931)
    """
    x = as_float_array(x, "x")
    axis = check_axis(axis, x.ndim)
    check_logits(x, axis, "x", allow_all_masked=True)
    out_dtype = x.dtype
    x = x.astype(_compute_dtype(out_dtype))
    top = np.max(x, axis=axis, keepdims=True)
    safe_top = np.where(np.isneginf(top), 0, top)  # an all -inf slice: exp(-inf) = 0, log(0) = -inf
    with np.errstate(divide="ignore"):
        out = safe_top + np.log(np.sum(np.exp(x - safe_top), axis=axis, keepdims=True))
    if not keepdims:
        out = np.squeeze(out, axis=axis)
    return _to_dtype(out, out_dtype)


def softmax(x, axis=-1, temperature=1.0):
    """Softmax of logits along an axis, stable for logits of any size.

    ``softmax(x)_i = exp(x_i / T) / sum_j exp(x_j / T)``, computed as
    ``exp((x - max(x)) / T)`` normalised, which never overflows.

    Args:
        x: Logits: a list, NumPy array or TensorFlow tensor. ``-inf`` masks a class (its
            probability is 0); NaN, ``+inf`` or a slice that is all ``-inf`` raise ``ValueError``.
        axis: The class axis. Defaults to ``-1``.
        temperature: A positive number ``T`` dividing the logits: ``T < 1`` sharpens the
            distribution, ``T > 1`` flattens it. Defaults to ``1.0``.

    Returns:
        A NumPy array of probabilities, the input's shape and floating dtype, summing to 1
        along ``axis``.

    Example:

    >>> softmax([0.1, 0.3, 0.5, 0.9]).round(8)
    array([0.16838508, 0.205666  , 0.25120102, 0.37474789])
    >>> softmax(np.array([1000.0, 0.0], dtype=np.float32))
    array([1., 0.], dtype=float32)
    """
    x = as_float_array(x, "x")
    axis = check_axis(axis, x.ndim)
    temperature = check_temperature(temperature)
    check_logits(x, axis, "x")
    out_dtype = x.dtype
    e = np.exp(_shifted(x.astype(_compute_dtype(out_dtype)), axis, temperature))
    return (e / np.sum(e, axis=axis, keepdims=True)).astype(out_dtype)


def log_softmax(x, axis=-1, temperature=1.0):
    """Logarithm of the softmax, computed directly: ``z - logsumexp(z)`` with ``z = x / T``.

    Unlike ``log(softmax(x))``, this never takes the log of an underflowed 0: a class that is far
    behind gets a large negative log-probability, not ``-inf``.

    Args:
        x: Logits: a list, NumPy array or TensorFlow tensor. ``-inf`` masks a class (its
            log-probability is ``-inf``); NaN, ``+inf`` or a slice of only ``-inf`` raise.
        axis: The class axis. Defaults to ``-1``.
        temperature: A positive number dividing the logits. Defaults to ``1.0``.

    Returns:
        A NumPy array of log-probabilities, the input's shape and floating dtype.

    Example:

    >>> log_softmax(np.array([0.0, -200.0], dtype=np.float32))
    array([   0., -200.], dtype=float32)
    """
    x = as_float_array(x, "x")
    axis = check_axis(axis, x.ndim)
    temperature = check_temperature(temperature)
    check_logits(x, axis, "x")
    out_dtype = x.dtype
    return _to_dtype(_log_softmax(x.astype(_compute_dtype(out_dtype)), axis, temperature), out_dtype)


def sigmoid(x):
    """The logistic function ``1 / (1 + exp(-x))``, the two-class case of softmax.

    Computed without overflow for large negative ``x`` (as ``exp(x) / (1 + exp(x))`` there).
    ``sigmoid(x) == softmax([x, 0])[0]``, and its inverse is the logit ``log(p / (1 - p))``.

    Args:
        x: A list, NumPy array or TensorFlow tensor. ``+-inf`` give 1 and 0; NaN raises.

    Returns:
        A NumPy array of probabilities, the input's shape and floating dtype.

    Example:

    >>> sigmoid([-1000.0, 0.0, 1000.0])
    array([0. , 0.5, 1. ])
    """
    x = as_float_array(x, "x")
    if np.isnan(x).any():
        raise ValueError("x contains NaN; sigmoid of NaN is undefined. Find where NaN first appears.")
    out_dtype = x.dtype
    x = x.astype(_compute_dtype(out_dtype))
    e = np.exp(-np.abs(x))  # in (0, 1]: never overflows
    out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return out.astype(out_dtype)


def _xlogy_sum(y, log_p, axis):
    """``sum(y * log_p)`` where a zero target times a ``-inf`` log-probability counts as 0."""
    with np.errstate(invalid="ignore"):
        terms = np.where(y == 0, 0, y * log_p)
    return np.sum(terms, axis=axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1):
    """Cross-entropy between one-hot (or soft) labels and predictions, one loss per example.

    With ``from_logits=True`` the loss is ``-sum(y_true * log_softmax(y_pred))``, stable for any
    logits (as ``tf.nn.softmax_cross_entropy_with_logits``). With ``from_logits=False``,
    ``y_pred`` are probabilities and Keras' path is followed: each row is divided by its sum,
    clipped to ``[1e-7, 1 - 1e-7]``, and ``-sum(y_true * log(y_pred))`` is returned, so a true
    class given probability 0 costs ``-log(1e-7) = 16.118``.

    Args:
        y_true: One-hot or soft labels in [0, 1], the same shape as ``y_pred``. For integer
            labels use :func:`sparse_categorical_crossentropy`.
        y_pred: Logits (``from_logits=True``) or probabilities in [0, 1] (``from_logits=False``).
        from_logits: Whether ``y_pred`` are logits. Defaults to ``False``, as in Keras.
        axis: The class axis. Defaults to ``-1``.

    Returns:
        A NumPy array of losses with the class axis removed, in ``y_pred``'s floating dtype.

    Example:

    >>> logits = [[0.5, 1.5, 0.1], [2.2, 1.3, 1.7]]
    >>> categorical_crossentropy([[0, 1, 0], [0, 0, 1]], logits, from_logits=True).round(8)
    array([0.4790107 , 1.19967598])
    """
    y_pred = as_float_array(y_pred, "y_pred")
    y_true = as_float_array(y_true, "y_true")
    check_same_shape(y_true, y_pred)
    axis = check_axis(axis, y_pred.ndim)
    check_targets(y_true)
    out_dtype = y_pred.dtype
    dtype = _compute_dtype(out_dtype)
    y_true = y_true.astype(dtype)
    if from_logits:
        check_logits(y_pred, axis, "y_pred")
        log_p = _log_softmax(y_pred.astype(dtype), axis)
    else:
        check_probabilities(y_pred)
        p = y_pred.astype(dtype)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = p / np.sum(p, axis=axis, keepdims=True)
        p = np.nan_to_num(p, nan=0.0)  # an all-zero row: every class gets the clipped minimum
        eps = dtype(EPSILON)
        log_p = np.log(np.clip(p, eps, dtype(1) - eps))
    return (0 - _xlogy_sum(y_true, log_p, axis)).astype(out_dtype)  # 0 - x avoids printing -0.


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1):
    """Cross-entropy between integer class labels and predictions, one loss per example.

    The same loss as :func:`categorical_crossentropy` with ``y_true`` one-hot encoded, without
    building the one-hot matrix: the loss of an example is ``-log p[label]``. With
    ``from_logits=False`` Keras' path is followed: probabilities are clipped to
    ``[1e-7, 1 - 1e-7]`` and renormalised.

    Args:
        y_true: Integer class labels in ``[0, n_classes)``, the shape of ``y_pred`` without its
            class axis (a trailing axis of size 1 is accepted, as in Keras). Floats are accepted
            when they hold whole numbers.
        y_pred: Logits (``from_logits=True``) or probabilities (``from_logits=False``).
        from_logits: Whether ``y_pred`` are logits. Defaults to ``False``.
        axis: The class axis of ``y_pred``. Defaults to ``-1``.

    Returns:
        A NumPy array of losses, the shape of ``y_true``, in ``y_pred``'s floating dtype.

    Example:

    >>> logits = [[2, -5, .5, -.1], [0, 0, 1.9, 1.4], [-100, 100, -100, -100]]
    >>> sparse_categorical_crossentropy([0, 3, 1], logits, from_logits=True).round(6)
    array([0.297507, 1.144833, 0.      ])
    """
    y_pred = as_float_array(y_pred, "y_pred")
    axis = check_axis(axis, y_pred.ndim)
    out_dtype = y_pred.dtype
    dtype = _compute_dtype(out_dtype)
    if from_logits:
        top = check_logits(y_pred, axis, "y_pred")
        logits = np.moveaxis(y_pred, axis, -1)
        labels = check_sparse_labels(y_true, logits.shape[-1], logits.shape[:-1])
        return _sparse_from_logits(logits, labels, np.asarray(top)).astype(out_dtype)
    check_probabilities(y_pred)
    y_pred = np.moveaxis(y_pred.astype(dtype), axis, -1)
    n_classes = y_pred.shape[-1]
    labels = check_sparse_labels(y_true, n_classes, y_pred.shape[:-1])
    eps = dtype(EPSILON)
    p = np.clip(y_pred, eps, dtype(1) - eps)
    log_p = np.log(p) - np.log(np.sum(p, axis=-1, keepdims=True))
    picked = np.take_along_axis(log_p, labels[..., None], axis=-1)[..., 0]
    return (0 - picked).astype(out_dtype)  # 0 - x avoids printing -0.


#: How many logits :func:`sparse_categorical_crossentropy` exponentiates at a time (1 MiB of
#: float32): a block stays in the processor's cache, and no temporary is as large as the logits.
_BLOCK_SIZE = 1 << 18


def _sparse_from_logits(logits, labels, top):
    """``logsumexp(row) - row[label]`` for each row of ``logits`` (class axis last), computed a
    block of rows at a time from the rows' maxima ``top``; the result has ``labels``' shape."""
    n_classes = logits.shape[-1]
    rows = logits.reshape(-1, n_classes)  # a view unless the class axis was moved
    top = top.reshape(-1)
    labels = labels.reshape(-1)
    dtype = _compute_dtype(logits.dtype)
    sums = np.empty(len(rows), dtype=dtype)
    step = max(1, _BLOCK_SIZE // n_classes)
    for start in range(0, len(rows), step):
        block = rows[start : start + step].astype(dtype)  # the one temporary, a block in size
        with np.errstate(invalid="ignore"):  # -inf - finite is -inf, never NaN here
            block -= top[start : start + step, None]
        np.exp(block, out=block)
        np.sum(block, axis=-1, out=sums[start : start + step])
    picked = rows[np.arange(len(rows)), labels].astype(dtype) - top.astype(dtype)
    # loss = log(sum(exp(z - top))) - (z[label] - top): the maximum cancels, so a large logit
    # costs no precision, and a true class far behind gets its full (finite) loss
    return (np.log(sums) - picked).reshape(logits.shape[:-1])


def binary_crossentropy(y_true, y_pred, from_logits=False):
    """Binary cross-entropy, averaged over the last axis as Keras does: one loss per example.

    With ``from_logits=True`` each term is computed in the stable form
    ``max(x, 0) - x * z + log(1 + exp(-|x|))`` for logit ``x`` and label ``z`` (as
    ``tf.nn.sigmoid_cross_entropy_with_logits``). With ``from_logits=False`` probabilities are
    clipped to ``[1e-7, 1 - 1e-7]`` first, as in Keras.

    Args:
        y_true: Labels in [0, 1] (0/1, or soft labels), the same shape as ``y_pred``.
        y_pred: Logits (``from_logits=True``) or probabilities in [0, 1].
        from_logits: Whether ``y_pred`` are logits. Defaults to ``False``.

    Returns:
        A NumPy array of the mean loss over the last axis, in ``y_pred``'s floating dtype. For a
        single-output model pass shape ``(n, 1)`` to get one loss per example.

    Example:

    >>> binary_crossentropy([[1.0], [0.0]], [[3.0], [3.0]], from_logits=True).round(6)
    array([0.048587, 3.048587])
    """
    y_pred = as_float_array(y_pred, "y_pred")
    y_true = as_float_array(y_true, "y_true")
    check_same_shape(y_true, y_pred, sparse_hint=False)
    check_axis(-1, y_pred.ndim)
    check_targets(y_true)
    out_dtype = y_pred.dtype
    dtype = _compute_dtype(out_dtype)
    z = y_true.astype(dtype)
    if from_logits:
        check_finite_or_masked(y_pred, "y_pred")
        x = y_pred.astype(dtype)
        with np.errstate(invalid="ignore", over="ignore"):
            terms = np.where(np.isneginf(x), z * np.inf, np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x))))
        terms = np.where(np.isneginf(x) & (z == 0), 0, terms)
    else:
        check_probabilities(y_pred)
        eps = dtype(EPSILON)
        p = np.clip(y_pred.astype(dtype), eps, dtype(1) - eps)
        terms = -(z * np.log(p) + (1 - z) * np.log(1 - p))
    return np.mean(terms, axis=-1).astype(out_dtype)
