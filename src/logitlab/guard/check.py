"""check_from_logits: compare a model's last activation with its loss before training."""

from __future__ import annotations

import keras

from .losses import _loss_info, _model_loss, _single_loss
from .structure import _output_dtype, _structure
from .verdict import _not_covered, _several_losses, _verdict


def check_from_logits(model, loss=None):
    """Checks that a model's last activation matches its loss's ``from_logits`` flag.

    Reads the model's last activation (the last layer's ``activation``, an ``Activation`` or
    ``Softmax`` layer, or, for any built model including subclassed ones, the op that makes the
    output when the model is traced, as Keras' own losses do) and compares it with the loss:
    probabilities (softmax, sigmoid) need ``from_logits=False``, anything else needs
    ``from_logits=True``. Nothing is trained or changed.

    Args:
        model: A Keras model, compiled or not.
        loss: A ``keras.losses.Loss`` object (``CategoricalCrossentropy``,
            ``SparseCategoricalCrossentropy``, ``BinaryCrossentropy``), a loss name such as
            ``"sparse_categorical_crossentropy"``, or a ``keras.losses`` function. Defaults to
            the loss given to ``model.compile()``.

    Returns:
        A :class:`FromLogitsCheck`. Printing it prints its message. ``ok`` is ``False`` on a
        mismatch (``fix`` says what to change) and when the output cannot be determined
        (``output="unknown"``, e.g. an unbuilt subclassed model); a loss that is not a
        cross-entropy gives ``ok=True`` and ``loss_kind=None``.

    Raises:
        ValueError: If no loss is given and the model is not compiled with one.
        TypeError: If ``model`` is not a Keras model.

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    >>> result = check_from_logits(model, keras.losses.CategoricalCrossentropy(from_logits=True))
    >>> result.ok, result.output
    (False, 'probabilities')
    >>> print(result.fix)  # doctest: +NORMALIZE_WHITESPACE
    Fix: remove the softmax from the last layer (Dense(3)) and keep from_logits=True — the
    stable choice — or keep the softmax and set from_logits=False
    (CategoricalCrossentropy(from_logits=False)).
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"check_from_logits expects a Keras model, got {type(model).__name__}.")
    loss = _single_loss(_model_loss(model, loss))
    if loss is None:
        return _several_losses()
    info = _loss_info(loss)
    structure = _structure(model)
    if info.kind is None:
        return _not_covered(info, structure)
    return _verdict(info, structure, output_dtype=_output_dtype(model))


# --------------------------------------------------------------------------------------------------
# The callback
