"""FromLogitsGuard: the check inside model.fit, on the first batch's actual outputs."""

from __future__ import annotations

import dataclasses
import warnings

import keras
import numpy as np
import tensorflow as tf

from .losses import _loss_info, _single_loss
from .structure import (
    _input_structure,
    _map_inputs,
    _output_dtype,
    _structure,
    _structure_from_layers,
)
from .verdict import _not_covered, _several_losses, _verdict

class FromLogitsMismatchError(ValueError):
    """The model's output and the loss's ``from_logits`` flag disagree.

    Raised by :class:`FromLogitsGuard` (``mode="raise"``) from inside ``model.fit``; the message
    names the loss, the flag, the model's last layer and what to change.
    """


class FromLogitsWarning(UserWarning):
    """Warning category of :class:`FromLogitsGuard` with ``mode="warn"``.

    Filter it like any warning, e.g. ``warnings.simplefilter("error", FromLogitsWarning)``.
    """


def _sample_inputs(structure, batch_size=8, seed=0):
    """A small random batch for the given input structure (own generator: global RNGs untouched)."""
    rng = np.random.default_rng(seed)

    def make(shape, dtype):
        shape = tuple(batch_size if d is None else d for d in shape)
        if shape and shape[0] == 0:
            shape = (batch_size,) + shape[1:]
        if np.dtype(dtype).kind == "f":
            return rng.standard_normal(shape).astype(dtype)
        return np.zeros(shape, dtype=dtype)  # integer inputs (e.g. token ids): 0 is always valid

    return _map_inputs(make, structure)


def _values_say(outputs, kind):
    """What the output values alone say: "probabilities", "logits" or "unknown"."""
    values = np.asarray(outputs, dtype=np.float64)
    if values.size == 0 or not np.all(np.isfinite(values)):
        return "unknown"
    if values.min() < 0.0 or values.max() > 1.0:
        return "logits"  # outside [0, 1]: certainly not probabilities
    if kind != "binary" and values.ndim >= 1 and values.shape[-1] > 1:
        if np.allclose(values.sum(axis=-1), 1.0, atol=1e-3):
            return "probabilities"  # every row is a distribution: a softmax made these
    return "unknown"  # small values inside [0, 1] prove nothing (e.g. a linear binary model)


def _head(x, rows=256):
    """The first ``rows`` examples of every input: enough to see what the model outputs."""

    def cut(leaf):
        shape = getattr(leaf, "shape", None)
        return leaf[:rows] if shape is not None and len(shape) >= 1 and (shape[0] or 0) > rows else leaf

    return keras.tree.map_structure(cut, x)


class FromLogitsGuard(keras.callbacks.Callback):
    """A callback that stops ``model.fit`` when the model's output and ``from_logits`` disagree.

    Keras callbacks do not see the training batches, so on the first batch of training (before
    any weight update) the guard runs the model on ``x`` and looks at the actual outputs: do they
    lie in ``[0, 1]`` and, for categorical losses, sum to 1 along the class axis? It combines this
    with structural evidence (the last layer's activation, the ``_keras_logits`` that a Keras
    softmax or sigmoid attaches to its output, the ``Softmax``/``Sigmoid`` op of the traced model)
    and with the compiled loss. For binary losses, values inside ``[0, 1]`` alone are not taken as
    evidence of a sigmoid, so a correct linear model whose first outputs happen to be small raises
    no false alarm. The check runs once per ``fit`` call; it does not change the weights or any
    random state, so training gives the same result with or without the guard.

    Args:
        x: A sample of training inputs, e.g. ``x_train[:32]`` (at most the first 256 examples
            are used). If ``None``, a small random batch is made from the model's input shape
            (whether a model outputs probabilities does not depend on the data). For an unbuilt
            subclassed model without ``x`` the check waits until the end of the first batch, when
            Keras has built the model.
        mode: ``"raise"`` (default) raises :class:`FromLogitsMismatchError` from ``model.fit``;
            ``"warn"`` emits a :class:`FromLogitsWarning` and lets training continue.

    Attributes:
        result: The :class:`FromLogitsCheck` of the last check, or ``None`` before it ran.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")  # from_logits=False
    >>> x, y = np.zeros((8, 4), "float32"), np.zeros(8, "int32")
    >>> try:
    ...     model.fit(x, y, epochs=1, verbose=0, callbacks=[FromLogitsGuard(x[:4])])
    ... except FromLogitsMismatchError as error:
    ...     print(str(error).split(", but")[0])
    FromLogitsGuard: The model outputs logits (last layer Dense(3), no activation)
    """

    def __init__(self, x=None, mode="raise"):
        super().__init__()
        if mode not in ("raise", "warn"):
            raise ValueError(f'mode must be "raise" or "warn", got {mode!r}.')
        self.x = x
        self.mode = mode
        self.result = None
        self._pending = True

    def on_train_begin(self, logs=None):
        self._pending = True

    def on_train_batch_begin(self, batch, logs=None):
        if not self._pending:
            return
        if self.x is None and not getattr(self.model, "built", False) and _input_structure(self.model) is None:
            structure = _structure_from_layers(self.model)
            if structure is None or structure.output == "unknown":
                return  # wait for Keras to build the model during the first step
        self._pending = False
        self._report(self._check())

    def on_train_batch_end(self, batch, logs=None):
        if self._pending:  # deferred: the model is built now
            self._pending = False
            self._report(self._check())

    def _check(self):
        model = self.model
        loss = _single_loss(getattr(model, "loss", None))
        if loss is None:
            return _several_losses()
        info = _loss_info(loss)
        if info.kind is None:
            return _not_covered(info, None)
        x = None if self.x is None else _head(self.x)
        if x is None and getattr(model, "built", False):
            structure_of_inputs = _input_structure(model)
            if structure_of_inputs is not None:
                x = _sample_inputs(structure_of_inputs)
        evidence, keras_logits, values = "", False, "unknown"
        output_dtype = _output_dtype(model)
        if x is not None:
            outputs = model(x, training=False)
            if tf.is_tensor(outputs):
                keras_logits = hasattr(outputs, "_keras_logits")
                values = _values_say(outputs, info.kind)
                output_dtype = str(outputs.dtype.name)
        structure = _structure(model)
        if structure.output == "unknown":
            if keras_logits:
                structure = dataclasses.replace(structure, output="probabilities", activation="softmax")
            elif values != "unknown":
                activation = "softmax" if values == "probabilities" else "linear"
                structure = dataclasses.replace(structure, output=values, activation=activation)
        if values == "probabilities" and structure.output == "probabilities":
            evidence = "On the first batch every output row lies in [0, 1] and sums to 1."
        elif values == "logits" and structure.output == "logits":
            evidence = "On the first batch some outputs lie outside [0, 1]."
        return _verdict(info, structure, evidence, output_dtype=output_dtype)

    def _report(self, result):
        self.result = result
        if result.ok or result.output == "unknown":
            return
        message = f"FromLogitsGuard: {result.message}"
        if self.mode == "raise":
            raise FromLogitsMismatchError(message)
        warnings.warn(message, FromLogitsWarning, stacklevel=2)
