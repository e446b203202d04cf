"""MultipleChoiceSim: reproducible sampling, a true distribution that matches what it samples,
and true Brier terms that are exactly what the engine's estimators have as expectation."""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pytest_hotmess import Model
from pytest_hotmess.config.datasets import format_prompt, load_bundled_questions
from pytest_hotmess.config.file import SIM_KEYS
from pytest_hotmess.sampling.context import sample_scope
from pytest_hotmess.sim import (
    DEFAULT_LETTERS,
    SPEC_KEYS,
    ItemProfile,
    MultipleChoiceSim,
    coherent,
    extract_letter,
    hot_mess,
    scattering,
    sim_model_from_spec,
)
from pytest_hotmess.stats.aggregate import aggregate
from pytest_hotmess.stats.decompose import estimate_item
from pytest_hotmess.stats.kinds import INVALID, INVALID_LABEL

PROMPTS = [f"Question {i}: which option is right?" for i in range(6)]


def outcome(text: str) -> object:
    letter = extract_letter(text)
    return INVALID if letter is None else letter


def make_sim(seed: int = 3) -> MultipleChoiceSim:
    return MultipleChoiceSim(accuracy=0.5, systematic_rate=0.4, format_failure_rate=0.1, seed=seed)


# -- reproducibility -------------------------------------------------------------------------


def test_same_seed_same_samples_whatever_the_call_order_threads_or_event_loop() -> None:
    calls = [(prompt, index) for prompt in PROMPTS for index in range(20)]
    expected = {call: make_sim().sample(*call) for call in calls}

    shuffled = calls[:]
    random.Random(1).shuffle(shuffled)
    model = make_sim()

    def call(prompt: str, index: int) -> object:
        with sample_scope(prompt, index):
            return model(prompt)

    in_order = {c: call(*c) for c in shuffled}
    with ThreadPoolExecutor(max_workers=8) as pool:
        threaded = dict(zip(shuffled, pool.map(lambda c: call(*c), shuffled), strict=True))

    async def one(prompt: str, index: int) -> object:
        with sample_scope(prompt, index):
            await asyncio.sleep(0)
            return await model.acall(prompt)

    async def everything() -> list[object]:
        return await asyncio.gather(*(one(*c) for c in shuffled))

    gathered = dict(zip(shuffled, asyncio.run(everything()), strict=True))
    assert in_order == expected
    assert threaded == expected
    assert gathered == expected


def test_without_a_sample_index_each_prompt_counts_its_own_calls() -> None:
    model = make_sim()
    interleaved = [model(prompt) for _ in range(10) for prompt in PROMPTS]
    for offset, prompt in enumerate(PROMPTS):
        got = interleaved[offset :: len(PROMPTS)]
        assert got == [make_sim().sample(prompt, i) for i in range(10)]

    # Under threads the counter hands out each index once: the same multiset of samples.
    fresh = make_sim()
    with ThreadPoolExecutor(max_workers=8) as pool:
        threaded = list(pool.map(lambda _: fresh(PROMPTS[0]), range(200)))
    expected = [make_sim().sample(PROMPTS[0], i) for i in range(200)]
    assert Counter(c.text for c in threaded) == Counter(c.text for c in expected)


def test_different_sample_indices_and_seeds_give_different_samples() -> None:
    model = make_sim()
    texts = [model.sample(PROMPTS[0], i).text for i in range(50)]
    # Reasoning lengths are lognormal (spread 0.25 around ~150-600 tokens), so a handful of
    # collisions is possible, but a stream that ignored the index would give 1 distinct text.
    assert len(set(texts)) >= 40
    other = [make_sim(seed=4).sample(PROMPTS[0], i).text for i in range(50)]
    assert sum(a != b for a, b in zip(texts, other, strict=True)) >= 40


def test_chat_messages_and_strings_resolve_to_the_same_known_item() -> None:
    items = load_bundled_questions()
    model = MultipleChoiceSim(items=items)
    item = items[7]
    chat = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": format_prompt(item)},
    ]
    custom = f"Please help.\n{item.prompt}\nOptions follow."
    for prompt in (format_prompt(item), chat, custom):
        assert model.profile(prompt).answer == item.answer
        assert model.profile(prompt).letters == DEFAULT_LETTERS
    assert model.sample(chat, 0).input_tokens is not None


def test_unknown_prompts_get_a_stable_hash_derived_answer() -> None:
    prompts = [f"unseen prompt {i}" for i in range(400)]
    first = [MultipleChoiceSim(seed=0).profile(p) for p in prompts]
    again = [MultipleChoiceSim(seed=99).profile(p) for p in prompts]
    assert first == again  # the item is the prompt's, not the seed's
    counts = Counter(p.answer for p in first)
    # Binomial(400, 1/4): mean 100, sd 8.7; +-40 is 4.6 sd.
    assert set(counts) == set(DEFAULT_LETTERS)
    assert all(60 <= n <= 140 for n in counts.values())
    assert all(p.systematic_letter != p.answer for p in first)
    assert all(0.0 <= p.difficulty < 1.0 for p in first)


# -- the true distribution -------------------------------------------------------------------


def test_true_distribution_and_terms_exact_values() -> None:
    model = MultipleChoiceSim(accuracy=0.6, systematic_rate=0.5, format_failure_rate=0.1)
    profile = model.profile(PROMPTS[0])
    dist = model.true_answer_distribution(PROMPTS[0])
    # answered 0.9: right 0.54; wrong mass 0.36, half to the systematic letter (0.18) and half
    # spread over the three wrong letters (0.06 each); invalid 0.1.
    expected = {letter: 0.06 for letter in DEFAULT_LETTERS}
    expected[profile.answer] = 0.54
    expected[profile.systematic_letter] = 0.24
    expected[INVALID_LABEL] = 0.1
    assert dist == pytest.approx(expected, abs=1e-12)
    # error = 2 (1 - 0.54) = 0.92; variance = 1 - sum p^2 = 1 - 0.3664 = 0.6336.
    assert model.true_terms(PROMPTS[0]) == pytest.approx((0.92, 0.2864, 0.6336), abs=1e-12)
    assert model.true_terms(PROMPTS[0], 10, "jackknife") == model.true_terms(PROMPTS[0])
    # plug-in variance is low by (K-1)/K: 0.6336 * 0.9 = 0.57024.
    assert model.true_terms(PROMPTS[0], 10, "plugin") == pytest.approx((0.92, 0.34976, 0.57024))
    with pytest.raises(ValueError, match="samples"):
        model.true_terms(PROMPTS[0], None, "plugin")


@pytest.mark.parametrize("factory", [make_sim, hot_mess, coherent, scattering])
def test_true_distribution_matches_empirical_frequencies(factory: object) -> None:
    assert callable(factory)
    model = factory(seed=11)
    n = 4000
    for prompt in PROMPTS[:4]:
        counts = Counter(outcome(model.sample(prompt, i).text) for i in range(n))
        for label, p in model.true_answer_distribution(prompt).items():
            observed = counts.get(INVALID if label == INVALID_LABEL else label, 0) / n
            # n * observed is Binomial(n, p): sd sqrt(p (1 - p) / n). 4 sd has two-sided normal
            # tail 6e-5 per cell; 5 cells x 4 prompts x 4 models keeps the family below 0.5%.
            assert abs(observed - p) <= 4.0 * math.sqrt(p * (1 - p) / n) + 1e-12, (prompt, label)


def _multinomial_counts(categories: int, k: int) -> list[tuple[int, ...]]:
    return [c for c in itertools.product(range(k + 1), repeat=categories) if sum(c) == k]


@pytest.mark.parametrize(("estimator", "k"), [("unbiased", 3), ("unbiased", 5), ("plugin", 4)])
def test_true_terms_are_the_exact_expectation_of_the_engines_estimate(
    estimator: str, k: int
) -> None:
    """Sum the engine's estimate over every possible sample of size K, weighted by its
    multinomial probability: the expectation must equal true_terms (not just approximately)."""
    model = MultipleChoiceSim(accuracy=0.45, systematic_rate=0.6, format_failure_rate=0.15, seed=0)
    prompt = PROMPTS[1]
    dist = model.true_answer_distribution(prompt)
    labels = list(dist)
    answer = model.profile(prompt).answer
    expected = [0.0, 0.0, 0.0]
    for counts in _multinomial_counts(len(labels), k):
        probability = float(math.factorial(k))
        for label, count in zip(labels, counts, strict=True):
            probability *= dist[label] ** count / math.factorial(count)
        outcomes: list[object] = []
        for label, count in zip(labels, counts, strict=True):
            outcomes += [INVALID if label == INVALID_LABEL else label] * count
        est = estimate_item(outcomes, answer, kind="categorical", estimator=estimator)  # type: ignore[arg-type]
        assert est.error is not None and est.bias is not None
        for i, value in enumerate((est.error, est.bias, est.variance)):
            expected[i] += probability * value
    truth = model.true_terms(prompt, k, estimator)  # type: ignore[arg-type]
    assert truth == pytest.approx(tuple(expected), abs=1e-12)


def test_incoherence_is_a_ratio_of_sums_and_none_without_error() -> None:
    model = make_sim()
    terms = [model.true_terms(p) for p in PROMPTS]
    ratio = sum(t[2] for t in terms) / sum(t[0] for t in terms)
    assert model.true_incoherence(PROMPTS) == pytest.approx(ratio)
    perfect = MultipleChoiceSim(accuracy=1.0)
    assert perfect.true_incoherence(PROMPTS) is None
    assert perfect.population_incoherence() is None


# -- texts, tokens and presets ---------------------------------------------------------------


def test_answer_text_parses_and_invalid_text_holds_no_letter() -> None:
    model = MultipleChoiceSim(format_failure_rate=0.3, seed=5)
    invalid = 0
    for index in range(300):
        completion = model.sample(PROMPTS[2], index)
        assert completion.reasoning_tokens is not None and completion.output_tokens is not None
        assert completion.output_tokens >= completion.reasoning_tokens >= 1
        letter = extract_letter(completion.text)
        if letter is None:
            invalid += 1
            # Not even a lenient extractor may find a letter in an unparseable answer.
            assert not re.search(r"\b[A-Da-d]\b", completion.text)
        else:
            assert completion.text.endswith(f"Answer: {letter}")
    assert invalid > 0
    assert extract_letter("Answer: E") is None
    assert extract_letter("Answer: b, no wait. Answer: C") == "C"


def test_reasoning_length_grows_with_difficulty_and_matches_its_mean() -> None:
    model = MultipleChoiceSim(difficulty_slope=3.0, base_tokens=100.0, token_spread=0.25)
    easy = min(PROMPTS, key=lambda p: model.profile(p).difficulty)
    hard = max(PROMPTS, key=lambda p: model.profile(p).difficulty)
    n = 2000
    for prompt in (easy, hard):
        mean = model.expected_reasoning_tokens(prompt)
        assert mean == pytest.approx(100.0 * (1 + 3.0 * model.profile(prompt).difficulty))
        tokens = [model.sample(prompt, i).reasoning_tokens or 0 for i in range(n)]
        # mean * exp(s Z - s^2 / 2) has mean `mean` and sd mean * sqrt(exp(s^2) - 1); rounding
        # to whole tokens moves the average by at most 0.5.
        se = mean * math.sqrt(math.exp(0.25**2) - 1) / math.sqrt(n)
        assert abs(sum(tokens) / n - mean) <= 4 * se + 0.5
    assert model.expected_reasoning_tokens(hard) > model.expected_reasoning_tokens(easy)


def test_bundled_item_difficulty_bands_order_reasoning_length() -> None:
    items = load_bundled_questions()
    model = MultipleChoiceSim(items=items)
    by_band: dict[str, list[float]] = {}
    for item in items:
        band = str(item.metadata["difficulty"])
        by_band.setdefault(band, []).append(model.expected_reasoning_tokens(format_prompt(item)))
    assert max(by_band["easy"]) < min(by_band["medium"])
    assert max(by_band["medium"]) < min(by_band["hard"])


def test_presets_state_their_true_incoherence() -> None:
    prompts = [format_prompt(item) for item in load_bundled_questions()]
    hot = hot_mess(items=load_bundled_questions())
    # 5% invalid, right 0.95 * 0.6 = 0.57, three wrong letters 0.38 / 3 each:
    # error 0.86, variance 1 - (0.05^2 + 0.57^2 + 3 (0.38/3)^2) = 0.624467: ratio 0.726124.
    variance = 1 - (0.05**2 + 0.57**2 + 3 * (0.38 / 3) ** 2)
    assert hot.true_incoherence(prompts) == pytest.approx(variance / 0.86, abs=1e-9)
    assert hot.population_incoherence() == pytest.approx(0.726124, abs=1e-6)
    calm = coherent(items=load_bundled_questions())
    assert calm.true_incoherence(prompts) == pytest.approx(0.121, abs=0.001)
    assert calm.population_incoherence() == pytest.approx(0.140, abs=0.001)
    assert scattering().population_incoherence() == pytest.approx(0.484, abs=0.001)


def test_scattering_items_grow_more_incoherent_with_difficulty() -> None:
    model = scattering()
    grid = [(i + 0.5) / 50 for i in range(50)]
    ratios = []
    for u in grid:
        profile = ItemProfile("A", DEFAULT_LETTERS, "B", u)
        error, _, variance = model._terms(profile, None, "unbiased")
        ratios.append(variance / error)
    assert all(b > a for a, b in itertools.pairwise(ratios))
    assert ratios[0] == pytest.approx(0.36, abs=0.01)
    assert ratios[-1] == pytest.approx(0.567, abs=0.01)


@pytest.mark.parametrize(("factory", "below"), [(coherent, True), (hot_mess, False)])
def test_presets_land_on_their_side_of_0_4_when_measured(factory: object, below: bool) -> None:
    assert callable(factory)
    items = load_bundled_questions()
    model = factory(items=items, seed=2)
    estimates = []
    for item in items:
        prompt = format_prompt(item)
        outcomes = [outcome(model.sample(prompt, k).text) for k in range(20)]
        estimates.append(estimate_item(outcomes, item.answer, kind="categorical", item_id=item.id))
    result = aggregate(estimates)
    assert result.incoherence_low is not None and result.incoherence_high is not None
    if below:
        assert result.incoherence_high < 0.4
    else:
        assert result.incoherence_low > 0.4


# -- the Model protocol, validation, specs ---------------------------------------------------


def test_is_a_model_with_latency_that_overlaps_when_async() -> None:
    model = MultipleChoiceSim(latency_s=0.1, name="slow")
    assert isinstance(model, Model)
    assert model.name == "slow"

    async def many() -> list[object]:
        return await asyncio.gather(*(model.acall(p) for p in PROMPTS))

    start = time.perf_counter()
    done = asyncio.run(many())
    # Six sequential 0.1 s calls would take 0.6 s; overlapped they take about 0.1 s.
    assert time.perf_counter() - start < 0.45
    assert all(getattr(c, "latency_s", None) == 0.1 for c in done)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"accuracy": 1.5}, "accuracy"),
        ({"systematic_rate": -0.1}, "systematic_rate"),
        ({"format_failure_rate": True}, "format_failure_rate"),
        ({"letters": ["A", "A"]}, "letters"),
        ({"difficulty_slope": -1.0}, "difficulty_slope"),
        ({"seed": 1.5}, "seed"),
        ({"answers": {"q": "E"}}, "answer"),
        ({"accuracy_slope": math.inf}, "accuracy_slope"),
    ],
)
def test_bad_parameters_are_rejected(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MultipleChoiceSim(**kwargs)  # type: ignore[arg-type]


def test_answers_mapping_sets_the_right_letter() -> None:
    model = MultipleChoiceSim(answers={"What is 2 + 2?": "C"}, accuracy=1.0)
    assert model.profile("What is 2 + 2?").answer == "C"
    assert extract_letter(model("Quick: What is 2 + 2? Think.").text) == "C"


def test_spec_builds_presets_with_overrides_datasets_and_seed(tmp_path: Path) -> None:
    model = sim_model_from_spec({"provider": "sim", "preset": "hot_mess", "accuracy": 0.5})
    assert (model.accuracy, model.systematic_rate, model.format_failure_rate) == (0.5, 0.0, 0.05)
    assert model.name == "sim-hot_mess"
    assert sim_model_from_spec({"seed": 7}, seed=1).seed == 7
    assert sim_model_from_spec({}, seed=1, name="offline").seed == 1
    assert sim_model_from_spec({}, name="offline").name == "offline"
    bundled = load_bundled_questions()
    prompt = format_prompt(bundled[0])
    assert sim_model_from_spec({}).profile(prompt) == MultipleChoiceSim(items=bundled).profile(
        prompt
    )
    assert sim_model_from_spec({"dataset": None}).profile(prompt) == (
        MultipleChoiceSim().profile(prompt)
    )
    data = tmp_path / "mine.yaml"
    data.write_text("- {id: q, prompt: Pick one, choices: [x, y, z], answer: C}\n")
    mine = sim_model_from_spec({"dataset": str(data)})
    assert mine.profile("Pick one").letters == ("A", "B", "C")
    assert mine.profile("Pick one").answer == "C"
    with pytest.raises(ValueError, match="unknown sim setting"):
        sim_model_from_spec({"acuracy": 0.5})
    with pytest.raises(ValueError, match="preset"):
        sim_model_from_spec({"preset": "chaos"})
    with pytest.raises(ValueError, match="provider"):
        sim_model_from_spec({"provider": "openai"})


def test_config_schema_and_spec_keys_agree() -> None:
    assert set(SIM_KEYS) | {"provider", "dataset"} == set(SPEC_KEYS)


def test_presets_through_the_plugin_gate(pytester: pytest.Pytester) -> None:
    """End to end: the resampler's sample indices drive the sim, and the gate at 0.4 passes
    the coherent preset (true 0.121) and fails the hot mess (true 0.726)."""
    pytester.makepyfile(
        """
        import pytest
        from pytest_hotmess.config.datasets import format_prompt, load_bundled_questions
        from pytest_hotmess.sim import coherent, extract_letter, hot_mess

        ITEMS = load_bundled_questions()

        @pytest.mark.coherence(max_incoherence=0.4, samples=20)
        @pytest.mark.parametrize("factory", [coherent, hot_mess])
        def test_gate(resample, factory):
            resample.map(
                factory(items=ITEMS),
                [format_prompt(item) for item in ITEMS],
                targets=[item.answer for item in ITEMS],
                items=[item.id for item in ITEMS],
                extract=extract_letter,
            )
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_gate?coherent?*pass*", "*test_gate?hot_mess?*fail*"])
