"""Catch the ``from_logits`` mistake before it wastes a training run.

A Keras cross-entropy loss must be told what the model hands it: probabilities (the model ends in
a softmax or sigmoid, ``from_logits=False``) or logits (no activation, ``from_logits=True``). The
two mismatches behave differently in Keras 3 with the TensorFlow backend:

- probabilities with ``from_logits=True``: Keras' ``model.fit`` recognises a Keras or traced
  softmax/sigmoid, takes the logits behind it and prints a warning; eager code, custom training
  loops and other backends apply a second softmax and train on the wrong loss;
- logits with ``from_logits=False``: Keras treats the logits as probabilities (clips them to
  ``[1e-7, 1 - 1e-7]``), prints no warning, and the model barely trains.

:func:`check_from_logits` compares a model's last activation with its loss before training;
:class:`FromLogitsGuard` is a callback that does the same inside ``model.fit`` on the first batch,
looking at the actual outputs too, and raises :class:`FromLogitsMismatchError` (or warns with
:class:`FromLogitsWarning`) on a mismatch.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import warnings

import keras
import numpy as np
import tensorflow as tf

__all__ = [
    "FromLogitsCheck",
    "FromLogitsGuard",
    "FromLogitsMismatchError",
    "FromLogitsWarning",
    "check_from_logits",
]

_EPSILON_TEXT = "[1e-7, 1 - 1e-7]"

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

# Layers that pass their input's values through unchanged at inference time: the activation that
# matters is the one before them.
_PASSTHROUGH_LAYERS = (
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "ActivityRegularization",
    "Identity",
    "Reshape",
    "Flatten",
    "Permute",
)
# Graph ops that only move, rename or retype values: walk back through them to the op that made them.
_PASSTHROUGH_OPS = ("Identity", "Reshape", "Squeeze", "ExpandDims", "Cast", "StopGradient")
# Graph ops whose output is a probability, and ops whose output is certainly not one.
_PROBABILITY_OPS = {"Softmax": "softmax", "Sigmoid": "sigmoid"}
_SCORE_OPS = {
    "MatMul": "linear",
    "BatchMatMulV2": "linear",
    "BatchMatMulV3": "linear",
    "BiasAdd": "linear",
    "AddV2": "linear",
    "Add": "linear",
    "Einsum": "linear",
    "Conv2D": "linear",
    "Conv1D": "linear",
    "Conv3D": "linear",
    "LogSoftmax": "log_softmax",
    "Relu": "relu",
    "Relu6": "relu6",
    "Elu": "elu",
    "Selu": "selu",
    "LeakyRelu": "leaky_relu",
    "Tanh": "tanh",
    "Softplus": "softplus",
}


class FromLogitsMismatchError(ValueError):
    """The model's output and the loss's ``from_logits`` flag disagree.

    Raised by :class:`FromLogitsGuard` (``mode="raise"``) from inside ``model.fit``; the message
    names the loss, the flag, the model's last layer and what to change.
    """


class FromLogitsWarning(UserWarning):
    """Warning category of :class:`FromLogitsGuard` with ``mode="warn"``.

    Filter it like any warning, e.g. ``warnings.simplefilter("error", FromLogitsWarning)``.
    """


@dataclasses.dataclass(frozen=True)
class FromLogitsCheck:
    """The verdict of :func:`check_from_logits` or :class:`FromLogitsGuard`.

    Attributes:
        ok: ``True`` when the model's output and the loss's ``from_logits`` flag agree (or the
            loss is not a cross-entropy, which the check does not cover). ``False`` on a mismatch
            and also when the model's output could not be determined (``output="unknown"``).
        loss_kind: ``"categorical"``, ``"sparse_categorical"``, ``"binary"``, or ``None`` for a
            loss the check does not cover.
        from_logits: The loss's ``from_logits`` setting (``None`` for an uncovered loss).
        output: What the model's last activation produces: ``"probabilities"`` (softmax or
            sigmoid), ``"logits"`` (anything else, e.g. no activation), or ``"unknown"``.
        message: A sentence or two saying whether they agree and, if not, what to change.
        fix: The change to make, or ``None`` when there is nothing to fix.
    """

    ok: bool
    loss_kind: str | None
    from_logits: bool | None
    output: str
    message: str
    fix: str | None = None

    def __str__(self):
        return self.message

    def _repr_html_(self):
        colour = "#1a7f37" if self.ok else "#cf222e"
        return f'<div style="border-left: 4px solid {colour}; padding-left: 8px">{html.escape(self.message)}</div>'


# --------------------------------------------------------------------------------------------------
# The loss


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


# --------------------------------------------------------------------------------------------------
# The model's last activation, read from its structure


@dataclasses.dataclass(frozen=True)
class _Structure:
    output: str  # "probabilities", "logits" or "unknown"
    activation: str | None = None  # "softmax", "sigmoid", "linear", "relu", "log_softmax", ...
    layer: str | None = None  # "Dense(10, activation='softmax')"; None for subclassed models
    plain_layer: str | None = None  # the same layer without an activation: "Dense(10)"
    units: int | None = None  # size of the class axis, when known
    subclassed: bool = False
    reason: str = ""  # why the output is unknown


def _activation_name(function):
    if function is None:
        return "linear"
    if isinstance(function, str):
        return function
    name = getattr(function, "__name__", None) or type(function).__name__
    return name.lower() if name[:1].isupper() else name


def _output_kind(activation):
    if activation in ("softmax", "sigmoid"):
        return "probabilities"
    if activation in (None, "", "unknown"):
        return "unknown"
    return "logits"


def _units(layer):
    config = {}
    try:
        config = layer.get_config()
    except Exception:  # noqa: BLE001 - a custom layer without get_config: no units then
        pass
    for key in ("units", "filters"):
        if isinstance(config.get(key), int):
            return config[key]
    return None


def _describe_layer(layer, activation):
    """``Dense(10, activation='softmax')`` and the same layer without its activation."""
    cls = type(layer).__name__
    if cls == "Activation":
        return f"Activation('{activation}')", None
    if cls in ("Softmax", "ReLU", "LeakyReLU", "ELU", "PReLU"):
        return f"{cls}()", None
    units = _units(layer)
    head = f"{cls}({units}" if units is not None else f"{cls}(..."
    plain = head + ")"
    if activation in (None, "linear"):
        return plain, plain
    return f"{head}, activation='{activation}')", plain


def _previous_layer(model, layer, tensor=None):
    """The layer feeding ``layer`` (Sequential or functional), or ``None``."""
    if isinstance(model, keras.Sequential):
        layers = model.layers
        index = layers.index(layer)
        return (layers[index - 1], None) if index > 0 else (None, None)
    try:
        operation, node_index, _ = tensor._keras_history
        inputs = operation._inbound_nodes[node_index].input_tensors
    except (AttributeError, IndexError, TypeError):
        return None, None
    if len(inputs) != 1:
        return None, None
    return inputs[0]._keras_history[0], inputs[0]


def _is_input_layer(layer):
    return type(layer).__name__ == "InputLayer"


def _structure_from_layers(model):
    """Read the last activation off a Sequential or functional model's last layer."""
    tensor = None
    if isinstance(model, keras.Sequential):
        if not model.layers:
            return None
        layer = model.layers[-1]
    else:
        outputs = getattr(model, "_outputs", None) or getattr(model, "outputs", None)
        if not outputs or not hasattr(outputs[0], "_keras_history"):
            return None  # a subclassed model: no layer graph to read
        if len(outputs) != 1:
            return None
        tensor = outputs[0]
        layer = tensor._keras_history[0]
    while layer is not None and type(layer).__name__ in _PASSTHROUGH_LAYERS:
        layer, tensor = _previous_layer(model, layer, tensor)
    if layer is None or _is_input_layer(layer):
        return None

    cls = type(layer).__name__
    if cls == "Softmax":
        activation = "softmax"
    elif cls == "Sigmoid":
        activation = "sigmoid"
    elif cls == "LogSoftmax":
        activation = "log_softmax"
    elif cls in ("ReLU", "LeakyReLU", "ELU", "PReLU"):
        activation = cls.lower()
    elif hasattr(layer, "activation"):
        activation = _activation_name(layer.activation)
    elif cls in ("Dense", "EinsumDense") or cls.startswith("Conv"):
        activation = "linear"
    else:
        return None  # e.g. a Lambda layer or a custom layer: let tracing decide
    described, plain = _describe_layer(layer, activation)
    return _Structure(
        output=_output_kind(activation),
        activation=activation,
        layer=described,
        plain_layer=plain,
        units=_units(layer),
    )


def _input_structure(model):
    """A nest of ``(shape, dtype)`` pairs for the model's inputs, or ``None`` if unknown."""
    inputs = getattr(model, "_inputs_struct", None)
    if inputs is None:
        inputs = getattr(model, "inputs", None)
        if isinstance(inputs, list) and len(inputs) == 1:
            inputs = inputs[0]
    if inputs is not None:
        try:
            return keras.tree.map_structure(lambda t: (tuple(t.shape), str(t.dtype)), inputs)
        except (AttributeError, TypeError):
            return None
    shapes = getattr(model, "_build_shapes_dict", None)  # a built subclassed model
    if getattr(model, "built", False) and isinstance(shapes, dict) and len(shapes) == 1:
        shape = next(iter(shapes.values()))
        if isinstance(shape, (tuple, list)) and all(d is None or isinstance(d, int) for d in shape):
            return ((None,) + tuple(shape[1:]), keras.config.floatx())
    return None


def _is_leaf(item):
    return isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], str)


def _map_inputs(function, structure):
    if _is_leaf(structure):
        return function(*structure)
    if isinstance(structure, dict):
        return {key: _map_inputs(function, value) for key, value in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_map_inputs(function, value) for value in structure)
    raise TypeError(f"unexpected input structure {structure!r}")


def _walk_back(tensor):
    """The op that made ``tensor``'s values, skipping ops that only move or retype them."""
    op = tensor.op
    while op.type in _PASSTHROUGH_OPS and len(op.inputs) >= 1:
        op = op.inputs[0].op
    return op


def _structure_from_trace(model):
    """Trace ``model(x, training=False)`` and look at the op that makes its output.

    This is what Keras' loss sees inside ``model.fit``: a ``Softmax`` or ``Sigmoid`` op, or a
    tensor carrying ``_keras_logits`` (made by a Keras activation).
    """
    if not getattr(model, "built", False):
        return None
    structure = _input_structure(model)
    if structure is None:
        return None
    specs = _map_inputs(lambda shape, dtype: tf.TensorSpec(shape, tf.dtypes.as_dtype(dtype)), structure)
    captured = []

    def call(inputs):
        outputs = model(inputs, training=False)
        captured.append(outputs)
        return outputs

    try:
        tf.function(call, autograph=False).get_concrete_function(specs)
    except Exception:  # noqa: BLE001 - a model that cannot be traced: no structural evidence
        return None
    outputs = captured[0] if captured else None
    if not tf.is_tensor(outputs) or not hasattr(outputs, "op"):
        return None  # several outputs, or something that is not a graph tensor
    op = _walk_back(outputs)
    units = outputs.shape[-1] if outputs.shape.rank else None
    if op.type in _PROBABILITY_OPS:
        activation = _PROBABILITY_OPS[op.type]
    elif hasattr(outputs, "_keras_logits"):
        activation = "softmax"  # a Keras activation made it, through ops not recognised above
    elif op.type in _SCORE_OPS:
        activation = _SCORE_OPS[op.type]
    else:
        return _Structure(
            output="unknown",
            units=units,
            subclassed=True,
            reason=f"its output is made by a {op.type} op, which is neither a softmax, a sigmoid nor a linear layer",
        )
    return _Structure(output=_output_kind(activation), activation=activation, units=units, subclassed=True)


def _structure(model):
    from_layers = _structure_from_layers(model)
    if from_layers is not None and from_layers.output != "unknown":
        return from_layers
    from_trace = _structure_from_trace(model)
    if from_trace is not None:
        if from_layers is not None:  # keep the layer's description, take the trace's verdict
            return dataclasses.replace(from_layers, output=from_trace.output, activation=from_trace.activation)
        return from_trace
    if from_layers is not None:
        return from_layers
    if not getattr(model, "built", False):
        reason = "it is a subclassed model that has not been built yet (it has not been called on data)"
    else:
        reason = "its input shape is unknown, so it could not be traced"
    return _Structure(output="unknown", subclassed=True, reason=reason)


# --------------------------------------------------------------------------------------------------
# The verdict


def _loss_spelled(info, from_logits):
    return f"{info.name}(from_logits={from_logits})"


def _use_instead(info, from_logits):
    text = f"loss=keras.losses.{_loss_spelled(info, from_logits)}"
    if info.given_as == "string":
        text += f" instead of loss='{info.spelling}'"
    elif info.given_as == "function":
        text += f" instead of the function keras.losses.{info.spelling or _FUNCTION_NAME_OF_KIND[info.kind]}"
    return text


def _where(structure):
    """Where the activation sits, for a message."""
    if structure.layer:
        return f"last layer {structure.layer}"
    act = structure.activation
    if act in ("softmax", "sigmoid"):
        return f"a {act} at the end of call()"
    return f"call() ends in {act}"


def _output_dtype(model):
    """The dtype of a Sequential or functional model's single output, or ``None``."""
    outputs = getattr(model, "outputs", None)
    if isinstance(outputs, (list, tuple)) and len(outputs) == 1 and hasattr(outputs[0], "dtype"):
        return str(outputs[0].dtype)
    return None


def _why_keras_cannot_repair(info, output_dtype, act):
    """Why Keras' own repair of a double softmax does not apply, or ``None`` when it may."""
    if info.dtype is None or output_dtype is None or output_dtype == info.dtype:
        return None
    return (
        f"Keras cannot repair it here: the loss converts the model's {output_dtype} output to "
        f"{info.dtype}, and the converted tensor no longer carries the logits behind the {act}, "
        "so training runs on the wrong loss, with no warning."
    )


def _verdict(info, structure, evidence="", output_dtype=None):
    kind, from_logits = info.kind, info.from_logits
    output = structure.output
    act = structure.activation
    expected = "sigmoid" if kind == "binary" else "softmax"
    flag = f"{info.name} was told from_logits={from_logits}"
    if info.given_as == "string" and not from_logits:
        flag = f"loss='{info.spelling}' means {info.name} with from_logits=False"
    elif info.given_as == "function" and not from_logits:
        flag = f"the loss function keras.losses.{info.spelling} uses from_logits=False"
    evidence = f" {evidence}" if evidence else ""

    if output == "unknown":
        why = structure.reason or "its last activation could not be determined"
        message = (
            f"Could not tell whether the model outputs probabilities or logits: {why}. "
            f"{info.name} has from_logits={from_logits}. Build the model (call it on a batch) and "
            "check again, or pass FromLogitsGuard(x=x_train[:32]) to model.fit, which looks at the "
            "outputs of the first batch."
        )
        return FromLogitsCheck(False, kind, from_logits, "unknown", message, None)

    where = _where(structure)
    if kind == "binary" and act == "softmax" and structure.units == 1:
        plain = structure.plain_layer or "the layer without the softmax"
        fix = (
            f"Fix: a softmax over a single unit always outputs 1.0, so the model cannot learn. Use "
            f"{_sigmoid_layer(structure)} with {_loss_spelled(info, False)}, or {plain} (no activation) "
            f"with {_loss_spelled(info, True)} — the stable choice."
        )
        message = f"The model ends in a softmax over one unit ({where}) and uses {info.name}. {fix}"
        return FromLogitsCheck(False, kind, from_logits, output, message, fix)

    if output == "probabilities" and from_logits:
        if structure.layer and structure.plain_layer:
            remove = f"remove the {act} from the last layer ({structure.plain_layer})"
        elif structure.layer:
            remove = f"remove the last layer {structure.layer}"
        else:
            remove = f"remove the {act} from call() (return the logits)"
        fix = (
            f"Fix: {remove} and keep from_logits=True — the stable choice — or keep the {act} and "
            f"set from_logits=False ({_loss_spelled(info, False)})."
        )
        repair = _why_keras_cannot_repair(info, output_dtype, act) or (
            f"(Keras' model.fit with the TensorFlow backend often spots a {act} and takes the logits "
            f"behind it, printing only a warning; eager code, custom training loops, other backends "
            f"and a {act} in another dtype than the loss's train on the wrong loss.)"
        )
        message = (
            f"The model ends in a {act} ({where}), so it outputs probabilities, but {flag}: the loss "
            f"will apply a second {act} to them.{evidence} {repair} {fix}"
        )
        return FromLogitsCheck(False, kind, from_logits, output, message, fix)

    if output == "logits" and not from_logits:
        fix = f"Fix: set from_logits=True: {_use_instead(info, True)}."
        message = (
            f"The model outputs {_logits_phrase(structure)}, but {flag}: Keras will treat the logits "
            f"as probabilities (clip them to {_EPSILON_TEXT}) and the model will barely train, and "
            f"Keras prints no warning.{evidence} {fix}"
        )
        return FromLogitsCheck(False, kind, from_logits, output, message, fix)

    if output == "probabilities":
        message = (
            f"OK: the model ends in a {act} ({where}), so it outputs probabilities, and {info.name} "
            f"has from_logits=False: they agree. (No activation plus from_logits=True is the "
            f"numerically more stable setup.){evidence}"
        )
    else:
        message = (
            f"OK: the model outputs {_logits_phrase(structure)} and {info.name} has from_logits=True: "
            f"they agree; the loss applies the {expected} itself, in its stable form.{evidence}"
        )
    return FromLogitsCheck(True, kind, from_logits, output, message, None)


def _logits_phrase(structure):
    """``logits (last layer Dense(10), no activation)`` and the like."""
    act = structure.activation
    if structure.layer:
        where = f"last layer {structure.layer}"
    elif act == "linear":
        where = "call() returns the output of a linear layer"
    else:
        where = f"call() ends in {act}"
    if act in ("linear", None):
        return f"logits ({where}, no activation)"
    if act == "log_softmax":
        return f"log-probabilities ({where}), which work as logits but are not probabilities"
    return f"scores that are not probabilities ({where}, {act})"


def _sigmoid_layer(structure):
    plain = structure.plain_layer
    if plain and plain.endswith(")"):
        return plain[:-1] + ", activation='sigmoid')"
    return "a sigmoid"


def _not_covered(info, structure):
    output = structure.output if structure is not None else "unknown"
    message = (
        "The from_logits check applies to cross-entropy losses only (CategoricalCrossentropy, "
        f"SparseCategoricalCrossentropy, BinaryCrossentropy); the loss here is {info.name}, so "
        "there is nothing to check."
    )
    return FromLogitsCheck(True, None, None, output, message, None)


def _several_losses():
    message = (
        "The from_logits check covers models with one output and one loss; this model has several "
        "(or none). Check each output's loss by hand."
    )
    return FromLogitsCheck(True, None, None, "unknown", message, None)


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
