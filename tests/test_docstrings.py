"""The Examples in logitlab's docstrings run and print what they say."""

import doctest

import pytest

import logitlab.guard.callback
import logitlab.guard.check
import logitlab.large_vocab
import logitlab.notebook
import logitlab.numerics
import logitlab.sampling

MODULES = [
    logitlab.numerics,
    logitlab.sampling,
    logitlab.guard.check,
    logitlab.guard.callback,
    logitlab.large_vocab,
    logitlab.notebook,
]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{module.__name__} has no docstring examples"
    assert result.failed == 0
