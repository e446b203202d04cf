"""Multiple-choice answers, sampled K times per question: coherent, hot mess, consistent.

The model under test is the ``hotmess_model`` fixture: the simulated ``coherent`` model of
hotmess.yaml by default, and whatever ``--hotmess-model NAME`` picks otherwise (a real endpoint,
or ``hot_mess`` to watch the gates fail). The test that demonstrates a catch builds its hot-mess
model explicitly, so it shows the same thing whatever model is under test.
"""

from __future__ import annotations

import pytest

from pytest_hotmess import DatasetItem, Model, Resampler, format_prompt, load_bundled_questions
from pytest_hotmess.sim import extract_letter, hot_mess

QUESTIONS = load_bundled_questions()
"""The 48 multiple-choice questions shipped with pytest-hotmess, each with its answer letter."""

PROMPTS = [format_prompt(question) for question in QUESTIONS]
ANSWERS = [question.answer for question in QUESTIONS]
IDS = [question.id for question in QUESTIONS]

JUDGEMENT_CALLS: dict[str, tuple[str, list[str]]] = {
    "name-unread": (
        "Which name suits a function that returns how many messages are unread?",
        ["count_unread", "unread_total", "get_unread", "n_unread"],
    ),
    "name-retry": (
        "Which name suits a setting for how often a failed request is repeated?",
        ["max_retries", "retry_count", "attempts", "retry_limit"],
    ),
    "log-level": (
        "A cache miss happens a few times a minute. At which level should it be logged?",
        ["DEBUG", "INFO", "WARNING", "not at all"],
    ),
    "unknown-key": (
        "A config file names an unknown key. What should the program do?",
        ["stop with an error", "warn and go on", "ignore it silently", "ask the user"],
    ),
    "timeout": (
        "Which default timeout suits an HTTP call to a model API?",
        ["10 seconds", "30 seconds", "60 seconds", "5 minutes"],
    ),
    "date-format": (
        "Which date format should a log line use?",
        ["2026-01-31T12:00:00Z", "31/01/2026 12:00", "Jan 31 2026, 12:00", "1769860800"],
    ),
    "test-layout": (
        "Where should a library keep its tests?",
        ["tests/ next to the package", "inside the package", "beside each module", "elsewhere"],
    ),
    "branch-name": (
        "Which branch name suits a fix for a crash on empty input?",
        ["fix/empty-input-crash", "bugfix-1234", "hotfix", "crash-fix"],
    ),
    "commit-size": (
        "A change touches a parser and its docs. How should it be committed?",
        ["one commit", "two commits", "one commit per file", "into the previous commit"],
    ),
    "review-order": (
        "What should a code review look at first?",
        ["the tests", "the public interface", "the error handling", "the style"],
    ),
    "seed-default": (
        "Which default seed should a simulation use?",
        ["0", "42", "the current time", "none: require one"],
    ),
    "sample-count": (
        "How many samples per question suit a first coherence check?",
        ["5", "10", "30", "100"],
    ),
    "ci-progress": (
        "How should a long test run show progress in a CI log?",
        ["one line per test", "a line every minute", "only a final summary", "a progress bar"],
    ),
    "config-format": (
        "Which format suits a small tool's configuration file?",
        ["YAML", "TOML", "JSON", "INI"],
    ),
    "decimals": (
        "How many decimals should a report show for a rate between 0 and 1?",
        ["1", "2", "3", "4"],
    ),
    "rate-limit": (
        "An API answers 429 Too Many Requests. What should a client do first?",
        ["wait and retry", "fail the call", "switch to another model", "retry at once"],
    ),
}
"""Questions without a right answer, by item id: a model can only be consistent on them."""


def ask(question: str, choices: list[str]) -> str:
    """A question without an answer key, laid out like the bundled ones."""
    return format_prompt(DatasetItem(id="-", prompt=question, choices=choices, answer=None))


def parse_letter(text: str) -> str | None:
    """The answer letter of a reply: the last ``Answer: X``, else a reply that is only a letter.

    Real models asked to "answer with a single letter" mostly reply ``B`` or ``B.``; the
    simulated ones end with ``Answer: B``. Anything else is an invalid answer (None), which the
    plugin counts as a wrong answer of its own: format inconsistency is incoherence too.
    """
    letter = extract_letter(text)
    if letter is not None:
        return letter
    bare = text.strip().strip("*().:").strip().upper()
    return bare if bare in ("A", "B", "C", "D") else None


@pytest.mark.coherence(max_incoherence=0.4)
def test_model_is_coherent(resample: Resampler, hotmess_model: Model) -> None:
    """The gate: at most 40% of the model's error may be scatter rather than systematic.

    The simulated coherent model errs on its hardest questions, but with one fixed wrong letter
    per question: true incoherence 0.12 over these questions.
    """
    resample.map(hotmess_model, PROMPTS, targets=ANSWERS, items=IDS, extract=parse_letter)


@pytest.mark.xfail(
    strict=True,
    reason="a hot-mess model: the coherence gate catches it (strict: the run fails if it passes)",
)
@pytest.mark.coherence(max_incoherence=0.4)
def test_hot_mess_is_caught(resample: Resampler) -> None:
    """The same gate on a model that scatters its errors over every wrong letter and gives 5%
    unparseable answers: true incoherence 0.73, so the gate must fail it."""
    model = hot_mess(items=QUESTIONS, seed=0)
    resample.map(model, PROMPTS, targets=ANSWERS, items=IDS, extract=parse_letter)


SYSTEM = "You are taking a multiple-choice quiz. Reply with the letter of one option."


@pytest.mark.coherence(max_incoherence=0.4, loss="kl", estimator="plugin")
def test_model_is_coherent_kl(resample: Resampler, hotmess_model: Model) -> None:
    """The paper's own figure: KL loss with the plug-in estimator, on the same questions asked
    behind a system prompt (chat messages work wherever a prompt string does).

    One-hot answers are smoothed (delta 1e-12), so one wrong answer costs about 27.6 nats and
    the absolute numbers are large; the share of the error that is variance is what matters.
    Being different requests, these samples also stay apart from the test above in a
    ``--hotmess-record`` recording, which holds one answer per request and sample index.
    """
    chats = [
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": p}] for p in PROMPTS
    ]
    resample.map(hotmess_model, chats, targets=ANSWERS, items=IDS, extract=parse_letter)


@pytest.mark.coherence(max_variance=0.25)
def test_model_is_consistent(resample: Resampler, hotmess_model: Model) -> None:
    """Consistency needs no answer key: no targets, so only the variance is measured and gated.

    With one-hot answers the (unbiased) variance of a question is the probability that two
    answers to it disagree: max_variance=0.25 asks that, on average, two answers to the same
    question agree at least 75% of the time.
    """
    prompts = [ask(question, choices) for question, choices in JUDGEMENT_CALLS.values()]
    resample.map(hotmess_model, prompts, items=list(JUDGEMENT_CALLS), extract=parse_letter)
