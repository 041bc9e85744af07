"""logitlab: the helper package of the course on logits, softmax and cross-entropy.

The numerics (:mod:`logitlab.numerics`) are NumPy implementations that agree with Keras and
``tf.nn`` and fail loudly on bad input (:mod:`logitlab.validation`); :mod:`logitlab.sampling` turns logits
into token ids (greedy, temperature, top-k, top-p); :mod:`logitlab.guard` catches a model whose
output layer and loss disagree about ``from_logits``; :mod:`logitlab.large_vocab` computes the
cross-entropy over a large vocabulary without the logit matrix. Every notebook's first cell calls
:func:`setup`; chapters store the numbers their prose quotes with :func:`glue`
(:mod:`logitlab.notebook`).
"""

from .numerics import (
    EPSILON,
    binary_crossentropy,
    categorical_crossentropy,
    log_softmax,
    logsumexp,
    sigmoid,
    softmax,
    sparse_categorical_crossentropy,
)
from .notebook import glue, setup
from .sampling import sample, top_k_filter, top_p_filter

__version__ = "0.1.0"

# The guard and the large-vocabulary loss need TensorFlow and Keras; import them on first use so
# that `import logitlab` (and the command line) stay light.
_GUARD_NAMES = (
    "FromLogitsCheck",
    "FromLogitsGuard",
    "FromLogitsMismatchError",
    "FromLogitsWarning",
    "check_from_logits",
)
_LARGE_VOCAB_NAMES = ("linear_cross_entropy", "LinearCrossEntropyModel")


def __getattr__(name):
    if name in _GUARD_NAMES:
        from . import guard

        return getattr(guard, name)
    if name in _LARGE_VOCAB_NAMES:
        from . import large_vocab

        return getattr(large_vocab, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "EPSILON",
    "binary_crossentropy",
    "categorical_crossentropy",
    "log_softmax",
    "logsumexp",
    "sigmoid",
    "softmax",
    "sparse_categorical_crossentropy",
    "sample",
    "top_k_filter",
    "top_p_filter",
    "setup",
    "glue",
    *_GUARD_NAMES,
    *_LARGE_VOCAB_NAMES,
]
