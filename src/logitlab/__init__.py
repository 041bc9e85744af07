"""logitlab: the helper package of the course on logits, softmax and cross-entropy.

The numerics (:mod:`logitlab.numerics`) are NumPy implementations that agree with Keras and
``tf.nn`` and fail loudly on bad input (:mod:`logitlab.validation`).
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
]
