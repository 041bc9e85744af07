"""The checks of chapter 4's exercises: right answers pass, empty ones are "not yet attempted",
every named mistake is recognised, other wrong answers get useful feedback, nothing raises.

The wrong answers below are written independently of the question module (SciPy, TensorFlow,
Keras or plain NumPy), as a learner would write them, so the tests do not merely compare the
module's mistake functions with themselves.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.special import expit
from scipy.special import log_softmax as sp_log_softmax

from logitlab.checking import CORRECT, INCORRECT, UNATTEMPTED
from logitlab.exercises import chapter4 as ex

QUESTIONS = {q.id: q for q in ex.QUESTIONS}
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


CORRECT_ANSWERS = {
    "4.2": [pp_keras, pp_numpy],
    "4.3": [bce_tf, bce_logaddexp],
    "4.4": [oh_keras, oh_compare],
    "4.5": [diagnose_by_config],
}


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


PLANTED = {
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


def test_every_mistake_is_planted_here():
    named = {(q.id, m.name) for q in ex.QUESTIONS for m in q.mistakes}
    assert named == set(PLANTED)


# -- (a) right answers pass --------------------------------------------------------------------

def test_q1_right_answers_pass():
    assert ex.q1.evaluate(q1_right()).status == CORRECT
    as_numbers = {k: int(v) for k, v in q1_right().items()}
    assert ex.q1.evaluate(as_numbers).status == CORRECT
    namespace = {}
    exec(ex.q1.solution_code, namespace)
    assert ex.q1.evaluate(namespace).status == CORRECT


@pytest.mark.parametrize("qid, answer", [(k, f) for k, fs in CORRECT_ANSWERS.items() for f in fs],
                         ids=lambda v: getattr(v, "__name__", str(v)))
def test_an_independent_right_answer_passes(qid, answer):
    q = QUESTIONS[qid]
    result = q.evaluate({q.name: answer})
    assert result.status == CORRECT, result.feedback


def test_the_cases_reach_the_extremes():
    """The probability path caps a zero at -log(1e-7); the binary loss stays finite at +-1000."""
    expected = ex.q2.reference(np.float32([[0, 0, 1]]), np.float32([[0.5, 0.5, 0]]))
    np.testing.assert_allclose(expected, [-np.log(1e-7)], rtol=1e-5)
    np.testing.assert_allclose(ex.q3.reference(np.float32([[0], [1]]), np.float32([[1000], [-1000]])), [1000, 1000])
    diagnoses = [case.call(ex.q5.reference) for case in ex.q5.cases]
    assert set(diagnoses) == set(ex.DIAGNOSES)


def test_q5_accepts_case_and_space_variants():
    result = ex.q5.evaluate({"diagnose": lambda model: f"  {ex.q5.reference(model).upper()} "})
    assert result.status == CORRECT


# -- (b) unattempted answers -------------------------------------------------------------------

@pytest.mark.parametrize("given", [{}, {"from_logits_a": True}, dict(q1_right(), from_logits_f=None)])
def test_unattempted_values_are_reported_as_such(given):
    result = ex.q1.evaluate(given)
    assert result.status == UNATTEMPTED
    assert "from_logits_" in result.feedback


# -- (c) every named mistake is recognised -----------------------------------------------------

@pytest.mark.parametrize("key", sorted(PLANTED), ids=lambda k: f"{k[0]}-{k[1]}")
def test_each_named_mistake_is_recognised(key):
    qid, name = key
    q = QUESTIONS[qid]
    answers = PLANTED[key]() if qid == "4.1" else {q.name: PLANTED[key]}
    with np.errstate(all="ignore"):
        result = q.evaluate(answers)
    assert result.status == INCORRECT
    assert result.mistake == name, (result.mistake, result.feedback)
    message = next(m.message for m in q.mistakes if m.name == name)
    assert result.feedback == message


def test_the_unstable_answers_really_break_on_the_extreme_cases():
    """The mistakes are recognised because they give inf or NaN where the right answer is finite."""
    with np.errstate(all="ignore"):
        assert np.isinf(pp_no_clipping(np.float32([[0, 0, 1]]), np.float32([[0.5, 0.5, 0]]))).all()
        assert not np.isfinite(bce_naive(np.float32([[0]]), np.float32([[1000]]))).any()
        assert np.isinf(bce_missing_abs(np.float32([[0]]), np.float32([[-1000]]))).all()


# -- (d) other wrong answers get useful feedback -----------------------------------------------

GENERIC_WRONG = {
    "4.2": lambda y_true, y_pred: pp_numpy(y_true, y_pred) + 0.1,
    "4.3": lambda y_true, logits: bce_tf(y_true, logits) * 2,
    "4.4": lambda labels, num_classes: np.ones(np.shape(labels) + (num_classes,)),
    "4.5": lambda model: "ok",
}


@pytest.mark.parametrize("qid", sorted(GENERIC_WRONG))
def test_a_generic_wrong_answer_says_where_it_fails(qid):
    q = QUESTIONS[qid]
    result = q.evaluate({q.name: GENERIC_WRONG[qid]})
    assert result.status == INCORRECT
    assert result.mistake is None
    assert "wrong result" in result.feedback and "expected" in result.feedback


def test_q1_a_generic_wrong_value_says_which_one():
    result = ex.q1.evaluate(q1_with(a=False, b=True))
    assert result.status == INCORRECT
    assert result.mistake is None
    assert "`from_logits_a` is not right" in result.feedback


# -- (e) evaluate never raises -----------------------------------------------------------------

@pytest.mark.parametrize(
    "given",
    [
        dict.fromkeys(Q1_NAMES, "True"),
        dict.fromkeys(Q1_NAMES, np.zeros(3)),
        dict(q1_right(), from_logits_a=object()),
        dict(q1_right(), from_logits_b=[1, [2, 3]]),
    ],
)
def test_garbage_values_never_raise(given):
    result = ex.q1.evaluate(given)
    assert result.status == INCORRECT
    assert result.feedback
