"""Exercises of chapter 4: the ``from_logits`` flag.

Question 1 asks for values (the right flag for six setups); questions 2 to 5 ask for functions:
Keras' loss for probabilities (renormalise, clip, ``-log``), the stable binary cross-entropy from
logits, one-hot labels from integer labels, and a diagnosis of a compiled Keras model. Every check
runs the learner's answer on ordinary and extreme inputs (float32 logits of 1000 and 1e4, a true
class of probability 0, rows that do not sum to 1, soft labels, batches, eleven compiled models)
and names the common mistakes it recognises.
"""

from __future__ import annotations

import functools
import types

import numpy as np

from ..probing import Built
from ..checking import Case, FunctionQuestion, Mistake, ValueQuestion, frozen, questions_in, same
from ..numerics import binary_crossentropy, categorical_crossentropy, log_softmax

__all__ = ["q1", "q2", "q3", "q4", "q5", "QUESTIONS", "Q1_SETUPS", "DIAGNOSES"]


_F32 = np.float32
_EPS = 1e-7


# -- Question 1: the right flag for each setup ----------------------------------------------------

#: The six setups of question 1: the model's last step and the loss.
Q1_SETUPS = types.MappingProxyType({
    "a": "last layer Dense(10); loss SparseCategoricalCrossentropy",
    "b": 'last layer Dense(10, activation="softmax"); loss CategoricalCrossentropy',
    "c": "Dense(10) followed by a keras.layers.Softmax() layer; loss SparseCategoricalCrossentropy",
    "d": 'last layer Dense(1, activation="sigmoid") (yes/no); loss BinaryCrossentropy',
    "e": "a subclassed model whose call() returns tf.nn.log_softmax(self.head(x)); "
         "loss SparseCategoricalCrossentropy",
    "f": "last layer Dense(3) (three independent yes/no labels); loss BinaryCrossentropy",
})
_Q1_RIGHT = {"a": True, "b": False, "c": False, "d": False, "e": True, "f": True}
_Q1_NAMES = tuple(f"from_logits_{k}" for k in Q1_SETUPS)


def _q1_values(**changes):
    values = {f"from_logits_{k}": v for k, v in _Q1_RIGHT.items()}
    values.update({f"from_logits_{k}": v for k, v in changes.items()})
    return values


q1 = ValueQuestion(
    id="4.1",
    title="the right from_logits for six setups",
    names=_Q1_NAMES,
    expected=_q1_values,
    mistakes=[
        Mistake(
            "always_true",
            lambda: {n: True for n in _Q1_NAMES},
            "you set from_logits=True everywhere. True is right only when the model outputs logits "
            "(no activation at the end). Setups b, c and d end with a softmax or a sigmoid, so they "
            "output probabilities: from_logits=False there (or remove the activation and keep True).",
        ),
        Mistake(
            "kept_the_default",
            lambda: {n: False for n in _Q1_NAMES},
            "you kept the default from_logits=False everywhere. Setups a and f end with a plain "
            "Dense layer, which outputs logits; with False, Keras treats those logits as "
            "probabilities, clips them to [1e-7, 1 - 1e-7], and the model barely trains, without "
            "any warning. Set from_logits=True for logits.",
        ),
        Mistake(
            "swapped",
            lambda: {n: not v for n, v in _q1_values().items()},
            "every answer is the opposite of the right one. from_logits says what the loss "
            "RECEIVES: True means 'these are logits' (the model has no final softmax or sigmoid), "
            "False means 'these are probabilities'.",
        ),
        Mistake(
            "softmax_layer_missed",
            lambda: {"from_logits_c": True},
            "setup c is wrong: a separate keras.layers.Softmax() layer at the end is still a "
            "softmax, so the model outputs probabilities and the flag must be False. What matters "
            "is the model's final output, not whether the Dense layer has an activation.",
        ),
        Mistake(
            "log_probabilities_are_not_logits",
            lambda: {"from_logits_e": False},
            "setup e is wrong: log-probabilities are logits. softmax(log p) = p (the softmax is "
            "shift-invariant and log p differs from any logits of p by a constant), so "
            "from_logits=True gives exactly the right loss. With False, Keras would read negative "
            "numbers as probabilities and clip them.",
        ),
    ],
    hints=[
        "Ask of each setup: what does the model's very last step output? A plain Dense layer "
        "outputs logits (any real numbers); a softmax or sigmoid outputs probabilities.",
        "from_logits=True for logits, False for probabilities. A Softmax layer after a Dense layer "
        "counts as a softmax.",
        "Log-probabilities (log_softmax) are logits: the softmax of log p is p again.",
    ],
)


# -- Question 2: Keras' loss for probabilities -----------------------------------------------------

def _pp_reference(y_true, y_pred):
    return categorical_crossentropy(y_true, y_pred, from_logits=False)


def _pp_no_clipping(y_true, y_pred):
    p = np.asarray(y_pred)
    return -np.sum(np.asarray(y_true) * np.log(p / np.sum(p, axis=-1, keepdims=True)), axis=-1)


def _pp_no_renormalisation(y_true, y_pred):
    p = np.clip(np.asarray(y_pred), _EPS, 1 - _EPS)
    return -np.sum(np.asarray(y_true) * np.log(p), axis=-1)


def _pp_double_softmax(y_true, y_pred):
    return -np.sum(np.asarray(y_true) * log_softmax(y_pred), axis=-1)


def _pp_batch_mean(y_true, y_pred):
    return np.mean(_pp_reference(y_true, y_pred))


q2 = FunctionQuestion(
    id="4.2",
    title="Keras' cross-entropy for probabilities",
    name="probability_path_loss",
    reference=_pp_reference,
    cases=[
        Case((np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),
              np.array([[0.22786300, 0.61939586, 0.15274114], [0.49674623, 0.20196195, 0.30129182]])),
             label="(one-hot labels, honest probabilities)"),
        Case((np.array([[0.0, 0.0, 1.0]], dtype=_F32), np.array([[0.5, 0.5, 0.0]], dtype=_F32)),
             label="(true class 2, probabilities [[0.5, 0.5, 0]] in float32)"),
        Case((np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]), np.array([[0.1, 0.1, 0.2], [0.3, 0.3, 0.3]])),
             label="(rows that sum to 0.4 and 0.9)"),
        Case((np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=_F32),
              np.array([[1e-12, 1.0, 0.0], [0.0, 1.0, 0.0]], dtype=_F32)),
             label="(true probabilities 1e-12 and exactly 1, float32)"),
        Case((np.array([[0.5, 0.5, 0.0]]), np.array([[0.0, 1.0, 0.0]])),
             label="(soft labels [0.5, 0.5, 0], probabilities [0, 1, 0])"),
        Case((np.array([0.0, 0.0, 1.0]), np.array([0.3, 0.3, 0.4])),
             label="(a single example as 1-D arrays)"),
    ],
    mistakes=[
        Mistake(
            "no_clipping",
            _pp_no_clipping,
            "you did not clip. A true class with probability 0 gives log(0) = -inf, so the loss is "
            "inf (or NaN where a zero label meets log(0)). Keras clips the renormalised "
            "probabilities to [1e-7, 1 - 1e-7] first: np.clip(p, 1e-7, 1 - 1e-7).",
        ),
        Mistake(
            "no_renormalisation",
            _pp_no_renormalisation,
            "you did not renormalise. Keras first divides each row by its sum (along the last "
            "axis, keepdims=True), so rows that do not sum to 1 are treated as proportions: "
            "[0.1, 0.1, 0.2] means [0.25, 0.25, 0.5]. Then it clips and takes the log.",
        ),
        Mistake(
            "double_softmax",
            _pp_double_softmax,
            "you applied a (log-)softmax to the probabilities, as a loss with from_logits=True "
            "would. These inputs are already probabilities: renormalise them, clip to "
            "[1e-7, 1 - 1e-7] and take -sum(y * log(p)). No softmax.",
        ),
        Mistake(
            "batch_mean",
            _pp_batch_mean,
            "you returned the mean over the batch; return one loss per example (sum over the last "
            "axis only), as Keras does with reduction=None.",
        ),
    ],
    hints=[
        "Three steps, in this order: divide each row by its sum, clip to [1e-7, 1 - 1e-7], then "
        "-sum(y_true * log(p)) over the last axis.",
        "p = y_pred / np.sum(y_pred, axis=-1, keepdims=True) keeps the axis so it broadcasts.",
        "Clipping makes every log finite, so 0 * log(p) is always 0: no NaN from a zero label.",
    ],
)


# -- Question 3: binary cross-entropy from logits ----------------------------------------------

def _bce_reference(y_true, logits):
    return binary_crossentropy(y_true, logits, from_logits=True)


def _bce_terms(y_true, logits):
    x, t = np.asarray(logits), np.asarray(y_true)
    return np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))


def _bce_naive(y_true, logits):
    x, t = np.asarray(logits), np.asarray(y_true)
    s = 1 / (1 + np.exp(-x))
    return np.mean(-(t * np.log(s) + (1 - t) * np.log(1 - s)), axis=-1)


def _bce_sign_error(y_true, logits):
    x, t = np.asarray(logits), np.asarray(y_true)
    return np.mean(np.maximum(x, 0) + x * t + np.log1p(np.exp(-np.abs(x))), axis=-1)


def _bce_per_element(y_true, logits):
    return _bce_terms(y_true, logits)


def _bce_missing_abs(y_true, logits):
    x, t = np.asarray(logits), np.asarray(y_true)
    return np.mean(np.maximum(x, 0) - x * t + np.log1p(np.exp(-x)), axis=-1)


q3 = FunctionQuestion(
    id="4.3",
    title="binary cross-entropy from logits, stable",
    name="binary_crossentropy_from_logits",
    reference=_bce_reference,
    cases=[
        Case((np.array([[1.0], [0.0]]), np.array([[3.0], [3.0]])), label="(labels [[1], [0]], logits [[3], [3]])"),
        Case((np.array([[1.0], [0.0], [1.0], [0.0]], dtype=_F32),
              np.array([[1000.0], [1000.0], [-1000.0], [-1000.0]], dtype=_F32)),
             label="(logits of +-1000 in float32, each label)"),
        Case((np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]], dtype=_F32),
              np.array([[2.0, -1.0, 0.0], [1e4, -1e4, 5.0]], dtype=_F32)),
             label="(a batch of 2 examples with 3 labels each, logits up to 1e4, float32)"),
        Case((np.array([[0.3, 0.7]]), np.array([[-2.0, 4.0]])), label="(soft labels [[0.3, 0.7]])"),
        Case((np.array([1.0, 0.0, 1.0], dtype=_F32), np.array([40.0, -40.0, 0.0], dtype=_F32)),
             label="(one example with 3 labels as 1-D arrays, float32)"),
    ],
    mistakes=[
        Mistake(
            "naive_log_sigmoid",
            _bce_naive,
            "you computed -(t*log(sigmoid(x)) + (1-t)*log(1 - sigmoid(x))). In float32, "
            "sigmoid(1000) is exactly 1 and sigmoid(-1000) exactly 0, so a log is -inf and the loss "
            "inf or NaN. Use the stable form max(x, 0) - x*t + log(1 + exp(-|x|)) (np.log1p).",
        ),
        Mistake(
            "sign_error",
            _bce_sign_error,
            "the x*t term has the wrong sign: it is max(x, 0) - x*t + log(1 + exp(-|x|)). Check "
            "with x = 3, t = 1: the loss must be small (about 0.049), since the logit agrees with "
            "the label.",
        ),
        Mistake(
            "per_element",
            _bce_per_element,
            "your terms are right, but you returned one value per label. Like Keras, return the "
            "mean over the last axis: np.mean(terms, axis=-1), one loss per example.",
        ),
        Mistake(
            "missing_abs",
            _bce_missing_abs,
            "you wrote log(1 + exp(-x)) instead of log(1 + exp(-|x|)). For x = -1000, exp(1000) "
            "overflows to inf. The max(x, 0) term already handles the sign, so use -|x| in the "
            "exponent: it is never positive and never overflows.",
        ),
    ],
    hints=[
        "For a logit x and label t the loss is -t*log(sigmoid(x)) - (1-t)*log(1 - sigmoid(x)); do "
        "not compute it like that.",
        "Rewrite it as max(x, 0) - x*t + log(1 + exp(-|x|)): the exponent is never positive, so "
        "nothing overflows. np.log1p(y) computes log(1 + y) accurately.",
        "Compute the terms elementwise, then take np.mean(..., axis=-1): one loss per example.",
    ],
)


# -- Question 4: one-hot labels -------------------------------------------------------------------

def _oh_reference(labels, num_classes):
    return np.eye(num_classes, dtype=np.float32)[np.asarray(labels)]


def _oh_off_by_one(labels, num_classes):
    return np.eye(num_classes)[np.asarray(labels) - 1]


def _oh_inferred(labels, num_classes):
    labels = np.asarray(labels)
    return np.eye(int(labels.max()) + 1)[labels]


def _oh_transposed(labels, num_classes):
    return np.eye(num_classes)[np.asarray(labels)].T


q4 = FunctionQuestion(
    id="4.4",
    title="one-hot labels for CategoricalCrossentropy",
    name="to_one_hot",
    reference=_oh_reference,
    cases=[
        Case((np.array([0, 3, 1]), 4)),
        Case((np.array([2, 2, 0]), 5), label="([2, 2, 0], 5): the largest class is absent"),
        Case((np.array([9]), 10)),
        Case((np.array([[1, 0], [2, 1]]), 3), label="(labels of shape (2, 2), 3)"),
        Case((np.array([0, 1, 2, 3, 4, 5]), 6)),
    ],
    mistakes=[
        Mistake(
            "off_by_one",
            _oh_off_by_one,
            "you shifted the labels by one (labels - 1). Labels are 0-based: label 0 is the first "
            "column, label K - 1 the last. (If your data's labels start at 1, subtract 1 once, when "
            "you load them.)",
        ),
        Mistake(
            "inferred_num_classes",
            _oh_inferred,
            "you took the number of classes from the largest label in the batch. A batch need not "
            "contain the largest class, and then the rows are too short for the model's output. "
            "Use the num_classes argument: np.eye(num_classes)[labels].",
        ),
        Mistake(
            "transposed",
            _oh_transposed,
            "your result is transposed: one row per class instead of one row per example. The "
            "result must have shape labels.shape + (num_classes,), like the model's output.",
        ),
    ],
    hints=[
        "Row i of the identity matrix np.eye(K) is the one-hot vector of class i.",
        "NumPy fancy indexing picks rows: np.eye(num_classes)[labels] has shape "
        "labels.shape + (num_classes,).",
        "Do not infer the number of classes from the labels: use num_classes.",
    ],
    compare=same,
)


# -- Question 5: diagnose a compiled model ----------------------------------------------------------

#: The three answers of question 5.
DIAGNOSES = ("ok", "probabilities_as_logits", "logits_as_probabilities")

# (name, last layers, loss, from_logits, number of outputs); every model has Dense(8, relu) first.
_MODEL_SPECS = [
    ("Dense(10), SparseCategoricalCrossentropy(from_logits=True)", "dense", "sparse", True, 10),
    ('Dense(10, activation="softmax"), SparseCategoricalCrossentropy()', "dense_softmax", "sparse", False, 10),
    ('Dense(10, activation="softmax"), CategoricalCrossentropy(from_logits=True)', "dense_softmax", "categorical", True, 10),
    ("Dense(10), SparseCategoricalCrossentropy()", "dense", "sparse", False, 10),
    ("Dense(10) then Softmax(), SparseCategoricalCrossentropy()", "softmax_layer", "sparse", False, 10),
    ("Dense(10) then Softmax(), CategoricalCrossentropy(from_logits=True)", "softmax_layer", "categorical", True, 10),
    ('Dense(1, activation="sigmoid"), BinaryCrossentropy(from_logits=True)', "dense_sigmoid", "binary", True, 1),
    ("Dense(1), BinaryCrossentropy()", "dense", "binary", False, 1),
    ('Dense(1, activation="sigmoid"), BinaryCrossentropy()', "dense_sigmoid", "binary", False, 1),
    ('Dense(10) then Activation("softmax"), CategoricalCrossentropy()', "activation_softmax", "categorical", False, 10),
    ('Dense(10, activation="linear"), CategoricalCrossentropy()', "dense_linear", "categorical", False, 10),
]


@functools.lru_cache(maxsize=None)
def _compiled_model(last, loss, from_logits, outputs):
    """Build and compile one of question 5's models (once: the result is cached)."""
    import keras

    layers = [keras.Input(shape=(4,)), keras.layers.Dense(8, activation="relu")]
    if last == "dense":
        layers.append(keras.layers.Dense(outputs))
    elif last == "dense_linear":
        layers.append(keras.layers.Dense(outputs, activation="linear"))
    elif last == "dense_softmax":
        layers.append(keras.layers.Dense(outputs, activation="softmax"))
    elif last == "dense_sigmoid":
        layers.append(keras.layers.Dense(outputs, activation="sigmoid"))
    elif last == "softmax_layer":
        layers += [keras.layers.Dense(outputs), keras.layers.Softmax()]
    elif last == "activation_softmax":
        layers += [keras.layers.Dense(outputs), keras.layers.Activation("softmax")]
    loss_class = {"sparse": keras.losses.SparseCategoricalCrossentropy,
                  "categorical": keras.losses.CategoricalCrossentropy,
                  "binary": keras.losses.BinaryCrossentropy}[loss]
    model = keras.Sequential(layers)
    model.compile(optimizer="adam", loss=loss_class(from_logits=from_logits))
    return model


def _model_case(name, spec):
    """A case whose argument is a compiled Keras model, built where the answer runs (once)."""
    return Case((Built(__name__, "_compiled_model", tuple(spec)),), label=f"(a model ending {name})")


def _output_kind(model, see_softmax_layer=True, see_sigmoid=True):
    import keras

    layer = model.layers[-1]
    if see_softmax_layer and isinstance(layer, keras.layers.Softmax):
        return "probabilities"
    name = getattr(getattr(layer, "activation", None), "__name__", "linear")
    probabilities = {"softmax", "sigmoid"} if see_sigmoid else {"softmax"}
    return "probabilities" if name in probabilities else "logits"


def _diagnosis(kind, from_logits):
    if kind == "probabilities" and from_logits:
        return "probabilities_as_logits"
    if kind == "logits" and not from_logits:
        return "logits_as_probabilities"
    return "ok"


def _from_logits(model):
    return bool(model.loss.get_config()["from_logits"])


def _diagnose_reference(model):
    return _diagnosis(_output_kind(model), _from_logits(model))


def _diagnose_missed_softmax_layer(model):
    return _diagnosis(_output_kind(model, see_softmax_layer=False), _from_logits(model))


def _diagnose_missed_sigmoid(model):
    return _diagnosis(_output_kind(model, see_sigmoid=False), _from_logits(model))


def _diagnose_swapped(model):
    swap = {"probabilities_as_logits": "logits_as_probabilities",
            "logits_as_probabilities": "probabilities_as_logits", "ok": "ok"}
    return swap[_diagnose_reference(model)]


def _diagnose_misses_silent_bug(model):
    found = _diagnose_reference(model)
    return "ok" if found == "logits_as_probabilities" else found


def _same_diagnosis(got, expected, **tolerance):
    if not isinstance(got, str):
        return f"expected one of the strings {', '.join(map(repr, DIAGNOSES))}, got {type(got).__name__}"
    if got.strip().lower() != expected:
        return f"expected {expected!r}, got {got!r}"
    return None


q5 = FunctionQuestion(
    id="4.5",
    title="diagnose a compiled model",
    name="diagnose",
    reference=_diagnose_reference,
    cases=[_model_case(name, spec) for name, *spec in _MODEL_SPECS],
    mistakes=[
        Mistake(
            "missed_softmax_layer",
            _diagnose_missed_softmax_layer,
            "a model ending Dense(10) then keras.layers.Softmax() outputs probabilities, but your "
            "function read it as logits. A Softmax layer has no `activation` attribute: test "
            "isinstance(layer, keras.layers.Softmax) as well as the layer's activation.",
        ),
        Mistake(
            "missed_sigmoid",
            _diagnose_missed_sigmoid,
            "a sigmoid output is probabilities too (for BinaryCrossentropy), but your function "
            "only recognised the softmax. Treat activations named 'softmax' and 'sigmoid' as "
            "probabilities.",
        ),
        Mistake(
            "swapped_names",
            _diagnose_swapped,
            "you found the mistakes but swapped their names. 'probabilities_as_logits' is a "
            "softmax/sigmoid output with from_logits=True (softmax applied twice); "
            "'logits_as_probabilities' is a linear output with from_logits=False (logits clipped "
            "as if they were probabilities).",
        ),
        Mistake(
            "misses_silent_bug",
            _diagnose_misses_silent_bug,
            "you caught softmax + from_logits=True (the case Keras warns about) but called a "
            "linear output with from_logits=False 'ok'. That is the silent bug: the loss clips "
            "the logits as if they were probabilities and the model barely trains. Report "
            "'logits_as_probabilities' when the output has no softmax/sigmoid and from_logits is "
            "False.",
        ),
    ],
    hints=[
        "The last step is model.layers[-1]. A Dense or Activation layer has an `activation` "
        "attribute (a function: its __name__ is 'softmax', 'sigmoid', 'linear', ...); a "
        "keras.layers.Softmax layer has none, so check isinstance(layer, keras.layers.Softmax).",
        "The flag is model.loss.get_config()['from_logits'] (model.loss is the loss object given to "
        "compile).",
        "Probabilities (softmax or sigmoid) with from_logits=True: 'probabilities_as_logits'. "
        "Logits (anything else) with from_logits=False: 'logits_as_probabilities'. Otherwise 'ok'.",
    ],
    compare=_same_diagnosis,
)

QUESTIONS = questions_in(globals())
