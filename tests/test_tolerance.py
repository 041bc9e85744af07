"""The one tolerance policy (logitlab.tolerance): rounding is accepted, anything more is not."""

import doctest

import numpy as np
import pytest

import logitlab.tolerance
from logitlab.tolerance import ROUNDINGS, compare, magnitude, probabilities

F32_EPS = float(np.finfo(np.float32).eps)


def test_docstring_examples():
    result = doctest.testmod(logitlab.tolerance, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_the_chapters_float32_log_softmax_on_logits_of_1e4_is_accepted():
    """The issue's example: refused by a relative tolerance, right up to float32 rounding of 1e4."""
    z = np.float32([[1e4, 0.0, 1e4]])
    m = z.max(axis=-1, keepdims=True)
    answer = z - (m + np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True)))
    expected = np.array([[-np.log(2), -1e4 - np.log(2), -np.log(2)]])
    assert abs(answer[0, 0] - expected[0, 0]) > 1e-4  # it is off by far more than 1e-5 relative
    assert compare(answer, expected, scale=magnitude(z, expected)) is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_few_roundings_pass_and_more_fail(dtype):
    eps = float(np.finfo(dtype).eps)
    expected = np.array([1.0, -3.0, 250.0], dtype=dtype)
    near = expected * (1 + (ROUNDINGS / 2) * eps)
    far = expected * (1 + 4 * ROUNDINGS * eps)
    assert compare(near.astype(dtype), expected) is None
    assert compare(far.astype(dtype), expected) is not None


def test_a_float32_refusal_says_how_many_roundings_it_is_off():
    why = compare(np.float32([1.0, 2.001]), np.array([1.0, 2.0]))
    assert "off by 0.001 at index (1,)" in why
    assert "times float32 rounding" in why and "is accepted" in why


def test_float64_answers_are_held_to_float64():
    assert compare(np.array([1.0 + 1e-9]), np.array([1.0])) is not None


def test_half_precision_is_checked_as_float32():
    value = np.float16(1.001)  # float16 rounding of 1.001
    assert compare(value, 1.001) is not None
    assert "checked as float32" in compare(np.float16([1.01]), [1.0])


def test_infinities_and_nan_must_match_exactly():
    assert compare([np.inf, -np.inf, np.nan], [np.inf, -np.inf, np.nan]) is None
    assert compare([np.inf], [-np.inf]) is not None
    assert compare([np.nan], [0.0]) is not None
    assert compare([1e300], [np.inf]) is not None


def test_probabilities_carry_the_relative_error_of_their_exponent():
    """exp(z - lse(z)) in float32 with logits of 1e4: relative error about 1e4 * eps."""
    z = np.float32([1e4, 1e4 - 0.5])
    lse = z.max() + np.log(np.sum(np.exp(z - z.max())))
    answer = np.exp(z - lse)
    expected = np.exp(z.astype(float) - np.logaddexp(1e4, 1e4 - 0.5))
    assert compare(answer, expected, scale=1.0) is not None  # the exponent's rounding is not rounding of 1
    assert compare(answer, expected, **probabilities(z)) is None
    assert compare(answer * np.float32(1.01), expected, **probabilities(z)) is not None


def test_shapes_and_types_are_named():
    assert compare(np.zeros(3), np.zeros(4)) == "expected shape (4,), got shape (3,)"
    assert compare("logits", 1.0) == "expected a number or an array of numbers, got str"
    assert compare(object(), 1.0) == "expected a number or an array of numbers, got object"
    assert compare([1, [2, 3]], [1.0, 2.0]).startswith("expected a number")


def test_magnitude_skips_what_is_not_finite_numbers():
    assert magnitude(np.float32([-np.inf, 3.0]), [np.nan, -7.0], "text", (np.zeros(2), 5)) == 7.0
    assert magnitude() == 0.0
    assert F32_EPS > 1e-7


def test_a_misplaced_infinity_is_pointed_at():
    expected = np.r_[np.full(20, -np.inf), 1.0, np.full(20, -np.inf)]
    got = np.r_[np.full(20, -np.inf), -np.inf, 1.0, np.full(19, -np.inf)]
    assert compare(got, expected).endswith("(first difference at index (20,): expected 1, got -inf)")
