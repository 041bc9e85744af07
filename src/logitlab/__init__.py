"""logitlab: the helper package of the course on logits, softmax and cross-entropy.

The numerics (:mod:`logitlab.numerics`) are NumPy implementations that agree with Keras and
``tf.nn`` and fail loudly on bad input (:mod:`logitlab.validation`); :mod:`logitlab.sampling` turns logits
into token ids (greedy, temperature, top-k, top-p).
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
from .sampling import sample, top_k_filter, top_p_filter

__version__ = "0.1.0"

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
]
