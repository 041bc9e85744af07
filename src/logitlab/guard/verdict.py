"""The verdict: whether model and loss agree, in a message that says what to change."""

from __future__ import annotations

import dataclasses
import html

from .losses import _FUNCTION_NAME_OF_KIND

_EPSILON_TEXT = "[1e-7, 1 - 1e-7]"


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
