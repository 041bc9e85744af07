"""The loss side of the check: which cross-entropy a loss is, its ``from_logits`` and dtype."""

from __future__ import annotations

import dataclasses
import functools

import keras

# The loss functions behind the three supported loss kinds, and the class of each kind.
_KIND_OF_FUNCTION = {
    keras.losses.categorical_crossentropy: "categorical",
    keras.losses.sparse_categorical_crossentropy: "sparse_categorical",
    keras.losses.binary_crossentropy: "binary",
}
_CLASS_OF_KIND = {
    "categorical": "CategoricalCrossentropy",
    "sparse_categorical": "SparseCategoricalCrossentropy",
    "binary": "BinaryCrossentropy",
}
_FUNCTION_NAME_OF_KIND = {
    "categorical": "categorical_crossentropy",
    "sparse_categorical": "sparse_categorical_crossentropy",
    "binary": "binary_crossentropy",
}


@dataclasses.dataclass(frozen=True)
class _LossInfo:
    kind: str | None
    from_logits: bool | None
    name: str  # how to call it in a message: "CategoricalCrossentropy", "MeanSquaredError", ...
    given_as: str  # "object", "string" or "function"
    spelling: str  # the string or function name the user passed, for messages
    dtype: str | None = None  # the dtype a Loss object converts y_pred to (None: no conversion)


def _describe_unknown_loss(loss):
    if isinstance(loss, str):
        return repr(loss)
    if isinstance(loss, keras.losses.Loss):
        return type(loss).__name__
    return getattr(loss, "__name__", type(loss).__name__)


def _loss_info(loss):
    """What kind of cross-entropy ``loss`` is and its ``from_logits`` flag."""
    given_as, spelling = "object", ""
    if isinstance(loss, str):
        given_as, spelling = "string", loss
        try:
            resolved = keras.losses.get(loss)
        except ValueError:
            return _LossInfo(None, None, repr(loss), given_as, spelling)
        loss = resolved
    elif not isinstance(loss, keras.losses.Loss):
        given_as = "function"
        spelling = getattr(loss, "__name__", "")

    if isinstance(loss, keras.losses.Loss) and callable(getattr(loss, "fn", None)):
        # keras.losses.CategoricalCrossentropy etc. wrap a loss function and its keyword arguments
        function, kwargs = loss.fn, dict(getattr(loss, "_fn_kwargs", None) or {})
    elif isinstance(loss, functools.partial):
        function, kwargs = loss.func, dict(loss.keywords)
        spelling = getattr(function, "__name__", "")
    elif callable(loss) and not isinstance(loss, keras.losses.Loss):
        function, kwargs = loss, {}
    else:
        return _LossInfo(None, None, _describe_unknown_loss(loss), given_as, spelling)

    kind = _KIND_OF_FUNCTION.get(function)
    if kind is None:
        name = type(loss).__name__ if isinstance(loss, keras.losses.Loss) else (spelling or repr(loss))
        return _LossInfo(None, None, name, given_as, spelling)
    dtype = getattr(loss, "dtype", None) if isinstance(loss, keras.losses.Loss) else None
    return _LossInfo(
        kind, bool(kwargs.get("from_logits", False)), _CLASS_OF_KIND[kind], given_as, spelling,
        dtype=None if dtype is None else str(dtype),
    )


def _model_loss(model, loss):
    if loss is not None:
        return loss
    if not getattr(model, "compiled", False) or getattr(model, "loss", None) is None:
        raise ValueError(
            "check_from_logits needs a loss, but the model is not compiled with one. Pass it, e.g. "
            "check_from_logits(model, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)), "
            "or call model.compile(loss=...) first."
        )
    return model.loss


def _single_loss(loss):
    """The one loss of a single-output model, or ``None`` for several losses."""
    if isinstance(loss, dict):
        return next(iter(loss.values())) if len(loss) == 1 else None
    if isinstance(loss, (list, tuple)):
        return loss[0] if len(loss) == 1 else None
    return loss
