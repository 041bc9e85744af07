"""Formulas that wrong answers share, written once for every chapter's checks.

A check recognises a mistake by reproducing it (``checking.Mistake``); when several questions
reproduce the same wrong formula, the formula lives here.
"""

from __future__ import annotations

import numpy as np


def exp_normalise(x, axis=-1):
    """exp, then divide by the sum along ``axis``: softmax's definition, with no shift.

    In float32, exp(1000) overflows to inf and inf / inf is NaN; for [-1000, -1000] every exp is 0
    and 0 / 0 is NaN. The chapters' mistakes call it on raw logits (the naive softmax) or after a
    shift that is not the maximum along ``axis``.
    """
    e = np.exp(np.asarray(x))
    return e / np.sum(e, axis=axis, keepdims=True)
