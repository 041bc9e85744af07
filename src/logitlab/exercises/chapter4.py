"""Exercises of chapter 4: the ``from_logits`` flag.

Question 1 asks for values (the right flag for six setups); question 2 asks the learner to predict
what Keras returns for a softmax output in float32 and in float16, with either flag (where the
repair holds, where the logits are lost); questions 3 to 5 ask for functions: the stable binary
cross-entropy from logits, one-hot labels from integer labels, and a diagnosis of a compiled
Keras model. Every check runs the learner's answer on ordinary and extreme inputs (float32 logits
of 1000 and 1e4, soft labels, batches, eleven compiled models) and names the common mistakes it
recognises.
"""

from __future__ import annotations

import functools
import types

import numpy as np

from ..probing import Built
from ..checking import Case, FunctionQuestion, Mistake, ValueQuestion, frozen, questions_in, same
from ..numerics import binary_crossentropy, log_softmax, softmax

__all__ = ["q1", "q2", "q3", "q4", "q5", "QUESTIONS", "Q1_SETUPS", "Q2_LABELS", "Q2_LOGITS", "DIAGNOSES"]


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


# -- Question 2: predict what Keras returns when the logits are lost -----------------------------

#: The logits and labels of question 2: the true class of the first two examples has a logit far
#: below the others, so its float16 probability underflows to 0.
Q2_LOGITS = frozen([[4.0, 1.0, -30.0], [0.5, 2.5, -60.0], [3.0, 0.0, 1.0]])
Q2_LABELS = frozen([2, 2, 0])
_Q2_NAMES = ("loss_32_false", "loss_32_true", "loss_16_false", "loss_16_true")


def _log_softmax_at(z, labels):
    """-log softmax(z)[label] for each row, in float64."""
    z = np.asarray(z, dtype=float)
    return -np.take_along_axis(log_softmax(z), np.asarray(labels)[:, None], axis=-1)[:, 0]


def _float16_probabilities():
    """What a float16 softmax hands the loss: the probabilities rounded to float16."""
    return softmax(Q2_LOGITS).astype(np.float16).astype(float)


def _clipped_loss(p, labels):
    """Keras' sparse loss for probabilities: clip to [1e-7, 1 - 1e-7], log, then a log-softmax."""
    return _log_softmax_at(np.log(np.clip(p, _EPS, 1 - _EPS)), labels)


def _q2_values(true=None, clipped32=None, sixteen_false=None, sixteen_true=None):
    exact = _log_softmax_at(Q2_LOGITS, Q2_LABELS)
    p16 = _float16_probabilities()
    return {
        "loss_32_false": exact if clipped32 is None else clipped32,
        "loss_32_true": exact if true is None else true,
        "loss_16_false": _clipped_loss(p16, Q2_LABELS) if sixteen_false is None else sixteen_false,
        "loss_16_true": _log_softmax_at(p16, Q2_LABELS) if sixteen_true is None else sixteen_true,
    }


def _q2_never_repaired():
    p32 = softmax(Q2_LOGITS).astype(np.float32).astype(float)
    return _q2_values(clipped32=_clipped_loss(p32, Q2_LABELS), true=_log_softmax_at(p32, Q2_LABELS))


def _q2_repaired_everywhere():
    exact = _log_softmax_at(Q2_LOGITS, Q2_LABELS)
    return _q2_values(sixteen_false=exact, sixteen_true=exact)


def _q2_no_clipping():
    with np.errstate(divide="ignore"):
        return {"loss_16_false": -np.log(_float16_probabilities()[np.arange(3), Q2_LABELS])}


def _q2_double_softmax_in_float32():
    return {"loss_32_true": _log_softmax_at(softmax(Q2_LOGITS), Q2_LABELS)}


# Keras' float16 softmax rounds each probability to float16 (about 3 decimal digits) before the
# loss sees it, and the order of its arithmetic is TensorFlow's: a loss computed from those
# probabilities is only known to a few float16 roundings.
_to_float16_rounding = functools.partial(same, rtol=2e-3, atol=2e-3)

q2 = ValueQuestion(
    id="4.2",
    title="predict what Keras returns when the logits are lost",
    names=_Q2_NAMES,
    expected=_q2_values,
    mistakes=[
        Mistake(
            "never_repaired",
            _q2_never_repaired,
            "you assumed Keras never repairs a softmax output. With the TensorFlow backend, a "
            "float32 keras.activations.softmax output carries its logits (`_keras_logits`), and "
            "the loss uses them: from_logits=False gives the exact loss, and so does "
            "from_logits=True (with a warning). Only `loss_16_...` lose the logits.",
        ),
        Mistake(
            "repaired_everywhere",
            _q2_repaired_everywhere,
            "you assumed the repair always works. The loss object casts y_pred to float32; a "
            "float16 softmax output is cast, and the cast tensor no longer carries the logits. "
            "Then from_logits=False clips the float16 probabilities (0 becomes 1e-7: a loss of "
            "-log(1e-7) = 16.118), and from_logits=True takes a softmax of the probabilities.",
        ),
        Mistake(
            "no_clipping",
            _q2_no_clipping,
            "`loss_16_false` is inf where the true class's float16 probability is 0. Keras never "
            "takes log(0): it clips the probabilities to [1e-7, 1 - 1e-7] first, so the loss is "
            "capped at -log(1e-7), about 16.118.",
        ),
        Mistake(
            "double_softmax_in_float32",
            _q2_double_softmax_in_float32,
            "`loss_32_true` is the loss of a softmax applied twice. In float32, with the "
            "TensorFlow backend, Keras spots that its input came from a softmax, warns, and uses "
            "the logits instead: the loss is exact. The double softmax happens when the logits "
            "are lost, as in float16.",
        ),
    ],
    hints=[
        "Keras' TensorFlow backend repairs a softmax output only when it can see the logits: a "
        "float32 keras.activations.softmax tensor carries them (`_keras_logits`). A loss object "
        "casts y_pred to float32, and a cast float16 tensor carries nothing.",
        "Without the logits, from_logits=False means: clip the probabilities to [1e-7, 1 - 1e-7], "
        "take the log, normalise (a log-softmax of those logs), and pick the true class. A float16 "
        "probability of exp(-34) is 0.",
        "from_logits=True on probabilities treats them as logits: the loss is "
        "logsumexp(p) - p[label], with p the float16 probabilities (np.float16, then float64).",
    ],
    compare=_to_float16_rounding,
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
