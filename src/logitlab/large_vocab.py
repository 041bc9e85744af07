"""Cross-entropy over a large vocabulary without the logit matrix, in TensorFlow.

A language model's last layer turns hidden states ``h`` (N x d) into logits ``h @ W`` (N x V);
with N = 16,384 tokens and V = 128,256 classes the logits alone take 8.4 GB in float32, and
their softmax and gradient as much again. The loss needs far less: for row ``i`` with label
``y_i``,

    loss_i = logsumexp_j(h_i . W_j + b_j) - (h_i . W_{y_i} + b_{y_i}),

and the log-sum-exp can be accumulated over the vocabulary a chunk of columns at a time (the
online softmax of chapter 2). :func:`linear_cross_entropy` does that in the forward pass, and
its backward pass (a ``tf.custom_gradient``) recomputes each chunk's logits from ``h`` and
``W`` instead of storing them, so no tensor of size N x V ever exists; the largest is
N x ``chunk_size``. This is the idea of Cut Cross-Entropy (Wijmans et al., ICLR 2025) and of
Liger Kernel's fused linear cross-entropy, written with ordinary TensorFlow ops.

:class:`LinearCrossEntropyModel` puts it inside ``model.fit``: the model's forward pass ends at
the hidden states, and its loss is computed from them and the output layer's weights.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from .validation import check_logits, check_positive_integer, check_sparse_labels

__all__ = ["DEFAULT_CHUNK_SIZE", "linear_cross_entropy", "LinearCrossEntropyModel"]

#: Columns of the vocabulary per chunk unless told otherwise: the largest temporary is then
#: N x 8192 (for 4096 tokens, 128 MiB in float32), against N x V for the plain loss.
DEFAULT_CHUNK_SIZE = 8192

_FLOATS = (tf.float16, tf.bfloat16, tf.float32, tf.float64)


def _compute_dtype(*dtypes):
    """float16 and bfloat16 are too narrow to accumulate a sum of exponentials: use float32
    (float64 if any input is float64)."""
    return tf.float64 if tf.float64 in dtypes else tf.float32


def _accumulate(running_max, running_sum, logits):
    """One step of the online log-sum-exp: fold a chunk of logits (N x c) into the running
    maximum and the running sum of ``exp(logit - running maximum)``.

    A chunk whose logits are all ``-inf`` (masked classes) must change nothing. The shift is the
    new maximum, or 0 where that is still ``-inf``: every exponent is then ``-inf - finite`` or
    ``finite - finite``, never ``-inf - (-inf)``, which would be NaN.
    """
    new_max = tf.maximum(running_max, tf.reduce_max(logits, axis=1))
    shift = tf.where(tf.math.is_inf(new_max), tf.zeros_like(new_max), new_max)
    running_sum = running_sum * tf.exp(running_max - shift) + tf.reduce_sum(
        tf.exp(logits - shift[:, None]), axis=1
    )
    return new_max, running_sum


def _chunks(kernel, chunk_size):
    """The number of full chunks of ``kernel``'s columns and the width of the last, shorter one."""
    return kernel.shape[1] // chunk_size, kernel.shape[1] % chunk_size


def _chunk_logits(hidden, kernel, bias, start, width, dtype):
    """Logits of the vocabulary's columns ``[start, start + width)``, in ``dtype`` (N x width)."""
    w = tf.cast(tf.slice(kernel, [0, start], [tf.shape(kernel)[0], width]), dtype)
    b = tf.cast(tf.slice(bias, [start], [width]), dtype)
    return tf.matmul(hidden, w) + b


def _logsumexp(hidden, kernel, bias, chunk_size):
    """``logsumexp(hidden @ kernel + bias, axis=1)``, a chunk of columns at a time."""
    n_full, rest = _chunks(kernel, chunk_size)
    n = tf.shape(hidden)[0]
    running_max = tf.fill([n], tf.constant(-np.inf, hidden.dtype))
    running_sum = tf.zeros([n], hidden.dtype)

    def body(i, running_max, running_sum):
        logits = _chunk_logits(hidden, kernel, bias, i * chunk_size, chunk_size, hidden.dtype)
        return (i + 1, *_accumulate(running_max, running_sum, logits))

    if n_full:
        # parallel_iterations=1: one chunk's logits at a time, even in a graph
        _, running_max, running_sum = tf.while_loop(
            lambda i, *_: i < n_full, body, (0, running_max, running_sum), parallel_iterations=1
        )
    if rest:
        logits = _chunk_logits(hidden, kernel, bias, n_full * chunk_size, rest, hidden.dtype)
        running_max, running_sum = _accumulate(running_max, running_sum, logits)
    return running_max + tf.math.log(running_sum)


def _gradients(hidden, kernel, bias, labels, lse, upstream, chunk_size):
    """Gradients of ``sum(upstream * loss)`` with respect to ``hidden``, ``kernel`` and ``bias``.

    The gradient with respect to a chunk's logits is ``upstream * (softmax - one_hot)``, with
    the softmax recomputed from the chunk's logits and the saved log-sum-exp; it is multiplied
    into the gradients of ``hidden`` (summed over chunks) and of the chunk's columns of
    ``kernel`` and ``bias``, then dropped.
    """
    dtype = hidden.dtype
    n_full, rest = _chunks(kernel, chunk_size)

    def chunk_gradients(start, width):
        logits = _chunk_logits(hidden, kernel, bias, start, width, dtype)
        target = tf.one_hot(labels - tf.cast(start, labels.dtype), width, dtype=dtype)  # zeros where the label is elsewhere
        d_logits = (tf.exp(logits - lse[:, None]) - target) * upstream[:, None]
        w = tf.cast(tf.slice(kernel, [0, start], [tf.shape(kernel)[0], width]), dtype)
        d_hidden = tf.matmul(d_logits, w, transpose_b=True)
        return d_hidden, tf.matmul(hidden, d_logits, transpose_a=True), tf.reduce_sum(d_logits, axis=0)

    d_hidden = tf.zeros_like(hidden)
    d_kernel, d_bias = [], []
    if n_full:
        kernel_chunks = tf.TensorArray(dtype, size=n_full, element_shape=[kernel.shape[0], chunk_size])
        bias_chunks = tf.TensorArray(dtype, size=n_full, element_shape=[chunk_size])

        def body(i, d_hidden, kernel_chunks, bias_chunks):
            dh, dw, db = chunk_gradients(i * chunk_size, chunk_size)
            return i + 1, d_hidden + dh, kernel_chunks.write(i, dw), bias_chunks.write(i, db)

        _, d_hidden, kernel_chunks, bias_chunks = tf.while_loop(
            lambda i, *_: i < n_full, body, (0, d_hidden, kernel_chunks, bias_chunks), parallel_iterations=1
        )
        # (n_full, d, c) -> (d, n_full * c): the chunks side by side, in vocabulary order
        d_kernel.append(tf.reshape(tf.transpose(kernel_chunks.stack(), [1, 0, 2]), [kernel.shape[0], -1]))
        d_bias.append(tf.reshape(bias_chunks.stack(), [-1]))
    if rest:
        dh, dw, db = chunk_gradients(n_full * chunk_size, rest)
        d_hidden += dh
        d_kernel.append(dw)
        d_bias.append(db)
    return d_hidden, tf.concat(d_kernel, axis=1), tf.concat(d_bias, axis=0)


def _fused_loss(hidden, kernel, bias, labels, chunk_size):
    """The loss and its custom gradient (``labels`` are int64, in range or flagged below)."""
    vocabulary_size = kernel.shape[1]
    dtype = _compute_dtype(hidden.dtype, kernel.dtype, bias.dtype)

    @tf.custom_gradient
    def loss_fn(hidden_in, kernel_in, bias_in):
        h = tf.cast(hidden_in, dtype)
        # A label outside [0, V) cannot be refused inside a graph (eager calls raise before we
        # get here): its row's loss and gradient are NaN, as TensorFlow's own loss gives on a GPU.
        valid = (labels >= 0) & (labels < vocabulary_size)
        safe_labels = tf.where(valid, labels, tf.zeros_like(labels))
        target = tf.reduce_sum(h * tf.transpose(tf.cast(tf.gather(kernel_in, safe_labels, axis=1), dtype)), axis=1)
        target += tf.cast(tf.gather(bias_in, safe_labels), dtype)
        lse = _logsumexp(h, kernel_in, bias_in, chunk_size)
        nan = tf.constant(np.nan, dtype)
        loss = tf.where(valid, lse - target, nan)

        def grad(upstream):
            upstream = tf.where(valid, tf.cast(upstream, dtype), nan)
            d_hidden, d_kernel, d_bias = _gradients(h, kernel_in, bias_in, safe_labels, lse, upstream, chunk_size)
            return (
                tf.cast(d_hidden, hidden_in.dtype),
                tf.cast(d_kernel, kernel_in.dtype),
                tf.cast(d_bias, bias_in.dtype),
            )

        return loss, grad

    return loss_fn(hidden, kernel, bias)


def _check_inputs(hidden, kernel, bias, labels):
    for name, x in (("hidden", hidden), ("kernel", kernel), ("bias", bias)):
        if x.dtype not in _FLOATS:
            raise ValueError(
                f"{name} must be a floating tensor (float16, bfloat16, float32 or float64), got {x.dtype.name}."
            )
    if hidden.shape.rank != 2 or kernel.shape.rank != 2:
        raise ValueError(
            f"hidden must be N x d and kernel d x V (rank 2), got shapes {hidden.shape} and {kernel.shape}; "
            "flatten the batch and time axes first, e.g. tf.reshape(hidden, [-1, d])."
        )
    d, vocabulary_size = kernel.shape
    if vocabulary_size is None or d is None:
        raise ValueError(f"kernel's shape must be known (d x V), got {kernel.shape}.")
    if hidden.shape[1] is not None and hidden.shape[1] != d:
        raise ValueError(
            f"hidden has {hidden.shape[1]} features per row but kernel has {d} rows; "
            "expected hidden N x d and kernel d x V (the kernel of Dense(V), not its transpose)."
        )
    if bias.shape != (vocabulary_size,):
        raise ValueError(f"bias must have shape ({vocabulary_size},), one entry per class, got {bias.shape}.")
    if labels.shape.rank is not None and labels.shape.rank != 1:
        raise ValueError(f"labels must hold one integer class label per row of hidden, got shape {labels.shape}.")


def linear_cross_entropy(hidden, kernel, labels, *, bias=None, chunk_size=DEFAULT_CHUNK_SIZE):
    """Sparse softmax cross-entropy of the logits ``hidden @ kernel + bias``, without forming them.

    The log-sum-exp over the vocabulary is accumulated a chunk of ``chunk_size`` columns at a
    time, and the backward pass recomputes each chunk's logits, so memory grows with
    ``N x chunk_size`` instead of ``N x V``. Differentiable with respect to ``hidden``,
    ``kernel`` and ``bias``, in eager code, in ``tf.function`` (with or without XLA) and in
    ``model.fit`` (see :class:`LinearCrossEntropyModel`).

    Args:
        hidden: Hidden states, a float tensor of shape ``(N, d)``.
        kernel: The output layer's kernel, shape ``(d, V)`` (as ``Dense(V).kernel``).
        labels: Integer class labels, shape ``(N,)`` (or ``(N, 1)``), in ``[0, V)``. Checked
            when called eagerly (``ValueError``); inside a graph a label outside the range gives
            NaN for its row's loss and gradient (and so for the kernel's gradient), as
            TensorFlow's loss does on a GPU.
        bias: Optional bias of shape ``(V,)``. An entry of ``-inf`` masks a class (for example
            the padding of a vocabulary rounded up to a multiple of 128); chunks of masked
            classes are skipped safely. Defaults to no bias.
        chunk_size: Vocabulary columns per chunk, a positive integer; it need not divide V.

    Returns:
        A tensor of shape ``(N,)``, one loss per row, equal to
        ``tf.nn.sparse_softmax_cross_entropy_with_logits(labels, hidden @ kernel + bias)``.
        float16 and bfloat16 inputs are computed and returned in float32 (float64 inputs in
        float64), and their gradients are cast back to the inputs' dtypes.

    Example:

    >>> h = tf.constant([[1.0, 0.0], [0.5, -2.0], [0.0, 3.0]])
    >>> w = tf.constant([[2.0, -1.0, 0.0, 1.0, 0.5], [0.0, 1.0, -1.0, 2.0, 0.0]])
    >>> labels = tf.constant([0, 4, 3])
    >>> np.round(linear_cross_entropy(h, w, labels, chunk_size=2).numpy(), 4)
    array([0.5744, 2.1927, 0.0534], dtype=float32)
    >>> np.round(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, h @ w).numpy(), 4)
    array([0.5744, 2.1927, 0.0534], dtype=float32)
    """
    hidden = tf.convert_to_tensor(hidden)
    kernel = tf.convert_to_tensor(kernel)
    bias = tf.zeros([kernel.shape[1]], kernel.dtype) if bias is None else tf.convert_to_tensor(bias)
    labels = tf.convert_to_tensor(labels)
    if labels.shape.rank == 2 and labels.shape[1] == 1:  # as Keras accepts
        labels = labels[:, 0]
    _check_inputs(hidden, kernel, bias, labels)
    chunk_size = check_positive_integer(
        chunk_size, "chunk_size", "It is the number of vocabulary columns whose logits exist at one time."
    )
    if not labels.dtype.is_integer:
        raise ValueError(f"labels must be integer class indices, got dtype {labels.dtype.name}.")
    vocabulary_size = kernel.shape[1]
    if tf.executing_eagerly():
        check_sparse_labels(labels.numpy(), vocabulary_size, (int(tf.shape(hidden)[0]),), name="labels")
        _check_mask(np.asarray(tf.cast(bias, tf.float32)), labels.numpy())
    return _fused_loss(hidden, kernel, bias, tf.cast(labels, tf.int64), chunk_size)


def _check_mask(bias, labels):
    check_logits(bias, 0, "bias")  # no NaN, no +inf, not every class masked
    masked = np.isneginf(bias[labels])
    if masked.any():
        row = int(np.argmax(masked))
        raise ValueError(
            f"labels[{row}] = {int(labels[row])} is a masked class (its bias is -inf): the model gives "
            "it probability 0 and the loss would be infinite. Mask only classes that never occur as labels."
        )


class LinearCrossEntropyModel(keras.Model):
    """A model trained with :func:`linear_cross_entropy`: its logits never exist during ``fit``.

    ``body`` maps inputs to hidden states ``(..., d)``; the output layer is a ``Dense(V)`` named
    ``head``, whose kernel and bias the loss uses directly. Calling the model returns the hidden
    states (that is what ``fit`` hands to the loss); :meth:`logits` returns the logits, for
    prediction and generation. Compile it with an optimizer and no loss: the loss is the mean of
    :func:`linear_cross_entropy` over every position (weighted by ``sample_weight`` if given, as
    Keras' ``sum_over_batch_size`` reduction does), plus the layers' regularization losses.

    Args:
        body: A Keras layer or model from inputs to hidden states.
        vocabulary_size: ``V``, the number of classes.
        chunk_size: Vocabulary columns per chunk (see :func:`linear_cross_entropy`).
        **kwargs: Passed to ``keras.Model`` (for example ``name``).
    """

    def __init__(self, body, vocabulary_size, *, chunk_size=DEFAULT_CHUNK_SIZE, **kwargs):
        super().__init__(**kwargs)
        self.body = body
        self.head = keras.layers.Dense(vocabulary_size, name="head")
        self.chunk_size = check_positive_integer(chunk_size, "chunk_size")

    def build(self, input_shape):
        self.body.build(input_shape)
        self.head.build(self.body.compute_output_shape(input_shape))
        self.built = True

    def call(self, inputs, training=None):
        return self.body(inputs, training=training)

    def logits(self, inputs):
        """The logits ``head(body(inputs))``, shape ``(..., V)``."""
        return self.head(self.body(inputs, training=False))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        d = self.head.kernel.shape[0]
        losses = linear_cross_entropy(
            tf.reshape(y_pred, [-1, d]),
            self.head.kernel,
            tf.reshape(y, [-1]),
            bias=self.head.bias,
            chunk_size=self.chunk_size,
        )
        if sample_weight is not None:
            losses *= tf.cast(tf.reshape(sample_weight, [-1]), losses.dtype)
        loss = tf.reduce_mean(losses)
        if self.losses:
            loss += tf.cast(tf.add_n(self.losses), loss.dtype)
        return loss
