"""Catch the ``from_logits`` mistake before it wastes a training run.

A Keras cross-entropy loss must be told what the model hands it: probabilities (the model ends in
a softmax or sigmoid, ``from_logits=False``) or logits (no activation, ``from_logits=True``). The
two mismatches behave differently in Keras 3 with the TensorFlow backend:

- probabilities with ``from_logits=True``: Keras' ``model.fit`` recognises a Keras or traced
  softmax/sigmoid, takes the logits behind it and prints a warning; eager code, custom training
  loops and other backends apply a second softmax and train on the wrong loss;
- logits with ``from_logits=False``: Keras treats the logits as probabilities (clips them to
  ``[1e-7, 1 - 1e-7]``), prints no warning, and the model barely trains.

:func:`check_from_logits` compares a model's last activation with its loss before training;
:class:`FromLogitsGuard` is a callback that does the same inside ``model.fit`` on the first batch,
looking at the actual outputs too, and raises :class:`FromLogitsMismatchError` (or warns with
:class:`FromLogitsWarning`) on a mismatch.
"""

from .callback import FromLogitsGuard, FromLogitsMismatchError, FromLogitsWarning
from .check import check_from_logits
from .verdict import FromLogitsCheck

__all__ = [
    "FromLogitsCheck",
    "FromLogitsGuard",
    "FromLogitsMismatchError",
    "FromLogitsWarning",
    "check_from_logits",
]
