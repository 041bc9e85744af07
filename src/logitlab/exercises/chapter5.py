"""Exercises of chapter 5: greedy decoding, temperature, top-k and top-p sampling.

Question 1 asks the learner to predict, then compute, how the nucleus of top-p changes with the
temperature applied first, and whether top-k depends on where the temperature goes; question 2
asks for the top-k probabilities; question 3 for two values computed with TensorFlow (greedy
tokens and a softmax at temperature 0.5); question 4 for the distribution of a nucleus sampler
whose code has bugs to find; question 5 for a sampler, checked statistically. Every check runs the
learner's answer on ordinary and extreme inputs (float32 logits of 1000 and 1e4, ``-inf`` masks,
ties, batches, a top-p boundary that is reached exactly) and names the common mistakes it
recognises.

Conventions, as in :mod:`logitlab.sampling`: a filter returns logits with the excluded tokens set
to ``-inf``; ties at the k-th value keep the lower index (``tf.math.top_k``); top-p keeps the most
likely tokens, in that order, until the mass of the kept tokens reaches ``p``.
"""

from __future__ import annotations

import numpy as np

from ..tolerance import magnitude, probabilities
from ..checking import Case, FunctionQuestion, Mistake, ValueQuestion, frozen, questions_in, same
from ..numerics import softmax
from ..probing import Seeded
from ..sampling import top_k_filter, top_p_filter
from .mistakes import exp_normalise

__all__ = ["q1", "q2", "q3", "q4", "q5", "QUESTIONS", "Q1_K", "Q1_LOGITS", "Q1_P", "Q1_TEMPERATURES",
           "Q3_LOGITS", "Q3_TEMPERATURE"]

_F32 = np.float32
_NEG_INF = -np.inf



def _close_rows(got, expected, **tolerance):
    """Like :func:`same`, but a row of ``expected`` that holds a NaN only asks ``got``'s row for one.

    The correct answers never contain NaN, so this changes nothing for them; it lets a mistake
    that overflows (exp(1000) is inf, inf / inf is NaN) be recognised whichever entries of the
    broken row the learner's code happens to turn into NaN.
    """
    try:  # the arrays keep their dtypes: the tolerance follows them
        expected_array = np.asarray(expected)
        if not np.isnan(expected_array.astype(float)).any():
            return same(got, expected, **tolerance)
        got_array = np.asarray(got.numpy() if hasattr(got, "numpy") else got)
        got_array.astype(float)
    except Exception:
        return same(got, expected, **tolerance)
    if got_array.shape != expected_array.shape:
        return f"expected shape {expected_array.shape}, got shape {got_array.shape}"
    broken = np.isnan(expected_array.astype(float)).any(axis=-1)
    got_broken = np.isnan(got_array.astype(float)).any(axis=-1)
    if np.any(broken != got_broken):
        return "NaN in different rows"
    if np.any(~broken):
        return same(got_array[~broken], expected_array[~broken], **tolerance)
    return None


def _as_array(x):
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def _stable_softmax(z, axis=-1):
    z = np.asarray(z, dtype=float)
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _keep_first(x, k):
    """A mask that keeps the ``k`` largest entries of each row (``k`` clipped to the row size),
    the lower index first on ties."""
    x = np.asarray(x, dtype=float)
    k = int(min(max(k, 0), x.shape[-1]))
    chosen = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    keep = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(keep, chosen, True, axis=-1)
    return keep


#: Fifty logits with long runs of ties: a sort that is not stable breaks the lower-index rule on
#: runs this long (NumPy's default sort is only stable on short arrays).
_LONG_TIES = np.concatenate([[0.5], np.ones(30), np.zeros(10), -np.ones(9)])


# -- Question 1: predict, then run: where temperature goes matters for top-p, not for top-k ------

#: The logits of question 1 (one row of eight tokens), its p, k and temperatures.
Q1_LOGITS = frozen([3.0, 2.4, 2.0, 1.5, 1.0, 0.2, -0.5, -1.0])
Q1_P = 0.8
Q1_K = 3
Q1_TEMPERATURES = frozen([0.25, 0.5, 1.0, 2.0, 4.0])


def _nucleus_sizes(scale_logits, p=Q1_P):
    """How many tokens top-p keeps for the logits as ``scale_logits(z, T)`` makes them, per T."""
    return np.array([int(np.sum(np.isfinite(top_p_filter(scale_logits(Q1_LOGITS, t), p))))
                     for t in Q1_TEMPERATURES])


def _q1_expected():
    return {"nucleus_sizes": _nucleus_sizes(lambda z, t: z / t), "top_k_depends_on_order": False}


def _q1_filter_first():
    return {"nucleus_sizes": _nucleus_sizes(lambda z, t: z)}


def _q1_multiplied():
    return {"nucleus_sizes": _nucleus_sizes(lambda z, t: z * t)}


def _q1_crossing_token_dropped():
    """Counting the tokens whose cumulative mass (their own included) is at most p."""
    sizes = []
    for t in Q1_TEMPERATURES:
        probs = np.sort(softmax(Q1_LOGITS / t))[::-1]
        sizes.append(int(np.sum(np.cumsum(probs) <= Q1_P)))
    return {"nucleus_sizes": np.array(sizes)}


def _q1_top_k_depends():
    return {"top_k_depends_on_order": True}


q1 = ValueQuestion(
    id="5.1",
    title="predict, then run: temperature before or after top-p and top-k",
    names=["nucleus_sizes", "top_k_depends_on_order"],
    expected=_q1_expected,
    mistakes=[
        Mistake(
            "filter_before_temperature",
            _q1_filter_first,
            "your nucleus has the same size at every temperature: you chose the tokens on the "
            "logits at T = 1 and divided by T afterwards. The question (like Hugging Face's "
            "`generate` and logitlab's `sample`) divides by the temperature first: a low "
            "temperature sharpens the distribution, so fewer tokens are needed to reach p; a high "
            "one flattens it, so more are.",
        ),
        Mistake(
            "temperature_multiplied",
            _q1_multiplied,
            "your sizes run the wrong way: they fall as the temperature rises. Temperature divides "
            "the logits (z / T): a low temperature concentrates the mass on few tokens, so the "
            "nucleus shrinks as T falls and grows as T rises.",
        ),
        Mistake(
            "crossing_token_dropped",
            _q1_crossing_token_dropped,
            "each of your sizes is one short where the mass crosses p: you counted the tokens "
            "whose cumulative probability, their own included, is at most p. The nucleus is the "
            "smallest set whose mass *reaches* p, so it includes the token that crosses p (a "
            "token is kept while the mass *before* it is below p).",
        ),
        Mistake(
            "top_k_depends_on_order",
            _q1_top_k_depends,
            "`top_k_depends_on_order` is False: dividing by T > 0 never changes the order of the "
            "logits, so the k largest are the same tokens before and after; and dividing the kept "
            "logits (and -inf) by T afterwards gives the same distribution as filtering z / T. "
            "Top-k is unaffected by where the temperature goes; top-p is, because it looks at "
            "probabilities, which the temperature changes.",
        ),
    ],
    hints=[
        "Predict first: as T falls, does the distribution get sharper or flatter, and does it "
        "then take more or fewer tokens to reach a mass of p = 0.8?",
        "Then run it: for each T, ll.top_p_filter(ex.Q1_LOGITS / T, ex.Q1_P) keeps the nucleus "
        "(the other tokens become -inf); np.isfinite(...).sum() counts it.",
        "For top-k: does dividing by a positive T change which logits are the k largest? Compare "
        "ll.top_k_filter(z / T, k) with ll.top_k_filter(z, k) / T.",
    ],
)


# -- Question 2: the top-k probabilities -------------------------------------------------------

def _topk_probs_reference(logits, k):
    return softmax(top_k_filter(logits, k))


def _topk_probs_not_renormalised(logits, k):
    x = np.asarray(logits, dtype=float)
    return np.where(_keep_first(x, k), _stable_softmax(x), 0.0)


def _topk_probs_zero_logits(logits, k):
    x = np.asarray(logits, dtype=float)
    return _stable_softmax(np.where(_keep_first(x, k), x, 0.0))


def _topk_probs_naive(logits, k):
    x = np.asarray(logits)
    return exp_normalise(np.where(_keep_first(x, k), x, _NEG_INF))


def _topk_probs_batch_normalised(logits, k):
    x = np.asarray(logits, dtype=float)
    e = np.where(_keep_first(x, k), np.exp(x - np.max(x, axis=-1, keepdims=True)), 0.0)
    return e / np.sum(e)


q2 = FunctionQuestion(
    id="5.2",
    title="the probabilities after top-k",
    name="top_k_probabilities",
    reference=_topk_probs_reference,
    sizes=probabilities,
    cases=[
        Case((np.array([1.0, 3.0, 2.0, 0.5, -1.0]), 2)),
        Case((np.array([-2.0, -0.5, -3.0, -1.0]), 3), label="([-2, -0.5, -3, -1], 3): negative logits"),
        Case((np.array([[0.5, 2.0, 1.0, -1.0], [3.0, -2.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]]), 2),
             label="(a batch of 3 rows, the last one a four-way tie, k=2)"),
        Case((_LONG_TIES, 17), label="(50 logits: 0.5, then 30 tied 1s, then 0s and -1s, k=17): a long run of ties"),
        Case((np.array([[1000.0, 999.0, 0.0, -1000.0], [1e4, -1e4, 5.0, 1e4 - 1]], dtype=_F32), 2),
             label="(float32 logits of 1000 and 1e4, k=2)"),
        Case((np.array([0.0, _NEG_INF, 1.0, _NEG_INF, -2.0]), 3), label="([0, -inf, 1, -inf, -2], 3): masked tokens"),
        Case((np.array([0.3, -0.2, 0.1, 4.0]), 1), label="([0.3, -0.2, 0.1, 4], 1): k=1 is greedy"),
    ],
    mistakes=[
        Mistake(
            "not_renormalised",
            _topk_probs_not_renormalised,
            "you took the softmax over all tokens and then zeroed the excluded ones: the kept "
            "probabilities no longer add up to 1. Mask the logits first (excluded ones to -inf) "
            "and take the softmax of the result, or divide the kept probabilities by their sum.",
        ),
        Mistake(
            "zero_instead_of_inf",
            _topk_probs_zero_logits,
            "the excluded tokens still get probability: you set their logits to 0 instead of "
            "-inf before the softmax, and exp(0) = 1. Use -np.inf.",
        ),
        Mistake(
            "unstable_softmax",
            _topk_probs_naive,
            "your softmax overflows: exp(1000) is inf in float32 (and exp(1e4) in float64), and "
            "inf / inf is NaN. Subtract each row's maximum logit before exponentiating "
            "(np.max(z, axis=-1, keepdims=True)); a -inf logit still gives exp(-inf) = 0.",
        ),
        Mistake(
            "normalised_over_batch",
            _topk_probs_batch_normalised,
            "you divided by the sum over the whole batch, so each row adds up to less than 1. "
            "Normalise each row by its own sum: np.sum(e, axis=-1, keepdims=True).",
        ),
    ],
    hints=[
        "Keep the k largest logits of each row and set the others to -inf: the positions are "
        "np.argsort(-x, axis=-1, kind='stable')[..., :k] (stable, so ties keep the lower index).",
        "Then take a stable softmax along the last axis: subtract the row maximum, exponentiate "
        "(exp(-inf) = 0), divide by the row sum.",
        "The softmax of the masked logits is automatically renormalised over the kept tokens: "
        "each row sums to 1 and has exactly k non-zero entries.",
    ],
    compare=_close_rows,
)


# -- Question 3: greedy tokens and temperature with TensorFlow -----------------------------------

#: The logits of question 3: an ordinary row, a row at the scale of 1000, negative logits with a
#: masked token, and a row at the scale of 1e4 (float32, 4 rows of 6 tokens).
Q3_LOGITS = frozen(
    [
        [1.0, 2.0, 0.5, -1.0, 2.5, 0.0],
        [1000.0, 998.0, 999.0, 0.0, -1000.0, 997.0],
        [-5.0, -4.5, -4.75, -15.0, -np.inf, -4.6],
        [1e4, 0.0, -1e4, 9999.0, 0.5, 1.0],
    ],
    dtype=_F32,
)
#: The temperature of question 3.
Q3_TEMPERATURE = 0.5


def _q3_expected():
    return {
        "greedy_ids": np.argmax(Q3_LOGITS, axis=-1),
        "cool_probs": softmax(Q3_LOGITS, temperature=Q3_TEMPERATURE),
    }


def _q3_multiplied():
    return {"cool_probs": softmax(Q3_LOGITS * _F32(Q3_TEMPERATURE))}


def _q3_naive():
    return {"cool_probs": exp_normalise(Q3_LOGITS / _F32(Q3_TEMPERATURE))}


def _q3_wrong_axis():
    return {"greedy_ids": np.argmax(Q3_LOGITS, axis=0)}


def _q3_extra_axis():
    return {"greedy_ids": np.argmax(Q3_LOGITS, axis=-1)[:, None]}


q3 = ValueQuestion(
    id="5.3",
    title="greedy tokens and a temperature with TensorFlow",
    names=["greedy_ids", "cool_probs"],
    expected=_q3_expected,
    scale=1.0,  # probabilities, exponentials of logits / T of up to 2e4
    exponent=magnitude(Q3_LOGITS) / Q3_TEMPERATURE,
    mistakes=[
        Mistake(
            "temperature_multiplied",
            _q3_multiplied,
            "`cool_probs` multiplies the logits by the temperature. Temperature divides them: "
            "softmax(z / T). With T = 0.5 the distribution must get sharper, not flatter.",
        ),
        Mistake(
            "unstable_softmax",
            _q3_naive,
            "`cool_probs` overflows: z / T is 2000 in the second row and 20000 in the last, "
            "exp of that is inf in float32, and inf / inf is NaN. Use tf.nn.softmax(z / T) (which "
            "subtracts the maximum for you) or subtract each row's maximum first.",
        ),
        Mistake(
            "argmax_over_batch",
            _q3_wrong_axis,
            "`greedy_ids` takes the argmax over the batch (axis=0): it says which row has the "
            "largest logit for each token. Greedy decoding picks, in each row, the token with "
            "the largest logit: tf.argmax(logits, axis=-1), one id per row.",
        ),
        Mistake(
            "extra_axis",
            _q3_extra_axis,
            "`greedy_ids` has shape (4, 1), as tf.math.top_k(logits, k=1).indices returns it. "
            "Keep one id per row, shape (4,): use tf.argmax(logits, axis=-1), or take [:, 0].",
        ),
    ],
    hints=[
        "Greedy decoding takes the token with the largest logit in each row: tf.argmax along the "
        "last axis. There is no softmax needed: softmax never changes which logit is largest.",
        "Temperature divides the logits before the softmax: tf.nn.softmax(logits / T).",
        "Both answers keep the batch axis: greedy_ids has shape (4,), cool_probs (4, 6).",
    ],
    compare=_close_rows,
)


# -- Question 4: find the bugs in a nucleus sampler's distribution ------------------------------

def _nucleus_reference(logits, p, temperature):
    return softmax(top_p_filter(np.asarray(logits, dtype=float) / temperature, p))


def _nucleus_keep(x, p, descending=True, boundary_kept=False):
    """The nucleus mask of logits ``x``: most likely first (or least), mass before it < p (or <=)."""
    probs = _stable_softmax(x)
    order = np.argsort(-x if descending else x, axis=-1, kind="stable")
    sorted_probs = np.take_along_axis(probs, order, axis=-1)
    before = np.cumsum(sorted_probs, axis=-1) - sorted_probs
    keep_sorted = before <= p if boundary_kept else before < p - 1e-9
    keep = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(keep, order, keep_sorted, axis=-1)
    return keep


def _nucleus_with(logits, p, temperature, descending=True, boundary_kept=False, filter_first=False,
                  unstable=False):
    z = np.asarray(logits, dtype=float)
    scaled = z / temperature
    keep = _nucleus_keep(z if filter_first else scaled, p, descending, boundary_kept)
    kept = np.where(keep, scaled, _NEG_INF)
    return exp_normalise(kept) if unstable else _stable_softmax(kept)


def _nucleus_filter_first(logits, p, temperature):
    return _nucleus_with(logits, p, temperature, filter_first=True)


def _nucleus_least_likely(logits, p, temperature):
    return _nucleus_with(logits, p, temperature, descending=False)


def _nucleus_boundary_kept(logits, p, temperature):
    return _nucleus_with(logits, p, temperature, boundary_kept=True)


def _nucleus_unstable(logits, p, temperature):
    return _nucleus_with(logits, p, temperature, unstable=True)


q4 = FunctionQuestion(
    id="5.4",
    title="find the bugs in a nucleus sampler's distribution",
    name="nucleus_probabilities",
    reference=_nucleus_reference,
    sizes=lambda logits, p, temperature: probabilities(np.asarray(logits) / temperature),
    cases=[
        Case((np.log(np.array([0.1, 0.4, 0.05, 0.3, 0.15])), 0.8, 1.0),
             label="(log([0.1, 0.4, 0.05, 0.3, 0.15]), p=0.8, temperature=1)"),
        Case((np.array([3.0, 2.4, 2.0, 1.5, 1.0, 0.2]), 0.8, 0.5),
             label="([3, 2.4, 2, 1.5, 1, 0.2], p=0.8, temperature=0.5)"),
        Case((np.array([3.0, 2.4, 2.0, 1.5, 1.0, 0.2]), 0.8, 3.0),
             label="([3, 2.4, 2, 1.5, 1, 0.2], p=0.8, temperature=3)"),
        Case((np.array([0.0, 0.0, 0.0, 0.0]), 0.5, 2.0),
             label="([0, 0, 0, 0], p=0.5, temperature=2): two tokens reach 0.5 exactly"),
        Case((np.array([[2.0, 0.0, 1.0, -1.0], [0.0, 3.0, 0.5, 0.2]]), 0.7, 1.5),
             label="(a batch of 2 rows, p=0.7, temperature=1.5)"),
        Case((np.array([[1000.0, 999.0, 998.0, 0.0], [1e4, 1e4 - 0.5, -1e4, 1e4 - 3.0]], dtype=_F32), 0.9, 1.0),
             label="(float32 logits of 1000 and 1e4, p=0.9, temperature=1)"),
        Case((np.array([1.0, _NEG_INF, 0.0, _NEG_INF, 2.0]), 0.95, 0.8),
             label="([1, -inf, 0, -inf, 2], p=0.95, temperature=0.8): masked tokens"),
        Case((np.zeros(40), 0.31, 1.0), label="(40 tied logits of 0, p=0.31, temperature=1): the first 13 tokens"),
    ],
    mistakes=[
        Mistake(
            "filter_before_temperature",
            _nucleus_filter_first,
            "you chose the nucleus on the logits before dividing them by the temperature. "
            "Temperature changes the probabilities, so it changes which tokens are needed to "
            "reach p: at T = 0.5 fewer tokens, at T = 3 more. Divide by T first, then filter, "
            "then take the softmax (the order of Hugging Face's `generate` and logitlab's `sample`).",
        ),
        Mistake(
            "least_likely_first",
            _nucleus_least_likely,
            "your nucleus is built from the least likely tokens up: np.argsort(probs) sorts in "
            "ascending order. Sort from the most likely down, np.argsort(-z, axis=-1, "
            "kind='stable'), so that ties keep the lower index first.",
        ),
        Mistake(
            "boundary_token_kept",
            _nucleus_boundary_kept,
            "you keep a token when the tokens before it already add up to exactly p "
            "(before <= p). They already reach p: the nucleus is the smallest set with mass >= p, "
            "so keep a token only while the mass before it is strictly below p.",
        ),
        Mistake(
            "unstable_softmax",
            _nucleus_unstable,
            "the final softmax overflows: exp(1000) is inf in float32, and inf / inf is NaN. "
            "Subtract each row's largest kept logit before exponentiating "
            "(np.max(z, axis=-1, keepdims=True)); the -inf of the excluded tokens still gives 0.",
        ),
    ],
    hints=[
        "Read the buggy function line by line and ask, for each line, what it does on the "
        "float32 row [1000, 999, 998, 0], on [0, 0, 0, 0] with p = 0.5, and at T = 0.5 against "
        "T = 3.",
        "The order is: divide the logits by T; choose the nucleus from the probabilities of z / T "
        "(most likely first, keep a token while the mass before it is < p); set the others to "
        "-inf; take a stable softmax along the last axis.",
        "You may use ll.top_p_filter for the nucleus and ll.softmax for the last step, once you "
        "know in which order they go.",
    ],
    compare=_close_rows,
)


# -- Question 5: a top-k sampler, checked statistically -----------------------------------------

#: How many draws each case of question 5 asks for, and how far a token's frequency may be from
#: its probability: 0.02 is more than 5 standard deviations of a frequency over 20000 draws
#: (at most sqrt(0.25 / 20000) = 0.0035), so a right sampler practically never fails, and every
#: named mistake is off by far more on some case.
Q5_DRAWS = 20000
Q5_TOLERANCE = 0.02


def _q5_distribution(logits, k, rng=None, num_samples=Q5_DRAWS, temperature=1.0):
    """What the reference stands for: the filtered distribution, and how many draws to expect."""
    z = np.asarray(logits, dtype=float) / temperature
    return softmax(top_k_filter(z, k)), num_samples


def _q5_no_filter(logits, k, rng=None, num_samples=Q5_DRAWS, temperature=1.0):
    return _stable_softmax(np.asarray(logits, dtype=float) / temperature), num_samples


def _q5_uniform(logits, k, rng=None, num_samples=Q5_DRAWS, temperature=1.0):
    keep = _keep_first(np.asarray(logits, dtype=float), k)
    return keep / np.sum(keep), num_samples


def _q5_multiplied(logits, k, rng=None, num_samples=Q5_DRAWS, temperature=1.0):
    z = np.asarray(logits, dtype=float) * temperature
    return softmax(top_k_filter(z, k)), num_samples


def _q5_k_plus_one(logits, k, rng=None, num_samples=Q5_DRAWS, temperature=1.0):
    z = np.asarray(logits, dtype=float) / temperature
    return _stable_softmax(np.where(_keep_first(z, k + 1), z, _NEG_INF)), num_samples


def _consistent(samples, expected, **tolerance):
    """Whether token ids drawn by the learner could come from the expected distribution.

    ``expected`` is ``(probabilities, num_samples)``. The ids must be integers in the vocabulary,
    one per draw; a token of probability 0 must never be drawn; and each token's frequency must
    be within ``Q5_TOLERANCE`` of its probability.
    """
    probs, num_samples = expected
    probs = np.asarray(probs, dtype=float)
    try:
        ids = np.asarray(samples.numpy() if hasattr(samples, "numpy") else samples)
        ids = ids.astype(float)
    except Exception:
        return f"expected an array of token ids, got {type(samples).__name__}"
    if ids.shape != (num_samples,):
        return f"expected {num_samples} token ids in an array of shape ({num_samples},), got shape {ids.shape}"
    if not np.all(np.isfinite(ids)) or np.any(ids != np.round(ids)) or np.any(ids < 0) or np.any(ids >= probs.size):
        return f"token ids must be whole numbers from 0 to {probs.size - 1}"
    counts = np.bincount(ids.astype(np.int64), minlength=probs.size)
    frequencies = counts / num_samples
    impossible = np.flatnonzero((probs == 0) & (counts > 0))
    if impossible.size:
        token = int(impossible[0])
        return (f"token {token} was drawn {int(counts[token])} times, but it is not among the k "
                f"largest logits, so its probability is 0")
    if np.max(np.abs(frequencies - probs)) > Q5_TOLERANCE:
        with np.printoptions(precision=3, suppress=True):
            return (f"over {num_samples} draws the tokens came out with frequencies "
                    f"{np.round(frequencies, 3)}, too far from the top-k probabilities "
                    f"{np.round(probs, 3)}")
    return None


def _q5_case(logits, k, temperature, seed, label):
    """A case whose ``rng`` is a fresh ``np.random.default_rng(seed)`` at every call.

    The reference and the mistakes return distributions and ignore it; the learner's sampler
    receives a new generator each time, so a check gives the same verdict every time it runs.
    """
    kwargs = {"rng": Seeded(seed), "num_samples": Q5_DRAWS, "temperature": temperature}
    return Case((logits, k), kwargs, label=label)


_Q5_FIRST = (np.array([2.0, 1.0, 0.5, 0.0, -1.0]), 3, 1.0)


q5 = FunctionQuestion(
    id="5.5",
    title="a top-k sampler",
    name="sample_top_k",
    reference=_q5_distribution,
    cases=[
        _q5_case(*_Q5_FIRST, 1, "([2, 1, 0.5, 0, -1], k=3, temperature=1.0)"),
        _q5_case(np.array([1.0, 3.0, 2.0, 3.0, 0.5]), 2, 0.5, 2,
                 "([1, 3, 2, 3, 0.5], k=2, temperature=0.5): a tie"),
        _q5_case(np.array([0.0, _NEG_INF, 0.5, 1.0, _NEG_INF, 2.0]), 4, 2.0, 3,
                 "([0, -inf, 0.5, 1, -inf, 2], k=4, temperature=2.0): masked tokens"),
        _q5_case(np.array([1000.0, 999.0, 998.0, 0.0, -1000.0], dtype=_F32), 2, 1.0, 4,
                 "(float32 [1000, 999, 998, 0, -1000], k=2, temperature=1.0)"),
        _q5_case(np.array([1e4, 1e4 - 1.0, 0.0, -1e4], dtype=_F32), 3, 1.0, 5,
                 "(float32 [1e4, 1e4 - 1, 0, -1e4], k=3, temperature=1.0)"),
        _q5_case(np.array([0.2, 0.1, -0.3, 0.0, 0.4, -0.1]), 5, 0.25, 6,
                 "([0.2, 0.1, -0.3, 0, 0.4, -0.1], k=5, temperature=0.25)"),
        # reproducibility: the first case again, with a generator seeded alike, then differently
        _q5_case(*_Q5_FIRST, 1, "([2, 1, 0.5, 0, -1], k=3, temperature=1.0, rng seeded 1 again)"),
        _q5_case(*_Q5_FIRST, 101, "([2, 1, 0.5, 0, -1], k=3, temperature=1.0, rng seeded 101)"),
    ],
    same_calls=[(0, 6)],
    different_calls=[(0, 7)],
    mistakes=[
        Mistake(
            "no_filter",
            _q5_no_filter,
            "your sampler draws from the softmax over every token: tokens outside the k largest "
            "logits come out too. Set the logits outside the top k to -inf before the softmax.",
        ),
        Mistake(
            "uniform_over_top_k",
            _q5_uniform,
            "your sampler picks uniformly among the k kept tokens (rng.choice of the indices), "
            "ignoring their probabilities. Draw with the renormalised softmax of the kept logits: "
            "rng.choice(len(logits), size=num_samples, p=probs).",
        ),
        Mistake(
            "temperature_multiplied",
            _q5_multiplied,
            "your sampler multiplies the logits by the temperature. Temperature divides them: "
            "softmax(z / T), so that T < 1 sharpens the distribution and T > 1 flattens it.",
        ),
        Mistake(
            "kept_k_plus_one",
            _q5_k_plus_one,
            "your sampler keeps k + 1 tokens: an off-by-one in the top-k filter. Keep exactly the "
            "k largest logits (ll.top_k_filter does).",
        ),
    ],
    hints=[
        "Divide the logits by the temperature, apply a top-k filter (ll.top_k_filter, or the mask "
        "of question 2), and take a "
        "stable softmax: that is the distribution to sample from.",
        "rng.choice(len(probs), size=num_samples, p=probs) draws token ids with those "
        "probabilities (the probabilities must add up to 1: renormalise after filtering).",
        "Use the generator you are given (rng), not np.random: the same generator state must give "
        "the same samples, which is what makes generated text reproducible.",
    ],
    compare=_consistent,
)

QUESTIONS = questions_in(globals())
