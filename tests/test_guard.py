"""logitlab.guard: check_from_logits and FromLogitsGuard catch both from_logits mistakes.

The matrix: three losses (categorical with one-hot labels, sparse categorical with integer labels,
binary with a one-unit output) x four combinations (probabilities or logits out x from_logits
True or False) x five model styles (Sequential, functional, and subclassed models with a
tf.nn softmax/sigmoid, a keras.activations one, or a final Dense with an activation in call()).
"""

import functools
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from logitlab.guard import (
    FromLogitsCheck,
    FromLogitsGuard,
    FromLogitsMismatchError,
    FromLogitsWarning,
    check_from_logits,
)

KINDS = ["categorical", "sparse_categorical", "binary"]
STYLES = ["sequential", "functional", "subclassed_tf", "subclassed_keras", "subclassed_dense"]
OUTPUTS = ["probabilities", "logits"]
FEATURES, CLASSES, SAMPLES, BATCH = 4, 3, 24, 8  # three small batches
RIGHT = [("probabilities", False), ("logits", True)]
WRONG = [("probabilities", True), ("logits", False)]
LOSS_CLASS = {
    "categorical": keras.losses.CategoricalCrossentropy,
    "sparse_categorical": keras.losses.SparseCategoricalCrossentropy,
    "binary": keras.losses.BinaryCrossentropy,
}


def units(kind):
    return 1 if kind == "binary" else CLASSES


def activation_name(kind):
    return "sigmoid" if kind == "binary" else "softmax"


class ActivationInCall(keras.Model):
    """A subclassed model whose call() applies a function to the last Dense layer's output."""

    def __init__(self, n, function=None, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(5, activation="relu")
        self.out = keras.layers.Dense(n)
        self.function = function

    def call(self, x):
        y = self.out(self.hidden(x))
        return y if self.function is None else self.function(y)


class DenseActivationInCall(keras.Model):
    """A subclassed model whose last Dense layer carries the activation."""

    def __init__(self, n, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(5, activation="relu")
        self.out = keras.layers.Dense(n, activation=activation)

    def call(self, x):
        return self.out(self.hidden(x))


def make_model(kind, style, output, build=True):
    """A tiny model ending in probabilities (softmax/sigmoid) or logits (no activation)."""
    n = units(kind)
    act = activation_name(kind) if output == "probabilities" else None
    if style == "sequential":
        return keras.Sequential(
            [keras.Input((FEATURES,)), keras.layers.Dense(5, activation="relu"), keras.layers.Dense(n, activation=act)]
        )
    if style == "functional":
        inputs = keras.Input((FEATURES,))
        hidden = keras.layers.Dense(5, activation="relu")(inputs)
        return keras.Model(inputs, keras.layers.Dense(n, activation=act)(hidden))
    if style == "subclassed_dense":
        model = DenseActivationInCall(n, act)
    else:
        functions = {
            "subclassed_tf": {"softmax": tf.nn.softmax, "sigmoid": tf.nn.sigmoid},
            "subclassed_keras": {"softmax": keras.activations.softmax, "sigmoid": keras.activations.sigmoid},
        }[style]
        model = ActivationInCall(n, functions[act] if act else None)
    if build:
        model(np.zeros((2, FEATURES), "float32"))
    return model


def make_loss(kind, from_logits):
    return LOSS_CLASS[kind](from_logits=from_logits)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((SAMPLES, FEATURES)).astype("float32")
    labels = rng.integers(0, CLASSES, SAMPLES)
    return {
        "x": x,
        "categorical": np.eye(CLASSES, dtype="float32")[labels],
        "sparse_categorical": labels.astype("int32"),
        "binary": (labels == 0).astype("float32").reshape(-1, 1),
    }


def fit(model, loss, data, kind, guard, epochs=1, **kwargs):
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
    return model.fit(
        data["x"], data[kind], batch_size=BATCH, epochs=epochs, verbose=0, shuffle=False, callbacks=[guard], **kwargs
    )


def guard_warnings(caught):
    return [w for w in caught if issubclass(w.category, FromLogitsWarning)]


# ------------------------------------------------------------------------------------------------
# check_from_logits: the whole matrix


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("output,from_logits", RIGHT + WRONG)
@pytest.mark.parametrize("kind", KINDS)
def test_check_from_logits_matrix(kind, output, from_logits, style):
    model = make_model(kind, style, output)
    result = check_from_logits(model, make_loss(kind, from_logits))
    assert isinstance(result, FromLogitsCheck)
    assert result.loss_kind == kind
    assert result.from_logits is from_logits
    assert result.output == output
    assert str(result) == result.message
    assert LOSS_CLASS[kind].__name__ in result.message
    right = (output, from_logits) in RIGHT
    assert result.ok is right
    if right:
        assert result.fix is None
        assert result.message.startswith("OK")
        return
    assert result.fix and result.fix.startswith("Fix:") and result.fix in result.message
    assert f"from_logits={from_logits}" in result.message
    act = activation_name(kind)
    if output == "probabilities":  # keep from_logits=True and drop the activation, or flip the flag
        assert f"remove the {act}" in result.fix and "from_logits=False" in result.fix
    else:  # Keras' silent mistake: say so, and say to set from_logits=True
        assert "no warning" in result.message
        assert "set from_logits=True" in result.fix
    n = units(kind)
    if style in ("sequential", "functional"):  # the last layer is named as written
        layer = f"Dense({n}, activation='{act}')" if output == "probabilities" else f"Dense({n})"
        assert layer in result.message
        if output == "probabilities":
            assert f"Dense({n})" in result.fix
    elif style != "subclassed_dense":
        assert "call()" in result.message


def test_check_uses_the_compiled_loss():
    model = make_model("categorical", "sequential", "logits")
    model.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    assert check_from_logits(model).ok
    model.compile(loss="categorical_crossentropy")
    result = check_from_logits(model)
    assert not result.ok and result.from_logits is False
    # an explicit loss wins over the compiled one
    assert check_from_logits(model, keras.losses.CategoricalCrossentropy(from_logits=True)).ok


@pytest.mark.parametrize(
    "loss,kind,from_logits",
    [
        ("sparse_categorical_crossentropy", "sparse_categorical", False),
        ("categorical_crossentropy", "categorical", False),
        ("binary_crossentropy", "binary", False),
        ("bce", "binary", False),
        ("SparseCategoricalCrossentropy", "sparse_categorical", False),
        (keras.losses.sparse_categorical_crossentropy, "sparse_categorical", False),
        (keras.losses.binary_crossentropy, "binary", False),
        (functools.partial(keras.losses.categorical_crossentropy, from_logits=True), "categorical", True),
    ],
    ids=lambda v: v if isinstance(v, str) else getattr(v, "__name__", None),
)
def test_loss_given_as_string_or_function(loss, kind, from_logits):
    model = make_model(kind, "sequential", "logits")
    result = check_from_logits(model, loss)
    assert (result.loss_kind, result.from_logits, result.output) == (kind, from_logits, "logits")
    assert result.ok is from_logits
    if isinstance(loss, str) and not from_logits:  # the fix says what to pass instead
        assert f"loss=keras.losses.{LOSS_CLASS[kind].__name__}(from_logits=True) instead of loss='{loss}'" in result.fix
    if callable(loss) and not isinstance(loss, functools.partial):
        assert f"keras.losses.{loss.__name__}" in result.message


@pytest.mark.parametrize("loss", ["mse", keras.losses.MeanSquaredError(), keras.losses.mean_absolute_error])
def test_a_loss_that_is_not_a_cross_entropy_is_not_checked(loss):
    result = check_from_logits(make_model("categorical", "sequential", "probabilities"), loss)
    assert result.ok and result.loss_kind is None and result.from_logits is None and result.fix is None
    assert "cross-entropy losses only" in result.message


def test_uncompiled_model_without_loss_is_an_error():
    with pytest.raises(ValueError, match="not compiled.*loss="):
        check_from_logits(make_model("categorical", "sequential", "logits"))


def test_not_a_model_is_an_error():
    with pytest.raises(TypeError, match="Keras model"):
        check_from_logits(lambda x: x, "categorical_crossentropy")


@pytest.mark.parametrize("style", ["subclassed_tf", "subclassed_keras"])
def test_unbuilt_subclassed_model_is_unknown_not_ok(style):
    model = make_model("categorical", style, "probabilities", build=False)
    result = check_from_logits(model, keras.losses.CategoricalCrossentropy(from_logits=True))
    assert result.output == "unknown" and result.ok is False and result.fix is None
    assert "not been built" in result.message and "FromLogitsGuard" in result.message


def test_softmax_over_one_unit_with_a_binary_loss():
    model = keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(1, activation="softmax")])
    result = check_from_logits(model, keras.losses.BinaryCrossentropy())
    assert not result.ok and "always outputs 1.0" in result.message and "activation='sigmoid'" in result.fix


@pytest.mark.parametrize(
    "last,output",
    [
        (keras.layers.Softmax(), "probabilities"),
        (keras.layers.Activation("softmax"), "probabilities"),
        (keras.layers.Activation("linear"), "logits"),
        (keras.layers.Dropout(0.5), "probabilities"),  # looks through to Dense(3, softmax) before it
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, str) else v,
)
def test_activation_layers_at_the_end(last, output):
    head = keras.layers.Dense(CLASSES, activation="softmax" if isinstance(last, keras.layers.Dropout) else None)
    model = keras.Sequential([keras.Input((FEATURES,)), head, last])
    result = check_from_logits(model, keras.losses.CategoricalCrossentropy(from_logits=False))
    assert result.output == output and result.ok is (output == "probabilities")


# ------------------------------------------------------------------------------------------------
# FromLogitsGuard in a real model.fit


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("kind", KINDS)
def test_guard_lets_the_right_setups_train(kind, style, data):
    for output, from_logits in RIGHT:
        model = make_model(kind, style, output, build=style == "functional")
        guard = FromLogitsGuard(data["x"][:BATCH])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            history = fit(model, make_loss(kind, from_logits), data, kind, guard)
        assert not guard_warnings(caught)
        assert np.isfinite(history.history["loss"][0])
        assert guard.result is not None and guard.result.ok and guard.result.output == output


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("output,from_logits", WRONG)
@pytest.mark.parametrize("kind", KINDS)
def test_guard_stops_the_wrong_setups(kind, output, from_logits, style, data):
    model = make_model(kind, style, output, build=False)
    guard = FromLogitsGuard(data["x"][:BATCH])
    with pytest.raises(FromLogitsMismatchError) as raised:
        fit(model, make_loss(kind, from_logits), data, kind, guard)
    message = str(raised.value)
    assert isinstance(raised.value, ValueError)
    assert LOSS_CLASS[kind].__name__ in message and f"from_logits={from_logits}" in message and "Fix:" in message
    assert guard.result.output == output and not guard.result.ok


@pytest.mark.filterwarnings("ignore:.*received `from_logits=True`:UserWarning")  # Keras' own warning
@pytest.mark.parametrize("output,from_logits", WRONG)
@pytest.mark.parametrize("kind", KINDS)
def test_guard_in_warn_mode_warns_and_training_completes(kind, output, from_logits, data):
    model = make_model(kind, "sequential", output)
    guard = FromLogitsGuard(data["x"][:BATCH], mode="warn")
    with pytest.warns(FromLogitsWarning, match="Fix:") as caught:
        history = fit(model, make_loss(kind, from_logits), data, kind, guard)
    assert len(guard_warnings(caught)) == 1
    assert len(history.history["loss"]) == 1 and not guard.result.ok


@pytest.mark.parametrize("kind", KINDS)
def test_guard_without_x_samples_inputs_itself(kind, data):
    model = make_model(kind, "functional", "logits")
    with pytest.raises(FromLogitsMismatchError, match="no warning"):
        fit(model, make_loss(kind, False), data, kind, FromLogitsGuard())


def test_guard_without_x_on_an_unbuilt_subclassed_model_checks_after_the_first_step(data):
    model = make_model("sparse_categorical", "subclassed_keras", "logits", build=False)
    with pytest.raises(FromLogitsMismatchError, match="from_logits=False"):
        fit(model, "sparse_categorical_crossentropy", data, "sparse_categorical", FromLogitsGuard())
    ok_model = make_model("sparse_categorical", "subclassed_keras", "logits", build=False)
    guard = FromLogitsGuard()
    fit(ok_model, make_loss("sparse_categorical", True), data, "sparse_categorical", guard)
    assert guard.result.ok


def test_guard_with_loss_given_as_string_and_function(data):
    model = make_model("sparse_categorical", "sequential", "logits")
    with pytest.raises(FromLogitsMismatchError, match="instead of loss='sparse_categorical_crossentropy'"):
        fit(model, "sparse_categorical_crossentropy", data, "sparse_categorical", FromLogitsGuard())
    model = make_model("binary", "functional", "logits")
    with pytest.raises(FromLogitsMismatchError, match="keras.losses.binary_crossentropy"):
        fit(model, keras.losses.binary_crossentropy, data, "binary", FromLogitsGuard())
    guard = FromLogitsGuard()
    fit(make_model("sparse_categorical", "sequential", "probabilities"), "sparse_categorical_crossentropy", data,
        "sparse_categorical", guard)
    assert guard.result.ok


def small_linear_model(kind, bias):
    """A correct linear model whose first outputs all lie in [0, 1] (tiny weights, a bias)."""
    return keras.Sequential(
        [
            keras.Input((FEATURES,)),
            keras.layers.Dense(
                units(kind),
                kernel_initializer=keras.initializers.RandomUniform(-0.01, 0.01, seed=1),
                bias_initializer=keras.initializers.Constant(bias),
            ),
        ]
    )


@pytest.mark.parametrize(
    "kind,bias",
    [("binary", 0.5), ("categorical", 0.1), ("categorical", 1 / CLASSES), ("sparse_categorical", 1 / CLASSES)],
    ids=["binary", "categorical", "categorical-rows-sum-to-1", "sparse-rows-sum-to-1"],
)
def test_no_false_alarm_for_small_logits(kind, bias, data):
    model = small_linear_model(kind, bias)
    first = model(data["x"][:BATCH]).numpy()
    assert first.min() >= 0 and first.max() <= 1  # the premise: they look like probabilities
    guard = FromLogitsGuard(data["x"][:BATCH])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(model, make_loss(kind, True), data, kind, guard)
    assert not guard_warnings(caught)
    assert guard.result.ok and guard.result.output == "logits"


class HandMadeSoftmax(keras.Model):
    """exp / sum: no Softmax op and no _keras_logits, so only the values give it away."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.out = keras.layers.Dense(CLASSES)

    def call(self, x):
        y = self.out(x)
        e = tf.exp(y - tf.reduce_max(y, axis=-1, keepdims=True))
        return e / tf.reduce_sum(e, axis=-1, keepdims=True)


def test_guard_reads_the_values_when_the_structure_is_unknown(data):
    model = HandMadeSoftmax()
    model(data["x"][:2])
    assert check_from_logits(model, make_loss("categorical", True)).output == "unknown"
    guard = FromLogitsGuard(data["x"][:BATCH])
    with pytest.raises(FromLogitsMismatchError, match="sums to 1"):
        fit(model, make_loss("categorical", True), data, "categorical", guard)
    guard = FromLogitsGuard(data["x"][:BATCH])
    fit(HandMadeSoftmax(), make_loss("categorical", False), data, "categorical", guard)
    assert guard.result.ok and guard.result.output == "probabilities"


@pytest.mark.parametrize("style,x", [("sequential", None), ("sequential", "sample"), ("subclassed", "sample")])
def test_guard_does_not_change_the_training_result(style, x, data):
    def train(with_guard):
        keras.utils.set_random_seed(7)
        if style == "sequential":
            model = keras.Sequential(
                [
                    keras.Input((FEATURES,)),
                    keras.layers.Dense(6, activation="relu"),
                    keras.layers.Dropout(0.3),  # draws random numbers in training: the guard must not
                    keras.layers.Dense(CLASSES),
                ]
            )
        else:  # unbuilt: with x the guard's call builds it, without the guard the first step does
            model = DenseActivationInCall(CLASSES)
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=make_loss("sparse_categorical", True))
        callbacks = [FromLogitsGuard(data["x"][:BATCH] if x else None)] if with_guard else []
        model.fit(data["x"], data["sparse_categorical"], batch_size=BATCH, epochs=2, verbose=0, callbacks=callbacks)
        return model.get_weights()

    guarded, plain = train(True), train(False)
    assert len(guarded) == len(plain) > 0
    for a, b in zip(guarded, plain):
        np.testing.assert_array_equal(a, b)


def test_guard_runs_once_on_the_first_batch(data, monkeypatch):
    calls = []
    original = FromLogitsGuard._check

    def counting(self):
        calls.append(self.model.optimizer.iterations.numpy())
        return original(self)

    monkeypatch.setattr(FromLogitsGuard, "_check", counting)
    model = make_model("categorical", "sequential", "logits")
    fit(model, make_loss("categorical", True), data, "categorical", FromLogitsGuard(), epochs=2)
    assert calls == [0]  # once, before the first weight update


def test_guard_mode_is_validated():
    with pytest.raises(ValueError, match='"raise" or "warn"'):
        FromLogitsGuard(mode="ignore")


def test_guard_ignores_models_with_several_losses(data):
    inputs = keras.Input((FEATURES,))
    model = keras.Model(inputs, [keras.layers.Dense(CLASSES)(inputs), keras.layers.Dense(1)(inputs)])
    model.compile(optimizer="sgd", loss=["sparse_categorical_crossentropy", "mse"])
    guard = FromLogitsGuard()
    model.fit(data["x"], [data["sparse_categorical"], data["binary"]], batch_size=BATCH, verbose=0, callbacks=[guard])
    assert guard.result.ok and guard.result.loss_kind is None and "one output" in guard.result.message


def test_guard_ignores_losses_it_does_not_cover(data):
    model = make_model("binary", "sequential", "logits")
    guard = FromLogitsGuard()
    fit(model, "mse", data, "binary", guard)
    assert guard.result.ok and guard.result.loss_kind is None


@pytest.fixture
def mixed_float16():
    keras.mixed_precision.set_global_policy("mixed_float16")
    yield
    keras.mixed_precision.set_global_policy("float32")


def mixed_precision_model(head):
    """Dense(5, relu) -> Dense(3) with a softmax: in float16 ("float16"), in float32 ("float32")."""
    inputs = keras.Input((FEATURES,))
    logits = keras.layers.Dense(CLASSES)(keras.layers.Dense(5, activation="relu")(inputs))
    dtype = "float32" if head == "float32" else None
    return keras.Model(inputs, keras.layers.Activation("softmax", dtype=dtype)(logits))


@pytest.mark.filterwarnings("ignore:.*received `from_logits=True`:UserWarning")  # Keras' own warning
@pytest.mark.parametrize("head", ["float16", "float32"])
def test_guard_says_keras_cannot_repair_a_float16_softmax(head, data, mixed_float16):
    """Under mixed precision the loss casts a float16 softmax to float32 and loses its logits."""
    x, y = data["x"], data["sparse_categorical"]
    model = mixed_precision_model(head)
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert check_from_logits(model).ok is False
    with pytest.raises(FromLogitsMismatchError) as caught:
        model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0, callbacks=[FromLogitsGuard(x[:8])])
    for message in (str(caught.value), check_from_logits(model).message):
        if head == "float16":
            assert "Keras cannot repair it here" in message and "float16 output to float32" in message
        else:
            assert "Keras cannot repair it here" not in message and "often spots a softmax" in message


def test_a_float16_softmax_really_is_not_repaired(mixed_float16):
    """The fact behind the message: the float16 softmax reaches the loss without its logits."""
    probabilities = keras.activations.softmax(tf.constant([[2.0, 0.0, -50.0]], dtype="float16"))
    loss = keras.losses.CategoricalCrossentropy(from_logits=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = float(loss(tf.constant([[0.0, 0.0, 1.0]]), probabilities))
    assert not caught
    assert value == pytest.approx(1.513, abs=1e-3)  # the double softmax, not the exact 52.127
