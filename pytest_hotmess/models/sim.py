"""Simulated models whose true bias and variance are known: for examples, demos and tests.

``MultipleChoiceSim`` answers multiple-choice prompts like a sampled language model, with a
chosen share of right answers, systematic errors (one fixed wrong letter per item), scattered
errors and unparseable answers. ``QuadraticOptimizerSim`` is a noisy, slightly mis-aimed
gradient descent whose final point drifts from biased to scattered as trajectories grow.
Both expose the population values of the statistics that pytest-hotmess estimates, so a test
can check that an interval covers the truth.

Every sample is a pure function of (seed, prompt or problem, sample index): the same seed gives
the same samples whatever the call order or concurrency.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import math
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from ..config.datasets import DatasetItem, format_prompt, load_bundled_questions, load_items
from ..sampling.completion import Completion, Prompt
from ..sampling.context import current_sample
from ..stats.kinds import INVALID_LABEL, Estimator

__all__ = [
    "DEFAULT_LETTERS",
    "PRESETS",
    "SPEC_KEYS",
    "ItemProfile",
    "MultipleChoiceSim",
    "QuadraticOptimizerSim",
    "coherent",
    "extract_letter",
    "hot_mess",
    "large",
    "scattering",
    "sim_model_from_spec",
    "small",
]

DEFAULT_LETTERS: Final = ("A", "B", "C", "D")
_MASK64 = (1 << 64) - 1
_DIFFICULTY_BANDS = {"easy": 0.0, "medium": 1.0 / 3.0, "hard": 2.0 / 3.0}
_ESTIMATORS = ("unbiased", "plugin", "jackknife", "bootstrap")
_ANSWER = re.compile(r"\bAnswer:\s*([A-Za-z])\b")


def _digest(*parts: object, person: bytes) -> bytes:
    """A stable hash of the parts (never Python's salted ``hash``)."""
    h = hashlib.blake2b(digest_size=32, person=person)
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else repr(part).encode("utf-8")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.digest()


def _unit(digest: bytes, word: int) -> float:
    """The ``word``-th 64-bit slice of a digest as a uniform number in [0, 1)."""
    return int.from_bytes(digest[8 * word : 8 * word + 8], "little") / 2.0**64


def _shift(probability: float, logit_shift: float) -> float:
    """Move a probability by ``logit_shift`` on the logit scale (0 and 1 stay put)."""
    if logit_shift == 0.0 or probability in (0.0, 1.0):
        return probability
    logit = math.log(probability / (1.0 - probability)) + logit_shift
    if logit >= 0:
        return 1.0 / (1.0 + math.exp(-logit))
    return math.exp(logit) / (1.0 + math.exp(logit))


def _prompt_text(prompt: Prompt) -> str:
    """A prompt as one string: chat messages become ``role: content`` lines."""
    if isinstance(prompt, str):
        return prompt
    lines = []
    for message in prompt:
        content = message.get("content", "")
        if not isinstance(content, str):  # multi-part content: keep the text parts
            content = " ".join(
                str(part.get("text", "")) for part in content if isinstance(part, Mapping)
            )
        lines.append(f"{message.get('role', 'user')}: {content}")
    return "\n".join(lines)


def extract_letter(text: str, letters: Sequence[str] = DEFAULT_LETTERS) -> str | None:
    """The letter after the last ``Answer:`` in ``text``, or None when there is none."""
    found = _ANSWER.findall(text)
    if not found:
        return None
    letter = found[-1].upper()
    return letter if letter in letters else None


def _check_rate(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def _check_finite(name: str, value: float, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum:g}, got {value!r}")
    return float(value)


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    return seed


def _check_estimator(estimator: str, samples: int | None) -> None:
    if estimator not in _ESTIMATORS:
        raise ValueError(f"estimator must be one of {', '.join(_ESTIMATORS)}, got {estimator!r}")
    if estimator == "plugin" and (samples is None or samples < 2):
        raise ValueError("the plugin estimator's expectation needs samples (K) >= 2")


# -- multiple choice ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ItemProfile:
    """What the simulator knows about one item: its right and systematic letters, difficulty."""

    answer: str
    letters: tuple[str, ...]
    systematic_letter: str
    difficulty: float
    """In [0, 1): drives reasoning length and, with the slopes, accuracy and scatter."""
    misconceived: bool = False
    """Always answered with its systematic wrong letter (``misconception_rate``)."""


class MultipleChoiceSim:
    """A seeded multiple-choice answerer with known answer distributions (the ``Model`` protocol).

    For each sample: with probability ``format_failure_rate`` the text has no parseable letter
    (``<invalid>``); otherwise the right letter with probability ``accuracy``; otherwise, a wrong
    letter: the item's fixed *systematic* wrong letter with probability ``systematic_rate``,
    and with the rest a wrong letter drawn uniformly from all wrong letters (scatter).

    Each item has a difficulty u in [0, 1) (a stable hash of the prompt, or from the dataset).
    Reasoning length grows with it: mean reasoning tokens = base_tokens * (1 + difficulty_slope
    * u). ``accuracy_slope`` makes harder items less accurate and ``systematic_slope`` makes
    their errors more scattered (logit units per unit of difficulty, around the median u = 0.5;
    at 0 every item has exactly ``accuracy`` and ``systematic_rate``). Scatter is what makes
    incoherence rise with reasoning length: lower accuracy alone lowers an item's Brier
    incoherence (see ``scattering``).

    ``misconception_rate`` is the share of items (picked by a stable hash of the question,
    whatever the difficulty) the model holds a misconception about: it answers them with their
    systematic wrong letter every time, an error that is all bias.

    The simulator knows the right answer of the ``items`` it was given (matched by their
    ``format_prompt`` text, or by a prompt that contains the question) and of ``answers``
    (prompt text -> letter); any other prompt gets a stable hash-derived right letter.
    Sampling parameters passed to a call are accepted and ignored.
    """

    hotmess_no_record = True
    """Not recorded again as a user callable: it records itself, or is local and seeded."""

    def __init__(
        self,
        *,
        accuracy: float = 0.7,
        systematic_rate: float = 0.5,
        format_failure_rate: float = 0.0,
        accuracy_slope: float = 0.0,
        systematic_slope: float = 0.0,
        difficulty_slope: float = 3.0,
        misconception_rate: float = 0.0,
        base_tokens: float = 150.0,
        token_spread: float = 0.25,
        letters: Sequence[str] = DEFAULT_LETTERS,
        items: Iterable[DatasetItem] | None = None,
        answers: Mapping[str, str] | None = None,
        seed: int = 0,
        latency_s: float = 0.0,
        name: str = "sim",
    ) -> None:
        self.accuracy = _check_rate("accuracy", accuracy)
        self.systematic_rate = _check_rate("systematic_rate", systematic_rate)
        self.format_failure_rate = _check_rate("format_failure_rate", format_failure_rate)
        self.accuracy_slope = _check_finite("accuracy_slope", accuracy_slope)
        self.systematic_slope = _check_finite("systematic_slope", systematic_slope)
        self.difficulty_slope = _check_finite("difficulty_slope", difficulty_slope, 0.0)
        self.misconception_rate = _check_rate("misconception_rate", misconception_rate)
        self.base_tokens = _check_finite("base_tokens", base_tokens, 1.0)
        self.token_spread = _check_finite("token_spread", token_spread, 0.0)
        self.latency_s = _check_finite("latency_s", latency_s, 0.0)
        self.seed = _check_seed(seed)
        self.letters = tuple(letters)
        if len(self.letters) < 2 or len(set(self.letters)) != len(self.letters):
            raise ValueError(f"letters must hold at least two distinct labels, got {letters!r}")
        self.name = name
        self._exact: dict[str, ItemProfile] = {}
        self._questions: list[tuple[str, ItemProfile]] = []
        for item in items or ():
            self._add_item(item)
        for prompt, answer in (answers or {}).items():
            if answer not in self.letters:
                raise ValueError(f"answer {answer!r} is not one of the letters {self.letters}")
            profile = self._profile(prompt, answer, self.letters, self._hashed_difficulty(prompt))
            self._exact[prompt] = profile
            self._questions.append((prompt, profile))
        self._questions.sort(key=lambda entry: -len(entry[0]))
        self._lookup: dict[str, ItemProfile] = {}
        self._counters: dict[str, int] = {}
        self._lock = threading.Lock()

    # -- items --------------------------------------------------------------------------------

    def _add_item(self, item: DatasetItem) -> None:
        choices = item.labelled_choices()
        if not choices or item.answer not in choices:
            raise ValueError(f"item {item.id!r} is not a multiple-choice item with a label answer")
        difficulty = self._item_difficulty(item)
        profile = self._profile(item.prompt, str(item.answer), tuple(choices), difficulty)
        self._exact[format_prompt(item)] = profile
        self._questions.append((item.prompt, profile))

    def _item_difficulty(self, item: DatasetItem) -> float:
        """Numeric metadata difficulty in [0, 1) as is; easy/medium/hard pick a third of [0, 1)."""
        label = item.metadata.get("difficulty")
        if isinstance(label, (int, float)) and not isinstance(label, bool) and 0 <= label < 1:
            return float(label)
        jitter = self._hashed_difficulty(item.prompt)
        if isinstance(label, str) and label.lower() in _DIFFICULTY_BANDS:
            return _DIFFICULTY_BANDS[label.lower()] + jitter / 3.0
        return jitter

    @staticmethod
    def _hashed_difficulty(question: str) -> float:
        return _unit(_digest(question, person=b"hotmess-difclt"), 0)

    def _profile(
        self, question: str, answer: str, letters: tuple[str, ...], difficulty: float
    ) -> ItemProfile:
        wrong = [letter for letter in letters if letter != answer]
        digest = _digest(question, person=b"hotmess-systmtc")
        systematic = wrong[int(_unit(digest, 0) * len(wrong))]
        held = _unit(_digest(question, person=b"hotmess-miscncp"), 0) < self.misconception_rate
        return ItemProfile(answer, letters, systematic, difficulty, held)

    def profile(self, prompt: Prompt) -> ItemProfile:
        """The item behind a prompt: exact prompt, else the longest known question it contains,
        else a stable hash-derived item with the default letters."""
        text = _prompt_text(prompt)
        found = self._lookup.get(text)
        if found is not None:
            return found
        found = self._exact.get(text)
        if found is None:
            found = next((p for question, p in self._questions if question in text), None)
        if found is None:
            digest = _digest(text, person=b"hotmess-answer")
            answer = self.letters[int(_unit(digest, 0) * len(self.letters))]
            found = self._profile(text, answer, self.letters, self._hashed_difficulty(text))
        self._lookup[text] = found
        return found

    # -- the true distribution -----------------------------------------------------------------

    def item_rates(self, difficulty: float) -> tuple[float, float]:
        """(accuracy, systematic share of errors) of an item of this difficulty."""
        centred = difficulty - 0.5
        return (
            _shift(self.accuracy, -self.accuracy_slope * centred),
            _shift(self.systematic_rate, -self.systematic_slope * centred),
        )

    def _distribution(self, profile: ItemProfile) -> dict[str, float]:
        accuracy, systematic = self.item_rates(profile.difficulty)
        if profile.misconceived:
            accuracy, systematic = 0.0, 1.0
        answered = 1.0 - self.format_failure_rate
        wrong = [letter for letter in profile.letters if letter != profile.answer]
        error_mass = answered * (1.0 - accuracy)
        dist = {letter: error_mass * (1.0 - systematic) / len(wrong) for letter in wrong}
        dist[profile.systematic_letter] += error_mass * systematic
        dist[profile.answer] = answered * accuracy
        ordered = {letter: dist[letter] for letter in profile.letters}
        ordered[INVALID_LABEL] = self.format_failure_rate
        return ordered

    def true_answer_distribution(self, prompt: Prompt) -> dict[str, float]:
        """Probability of each letter, and of an unparseable answer under ``<invalid>``."""
        return self._distribution(self.profile(prompt))

    def true_terms(
        self, prompt: Prompt, samples: int | None = None, estimator: Estimator = "unbiased"
    ) -> tuple[float, float, float]:
        """Expected (error, bias, variance) of one item's one-hot Brier estimate with K samples.

        With answer distribution p and right letter y: error = 2 (1 - p_y) for every
        estimator. The unbiased (and, for Brier, identical jackknife) variance estimate has
        expectation 1 - sum p^2 whatever K; the plug-in one is lower by the factor (K-1)/K.
        Bias = error - variance.
        """
        _check_estimator(estimator, samples)
        return self._terms(self.profile(prompt), samples, estimator)

    def _terms(
        self, profile: ItemProfile, samples: int | None, estimator: Estimator
    ) -> tuple[float, float, float]:
        dist = self._distribution(profile)
        error = 2.0 * (1.0 - dist[profile.answer])
        variance = 1.0 - sum(p * p for p in dist.values())
        if estimator == "plugin":
            assert samples is not None
            variance *= (samples - 1) / samples
        return error, error - variance, variance

    def true_incoherence(
        self,
        prompts: Iterable[Prompt],
        samples: int | None = None,
        estimator: Estimator = "unbiased",
    ) -> float | None:
        """Ratio of sums of the items' true variance and error; None when no error is possible."""
        _check_estimator(estimator, samples)
        total_error = total_variance = 0.0
        for prompt in prompts:
            error, _, variance = self._terms(self.profile(prompt), samples, estimator)
            total_error += error
            total_variance += variance
        return total_variance / total_error if total_error > 0 else None

    def population_incoherence(
        self, samples: int | None = None, estimator: Estimator = "unbiased", grid: int = 4096
    ) -> float | None:
        """True incoherence over unseen prompts, whose difficulty is uniform on [0, 1).

        The per-item terms depend only on difficulty, so this is the ratio of their integrals
        over u (midpoint rule on ``grid`` points), a share ``misconception_rate`` of them
        misconceived.
        """
        _check_estimator(estimator, samples)
        answer, wrong = self.letters[0], self.letters[1]
        total_error = total_variance = 0.0
        share = self.misconception_rate
        for index in range(grid):
            u = (index + 0.5) / grid
            for held, weight in ((False, 1.0 - share), (True, share)):
                if weight > 0:
                    profile = ItemProfile(answer, self.letters, wrong, u, held)
                    error, _, variance = self._terms(profile, samples, estimator)
                    total_error += weight * error
                    total_variance += weight * variance
        return total_variance / total_error if total_error > 0 else None

    def expected_reasoning_tokens(self, prompt: Prompt) -> float:
        """Mean reasoning length of the item (the covariate that grows with difficulty)."""
        return self.base_tokens * (1.0 + self.difficulty_slope * self.profile(prompt).difficulty)

    # -- sampling ------------------------------------------------------------------------------

    def sample(self, prompt: Prompt, index: int) -> Completion:
        """Sample number ``index`` for this prompt: a pure function of (seed, prompt, index)."""
        text = _prompt_text(prompt)
        profile = self.profile(text)
        digest = _digest(self.seed & _MASK64, text, index, person=b"hotmess-sample")
        draw = _unit(digest, 0)
        outcome = INVALID_LABEL
        cumulative = 0.0
        for label, probability in self._distribution(profile).items():
            cumulative += probability
            if probability > 0 and draw < cumulative:
                outcome = label
                break
        else:  # rounding left the draw above the total: take the last possible outcome
            outcome = next(
                label for label, p in reversed(self._distribution(profile).items()) if p > 0
            )
        # Box-Muller from two more slices of the digest: a normal draw for the length.
        radius = math.sqrt(-2.0 * math.log(1.0 - _unit(digest, 1)))
        normal = radius * math.cos(2.0 * math.pi * _unit(digest, 2))
        mean = self.base_tokens * (1.0 + self.difficulty_slope * profile.difficulty)
        spread = self.token_spread
        reasoning = max(1, round(mean * math.exp(spread * normal - spread * spread / 2.0)))
        if outcome == INVALID_LABEL:
            body = f"Reasoning: went back and forth for {reasoning} tokens without settling."
            answer_tokens = 0
        else:
            body = f"Reasoning: weighed the options for {reasoning} tokens.\nAnswer: {outcome}"
            answer_tokens = 3
        return Completion(
            text=body,
            model=self.name,
            finish_reason="stop",
            input_tokens=len(text.split()),
            output_tokens=reasoning + answer_tokens,
            reasoning_tokens=reasoning,
            latency_s=self.latency_s,
        )

    def _next_index(self, text: str) -> int:
        """The resampler's sample index; outside it, a per-prompt call counter."""
        index = current_sample.get()
        if index is not None:
            return index
        with self._lock:
            index = self._counters.get(text, 0)
            self._counters[text] = index + 1
        return index

    def __call__(self, prompt: Prompt, **params: Any) -> Completion:
        text = _prompt_text(prompt)
        completion = self.sample(text, self._next_index(text))
        if self.latency_s:
            time.sleep(self.latency_s)
        return completion

    async def acall(self, prompt: Prompt, **params: Any) -> Completion:
        text = _prompt_text(prompt)
        completion = self.sample(text, self._next_index(text))
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        return completion

    def __repr__(self) -> str:
        return (
            f"MultipleChoiceSim(name={self.name!r}, accuracy={self.accuracy:g}, "
            f"systematic_rate={self.systematic_rate:g}, "
            f"format_failure_rate={self.format_failure_rate:g}, seed={self.seed})"
        )


_COHERENT: Final[dict[str, Any]] = {
    "accuracy": 0.9975,
    "accuracy_slope": 30.0,
    "systematic_rate": 0.95,
    "format_failure_rate": 0.0,
}
_HOT_MESS: Final[dict[str, Any]] = {
    "accuracy": 0.6,
    "systematic_rate": 0.0,
    "format_failure_rate": 0.05,
}
_SCATTERING: Final[dict[str, Any]] = {
    "accuracy": 0.35,
    "systematic_rate": 0.5,
    "systematic_slope": 8.0,
    "format_failure_rate": 0.0,
}
_SMALL: Final[dict[str, Any]] = {
    "accuracy": 0.4,
    "accuracy_slope": 6.0,
    "systematic_rate": 0.6,
    "systematic_slope": -6.0,
    "format_failure_rate": 0.0,
}
_LARGE: Final[dict[str, Any]] = {
    "accuracy": 0.9,
    "accuracy_slope": 6.0,
    "systematic_rate": 0.5,
    "systematic_slope": 10.0,
    "misconception_rate": 0.1,
    "format_failure_rate": 0.0,
}
PRESETS: Final[Mapping[str, Mapping[str, Any]]] = {
    "coherent": _COHERENT,
    "hot_mess": _HOT_MESS,
    "scattering": _SCATTERING,
    "small": _SMALL,
    "large": _LARGE,
}
"""Parameters of the ready-made answerers, by preset name."""


def coherent(**overrides: Any) -> MultipleChoiceSim:
    """A mostly right answerer whose errors are systematic.

    Items easier than u ~ 0.68 are answered right almost always; harder ones are answered with
    the item's fixed wrong letter about 95% of the time. Accuracy 0.70 over unseen prompts
    (0.78 over the bundled questions). True incoherence (unbiased estimator): 0.140 over unseen
    prompts, 0.121 over the bundled questions (checked in the tests).
    """
    return MultipleChoiceSim(**{"name": "sim-coherent", **_COHERENT, **overrides})


def hot_mess(**overrides: Any) -> MultipleChoiceSim:
    """An answerer that is right 57% of the time, scatters its errors evenly over the wrong
    letters and gives 5% unparseable answers. True incoherence (unbiased estimator), the same
    for every item: 0.726.
    """
    return MultipleChoiceSim(**{"name": "sim-hot-mess", **_HOT_MESS, **overrides})


def scattering(**overrides: Any) -> MultipleChoiceSim:
    """An answerer whose errors scatter more on harder items, which it also reasons longer on:
    incoherence rises with reasoning length (issue #7's effect).

    Accuracy is 0.35 on every item; the share of errors on the item's fixed wrong letter falls
    from 0.98 on the easiest items to 0.02 on the hardest, so the item's true incoherence rises
    from 0.36 to 0.57 while mean reasoning tokens rise from 150 to 600. True incoherence over
    unseen prompts: 0.484.

    With one-hot Brier, a lower accuracy *lowers* an item's incoherence (an item answered with
    one fixed wrong letter has incoherence equal to its accuracy), so a rising curve needs
    errors that scatter, not just more errors.
    """
    return MultipleChoiceSim(**{"name": "sim-scattering", **_SCATTERING, **overrides})


def small(**overrides: Any) -> MultipleChoiceSim:
    """The smaller of two models of different scale (issue #18, the paper's second finding):
    accuracy falls from 0.93 on the easiest items to 0.03 on the hardest, and the share of its
    errors on the item's one wrong letter rises from 0.07 to 0.97: scattered on easy items,
    settled on hard ones (consistently wrong). True incoherence by
    difficulty third (uniform u): 0.85 easy, 0.50 medium, 0.14 hard.
    """
    return MultipleChoiceSim(**{"name": "sim-small", **_SMALL, **overrides})


def large(**overrides: Any) -> MultipleChoiceSim:
    """The larger model: right far more often (0.99 on the easiest items, 0.31 on the hardest)
    but, on 10% of items, consistently wrong (a misconception); on the other items the share
    of its errors on one wrong letter falls from 0.99 to 0.01: systematic on easy items,
    scattered on hard ones. True incoherence by
    difficulty third (uniform u): 0.13 easy, 0.45 medium, 0.54 hard: more coherent than
    ``small`` on easy items, less on hard ones.
    """
    return MultipleChoiceSim(**{"name": "sim-large", **_LARGE, **overrides})


SPEC_KEYS: Final = frozenset(
    {
        "provider",
        "name",
        "preset",
        "accuracy",
        "systematic_rate",
        "format_failure_rate",
        "accuracy_slope",
        "systematic_slope",
        "difficulty_slope",
        "misconception_rate",
        "base_tokens",
        "token_spread",
        "letters",
        "seed",
        "latency_s",
        "dataset",
    }
)
"""Keys ``sim_model_from_spec`` understands (a ``provider: sim`` entry of ``hotmess.yaml``)."""


def sim_model_from_spec(
    spec: Mapping[str, Any], *, name: str | None = None, seed: int | None = None
) -> MultipleChoiceSim:
    """Build the simulated model of a ``provider: sim`` config entry.

    ``preset`` (coherent, hot_mess or scattering) picks the starting parameters; the other
    ``MultipleChoiceSim`` parameters override them. ``dataset`` is the path of a dataset
    whose answers the model knows; it defaults to the bundled questions, and null means none.
    ``seed`` here is used when the spec sets none; ``name`` when the spec sets none.
    """
    unknown = sorted(set(spec) - SPEC_KEYS)
    if unknown:
        raise ValueError(f"unknown sim setting(s): {', '.join(unknown)}")
    if spec.get("provider", "sim") != "sim":
        raise ValueError(f"not a sim spec: provider {spec.get('provider')!r}")
    params = {key: value for key, value in spec.items() if key not in ("provider", "preset")}
    preset = spec.get("preset")
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"unknown sim preset {preset!r}; expected one of {', '.join(PRESETS)}")
    if "dataset" in params:
        dataset = params.pop("dataset")
        items = load_items(dataset) if dataset is not None else []
    else:
        items = load_bundled_questions()
    params.setdefault("name", name or ("sim" if preset is None else f"sim-{preset}"))
    if seed is not None:
        params.setdefault("seed", seed)
    base = dict(PRESETS[preset]) if preset is not None else {}
    return MultipleChoiceSim(**{**base, **params, "items": items})


# -- the quadratic optimizer ---------------------------------------------------------------------


class QuadraticOptimizerSim:
    """Noisy, slightly mis-aimed steepest descent on a random positive-definite quadratic.

    f(x) = 1/2 (x - x*)^T A (x - x*) in ``dim`` dimensions; A's eigenvalues run geometrically
    from 1 to ``condition_number`` in a random basis (``problem_seed``). The "model" starts at
    x0 (``start_distance`` from x*) and steps x <- x - eta A (x - x~) + noise N(0, noise^2 I):
    it aims at x~ = x* + undershoot (x0 - x*), a point short of the optimum (its systematic
    error), and every step carries fresh noise (its incoherent error).

    The iterate is affine in the noise, so its mean m_T and covariance S_T follow exactly:
    m_{t+1} = M m_t + eta A x~ and S_{t+1} = M S_t M^T + noise^2 I, with M = I - eta A. Against
    the target x*, bias = |m_T - x*|^2 shrinks with T (each eigen-component moves monotonically
    from x0 toward x~, as 0 <= 1 - eta lambda < 1) while variance = tr S_T grows, so incoherence
    rises with trajectory length, as in the paper.
    """

    hotmess_no_record = True
    """Not recorded again as a user callable: it records itself, or is local and seeded."""

    def __init__(
        self,
        *,
        dim: int = 4,
        condition_number: float = 50.0,
        undershoot: float = 0.3,
        noise: float = 0.1,
        start_distance: float = 2.0,
        step_size: float | None = None,
        problem_seed: int = 0,
        seed: int = 0,
    ) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be an integer >= 1, got {dim!r}")
        self.condition_number = _check_finite("condition_number", condition_number, 1.0)
        self.undershoot = _check_rate("undershoot", undershoot)
        self.noise = _check_finite("noise", noise, 0.0)
        self.start_distance = _check_finite("start_distance", start_distance, 0.0)
        self.problem_seed = _check_seed(problem_seed)
        self.seed = _check_seed(seed)
        rng = np.random.default_rng(np.random.SeedSequence([problem_seed & _MASK64, 0x9A0D]))
        basis, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
        self.eigenvalues: NDArray[np.float64] = np.geomspace(1.0, self.condition_number, dim)
        matrix = (basis * self.eigenvalues) @ basis.T
        self.matrix: NDArray[np.float64] = (matrix + matrix.T) / 2.0
        self.optimum: NDArray[np.float64] = rng.standard_normal(dim)
        direction = rng.standard_normal(dim)
        self.start: NDArray[np.float64] = (
            self.optimum + self.start_distance * direction / np.linalg.norm(direction)
        )
        largest = float(self.eigenvalues[-1])
        self.step_size = 1.0 / largest if step_size is None else float(step_size)
        if not 0.0 < self.step_size < 2.0 / largest:
            raise ValueError(f"step_size must lie in (0, 2 / {largest:g}) for descent to converge")
        self.aim: NDArray[np.float64] = self.optimum + self.undershoot * (self.start - self.optimum)
        self._transition = np.eye(dim) - self.step_size * self.matrix
        self._drift = self.step_size * self.matrix @ self.aim
        self._counter = 0
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        return int(self.optimum.shape[0])

    def loss(self, point: NDArray[np.float64]) -> float:
        """f at a point (0 at the optimum)."""
        offset = np.asarray(point, dtype=float) - self.optimum
        return float(0.5 * offset @ self.matrix @ offset)

    def _noise(self, steps: int, index: int) -> NDArray[np.float64]:
        """Step noise of sample ``index``: a longer trajectory continues a shorter one."""
        entropy = [self.seed & _MASK64, self.problem_seed & _MASK64, index & _MASK64]
        rng = np.random.default_rng(np.random.SeedSequence(entropy))
        return self.noise * rng.standard_normal((steps, self.dim))

    def trajectories(
        self, trajectory_length: int, sample_indices: Sequence[int]
    ) -> NDArray[np.float64]:
        """Every iterate of several samples at once: shape (samples, length + 1, dim)."""
        steps = self._check_length(trajectory_length)
        noise = np.zeros((len(sample_indices), steps, self.dim))
        for row, index in enumerate(sample_indices):
            noise[row] = self._noise(steps, index)
        path = np.empty((len(sample_indices), steps + 1, self.dim))
        path[:, 0] = self.start
        for t in range(steps):
            path[:, t + 1] = path[:, t] @ self._transition.T + self._drift + noise[:, t]
        return path

    def run_batch(
        self, trajectory_length: int, sample_indices: Sequence[int]
    ) -> NDArray[np.float64]:
        """Final points of several samples: shape (samples, dim)."""
        return self.trajectories(trajectory_length, sample_indices)[:, -1]

    def run(self, trajectory_length: int, sample_index: int | None = None) -> NDArray[np.float64]:
        """The final point of one sample (a vector outcome with target ``optimum``).

        Without ``sample_index`` the resampler's index is used, else a call counter.
        """
        if sample_index is None:
            sample_index = current_sample.get()
        if sample_index is None:
            with self._lock:
                sample_index, self._counter = self._counter, self._counter + 1
        final: NDArray[np.float64] = self.run_batch(trajectory_length, [sample_index])[0]
        return final

    def final_loss(self, trajectory_length: int, sample_index: int | None = None) -> float:
        """f at the final point (a numeric outcome with target 0)."""
        return self.loss(self.run(trajectory_length, sample_index))

    @staticmethod
    def _check_length(trajectory_length: int) -> int:
        if isinstance(trajectory_length, bool) or not isinstance(trajectory_length, int):
            raise ValueError(f"trajectory_length must be an integer, got {trajectory_length!r}")
        if trajectory_length < 0:
            raise ValueError(f"trajectory_length must be >= 0, got {trajectory_length}")
        return trajectory_length

    # -- population values ---------------------------------------------------------------------

    def mean_and_covariance(
        self, trajectory_length: int
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Exact mean and covariance of the final point (propagated through the recursion)."""
        steps = self._check_length(trajectory_length)
        mean = self.start.copy()
        covariance = np.zeros((self.dim, self.dim))
        step_noise = self.noise**2 * np.eye(self.dim)
        for _ in range(steps):
            mean = self._transition @ mean + self._drift
            covariance = self._transition @ covariance @ self._transition.T + step_noise
        return mean, covariance

    def true_terms(self, trajectory_length: int) -> tuple[float, float, float]:
        """(error, bias, variance) of the final point against x*, squared Euclidean loss.

        bias = |m_T - x*|^2 and variance = tr S_T are what the unbiased vector estimator
        (ddof=1 variance, bias corrected by variance / K) estimates, for any K.
        """
        mean, covariance = self.mean_and_covariance(trajectory_length)
        bias = float(np.sum((mean - self.optimum) ** 2))
        variance = float(np.trace(covariance))
        return bias + variance, bias, variance

    def true_incoherence(self, trajectory_length: int) -> float:
        error, _, variance = self.true_terms(trajectory_length)
        return variance / error

    def true_loss_terms(self, trajectory_length: int) -> tuple[float, float, float]:
        """(error, bias, variance) of the final loss f(x_T) against 0, squared error.

        With e = x_T - x* ~ N(mu, S): E f = (mu^T A mu + tr AS) / 2 and
        Var f = tr(ASAS) / 2 + mu^T A S A mu (moments of a Gaussian quadratic form).
        """
        mean, covariance = self.mean_and_covariance(trajectory_length)
        mu = mean - self.optimum
        a_s = self.matrix @ covariance
        expected = 0.5 * float(mu @ self.matrix @ mu + np.trace(a_s))
        variance = 0.5 * float(np.trace(a_s @ a_s)) + float(mu @ a_s @ self.matrix @ mu)
        bias = expected**2
        return bias + variance, bias, variance

    def __repr__(self) -> str:
        return (
            f"QuadraticOptimizerSim(dim={self.dim}, condition_number={self.condition_number:g}, "
            f"undershoot={self.undershoot:g}, noise={self.noise:g}, "
            f"problem_seed={self.problem_seed}, seed={self.seed})"
        )
