"""Chapter 3's battery: answers as learners write them (RIGHT, NAMED, UNNAMED; see
tests/test_exercises_battery.py, which runs them)."""

import math

import numpy as np
import tensorflow as tf
from scipy.special import log_softmax as sp_log_softmax
from scipy.special import logsumexp as sp_logsumexp
from scipy.special import softmax as sp_softmax

from logitlab.exercises import chapter3 as ex


def _np(x):
    return np.asarray(x)


def _rows(labels):
    labels = _np(labels)
    return np.arange(labels.shape[0]), labels


# -- correct answers, written independently -----------------------------------------------------

def lse_scipy(x, axis=-1):
    return sp_logsumexp(x, axis=axis)


def lse_tf(x, axis=-1):
    return tf.reduce_logsumexp(tf.constant(x), axis=axis).numpy()


def ce_scipy(y_true, logits):
    return -np.sum(_np(y_true) * sp_log_softmax(logits, axis=-1), axis=-1)


def ce_tf(y_true, logits):
    return tf.nn.softmax_cross_entropy_with_logits(labels=tf.constant(y_true), logits=tf.constant(logits)).numpy()


def sparse_scipy(labels, logits):
    rows, labels = _rows(labels)
    return -sp_log_softmax(logits, axis=-1)[rows, labels]


def grad_scipy(y_true, logits):
    return sp_softmax(logits, axis=-1) - _np(y_true)




# -- the named mistakes, planted as a learner would write them ----------------------------------

def lse_no_max(x, axis=-1):
    return np.log(np.exp(_np(x)).sum(axis=axis))


def lse_not_added_back(x, axis=-1):
    x = _np(x)
    return np.log(np.exp(x - x.max(axis=axis, keepdims=True)).sum(axis=axis))


def lse_hard_coded_axis(x, axis=-1):
    x = _np(x)
    m = x.max(axis=-1)
    return m + np.log(np.exp(x - m[..., None]).sum(axis=-1))


def lse_global_max(x, axis=-1):
    x = _np(x)
    return x.max() + np.log(np.exp(x - x.max()).sum(axis=axis))


def ce_log_of_softmax(y_true, logits):
    return -np.sum(_np(y_true) * np.log(sp_softmax(logits, axis=-1)), axis=-1)


def ce_unstable_softmax(y_true, logits):
    e = np.exp(_np(logits))
    return -np.sum(_np(y_true) * np.log(e / e.sum(axis=-1, keepdims=True)), axis=-1)


def ce_batch_mean(y_true, logits):
    return float(np.mean(ce_scipy(y_true, logits)))


def ce_no_log_softmax(y_true, logits):
    return -(_np(y_true) * _np(logits)).sum(axis=-1)


def ce_wrong_axis(y_true, logits):
    return -(_np(y_true) * sp_log_softmax(logits, axis=-1)).sum(axis=0)


def sparse_off_by_one(labels, logits):
    rows, labels = _rows(labels)
    return -sp_log_softmax(logits, axis=-1)[rows, labels - 1]


def sparse_labels_as_weights(labels, logits):
    return -(_np(labels).reshape(-1, 1) * sp_log_softmax(logits, axis=-1)).sum(axis=-1)


def sparse_log_of_softmax(labels, logits):
    rows, labels = _rows(labels)
    return -np.log(sp_softmax(logits, axis=-1)[rows, labels])


def sparse_picked_logit(labels, logits):
    rows, labels = _rows(labels)
    return -_np(logits)[rows, labels]


def grad_sign_flipped(y_true, logits):
    return _np(y_true) - sp_softmax(logits, axis=-1)


def grad_no_softmax(y_true, logits):
    return _np(logits) - _np(y_true)


def grad_unstable_softmax(y_true, logits):
    e = np.exp(_np(logits))
    return e / e.sum(axis=-1, keepdims=True) - _np(y_true)


def grad_of_mean(y_true, logits):
    logits = _np(logits)
    n = len(logits) if logits.ndim == 2 else 1
    return (sp_softmax(logits, axis=-1) - _np(y_true)) / n


def q5_answers(losses, mean=None):
    losses = tf.convert_to_tensor(losses)
    return {"batch_losses": losses, "batch_mean_loss": tf.reduce_mean(losses) if mean is None else mean}


def q5_swapped():
    return q5_answers(tf.nn.softmax_cross_entropy_with_logits(ex.Q5_LOGITS, ex.Q5_LABELS))


def q5_naive():
    probabilities = tf.nn.softmax(ex.Q5_LOGITS)
    return q5_answers(-tf.reduce_sum(ex.Q5_LABELS * tf.math.log(probabilities), axis=-1))


def q5_sum():
    losses = tf.nn.softmax_cross_entropy_with_logits(labels=ex.Q5_LABELS, logits=ex.Q5_LOGITS)
    return q5_answers(losses, tf.reduce_sum(losses))


def q5_extra_axis():
    log_p = tf.nn.log_softmax(ex.Q5_LOGITS)
    return q5_answers(-tf.reduce_sum(ex.Q5_LABELS * log_p, axis=-1, keepdims=True))


NAMED = {
    ("3.1", "no_max_subtraction"): lse_no_max,
    ("3.1", "max_not_added_back"): lse_not_added_back,
    ("3.1", "ignored_axis"): lse_hard_coded_axis,
    ("3.1", "global_max"): lse_global_max,
    ("3.2", "log_of_softmax"): ce_log_of_softmax,
    ("3.2", "unstable_softmax"): ce_unstable_softmax,
    ("3.2", "batch_mean"): ce_batch_mean,
    ("3.2", "no_log_softmax"): ce_no_log_softmax,
    ("3.2", "wrong_axis"): ce_wrong_axis,
    ("3.3", "off_by_one"): sparse_off_by_one,
    ("3.3", "labels_as_weights"): sparse_labels_as_weights,
    ("3.3", "log_of_softmax"): sparse_log_of_softmax,
    ("3.3", "picked_logit"): sparse_picked_logit,
    ("3.4", "sign_flipped"): grad_sign_flipped,
    ("3.4", "forgot_softmax"): grad_no_softmax,
    ("3.4", "unstable_softmax"): grad_unstable_softmax,
    ("3.4", "gradient_of_mean"): grad_of_mean,
    ("3.5", "swapped_arguments"): q5_swapped,
    ("3.5", "naive_formula"): q5_naive,
    ("3.5", "sum_not_mean"): q5_sum,
    ("3.5", "extra_axis"): q5_extra_axis,
}


# -- more right answers: loops, the chapter's and the hints' formulas, float32 where allowed -----

def lse_chapter(x, axis=-1):
    z = _np(x)
    m = np.max(z, axis=axis, keepdims=True)
    return np.squeeze(m + np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True)), axis=axis)


def lse_chapter_float32(x, axis=-1):
    return lse_chapter(np.asarray(x, dtype=np.float32), axis=axis)


def lse_loop(x, axis=-1):
    z = np.moveaxis(np.asarray(x, dtype=float), axis, -1)
    out = np.empty(z.shape[:-1])
    for index in np.ndindex(z.shape[:-1]):
        row = z[index]
        m = max(row)
        out[index] = m + math.log(sum(math.exp(v - m) for v in row))
    return out


def lse_logaddexp_reduce(x, axis=-1):
    return np.logaddexp.reduce(_np(x), axis=axis)


def ce_chapter_float32(y_true, logits):
    z = np.asarray(logits, dtype=np.float32)
    m = np.max(z, axis=-1, keepdims=True)
    log_p = z - (m + np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True)))
    return -np.sum(np.asarray(y_true, dtype=np.float32) * log_p, axis=-1)


def ce_keras(y_true, logits):
    import keras

    loss = keras.losses.categorical_crossentropy(y_true, logits, from_logits=True)
    return keras.ops.convert_to_numpy(loss)


def ce_logsumexp_minus_dot(y_true, logits):
    y, z = _np(y_true), _np(logits)
    return np.sum(y, axis=-1) * sp_logsumexp(z, axis=-1) - np.sum(y * z, axis=-1)


def ce_loop(y_true, logits):
    y, z = np.atleast_2d(y_true), np.atleast_2d(np.asarray(logits, dtype=float))
    out = [-sum(t * v for t, v in zip(ty, sp_log_softmax(tz))) for ty, tz in zip(y, z)]
    return np.array(out).reshape(np.shape(y_true)[:-1])


def sparse_tf(labels, logits):
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.constant(labels), logits=tf.constant(logits)).numpy()


def sparse_take_along(labels, logits):
    z = _np(logits)
    picked = np.take_along_axis(z, _np(labels)[:, None], axis=-1)[:, 0]
    return sp_logsumexp(z, axis=-1) - picked


def sparse_float32_pick(labels, logits):
    z = np.asarray(logits, dtype=np.float32)
    m = np.max(z, axis=-1)
    lse = m + np.log(np.sum(np.exp(z - m[:, None]), axis=-1))
    return lse - z[np.arange(len(z)), labels]


def sparse_one_hot_float32(labels, logits):
    """One-hot times log-probabilities: 0 * -inf is NaN where a class is masked."""
    z = np.asarray(logits, dtype=np.float32)
    one_hot = np.eye(z.shape[-1], dtype=np.float32)[labels]
    return ce_chapter_float32(one_hot, z)


def sparse_loop(labels, logits):
    return np.array([sp_logsumexp(row) - row[label] for label, row in zip(labels, np.asarray(logits, dtype=float))])


def sparse_keras(labels, logits):
    import keras

    loss = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    return keras.ops.convert_to_numpy(loss)


def grad_tf_tape(y_true, logits):
    z = tf.Variable(tf.constant(logits, dtype=tf.float64))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(labels=tf.constant(y_true, dtype=tf.float64), logits=z))
    return tape.gradient(loss, z).numpy()


def grad_chapter(y_true, logits):
    z = _np(logits)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True) - _np(y_true)


def grad_float32_logsumexp(y_true, logits):
    z = np.asarray(logits, dtype=np.float32)
    return np.exp(z - sp_logsumexp(z, axis=-1, keepdims=True)) - np.asarray(y_true, dtype=np.float32)


def grad_soft_labels_general(y_true, logits):
    y = _np(y_true)  # sum(y) * softmax - y: the general form, equal for labels that sum to 1
    return np.sum(y, axis=-1, keepdims=True) * sp_softmax(logits, axis=-1) - y


def q5_tf_losses():
    return q5_answers(tf.nn.softmax_cross_entropy_with_logits(labels=ex.Q5_LABELS, logits=ex.Q5_LOGITS))


def q5_keras_losses():
    import keras

    loss = keras.losses.CategoricalCrossentropy(from_logits=True, reduction=None)
    return q5_answers(loss(ex.Q5_LABELS, ex.Q5_LOGITS))


def q5_log_softmax():
    log_p = tf.nn.log_softmax(ex.Q5_LOGITS)
    return q5_answers(-tf.reduce_sum(ex.Q5_LABELS * log_p, axis=-1))


def q5_sparse():
    labels = tf.argmax(ex.Q5_LABELS, axis=-1)
    return q5_answers(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=ex.Q5_LOGITS))


def q5_numpy():
    losses = sp_logsumexp(ex.Q5_LOGITS.astype(float), axis=-1) - np.sum(ex.Q5_LABELS * ex.Q5_LOGITS, axis=-1)
    return {"batch_losses": losses, "batch_mean_loss": float(np.mean(losses))}


RIGHT = {
    "3.1": [lse_scipy, lse_tf, lse_chapter, lse_chapter_float32, lse_loop, lse_logaddexp_reduce],
    "3.2": [ce_scipy, ce_tf, ce_chapter_float32, ce_keras, ce_logsumexp_minus_dot, ce_loop],
    "3.3": [sparse_scipy, sparse_tf, sparse_take_along, sparse_float32_pick, sparse_loop, sparse_keras],
    "3.4": [grad_scipy, grad_tf_tape, grad_chapter, grad_float32_logsumexp, grad_soft_labels_general],
    "3.5": [q5_tf_losses, q5_keras_losses, q5_log_softmax, q5_sparse, q5_numpy],
}


# -- wrong answers that no message names -------------------------------------------------------

def lse_max_only(x, axis=-1):
    return np.max(_np(x), axis=axis)


def lse_mean(x, axis=-1):
    z = _np(x)
    m = np.max(z, axis=axis, keepdims=True)
    return np.squeeze(m + np.log(np.mean(np.exp(z - m), axis=axis, keepdims=True)), axis=axis)


def lse_log10(x, axis=-1):
    z = _np(x)
    m = np.max(z, axis=axis, keepdims=True)
    return np.squeeze(m + np.log10(np.sum(np.exp(z - m), axis=axis, keepdims=True)), axis=axis)


def ce_positive_log(y_true, logits):
    return np.sum(_np(y_true) * sp_log_softmax(logits, axis=-1), axis=-1)


def ce_logits_not_log_softmax(y_true, logits):
    return -np.sum(_np(y_true) * _np(logits), axis=-1)


def ce_mean_over_classes(y_true, logits):
    return -np.mean(_np(y_true) * sp_log_softmax(logits, axis=-1), axis=-1)


def sparse_argmax_of_logits(labels, logits):
    z = _np(logits)
    return sp_logsumexp(z, axis=-1) - np.max(z, axis=-1)


def sparse_label_column(labels, logits):
    return -sp_log_softmax(logits, axis=-1)[:, 0]


def sparse_sum_over_classes(labels, logits):
    return -np.sum(sp_log_softmax(logits, axis=-1), axis=-1)


def grad_probabilities_only(y_true, logits):
    return sp_softmax(logits, axis=-1)


def grad_log_softmax(y_true, logits):
    return sp_log_softmax(logits, axis=-1) - _np(y_true)


def grad_halved(y_true, logits):
    return 0.5 * (sp_softmax(logits, axis=-1) - _np(y_true))


def q5_mean_over_everything():
    losses = tf.nn.softmax_cross_entropy_with_logits(labels=ex.Q5_LABELS, logits=ex.Q5_LOGITS)
    return q5_answers(losses / 5.0)


def q5_binary():
    loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=ex.Q5_LABELS, logits=ex.Q5_LOGITS)
    return q5_answers(tf.reduce_sum(loss, axis=-1))


def q5_first_class_only():
    return q5_answers(-tf.nn.log_softmax(ex.Q5_LOGITS)[:, 0])


UNNAMED = {
    "3.1": [lse_max_only, lse_mean, lse_log10],
    "3.2": [ce_positive_log, ce_logits_not_log_softmax, ce_mean_over_classes],
    "3.3": [sparse_one_hot_float32, sparse_argmax_of_logits, sparse_label_column, sparse_sum_over_classes],
    "3.4": [grad_probabilities_only, grad_log_softmax, grad_halved],
    "3.5": [q5_mean_over_everything, q5_binary, q5_first_class_only],
}
