"""Gating inside the call phase, the resample fixture's sampling, and failures from models."""

from __future__ import annotations

import json

import pytest

# Ten items of K=10 categorical answers whose unbiased incoherence is known exactly:
# counts (target a): a=6, b=4  -> error 2(1-0.6)=0.8, variance 10/9 (1-0.36-0.16)=0.5333
#                    a=10      -> error 0, variance 0 (adds nothing to either sum)
# five of each: incoherence = 5*0.5333 / (5*0.8) = 2/3.
ITEMS_SOURCE = """
COHERENT = ["a"] * 10
SPLIT = ["a"] * 6 + ["b"] * 4
ITEMS = [SPLIT if i % 2 else COHERENT for i in range(10)]
"""


def test_over_threshold_fails_with_the_documented_message(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        ITEMS_SOURCE
        + """
import pytest

@pytest.mark.coherence(max_incoherence=0.4, max_error=0.1, max_bias=5.0)
def test_hot_mess(resample):
    for i, outcomes in enumerate(ITEMS):
        resample.record(outcomes, target="a", item=f"q{i}")

@pytest.mark.coherence(max_incoherence=0.7)
def test_within(resample):
    for i, outcomes in enumerate(ITEMS):
        resample.record(outcomes, target="a", item=f"q{i}")
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*coherence gate failed:",
            "*incoherence 0.6667 [[]*, *[]] > max_incoherence 0.4 (10 items, K=10)",
            "*error 0.4 > max_error 0.1 (10 items, K=10)",
        ]
    )
    assert "max_bias 5" not in result.stdout.str()  # a passing threshold is not listed


def test_body_failure_takes_precedence_over_the_gate(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        ITEMS_SOURCE
        + """
import pytest

@pytest.mark.coherence(max_incoherence=0.1)
def test_body_fails(resample):
    for i, outcomes in enumerate(ITEMS):
        resample.record(outcomes, target="a", item=f"q{i}")
    assert 1 == 2, "the body's own failure"
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the body's own failure*"])
    assert "coherence gate failed" not in result.stdout.str()


def test_xfail_strict_catches_a_gate_failure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        ITEMS_SOURCE
        + """
import pytest

@pytest.mark.xfail(strict=True, reason="hot mess")
@pytest.mark.coherence(max_incoherence=0.4)
def test_caught(resample):
    for i, outcomes in enumerate(ITEMS):
        resample.record(outcomes, target="a", item=f"q{i}")
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(xfailed=1)


def test_unmarked_test_using_resample_is_ungated(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        ITEMS_SOURCE
        + """
def test_free(resample):
    for i, outcomes in enumerate(ITEMS):
        resample.record(outcomes, target="a", item=f"q{i}")
    assert abs(resample.result.incoherence - 2 / 3) < 1e-12
"""
    )
    result = pytester.runpytest("--hotmess-json-detail", "samples", "--hotmess-json", "out.json")
    result.assert_outcomes(passed=1)
    report = json.loads((pytester.path / "out.json").read_text())
    assert report["tests"][0]["verdict"] == "ungated"
    result.stdout.fnmatch_lines(["*test_free*ungated*"])


def test_all_correct_suite_reports_no_errors_and_cannot_fail_incoherence(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
import pytest

@pytest.mark.coherence(max_incoherence=0.0)
def test_perfect(resample):
    for i in range(5):
        resample.record(["a"] * 4, target="a", item=f"q{i}")
"""
    )
    result = pytester.runpytest("--hotmess-json-detail", "samples", "--hotmess-json", "out.json")
    result.assert_outcomes(passed=1)
    test = json.loads((pytester.path / "out.json").read_text())["tests"][0]
    assert test["verdict"] == "no-errors"
    assert test["totals"]["incoherence"] is None
    result.stdout.fnmatch_lines(["*test_perfect*undefined*no-errors*"])


def test_model_exception_names_item_and_sample_and_keeps_drawn_samples(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
import threading
import pytest

lock = threading.Lock()
count = {"n": 0}

def model(prompt):
    with lock:
        count["n"] += 1
        n = count["n"]
    if prompt == "q2" and n > 12:
        raise ConnectionError("server went away")
    return "a"

@pytest.mark.coherence(max_incoherence=0.5, samples=5)
def test_flaky(resample):
    resample.map(model, ["q0", "q1", "q2", "q3"], targets=["a"] * 4, items=["q0", "q1", "q2", "q3"])
"""
    )
    result = pytester.runpytest(
        "--hotmess-concurrency",
        "1",
        "--hotmess-json-detail",
        "samples",
        "--hotmess-json",
        "out.json",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*ConnectionError: server went away*",
            "*SamplingError: model call failed for item 'q2', sample 2: "
            "ConnectionError: server went away*",
        ]
    )
    test = json.loads((pytester.path / "out.json").read_text())["tests"][0]
    ids = [item["id"] for item in test["items"]]
    # concurrency 1, item-major order: q0 and q1 complete, q2 has 2 of 5 samples, q3 never started
    assert ids == ["q0", "q1", "q2"]
    assert [item["k"] for item in test["items"]] == [5, 5, 2]
    assert (test["calls"]["made"], test["calls"]["failed"]) == (13, 1)


def test_on_error_invalid_records_failures_as_invalid_outcomes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import itertools, threading
import pytest

counter = itertools.count()
lock = threading.Lock()

def model(prompt):
    with lock:
        n = next(counter)
    if n % 2:
        raise TimeoutError("slow")
    return "a"

@pytest.mark.coherence(samples=4)
def test_invalid(resample):
    item = resample(model, "q", target="a", on_error="invalid")
    assert item.invalid == 2
    assert item.k == 4
"""
    )
    result = pytester.runpytest(
        "--hotmess-concurrency",
        "1",
        "--hotmess-json-detail",
        "samples",
        "--hotmess-json",
        "out.json",
    )
    result.assert_outcomes(passed=1)
    test = json.loads((pytester.path / "out.json").read_text())["tests"][0]
    assert test["items"][0]["counts"] == {"a": 2, "<invalid>": 2}
    assert test["items"][0]["invalid"] == 2


def test_extract_none_or_exception_is_invalid(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import itertools
answers = itertools.cycle(["Answer: A", "no idea", "Answer: B", "???"])

def model(prompt):
    return next(answers)

def extract(text):
    if text == "???":
        raise ValueError("unparseable")
    return text.split(": ")[1] if ": " in text else None

def test_extract(resample):
    item = resample(model, "q", target="A", extract=extract, samples=8)
    assert item.invalid == 4
    assert sorted(o for o in item.outcomes if isinstance(o, str)) == ["A", "A", "B", "B"]
"""
    )
    result = pytester.runpytest("--hotmess-concurrency", "1")
    result.assert_outcomes(passed=1)


def test_sync_callables_respect_the_concurrency_bound(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import threading, time

lock = threading.Lock()
state = {"now": 0, "peak": 0}

def model(prompt):
    with lock:
        state["now"] += 1
        state["peak"] = max(state["peak"], state["now"])
    time.sleep(0.01)
    with lock:
        state["now"] -= 1
    return "a"

def test_bound(resample):
    resample.map(model, range(10), targets=["a"] * 10, samples=5)
    assert state["peak"] == 3, state
"""
    )
    result = pytester.runpytest("--hotmess-concurrency", "3")
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize("runner", ["asyncio", "anyio", "sync"])
def test_async_callables_run_concurrently(pytester: pytest.Pytester, runner: str) -> None:
    head = {
        "asyncio": "@pytest.mark.asyncio\nasync def test_overlap(resample):\n"
        "    await resample.amap(",
        "anyio": "@pytest.mark.anyio\nasync def test_overlap(resample):\n    await resample.amap(",
        "sync": "def test_overlap(resample):\n    resample.map(",
    }[runner]
    pytester.makepyfile(
        """
import asyncio
import pytest

state = {"now": 0, "peak": 0}

@pytest.fixture
def anyio_backend():
    return "asyncio"

async def model(prompt):
    state["now"] += 1
    state["peak"] = max(state["peak"], state["now"])
    await asyncio.sleep(0.01)
    state["now"] -= 1
    return "a"

"""
        + head
        + """model, range(6), targets=["a"] * 6, samples=4)
    # the overlap is counted, not timed: every one of the 5 allowed calls was in flight at once
    assert state["peak"] == 5, state
"""
    )
    result = pytester.runpytest("--hotmess-concurrency", "5", "-p", "asyncio", "-p", "anyio")
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize("prefix", ["async ", ""], ids=["async-model", "sync-model"])
def test_sync_resample_inside_a_running_loop_is_refused_clearly(
    pytester: pytest.Pytester, prefix: str
) -> None:
    """Neither nesting loops (async model) nor blocking the running one (sync model)."""
    pytester.makepyfile(
        f"""
import pytest

{prefix}def model(prompt):
    return "a"

@pytest.mark.asyncio
async def test_nested(resample):
    resample(model, "q", target="a")
"""
    )
    result = pytester.runpytest("-p", "asyncio")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*use `await resample.acall(...)`*"])


def test_samples_precedence_marker_over_cli_over_ini(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\nhotmess_samples = 3\n")
    pytester.makepyfile(
        """
import pytest

def model(prompt):
    return "a"

def test_default(resample):
    assert resample(model, "q").k == EXPECTED

@pytest.mark.coherence(samples=7)
def test_marker(resample):
    assert resample(model, "q").k == 7

def test_call_argument(resample):
    assert resample(model, "q", samples=2).k == 2
"""
    )
    (pytester.path / "conftest.py").write_text("")
    test_file = next(pytester.path.glob("test_*.py"))
    source = test_file.read_text()
    test_file.write_text(source.replace("EXPECTED", "int(__import__('os').environ['EXPECTED_K'])"))
    monkeypatch.setenv("EXPECTED_K", "3")
    pytester.runpytest().assert_outcomes(passed=3)
    monkeypatch.setenv("EXPECTED_K", "5")
    pytester.runpytest("--hotmess-samples", "5").assert_outcomes(passed=3)


@pytest.mark.parametrize(
    ("args", "ini", "expected"),
    [
        (["--hotmess-samples", "1"], "", "--hotmess-samples: expected an integer >= 2, got '1'"),
        (["--hotmess-concurrency", "zero"], "", "--hotmess-concurrency: expected an integer >= 1"),
        ([], "hotmess_samples = many", "tox.ini: hotmess_samples: expected an integer >= 2"),
        (["--hotmess-confidence", "95"], "", "--hotmess-confidence: expected a number strictly"),
        (["--hotmess-inconclusive", "maybe"], "", "--hotmess-inconclusive: expected one of"),
    ],
)
def test_bad_option_values_name_their_source(
    pytester: pytest.Pytester, args: list[str], ini: str, expected: str
) -> None:
    pytester.makefile(".ini", tox=f"[pytest]\n{ini}\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert expected in result.stderr.str()
