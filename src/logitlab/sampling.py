"""Choosing the next token from logits: greedy, temperature, top-k and top-p (nucleus) sampling.

The filters return logits with the excluded entries set to ``-inf``, so that a softmax over the
result renormalises over what is left; :func:`sample` applies temperature, then top-k, then
top-p, and draws token ids. Everything is batched over leading axes; NumPy arrays and TensorFlow
tensors in, NumPy arrays out.

Ties: when several logits equal the k-th largest value, :func:`top_k_filter` keeps exactly ``k``
entries, preferring the lower index, which is what ``tf.math.top_k`` returns. The same order
(larger logit first, then lower index) decides which tokens enter the nucleus in
:func:`top_p_filter`, and greedy decoding (``temperature=0``) picks the lowest index among
equal maxima, as ``np.argmax`` does.
"""

from __future__ import annotations

import numbers

import numpy as np

from .validation import as_float_array, check_axis, check_logits, check_positive_integer, check_temperature

__all__ = ["top_k_filter", "top_p_filter", "sample"]

#: Rounding tolerance of :func:`top_p_filter`: a set whose mass is within this of p reaches p.
_MASS_TOLERANCE = 1e-9

#: How many of the largest logits :func:`top_p_filter` sorts first (more if the nucleus is wider).
_NUCLEUS_GUESS = 64


def _as_rows(x, axis):
    """``x`` with ``axis`` moved last and the other axes flattened: a view when ``axis`` is last."""
    moved = np.moveaxis(x, axis, -1)
    return moved.reshape(-1, moved.shape[-1]), moved.shape


def _from_rows(rows, moved_shape, axis):
    return np.moveaxis(rows.reshape(moved_shape), -1, axis)


def _keep_largest(rows, kth, count, crowded=None):
    """Which entries of each row are its ``count`` largest, ties at the row's ``count``-th largest
    value ``kth`` going to the lower index (the tie rule of ``tf.math.top_k``).

    No sort is needed, only comparisons: the entries above ``kth`` are kept, then the entries
    equal to it, counted from the left (a cumulative sum) in the rows that have more of them
    than places left. ``crowded`` marks those rows when the caller knows them; otherwise they
    are found by counting.
    """
    kth, count = kth[:, None], np.broadcast_to(count, len(rows))
    keep = rows > kth
    ties = rows == kth
    if crowded is None:
        places = count - np.count_nonzero(keep, axis=-1)
        crowded = np.count_nonzero(ties, axis=-1) > places
    crowded = np.flatnonzero(crowded)
    if crowded.size:
        places = count[crowded] - np.count_nonzero(keep[crowded], axis=-1)
        ties[crowded] &= np.cumsum(ties[crowded], axis=-1) <= places[:, None]
    keep |= ties
    return keep


def _masked(rows, keep):
    """``rows`` where ``keep``, ``-inf`` elsewhere."""
    out = np.full(rows.shape, -np.inf, dtype=rows.dtype)
    np.copyto(out, rows, where=keep)
    return out


def _check_k(k, vocabulary_size):
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
        raise ValueError(
            f"k must be an integer in [1, {vocabulary_size}] (the vocabulary size), got {k!r} of "
            f"type {type(k).__name__}."
        )
    if not 1 <= k <= vocabulary_size:
        extra = " k=0 would keep no token at all; k=1 is greedy decoding." if k == 0 else ""
        raise ValueError(
            f"k must be an integer in [1, {vocabulary_size}] (the vocabulary size), got {k}.{extra}"
        )
    return int(k)


def _check_p(p):
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real) or not 0 < float(p) <= 1:
        raise ValueError(
            f"p must be a number in (0, 1], got {p!r}: top-p keeps the smallest set of tokens whose "
            "probabilities add up to at least p (p=1 keeps every token)."
        )
    return float(p)


def _prepare(logits, axis):
    x = as_float_array(logits, "logits")
    axis = check_axis(axis, x.ndim)
    check_logits(x, axis, "logits")
    return x, axis


def top_k_filter(logits, k, axis=-1):
    """Keeps the ``k`` largest logits along ``axis`` and sets the others to ``-inf``.

    Args:
        logits: Logits of any shape (a list, NumPy array or TensorFlow tensor).
        k: How many tokens to keep: an integer in ``[1, vocabulary size]``. ``k=1`` keeps only
            the largest logit (greedy decoding).
        axis: The vocabulary axis. Defaults to ``-1``.

    Returns:
        A NumPy array of the input's shape and floating dtype. Exactly ``k`` entries keep their
        value along ``axis`` (ties at the k-th value go to the lower index, as in
        ``tf.math.top_k``); the rest are ``-inf``.

    Example:

    >>> top_k_filter([1.0, 3.0, 2.0, 3.0], k=2)
    array([-inf,   3., -inf,   3.])
    >>> top_k_filter([2.0, 1.0, 2.0, 2.0], k=2)
    array([  2., -inf,   2., -inf])
    """
    x, axis = _prepare(logits, axis)
    k = _check_k(k, x.shape[axis])
    rows, moved_shape = _as_rows(x, axis)
    vocabulary_size = rows.shape[-1]
    # A partial selection (introselect, linear time) puts each row's k largest values last, the
    # k-th largest first among them; a full sort would cost V log V. Entries equal to the k-th
    # value but left out of the selection mean more ties than places: only those rows need
    # their ties counted from the left.
    parts = np.partition(rows, vocabulary_size - k, axis=-1)
    kth = parts[:, vocabulary_size - k]
    crowded = np.zeros(len(rows), dtype=bool)
    if k < vocabulary_size:
        crowded = np.max(parts[:, : vocabulary_size - k], axis=-1) == kth
    keep = _keep_largest(rows, kth, k, crowded)
    return _from_rows(_masked(rows, keep), moved_shape, axis)


def top_p_filter(logits, p, axis=-1):
    """Keeps the smallest set of most likely tokens whose probabilities add up to at least ``p``.

    This is nucleus sampling's filter: tokens are taken from the most likely down, and a token is
    kept while the probability of the tokens before it is still below ``p`` (by more than a
    rounding tolerance of ``1e-9``, so that ``0.7 + 0.2`` reaches ``p=0.9`` as it does on paper).
    The most likely token is always kept.

    Args:
        logits: Logits of any shape (a list, NumPy array or TensorFlow tensor).
        p: The probability mass to keep, in ``(0, 1]``; ``p=1`` keeps every token.
        axis: The vocabulary axis. Defaults to ``-1``.

    Returns:
        A NumPy array of the input's shape and floating dtype, with the tokens outside the
        nucleus set to ``-inf``.

    Example:

    >>> top_p_filter(np.log([0.5, 0.3, 0.15, 0.05]), p=0.75).round(4)
    array([-0.6931, -1.204 ,    -inf,    -inf])
    """
    x, axis = _prepare(logits, axis)
    p = _check_p(p)
    if p == 1.0:
        return x.copy()
    rows, moved_shape = _as_rows(x, axis)
    vocabulary_size = rows.shape[-1]
    z = rows.astype(np.float64)
    top = np.max(z, axis=-1, keepdims=True)
    total = np.sum(np.exp(z - top), axis=-1, keepdims=True)  # softmax(z) = exp(z - top) / total
    # A mass that reaches p on paper (0.7 + 0.2 = 0.9) can fall a rounding error short of p in
    # floating point: the tolerance keeps that boundary token out, as the definition says. The
    # first token (nothing before it, mass 0) is always kept, however small p is.
    threshold = max(p - _MASS_TOLERANCE, np.finfo(np.float64).tiny)
    kept = np.zeros(len(rows), dtype=np.int64)  # how many tokens each row keeps
    kth = np.zeros(len(rows), dtype=z.dtype)  # the smallest kept logit of each row
    pending = np.arange(len(rows))
    # Only the head of each row is sorted: the n largest logits (a linear-time partition), n
    # growing eightfold for the rows whose nucleus is wider than n, so a peaked distribution
    # costs about as much as top-k and a flat one about as much as a sort.
    n = min(_NUCLEUS_GUESS, vocabulary_size)
    while pending.size:
        head = -np.sort(-np.partition(z[pending], vocabulary_size - n, axis=-1)[:, vocabulary_size - n :], axis=-1)
        probs = np.exp(head - top[pending]) / total[pending]
        mass_before = np.cumsum(probs, axis=-1) - probs
        reached = mass_before >= threshold
        done = reached.any(axis=-1) | (n == vocabulary_size)
        count = np.where(reached.any(axis=-1), np.argmax(reached, axis=-1), n)[done]
        kept[pending[done]] = count
        kth[pending[done]] = head[done, count - 1]
        pending = pending[~done]
        n = min(8 * n, vocabulary_size)
    keep = _keep_largest(z, kth, kept)
    return _from_rows(_masked(rows, keep), moved_shape, axis)


def sample(logits, temperature=1.0, top_k=None, top_p=None, seed=None, num_samples=1):
    """Draws token ids from logits: temperature, then top-k, then top-p, then a random draw.

    Args:
        logits: Logits whose last axis is the vocabulary; leading axes are a batch.
        temperature: ``0`` for greedy decoding (the largest logit, lower index on ties), or a
            positive number dividing the logits before sampling. Defaults to ``1.0``.
        top_k: Keep only the ``top_k`` largest logits (an integer in ``[1, vocabulary size]``),
            or ``None`` for no limit.
        top_p: Keep only the nucleus of probability ``top_p`` (in ``(0, 1]``), or ``None``.
        seed: An integer seed or a ``numpy.random.Generator``; the same seed gives the same ids.
        num_samples: How many ids to draw for each row, independently.

    Returns:
        A NumPy ``int64`` array of shape ``logits.shape[:-1] + (num_samples,)``, as
        ``tf.random.categorical`` returns for 2-D logits.

    Example:

    >>> sample([[0.0, 5.0, 1.0]], temperature=0, num_samples=3)
    array([[1, 1, 1]])
    >>> sample([0.0, 5.0, 1.0], top_k=1, seed=0, num_samples=4)
    array([1, 1, 1, 1])
    """
    x, _ = _prepare(logits, -1)
    temperature = check_temperature(temperature, allow_zero=True)
    check_positive_integer(num_samples, "num_samples")
    vocabulary_size = x.shape[-1]
    if top_k is not None:
        _check_k(top_k, vocabulary_size)
    if top_p is not None:
        _check_p(top_p)
    x = x.astype(np.float64)
    batch_shape = x.shape[:-1]
    if temperature == 0:
        greedy = np.argmax(x, axis=-1)[..., None]
        return np.broadcast_to(greedy, batch_shape + (num_samples,)).astype(np.int64).copy()
    z = (x - np.max(x, axis=-1, keepdims=True)) / temperature
    if top_k is not None:
        z = top_k_filter(z, top_k)
    if top_p is not None:
        z = top_p_filter(z, top_p)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    # The Gumbel-max trick: argmax(z + Gumbel noise) is distributed as softmax(z), and -inf
    # (filtered) tokens can never win.
    noise = rng.gumbel(size=batch_shape + (num_samples, vocabulary_size))
    return np.argmax(z[..., None, :] + noise, axis=-1).astype(np.int64)
