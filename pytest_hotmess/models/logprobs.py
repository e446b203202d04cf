"""Answer-token log-probabilities as a ``distribution`` outcome: the model's own probabilities
over the answer labels, from one call instead of many samples.

With ``logprobs: true`` and ``top_logprobs: N`` the API returns, for each answer token, the N
most likely tokens at that position. :func:`distribution_from_logprobs` finds the position
where the model writes its answer label and reads the labels' probabilities there, which is
what the ``kl`` loss needs (docs/statistics.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from ..sampling.completion import Completion, TokenLogprob

__all__ = ["distribution_from_logprobs"]


def distribution_from_logprobs(
    completion: Completion,
    choices: Sequence[str],
    *,
    normalize: bool = True,
    clean: Callable[[str], str] = str.strip,
) -> dict[str, float]:
    """The probabilities of ``choices`` at the first answer token that is one of them.

    Tokens are compared after ``clean`` (default: surrounding whitespace removed, so ``" B"``
    counts as ``B``); alternatives that clean to the same label add up. Labels missing from
    the top alternatives get 0. With ``normalize`` (the default) the result sums to 1: the
    distribution of the answer given that the model answers with one of ``choices``.

    Raises ``ValueError`` when the completion has no log-probabilities (ask for ``logprobs:
    true`` and ``top_logprobs``) or no answer token is a label; inside ``extract`` that makes
    the sample invalid.
    """
    labels = list(dict.fromkeys(choices))
    if len(labels) < 2 or not all(isinstance(label, str) and label for label in labels):
        raise ValueError("choices must be at least two distinct non-empty strings")
    if completion.logprobs is None:
        raise ValueError(
            "the completion has no log-probabilities: set logprobs: true and top_logprobs: N "
            "(OpenAI-compatible endpoints)"
        )
    for position in completion.logprobs:
        if clean(position.token) in labels:
            return _at(position, labels, normalize, clean)
    raise ValueError(
        f"no answer token is one of {labels} (the answer was {completion.text[:60]!r})"
    )


def _at(
    position: TokenLogprob, labels: list[str], normalize: bool, clean: Callable[[str], str]
) -> dict[str, float]:
    mass = dict.fromkeys(labels, 0.0)
    alternatives = position.top_logprobs or (position,)
    seen: set[str] = set()
    for alternative in alternatives:
        label = clean(alternative.token)
        if label in mass and alternative.token not in seen:
            seen.add(alternative.token)
            mass[label] += math.exp(alternative.logprob)
    if position.token not in seen:  # the chosen token, when not among the listed alternatives
        mass[clean(position.token)] += math.exp(position.logprob)
    total = sum(mass.values())
    if not normalize:
        return mass
    return {label: value / total for label, value in mass.items()}
