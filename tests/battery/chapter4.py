"""Chapter 4's battery: answers as learners write them (RIGHT, NAMED, UNNAMED; see
tests/test_exercises_battery.py, which runs them)."""

import math
import warnings

import keras
import numpy as np
import tensorflow as tf
from scipy.special import expit
from scipy.special import log_softmax as sp_log_softmax
from scipy.special import logsumexp as sp_logsumexp
from scipy.special import softmax as sp_softmax

from logitlab.exercises import chapter4 as ex

Q1_NAMES = [f"from_logits_{k}" for k in "abcdef"]


def _np(x):
    return np.asarray(x)


# -- right answers, written independently ------------------------------------------------------

def q1_right():
    return {"from_logits_a": True, "from_logits_b": False, "from_logits_c": False,
            "from_logits_d": False, "from_logits_e": True, "from_logits_f": True}


def bce_tf(y_true, logits):
    terms = tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.constant(y_true), logits=tf.constant(logits))
    return tf.reduce_mean(terms, axis=-1).numpy()


def bce_logaddexp(y_true, logits):
    x, t = _np(logits), _np(y_true)
    # -t*log(s) - (1-t)*log(1-s) = t*log(1+e^-x) + (1-t)*log(1+e^x)
    return (t * np.logaddexp(0, -x) + (1 - t) * np.logaddexp(0, x)).mean(axis=-1)


def oh_keras(labels, num_classes):
    return keras.utils.to_categorical(labels, num_classes=num_classes)


def oh_compare(labels, num_classes):
    labels = _np(labels)
    return (labels[..., None] == np.arange(num_classes)).astype(float)


def diagnose_by_config(model):
    last = model.layers[-1]
    config = last.get_config()
    if type(last).__name__ == "Softmax":
        kind = "p"
    else:
        kind = "p" if config.get("activation") in ("softmax", "sigmoid") else "z"
    flag = model.loss.get_config()["from_logits"]
    return {("p", True): "probabilities_as_logits", ("z", False): "logits_as_probabilities"}.get((kind, flag), "ok")




def q2_keras(dtypes=("float32", "float16")):
    """Run it: Keras itself, as the question describes the setups."""
    values = {}
    for dtype in dtypes:
        probs = keras.activations.softmax(tf.constant(ex.Q2_LOGITS, dtype=dtype))
        for flag in (False, True):
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=flag, reduction=None)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                values[f"loss_{dtype[-2:]}_{str(flag).lower()}"] = loss(ex.Q2_LABELS, probs)
    return values


def _ce(logits, labels):
    z = np.asarray(logits, dtype=float)
    m = z.max(axis=-1, keepdims=True)
    lse = (m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True)))[:, 0]
    return lse - z[np.arange(len(z)), labels]


def q2_numpy():
    """Predicted by hand: the exact loss where the logits survive; clip or double softmax in float16."""
    z, y = ex.Q2_LOGITS, ex.Q2_LABELS
    exact = _ce(z, y)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    p16 = (e / e.sum(axis=-1, keepdims=True)).astype(np.float16).astype(np.float64)
    return {"loss_32_false": exact, "loss_32_true": exact,
            "loss_16_false": _ce(np.log(np.clip(p16, 1e-7, 1 - 1e-7)), y),
            "loss_16_true": _ce(p16, y)}


def q2_tensorflow():
    z, y = tf.constant(ex.Q2_LOGITS, tf.float32), tf.constant(ex.Q2_LABELS)
    exact = tf.nn.sparse_softmax_cross_entropy_with_logits(y, z)
    p16 = tf.cast(tf.nn.softmax(tf.cast(z, tf.float16)), tf.float32)   # the cast loses the logits
    clipped = tf.math.log(tf.clip_by_value(p16, 1e-7, 1 - 1e-7))
    return {"loss_32_false": exact, "loss_32_true": exact,
            "loss_16_false": tf.nn.sparse_softmax_cross_entropy_with_logits(y, clipped),
            "loss_16_true": tf.nn.sparse_softmax_cross_entropy_with_logits(y, p16)}


def q2_scipy():
    z, y = ex.Q2_LOGITS, ex.Q2_LABELS
    rows = np.arange(len(y))
    exact = -sp_log_softmax(z, axis=-1)[rows, y]
    p16 = np.float16(sp_softmax(z, axis=-1)).astype(float)
    return {"loss_32_false": exact, "loss_32_true": exact.copy(),
            "loss_16_false": -sp_log_softmax(np.log(np.clip(p16, 1e-7, 1 - 1e-7)), axis=-1)[rows, y],
            "loss_16_true": sp_logsumexp(p16, axis=-1) - p16[rows, y]}


def q2_keras_categorical():
    """Keras with one-hot labels: CategoricalCrossentropy renormalises, clips and takes -log."""
    one_hot = keras.ops.one_hot(ex.Q2_LABELS, 3)
    values = {}
    for dtype in ("float32", "float16"):
        probs = keras.activations.softmax(keras.ops.convert_to_tensor(ex.Q2_LOGITS, dtype=dtype))
        for flag in (False, True):
            loss = keras.losses.CategoricalCrossentropy(from_logits=flag, reduction=None)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                values[f"loss_{dtype[-2:]}_{str(flag).lower()}"] = keras.ops.convert_to_numpy(loss(one_hot, probs))
    return values


def q2_math_loop():
    """With the math module, example by example; float16 rounding with np.float16."""
    values = {name: [] for name in ("loss_32_false", "loss_32_true", "loss_16_false", "loss_16_true")}
    for row, label in zip(ex.Q2_LOGITS.tolist(), ex.Q2_LABELS.tolist()):
        top = max(row)
        total = sum(math.exp(v - top) for v in row)
        exact = top + math.log(total) - row[label]
        p16 = [float(np.float16(math.exp(v - top) / total)) for v in row]
        logs = [math.log(min(max(p, 1e-7), 1 - 1e-7)) for p in p16]
        values["loss_32_false"].append(exact)
        values["loss_32_true"].append(exact)
        values["loss_16_false"].append(math.log(sum(math.exp(v) for v in logs)) - logs[label])
        values["loss_16_true"].append(math.log(sum(math.exp(p) for p in p16)) - p16[label])
    return values


# -- the named mistakes, planted as a learner would write them ----------------------------------

def q1_with(**changes):
    values = q1_right()
    values.update({f"from_logits_{k}": v for k, v in changes.items()})
    return values


def q2_never_repaired():
    """The clipping everywhere: float32 probabilities, no logits seen."""
    values = q2_numpy()
    p32 = sp_softmax(ex.Q2_LOGITS, axis=-1).astype(np.float32).astype(float)
    values["loss_32_false"] = _ce(np.log(np.clip(p32, 1e-7, 1 - 1e-7)), ex.Q2_LABELS)
    values["loss_32_true"] = _ce(p32, ex.Q2_LABELS)
    return values


def q2_repaired_everywhere():
    exact = _ce(ex.Q2_LOGITS, ex.Q2_LABELS)
    return dict.fromkeys(("loss_32_false", "loss_32_true", "loss_16_false", "loss_16_true"), exact)


def q2_no_clipping():
    values = q2_numpy()
    p16 = np.float16(sp_softmax(ex.Q2_LOGITS, axis=-1)).astype(float)
    with np.errstate(divide="ignore"):
        values["loss_16_false"] = -np.log(p16[np.arange(3), ex.Q2_LABELS])
    return values


def q2_double_softmax_in_float32():
    values = q2_numpy()
    values["loss_32_true"] = _ce(sp_softmax(ex.Q2_LOGITS, axis=-1), ex.Q2_LABELS)
    return values


def bce_naive(y_true, logits):
    s, t = expit(_np(logits)), _np(y_true)
    return (-(t * np.log(s) + (1 - t) * np.log(1 - s))).mean(axis=-1)


def bce_sign_error(y_true, logits):
    x, t = _np(logits), _np(y_true)
    return (np.maximum(x, 0) + x * t + np.log1p(np.exp(-np.abs(x)))).mean(axis=-1)


def bce_per_element(y_true, logits):
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.constant(y_true), logits=tf.constant(logits)).numpy()


def bce_missing_abs(y_true, logits):
    x, t = _np(logits), _np(y_true)
    return (np.maximum(x, 0) - x * t + np.log(1 + np.exp(-x))).mean(axis=-1)


def oh_off_by_one(labels, num_classes):
    return keras.utils.to_categorical(_np(labels) - 1, num_classes=num_classes)


def oh_inferred(labels, num_classes):
    return keras.utils.to_categorical(labels)     # the number of classes taken from the labels


def oh_transposed(labels, num_classes):
    return (np.arange(num_classes)[:, None] == _np(labels)[None, :]).astype(float) if _np(labels).ndim == 1 \
        else np.eye(num_classes)[_np(labels)].T


def _kind(model, softmax_layer=True, sigmoid=True):
    last = model.layers[-1]
    if softmax_layer and isinstance(last, keras.layers.Softmax):
        return "p"
    name = getattr(last, "activation", keras.activations.linear).__name__
    return "p" if name == "softmax" or (sigmoid and name == "sigmoid") else "z"


def _answer(kind, flag):
    if kind == "p" and flag:
        return "probabilities_as_logits"
    if kind == "z" and not flag:
        return "logits_as_probabilities"
    return "ok"


def diagnose_missed_softmax_layer(model):
    return _answer(_kind(model, softmax_layer=False), model.loss.from_logits)


def diagnose_missed_sigmoid(model):
    return _answer(_kind(model, sigmoid=False), model.loss.from_logits)


def diagnose_swapped(model):
    kind, flag = _kind(model), model.loss.from_logits
    if kind == "p" and flag:
        return "logits_as_probabilities"
    if kind == "z" and not flag:
        return "probabilities_as_logits"
    return "ok"


def diagnose_misses_silent_bug(model):
    return "probabilities_as_logits" if _kind(model) == "p" and model.loss.from_logits else "ok"


NAMED = {
    ("4.1", "always_true"): lambda: dict.fromkeys(Q1_NAMES, True),
    ("4.1", "kept_the_default"): lambda: dict.fromkeys(Q1_NAMES, False),
    ("4.1", "swapped"): lambda: {k: not v for k, v in q1_right().items()},
    ("4.1", "softmax_layer_missed"): lambda: q1_with(c=True),
    ("4.1", "log_probabilities_are_not_logits"): lambda: q1_with(e=False),
    ("4.2", "never_repaired"): q2_never_repaired,
    ("4.2", "repaired_everywhere"): q2_repaired_everywhere,
    ("4.2", "no_clipping"): q2_no_clipping,
    ("4.2", "double_softmax_in_float32"): q2_double_softmax_in_float32,
    ("4.3", "naive_log_sigmoid"): bce_naive,
    ("4.3", "sign_error"): bce_sign_error,
    ("4.3", "per_element"): bce_per_element,
    ("4.3", "missing_abs"): bce_missing_abs,
    ("4.4", "off_by_one"): oh_off_by_one,
    ("4.4", "inferred_num_classes"): oh_inferred,
    ("4.4", "transposed"): oh_transposed,
    ("4.5", "missed_softmax_layer"): diagnose_missed_softmax_layer,
    ("4.5", "missed_sigmoid"): diagnose_missed_sigmoid,
    ("4.5", "swapped_names"): diagnose_swapped,
    ("4.5", "misses_silent_bug"): diagnose_misses_silent_bug,
}


# -- more right answers: loops, the chapter's and the hints' formulas, float32 where allowed -----

def q1_numpy_bools():
    return {name: np.bool_(value) for name, value in q1_right().items()}


def q1_integers():
    return {name: int(value) for name, value in q1_right().items()}


def q1_tensors():
    return {name: tf.constant(value) for name, value in q1_right().items()}


def q1_reasoned():
    outputs_logits = {"a": True, "b": False, "c": False, "d": False, "e": True, "f": True}
    return {f"from_logits_{key}": logits for key, logits in outputs_logits.items()}


def q1_from_strings():
    answers = "a: yes, b: no, c: no, d: no, e: yes, f: yes"
    return {f"from_logits_{item.split(':')[0].strip()}": item.split(":")[1].strip() == "yes"
            for item in answers.split(",")}


def bce_chapter(y_true, logits):
    x, t = _np(logits), _np(y_true)
    return np.mean(np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x))), axis=-1)


def bce_chapter_float32(y_true, logits):
    return bce_chapter(np.asarray(y_true, dtype=np.float32), np.asarray(logits, dtype=np.float32))


def bce_keras(y_true, logits):
    loss = keras.losses.binary_crossentropy(np.asarray(y_true, dtype=np.float64),
                                            np.asarray(logits, dtype=np.float64), from_logits=True)
    return keras.ops.convert_to_numpy(loss)


def bce_loop(y_true, logits):
    t, x = np.atleast_2d(y_true), np.atleast_2d(np.asarray(logits, dtype=float))
    out = [sum(max(v, 0) - v * w + math.log1p(math.exp(-abs(v))) for w, v in zip(tr, xr)) / len(xr)
           for tr, xr in zip(t, x)]
    return np.array(out).reshape(np.shape(y_true)[:-1])


def oh_eye(labels, num_classes):
    return np.eye(num_classes)[labels]


def oh_tf(labels, num_classes):
    return tf.one_hot(labels, num_classes).numpy()


def oh_loop(labels, num_classes):
    labels = _np(labels)
    out = np.zeros(labels.shape + (num_classes,), dtype=np.float32)
    for index, label in np.ndenumerate(labels):
        out[index + (label,)] = 1
    return out


def diagnose_hint(model):
    layer = model.layers[-1]
    activation = getattr(getattr(layer, "activation", None), "__name__", "linear")
    probabilities = isinstance(layer, keras.layers.Softmax) or activation in ("softmax", "sigmoid")
    from_logits = model.loss.get_config()["from_logits"]
    if probabilities and from_logits:
        return "probabilities_as_logits"
    if not probabilities and not from_logits:
        return "logits_as_probabilities"
    return "ok"


def diagnose_model_config(model):
    last = model.get_config()["layers"][-1]
    probabilities = last["class_name"] == "Softmax" or last["config"].get("activation") in ("softmax", "sigmoid")
    return _answer("p" if probabilities else "z", model.loss.from_logits)


def diagnose_shouting(model):
    return {"ok": " OK", "probabilities_as_logits": "Probabilities_As_Logits ",
            "logits_as_probabilities": "LOGITS_AS_PROBABILITIES"}[diagnose_hint(model)]


def diagnose_by_name(model):
    layer = model.layers[-1]
    name = type(layer).__name__ if type(layer).__name__ == "Softmax" else keras.activations.serialize(layer.activation)
    kind = "p" if name in ("Softmax", "softmax", "sigmoid") else "z"
    return _answer(kind, bool(model.loss.get_config()["from_logits"]))


RIGHT = {
    "4.1": [q1_right, q1_numpy_bools, q1_integers, q1_tensors, q1_reasoned, q1_from_strings],
    "4.2": [q2_keras, q2_numpy, q2_tensorflow, q2_scipy, q2_keras_categorical, q2_math_loop],
    "4.3": [bce_tf, bce_logaddexp, bce_chapter, bce_chapter_float32, bce_keras, bce_loop],
    "4.4": [oh_keras, oh_compare, oh_eye, oh_tf, oh_loop],
    "4.5": [diagnose_by_config, diagnose_hint, diagnose_model_config, diagnose_shouting, diagnose_by_name],
}


# -- wrong answers that no message names -------------------------------------------------------

def q1_strings():
    return {name: str(value) for name, value in q1_right().items()}


def q1_sigmoid_is_logits():
    return q1_with(d=True)


def q1_subclassed_is_probabilities():
    return q1_with(e=False)


def q1_everything_inverted_but_a():
    return {name: (not value) if not name.endswith("a") else value for name, value in q1_right().items()}


def q2_float16_flags_swapped():
    values = q2_numpy()
    values["loss_16_false"], values["loss_16_true"] = values["loss_16_true"], values["loss_16_false"]
    return values


def q2_clip_1e_3():
    values = q2_numpy()
    p16 = np.float16(sp_softmax(ex.Q2_LOGITS, axis=-1)).astype(float)
    values["loss_16_false"] = _ce(np.log(np.clip(p16, 1e-3, 1 - 1e-3)), ex.Q2_LABELS)
    return values


def q2_mean_over_batch():
    return {name: float(np.mean(value)) for name, value in q2_numpy().items()}


def q2_float16_true_repaired_only():
    values = q2_numpy()
    values["loss_16_true"] = values["loss_32_true"]
    return values


def bce_sum_not_mean(y_true, logits):
    return bce_chapter(y_true, logits) * np.shape(logits)[-1]


def bce_probabilities_as_logits(y_true, logits):
    p = np.clip(expit(_np(logits)), 1e-7, 1 - 1e-7)
    t = _np(y_true)
    return -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p), axis=-1)


def bce_softmax_instead(y_true, logits):
    return -np.mean(_np(y_true) * sp_log_softmax(logits, axis=-1), axis=-1)


def oh_labels_as_floats(labels, num_classes):
    return _np(labels).astype(float)


def oh_num_classes_minus_one(labels, num_classes):
    return np.eye(num_classes)[labels][..., :-1]


def oh_cumulative(labels, num_classes):
    return (np.arange(num_classes) <= _np(labels)[..., None]).astype(float)


def diagnose_always_ok(model):
    return "ok"


def diagnose_only_flag(model):
    return "probabilities_as_logits" if model.loss.get_config()["from_logits"] else "ok"


def diagnose_boolean(model):
    return diagnose_hint(model) == "ok"


UNNAMED = {
    "4.1": [q1_strings, q1_sigmoid_is_logits, q1_subclassed_is_probabilities, q1_everything_inverted_but_a],
    "4.2": [q2_float16_flags_swapped, q2_clip_1e_3, q2_mean_over_batch, q2_float16_true_repaired_only],
    "4.3": [bce_sum_not_mean, bce_probabilities_as_logits, bce_softmax_instead],
    "4.4": [oh_labels_as_floats, oh_num_classes_minus_one, oh_cumulative],
    "4.5": [diagnose_always_ok, diagnose_only_flag, diagnose_boolean],
}
