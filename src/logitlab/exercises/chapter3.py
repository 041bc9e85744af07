"""Exercises of chapter 3: numerically stable cross-entropy.

Questions 1 to 4 ask for a function (log-sum-exp, cross-entropy from logits, its sparse variant,
its gradient); question 5 asks for two values computed with TensorFlow 2. Every check runs the
learner's answer on ordinary and extreme inputs (float32 logits of 1000 and 1e4, a confident wrong
prediction, ties, ``-inf`` masks, batches, ``axis=0``) and names the common mistakes it recognises.
"""

from __future__ import annotations


import numpy as np

from ..tolerance import magnitude
from ..checking import Case, FunctionQuestion, Mistake, ValueQuestion, frozen, questions_in
from ..numerics import (
    categorical_crossentropy,
    log_softmax,
    logsumexp,
    softmax,
    sparse_categorical_crossentropy,
)
from .mistakes import exp_normalise

__all__ = ["q1", "q2", "q3", "q4", "q5", "QUESTIONS", "Q5_LOGITS", "Q5_LABELS"]


_F32 = np.float32
_REFERENCE_LOGITS = np.array([[0.5, 1.5, 0.1], [2.2, 1.3, 1.7]])
_REFERENCE_ONEHOT = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
_REFERENCE_LABELS = np.array([1, 2])


# -- Question 1: log-sum-exp --------------------------------------------------------------------

def _lse_reference(x, axis=-1):
    return logsumexp(x, axis=axis)


def _lse_no_max(x, axis=-1):
    return np.log(np.sum(np.exp(np.asarray(x)), axis=axis))


def _lse_not_added_back(x, axis=-1):
    x = np.asarray(x)
    m = np.max(x, axis=axis, keepdims=True)
    return np.log(np.sum(np.exp(x - m), axis=axis))


def _lse_last_axis_only(x, axis=-1):
    return logsumexp(x, axis=-1)


def _lse_global_max(x, axis=-1):
    x = np.asarray(x)
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m), axis=axis))


q1 = FunctionQuestion(
    id="3.1",
    title="log-sum-exp without overflow",
    name="logsumexp",
    reference=_lse_reference,
    cases=[
        Case((np.array([1.0, 2.0, 3.0]),)),
        Case((np.array([1000.0, 1000.0], dtype=_F32),), label="([1000, 1000] in float32)"),
        Case((np.array([-1000.0, -1000.0, -1000.0], dtype=_F32),), label="([-1000, -1000, -1000] in float32)"),
        Case((np.array([1e4, 0.0, -1e4], dtype=_F32),), label="([1e4, 0, -1e4] in float32)"),
        Case((np.array([0.0, -np.inf, 0.0]),), label="([0, -inf, 0]: a masked class)"),
        Case((np.array([[0.5, 1.5, 0.1], [1000.0, 999.0, 998.0]], dtype=_F32),),
             label="(a batch of 2 rows, one with logits near 1000, float32)"),
        Case((np.array([[0.5, 1.5, 0.1], [-800.0, -800.0, -800.0]], dtype=_F32),),
             label="(a batch whose second row is [-800, -800, -800], float32)"),
        Case((np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),), {"axis": 0}),
        Case((np.array([[1000.0, 0.0, 5.0], [1000.0, 3.0, 5.0]], dtype=_F32),), {"axis": 0},
             label="([[1000, 0, 5], [1000, 3, 5]] in float32, axis=0)"),
    ],
    mistakes=[
        Mistake(
            "no_max_subtraction",
            _lse_no_max,
            "you computed log(sum(exp(x))) directly. exp(1000) is inf (and exp(-1000) is 0), so "
            "large logits give inf and very negative ones give -inf. Subtract m = max(x) along the "
            "axis first, and add it back: m + log(sum(exp(x - m))).",
        ),
        Mistake(
            "max_not_added_back",
            _lse_not_added_back,
            "you subtracted the maximum m but never added it back. log(sum(exp(x - m))) is "
            "logsumexp(x) - m, so add m to the result (with the reduced axis removed).",
        ),
        Mistake(
            "ignored_axis",
            _lse_last_axis_only,
            "your function always reduces the last axis: with axis=0 it must reduce the first "
            "one. Pass the `axis` argument on to np.max and np.sum.",
        ),
        Mistake(
            "global_max",
            _lse_global_max,
            "you subtracted the maximum of the whole array instead of each slice's own maximum "
            "(np.max(x) without axis). A row far below the overall maximum then underflows to "
            "exp(...) = 0 and its log-sum-exp becomes -inf. Use "
            "np.max(x, axis=axis, keepdims=True).",
        ),
    ],
    hints=[
        "Write m for the maximum along the axis. Then sum(exp(x)) = exp(m) * sum(exp(x - m)).",
        "Take the log of that identity: logsumexp(x) = m + log(sum(exp(x - m))). Every exponent "
        "is now at most 0, so nothing overflows, and at least one term is exp(0) = 1, so the sum "
        "never underflows to 0.",
        "Keep the reduced axis for the subtraction (np.max(x, axis=axis, keepdims=True)) and "
        "remove it from the result (np.squeeze(m, axis=axis), or take m without keepdims).",
    ],
)


# -- Question 2: cross-entropy from logits -------------------------------------------------------

def _ce_reference(y_true, logits):
    return categorical_crossentropy(y_true, logits, from_logits=True)


def _ce_log_of_softmax(y_true, logits):
    return -np.sum(np.asarray(y_true) * np.log(softmax(logits)), axis=-1)


def _ce_naive_softmax(y_true, logits):
    return -np.sum(np.asarray(y_true) * np.log(exp_normalise(logits)), axis=-1)


def _ce_batch_mean(y_true, logits):
    return np.mean(_ce_reference(y_true, logits))


def _ce_no_log_softmax(y_true, logits):
    return -np.sum(np.asarray(y_true) * np.asarray(logits), axis=-1)


def _ce_wrong_axis(y_true, logits):
    return -np.sum(np.asarray(y_true) * log_softmax(logits, axis=-1), axis=0)


q2 = FunctionQuestion(
    id="3.2",
    title="cross-entropy from logits, one loss per example",
    name="cross_entropy_from_logits",
    reference=_ce_reference,
    cases=[
        Case((_REFERENCE_ONEHOT, _REFERENCE_LOGITS), label="(the chapter's reference example)"),
        Case((np.array([[1.0, 0.0]], dtype=_F32), np.array([[0.0, 200.0]], dtype=_F32)),
             label="(a confident wrong prediction: true class logit 0, other 200, float32)"),
        Case((np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]], dtype=_F32),
              np.array([[1000.0, 0.0, -1000.0], [1e4, 1e4, 0.0]], dtype=_F32)),
             label="(logits of 1000 and 1e4 in float32)"),
        Case((np.array([[0.25, 0.25, 0.5], [0.0, 1.0, 0.0], [0.5, 0.0, 0.5]]),
              np.array([[3.0, 3.0, 3.0], [-2.0, 0.0, 2.0], [0.0, 50.0, 0.0]])),
             label="(soft labels, a tie and a batch of 3)"),
        Case((np.array([0.0, 0.0, 0.0, 1.0]), np.array([2.0, -5.0, 0.5, -0.1])),
             label="(a single example as a 1-D array)"),
    ],
    mistakes=[
        Mistake(
            "log_of_softmax",
            _ce_log_of_softmax,
            "you took the log of the softmax. When a class is far behind, its probability "
            "underflows to exactly 0 and log(0) = -inf: the loss becomes inf, or NaN where a zero "
            "label meets -inf (0 * -inf). The stable answer for logits [0, 200] with true class 0 "
            "is 200. Use the log-softmax z - logsumexp(z) instead of log(softmax(z)).",
        ),
        Mistake(
            "unstable_softmax",
            _ce_naive_softmax,
            "you took the log of a softmax computed without subtracting the maximum: exp(1000) "
            "overflows to inf and inf / inf is NaN. Compute the log-softmax directly, "
            "z - logsumexp(z), with the maximum subtracted inside the log-sum-exp.",
        ),
        Mistake(
            "batch_mean",
            _ce_batch_mean,
            "you returned the mean over the batch; the function must return one loss per example "
            "(shape: the batch shape). Leave averaging to the caller, as tf.nn does.",
        ),
        Mistake(
            "no_log_softmax",
            _ce_no_log_softmax,
            "you used the logits as if they were log-probabilities (-sum(y * z)). Logits are "
            "log-probabilities only up to a constant: subtract logsumexp(z) first, i.e. use "
            "-sum(y * (z - logsumexp(z))).",
        ),
        Mistake(
            "wrong_axis",
            _ce_wrong_axis,
            "you summed over the batch axis (axis=0). The classes are on the last axis: sum "
            "y * log_softmax(z) over axis=-1 to get one loss per example.",
        ),
    ],
    hints=[
        "Cross-entropy with labels y is -sum(y * log p), and log p is the log-softmax of the "
        "logits.",
        "Do not compute log(softmax(z)): compute log_softmax(z) = z - logsumexp(z) along the last "
        "axis (keep the axis so it broadcasts), which is never -inf for finite logits.",
        "Sum over the class axis (axis=-1), not over the batch, and do not average.",
    ],
)


# -- Question 3: the sparse variant --------------------------------------------------------------

def _sparse_reference(labels, logits):
    return sparse_categorical_crossentropy(labels, logits, from_logits=True)


def _pick(values, labels):
    return np.take_along_axis(values, np.asarray(labels)[..., None], axis=-1)[..., 0]


def _sparse_off_by_one(labels, logits):
    return -_pick(log_softmax(logits), np.asarray(labels) - 1)


def _sparse_labels_as_weights(labels, logits):
    return -np.sum(np.asarray(labels, dtype=float)[..., None] * log_softmax(logits), axis=-1)


def _sparse_log_of_softmax(labels, logits):
    return -np.log(_pick(softmax(logits), labels))


def _sparse_picked_logit(labels, logits):
    return -_pick(np.asarray(logits), labels)


q3 = FunctionQuestion(
    id="3.3",
    title="sparse cross-entropy from integer labels",
    name="sparse_cross_entropy",
    reference=_sparse_reference,
    cases=[
        Case((_REFERENCE_LABELS, _REFERENCE_LOGITS), label="([1, 2], the chapter's reference logits)"),
        Case((np.array([0, 3, 1]),
              np.array([[2.0, -5.0, 0.5, -0.1], [0.0, 0.0, 1.9, 1.4], [-100.0, 100.0, -100.0, -100.0]], dtype=_F32)),
             label="([0, 3, 1], TensorFlow's documented example in float32)"),
        Case((np.array([0]), np.array([[0.0, 200.0]], dtype=_F32)),
             label="([0], logits [[0, 200]] in float32: a confident wrong prediction)"),
        Case((np.array([2, 0, 2]),
              np.array([[1e4, 0.0, -1e4], [1000.0, 1000.0, 1000.0], [5.0, -np.inf, 5.0]], dtype=_F32)),
             label="([2, 0, 2], logits with 1e4, a tie at 1000 and a -inf mask, float32)"),
    ],
    mistakes=[
        Mistake(
            "off_by_one",
            _sparse_off_by_one,
            "you picked the log-probability of class label - 1. Labels are 0-based class indices: "
            "label 0 is the first column. (If your data's labels start at 1, convert them once, "
            "outside the loss.)",
        ),
        Mistake(
            "labels_as_weights",
            _sparse_labels_as_weights,
            "you used the one-hot formula -sum(y * log_softmax(z)) with the integer labels as y, "
            "which multiplies every log-probability by the label number. An integer label is an "
            "index: pick log_softmax(z)[label] (np.take_along_axis), or one-hot encode first.",
        ),
        Mistake(
            "log_of_softmax",
            _sparse_log_of_softmax,
            "you took the log of the softmax probability of the true class. When that probability "
            "underflows to 0 the loss is inf (the stable answer for logits [0, 200], label 0, is "
            "200). Pick from the log-softmax z - logsumexp(z) instead.",
        ),
        Mistake(
            "picked_logit",
            _sparse_picked_logit,
            "you returned minus the true class's logit, forgetting the log-sum-exp: the loss is "
            "logsumexp(z) - z[label].",
        ),
    ],
    hints=[
        "With one-hot labels the sum -sum(y * log p) has a single non-zero term: -log p[label].",
        "So the loss is logsumexp(z) - z[label], computed per row with the maximum subtracted.",
        "np.take_along_axis(log_p, labels[:, None], axis=-1)[:, 0] picks one entry per row.",
    ],
)


# -- Question 4: the gradient --------------------------------------------------------------------

def _grad_reference(y_true, logits):
    return softmax(logits) - np.asarray(y_true, dtype=softmax(logits).dtype)


def _grad_sign_flipped(y_true, logits):
    return np.asarray(y_true) - softmax(logits)


def _grad_no_softmax(y_true, logits):
    return np.asarray(logits) - np.asarray(y_true)


def _grad_unstable_softmax(y_true, logits):
    return exp_normalise(logits) - np.asarray(y_true)


def _grad_of_mean(y_true, logits):
    g = _grad_reference(y_true, logits)
    return g / (g.shape[0] if g.ndim > 1 else 1)


q4 = FunctionQuestion(
    id="3.4",
    title="the gradient of cross-entropy with respect to the logits",
    name="ce_gradient",
    reference=_grad_reference,
    cases=[
        Case((_REFERENCE_ONEHOT, _REFERENCE_LOGITS), label="(the chapter's reference example)"),
        Case((np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]], dtype=_F32),
              np.array([[1000.0, 0.0, -1000.0], [1e4, 1e4, 0.0]], dtype=_F32)),
             label="(logits of 1000 and 1e4 in float32)"),
        Case((np.array([[0.2, 0.0, 0.8], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
              np.array([[0.0, -np.inf, 2.0], [3.0, 3.0, 3.0], [-1.0, 0.0, 1.0]])),
             label="(soft labels, a -inf mask and a tie, batch of 3)"),
        Case((np.array([1.0, 0.0]), np.array([0.0, 200.0], dtype=_F32)),
             label="(a single example as a 1-D array: [0, 200], true class 0, float32)"),
    ],
    mistakes=[
        Mistake(
            "sign_flipped",
            _grad_sign_flipped,
            "your gradient has the wrong sign: you returned y - softmax(z). The loss falls when "
            "the true class's logit rises, so that entry of the gradient must be negative: "
            "softmax(z) - y.",
        ),
        Mistake(
            "forgot_softmax",
            _grad_no_softmax,
            "you returned z - y, with the logits in place of the probabilities. The gradient is "
            "softmax(z) - y: apply a (stable) softmax to the logits first.",
        ),
        Mistake(
            "unstable_softmax",
            _grad_unstable_softmax,
            "your softmax overflows: exp(1000) is inf and inf / inf is NaN. Subtract the maximum "
            "logit of each row before exponentiating.",
        ),
        Mistake(
            "gradient_of_mean",
            _grad_of_mean,
            "you divided by the batch size: that is the gradient of the batch mean. The question "
            "asks for the gradient of each example's own loss, softmax(z) - y, row by row.",
        ),
    ],
    hints=[
        "Write the loss as logsumexp(z) - sum(y * z) (when the labels sum to 1). Differentiate "
        "each term with respect to z_j.",
        "The derivative of logsumexp(z) with respect to z_j is softmax(z)_j; that of sum(y * z) "
        "is y_j.",
        "Return softmax(logits) - y_true, with a softmax that subtracts the maximum first.",
    ],
)


# -- Question 5: the TensorFlow 2 call -----------------------------------------------------------

#: The logits of question 5: an ordinary row, a row at the scale of 1000, a confident wrong
#: prediction (the true class is 150 behind) and a tie.
Q5_LOGITS = frozen(
    [
        [2.0, 1.0, 0.1, -1.0, 0.5],
        [1000.0, 0.0, -1000.0, 3.0, 999.0],
        [0.0, 150.0, 0.0, 0.0, 0.0],
        [4.0, 4.0, 4.0, 4.0, 4.0],
    ],
    dtype=_F32,
)
#: The one-hot labels of question 5 (true classes 0, 4, 0, 2).
Q5_LABELS = frozen(np.eye(5, dtype=_F32)[[0, 4, 0, 2]])


def _q5_expected():
    losses = categorical_crossentropy(Q5_LABELS, Q5_LOGITS, from_logits=True)
    return {"batch_losses": losses, "batch_mean_loss": np.mean(losses)}


def _q5_swapped():
    losses = -np.sum(Q5_LOGITS * log_softmax(Q5_LABELS), axis=-1)
    return {"batch_losses": losses, "batch_mean_loss": np.mean(losses)}


def _q5_naive():
    losses = -np.sum(Q5_LABELS * np.log(softmax(Q5_LOGITS)), axis=-1)
    return {"batch_losses": losses, "batch_mean_loss": np.mean(losses)}


def _q5_sum():
    expected = _q5_expected()
    return {"batch_losses": expected["batch_losses"], "batch_mean_loss": np.sum(expected["batch_losses"])}


def _q5_extra_axis():
    expected = _q5_expected()
    return {"batch_losses": expected["batch_losses"][:, None]}


q5 = ValueQuestion(
    id="3.5",
    title="the loss of a batch with TensorFlow 2",
    names=["batch_losses", "batch_mean_loss"],
    expected=_q5_expected,
    scale=magnitude(Q5_LOGITS),  # the log-sum-exp of logits of 1000 carries float32 rounding of 1000
    mistakes=[
        Mistake(
            "swapped_arguments",
            _q5_swapped,
            "your losses are those of tf.nn.softmax_cross_entropy_with_logits(logits, labels) with "
            "positional arguments. In TensorFlow 2 the first parameter is `labels`, so the logits "
            "were read as labels and the labels as logits. Always pass labels=... and logits=... "
            "by keyword.",
        ),
        Mistake(
            "naive_formula",
            _q5_naive,
            "you computed -sum(y * log(softmax(z))): in the third row the true class is 150 "
            "behind, its float32 probability underflows to 0 and log(0) = -inf, so the loss is "
            "inf or NaN (0 * -inf) instead of 150. Use "
            "tf.nn.softmax_cross_entropy_with_logits(labels=..., logits=...), which works from "
            "the log-softmax.",
        ),
        Mistake(
            "sum_not_mean",
            _q5_sum,
            "`batch_losses` is right, but `batch_mean_loss` is their sum. Take the mean "
            "(tf.reduce_mean or np.mean).",
        ),
        Mistake(
            "extra_axis",
            _q5_extra_axis,
            "`batch_losses` has shape (4, 1): keep one loss per example, shape (4,), as "
            "tf.nn.softmax_cross_entropy_with_logits returns it (do not keep the class axis).",
        ),
    ],
    hints=[
        "tf.nn.softmax_cross_entropy_with_logits(labels=ex.Q5_LABELS, logits=ex.Q5_LOGITS) returns "
        "one loss per example.",
        "Pass both arguments by keyword: in TensorFlow 2 the first positional parameter is "
        "`labels`, not `logits`.",
        "batch_mean_loss is the mean of batch_losses: tf.reduce_mean(batch_losses).",
    ],
)

QUESTIONS = questions_in(globals())
