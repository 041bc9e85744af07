"""The model side of the check: what its last activation makes, read from layers or a trace."""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

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




def _output_dtype(model):
    """The dtype of a Sequential or functional model's single output, or ``None``."""
    outputs = getattr(model, "outputs", None)
    if isinstance(outputs, (list, tuple)) and len(outputs) == 1 and hasattr(outputs[0], "dtype"):
        return str(outputs[0].dtype)
    return None
