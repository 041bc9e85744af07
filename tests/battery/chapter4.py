"""Chapter 4's battery: answers as learners write them (RIGHT, NAMED, UNNAMED; see
tests/test_exercises_battery.py, which runs them)."""

import math

import keras
import numpy as np
import tensorflow as tf
from scipy.special import expit
from scipy.special import log_softmax as sp_log_softmax

from logitlab.exercises import chapter4 as ex

Q1_NAMES = [f"from_logits_{k}" for k in "abcdef"]


def _np(x):
    return np.asarray(x)


# -- right answers, written independently ------------------------------------------------------

def q1_right():
    return {"from_logits_a": True, "from_logits_b": False, "from_logits_c": False,
            "from_logits_d": False, "from_logits_e": True, "from_logits_f": True}


def pp_keras(y_true, y_pred):
    """Keras itself, on probabilities that carry no logits, in float64."""
    loss = keras.losses.CategoricalCrossentropy(reduction=None, dtype="float64")
    y_true, y_pred = _np(y_true).astype(np.float64), _np(y_pred).astype(np.float64)
    if y_pred.ndim == 1:
        return loss(y_true[None], y_pred[None]).numpy()[0]
    return loss(y_true, y_pred).numpy()


def pp_numpy(y_true, y_pred):
    p = _np(y_pred) / _np(y_pred).sum(axis=-1, keepdims=True)
    return -(_np(y_true) * np.log(np.clip(p, 1e-7, 1 - 1e-7))).sum(axis=-1)


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




# -- the named mistakes, planted as a learner would write them ----------------------------------

def q1_with(**changes):
    values = q1_right()
    values.update({f"from_logits_{k}": v for k, v in changes.items()})
    return values


def pp_no_clipping(y_true, y_pred):
    p = _np(y_pred)
    return -(_np(y_true) * np.log(p / p.sum(axis=-1, keepdims=True))).sum(axis=-1)


def pp_no_renormalisation(y_true, y_pred):
    return -(_np(y_true) * np.log(np.clip(_np(y_pred), 1e-7, 1 - 1e-7))).sum(axis=-1)


def pp_double_softmax(y_true, y_pred):
    return -(_np(y_true) * sp_log_softmax(_np(y_pred), axis=-1)).sum(axis=-1)


def pp_batch_mean(y_true, y_pred):
    return float(np.mean(pp_numpy(y_true, y_pred)))


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
    ("4.2", "no_clipping"): pp_no_clipping,
    ("4.2", "no_renormalisation"): pp_no_renormalisation,
    ("4.2", "double_softmax"): pp_double_softmax,
    ("4.2", "batch_mean"): pp_batch_mean,
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


def pp_float32(y_true, y_pred):
    y, p = np.asarray(y_true, dtype=np.float32), np.asarray(y_pred, dtype=np.float32)
    p = p / p.sum(axis=-1, keepdims=True)
    return -(y * np.log(np.clip(p, np.float32(1e-7), np.float32(1 - 1e-7)))).sum(axis=-1)


def pp_loop(y_true, y_pred):
    y, p = np.atleast_2d(y_true), np.atleast_2d(np.asarray(y_pred, dtype=float))
    out = []
    for ty, tp in zip(y, p):
        total = sum(tp)
        out.append(-sum(t * math.log(min(max(v / total, 1e-7), 1 - 1e-7)) for t, v in zip(ty, tp)))
    return np.array(out).reshape(np.shape(y_true)[:-1])


def pp_keras_function(y_true, y_pred):
    y, p = np.atleast_2d(y_true).astype(np.float64), np.atleast_2d(y_pred).astype(np.float64)
    loss = keras.ops.convert_to_numpy(keras.losses.categorical_crossentropy(y, p))
    return loss.reshape(np.shape(y_true)[:-1])


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
    "4.2": [pp_keras, pp_numpy, pp_float32, pp_loop, pp_keras_function],
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


def pp_epsilon_added(y_true, y_pred):
    p = _np(y_pred) / _np(y_pred).sum(axis=-1, keepdims=True)
    return -(_np(y_true) * np.log(p + 1e-7)).sum(axis=-1)


def pp_log10(y_true, y_pred):
    p = _np(y_pred) / _np(y_pred).sum(axis=-1, keepdims=True)
    return -(_np(y_true) * np.log10(np.clip(p, 1e-7, 1 - 1e-7))).sum(axis=-1)


def pp_clip_1e_3(y_true, y_pred):
    p = _np(y_pred) / _np(y_pred).sum(axis=-1, keepdims=True)
    return -(_np(y_true) * np.log(np.clip(p, 1e-3, 1 - 1e-3))).sum(axis=-1)


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
    "4.2": [pp_epsilon_added, pp_log10, pp_clip_1e_3],
    "4.3": [bce_sum_not_mean, bce_probabilities_as_logits, bce_softmax_instead],
    "4.4": [oh_labels_as_floats, oh_num_classes_minus_one, oh_cumulative],
    "4.5": [diagnose_always_ok, diagnose_only_flag, diagnose_boolean],
}
