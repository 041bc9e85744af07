"""How close a numerical answer must be to the reference: one policy for every check.

An answer computed in a different order than the reference differs from it by rounding, and
rounding depends on two things: the precision of the numbers (float32 keeps about 7 digits,
float64 about 16) and the size of the quantities the computation goes through. A float32
log-softmax computed as ``z - (m + log(sum(exp(z - m))))`` on logits of 1e4 forms the
log-sum-exp 10000.69..., which float32 holds only to about 1e-3; the result, about -0.69, carries
that absolute error. So an entry of an answer is accepted when::

    |got - expected| <= eps * (ROUNDINGS * |expected| + CARRIED * (|expected| * exponent + scale))
                        + atol + rtol * |expected|

where ``eps`` is the machine epsilon of the least precise floating dtype involved (the answer's,
the reference's, the inputs'), but never looser than float32's: the course computes in float32
or float64, and a half-precision answer is not accepted for its own rounding. ``scale`` is the size of the quantities the answer is computed
from, whose absolute rounding it carries (by default the largest finite magnitude among the
inputs and the expected values of one case: a log-softmax carries the rounding of its
log-sum-exp), and ``exponent`` is the size of the quantities an answer exponentiates: a
probability exp(z - lse(z)) computed from logits of 1e4 carries the relative error of
exp(1e4 * eps), about 1e-3 in float32. Probabilities use ``scale`` 1 (they are formed from sums
of size 1) and ``exponent`` the size of the logits. ``rtol`` and ``atol`` are 0 unless a question
has a reason of its own (a value found by a numerical solver is only as exact as the solver).
Infinities and NaN must match exactly (same places, same signs).

When an answer is refused, the message says how far off it is, and for a float32 (or float16)
answer how many roundings of its precision that is, so a learner can tell a wrong formula (many
thousands of roundings) from a tolerance problem (a few).
"""

from __future__ import annotations

import numpy as np

__all__ = ["ROUNDINGS", "compare", "magnitude", "precision", "probabilities", "show"]

#: How many roundings of the working precision an answer may be off by, relative to the size of
#: the quantities involved. Different orders of summation and exp/log implementations differ by
#: a few roundings; every named mistake of the exercises is off by many thousands.
ROUNDINGS = 16

#: How many roundings of the quantities involved (``scale``, ``exponent``) an answer may carry: a
#: log-sum-exp is rounded once or twice, far fewer times than the answer's own arithmetic.
CARRIED = 4

#: The loosest precision a check assumes: float32's machine epsilon (about 1.19e-07).
FLOAT32_EPS = float(np.finfo(np.float32).eps)


def precision(*dtypes):
    """The machine epsilon of the least precise floating dtype among ``dtypes`` (float64's if none).

    Args:
        *dtypes: NumPy dtypes (or anything ``np.dtype`` accepts); integers and booleans are exact.

    Returns:
        A float, e.g. about 1.19e-07 when one of them is float32.

    Example:
    >>> import numpy as np
    >>> float(precision(np.float64, np.float32)) == float(np.finfo(np.float32).eps)
    True
    """
    eps = float(np.finfo(np.float64).eps)
    for dtype in dtypes:
        dtype = np.dtype(dtype)
        if dtype.kind in "fc":
            eps = max(eps, float(np.finfo(dtype).eps))
    return eps


def magnitude(*values):
    """The largest finite absolute value among floating arrays ``values`` (0 when there is none).

    Example:
    >>> import numpy as np
    >>> float(magnitude(np.float32([1e4, -np.inf]), 3))
    10000.0
    """
    largest = 0.0
    for value in values:
        try:
            array = np.asarray(value)
        except (TypeError, ValueError):  # not an array of numbers: no size to take
            continue
        if array.dtype.kind not in "fiu" or array.size == 0:
            continue
        array = np.abs(array.astype(float))
        finite = array[np.isfinite(array)]
        if finite.size:
            largest = max(largest, float(finite.max()))
    return largest


def probabilities(*args, **kwargs):
    """The sizes for an answer made of probabilities computed from the floating ``args``.

    Example:
    >>> import numpy as np
    >>> probabilities(np.float32([1e4, 0.0]), 2) == {"scale": 1.0, "exponent": 10000.0}
    True
    """
    floats = [a for a in list(args) + list(kwargs.values())
              if isinstance(a, (np.ndarray, np.generic, float)) and np.asarray(a).dtype.kind == "f"]
    return {"scale": 1.0, "exponent": magnitude(*floats)}


def _numbers(value):
    """``value`` as a float array, and its own dtype; raises TypeError when it is not numbers."""
    if hasattr(value, "numpy") and callable(value.numpy):
        value = value.numpy()
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(type(value).__name__)
    return array.astype(float), array.dtype


def compare(got, expected, scale=0.0, exponent=0.0, eps=None, rtol=0.0, atol=0.0):
    """Return ``None`` if ``got`` matches ``expected`` within rounding, else why not (a sentence).

    Args:
        got: the answer: a number, an array or a tensor.
        expected: the reference value.
        scale: the size of the quantities the answer is computed from (e.g. the largest logit).
        exponent: the size of the quantities the answer exponentiates (for probabilities).
        eps: a precision to assume at least (e.g. that of the inputs); see :func:`precision`.
        rtol: an extra relative tolerance (0 unless the question has its own reason).
        atol: an extra absolute tolerance.

    Returns:
        ``None`` when they match, else a short description of the difference.

    Example:
    >>> import numpy as np
    >>> z = np.float32([1e4, 1e4])
    >>> m = z.max()
    >>> answer = z - (m + np.log(np.sum(np.exp(z - m))))   # the chapter's formula, in float32
    >>> compare(answer, [-np.log(2.0)] * 2, scale=1e4) is None
    True
    >>> print(compare(np.float32(-0.70), -np.log(2.0), scale=1.0))
    expected -0.693147, got -0.7 (off by 0.0069, 3.4e+04 times float32 rounding there (2e-07; up to 1.8e-06 is accepted))
    """
    try:
        got_array, got_dtype = _numbers(got)
    except (TypeError, ValueError):
        return f"expected a number or an array of numbers, got {type(got).__name__}"
    expected_array, expected_dtype = _numbers(expected)
    if got_array.shape != expected_array.shape:
        return f"expected shape {expected_array.shape}, got shape {got_array.shape}"
    eps = min(max(precision(got_dtype, expected_dtype), eps or 0.0), FLOAT32_EPS)
    special = ~np.isfinite(expected_array) | ~np.isfinite(got_array)
    same_special = np.where(
        np.isnan(expected_array), np.isnan(got_array), got_array == expected_array)
    if np.any(special & ~same_special):
        why = f"expected {show(expected_array)}, got {show(got_array)}"
        if got_array.ndim:
            first = tuple(int(i) for i in np.argwhere(special & ~same_special)[0])
            why += (f" (first difference at index {first}: expected {expected_array[first]:g}, "
                    f"got {got_array[first]:g})")
        return why
    with np.errstate(invalid="ignore"):
        error = np.where(special, 0.0, np.abs(got_array - expected_array))
        size = np.where(special, 0.0, np.abs(expected_array))
    rounding = eps * (size * (1 + exponent) + scale)
    allowed = eps * (ROUNDINGS * size + CARRIED * (size * exponent + scale)) + atol + rtol * size
    if np.all(error <= allowed):
        return None
    worst = np.unravel_index(np.argmax(error - allowed), error.shape) if error.ndim else ()
    why = f"expected {show(expected_array)}, got {show(got_array)}"
    where = f" at index {tuple(int(i) for i in worst)}" if error.ndim else ""
    off = f"off by {error[worst]:.2g}{where}"
    if got_dtype.kind == "f" and got_dtype.itemsize < 8 and rounding[worst] > 0:
        name = "float32" if got_dtype.itemsize == 4 else f"{got_dtype.name} (checked as float32)"
        off += (f", {error[worst] / rounding[worst]:.3g} times {name} rounding there "
                f"({rounding[worst]:.2g}; up to {allowed[worst]:.2g} is accepted)")
    return f"{why} ({off})"


def show(value):
    """A short, one-line text of an array of numbers (at most a dozen entries shown)."""
    array = np.asarray(value, dtype=float)
    with np.printoptions(precision=6, suppress=False, threshold=12, edgeitems=3):
        text = np.array2string(array, separator=", ")
    return " ".join(text.split())
