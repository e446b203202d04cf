"""The README's examples, run as written: the first block, the worked example, the CI recipe."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from pytest_hotmess.config.settings import OPTIONS

README = Path(__file__).resolve().parents[2] / "README.md"


def _blocks(language: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def _tests(pytester: pytest.Pytester) -> dict[str, dict[str, object]]:
    data = json.loads((pytester.path / "out.json").read_text(encoding="utf-8"))
    return {test["nodeid"].split("::")[-1]: test for test in data["tests"]}


def test_the_first_readme_block_passes_in_a_new_project(pytester: pytest.Pytester) -> None:
    first = _blocks("python")[0]
    pytester.makepyfile(test_coherence=first)
    result = pytester.runpytest_subprocess("--hotmess-json=out.json")
    result.assert_outcomes(passed=1)
    test = _tests(pytester)["test_multiple_choice_is_coherent"]
    assert test["verdict"] == "pass"
    totals = test["totals"]
    assert isinstance(totals, dict)
    # the figures the sentence under the block quotes
    quoted = (
        f"incoherence {totals['incoherence']:.3f}, 95% interval "
        f"[{totals['incoherence_low']:.3f}, {totals['incoherence_high']:.3f}]"
    )
    assert quoted in " ".join(README.read_text(encoding="utf-8").split())


def _by_hand(answers: list[str], target: str) -> dict[str, float]:
    """The plug-in Brier split of one item, from the formulas the README shows."""
    shares = {label: n / len(answers) for label, n in Counter(answers).items()}
    error = 2 * (1 - shares.get(target, 0.0))
    variance = 1 - sum(p * p for p in shares.values())
    return {
        "error": error,
        "variance": variance,
        "bias": error - variance,
        "incoherence": variance / error,
    }


def test_the_worked_example_matches_the_plugin(pytester: pytest.Pytester) -> None:
    (block,) = [b for b in _blocks("python") if "SCATTERED" in b]
    pytester.makepyfile(test_by_hand=block)
    result = pytester.runpytest_subprocess("--hotmess-json=out.json")
    result.assert_outcomes(passed=2)
    tests = _tests(pytester)
    namespace: dict[str, object] = {}
    exec(block.split("@pytest.mark")[0], namespace)  # the answer lists, as the README has them
    table = README.read_text(encoding="utf-8")
    for name, answers in (("steady", namespace["STEADY"]), ("scattered", namespace["SCATTERED"])):
        assert isinstance(answers, list)
        hand = _by_hand(answers, "A")
        totals = tests[f"test_by_hand[{name}]"]["totals"]
        assert isinstance(totals, dict)
        for figure, value in hand.items():
            assert totals[figure] == pytest.approx(value, abs=1e-12), (name, figure)
        row = next(line for line in table.splitlines() if line.startswith(f"| {name} |"))
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        # error, variance (after its "="), bias and incoherence (after its "=") as printed
        printed = [cells[2], cells[3].split("=")[-1], cells[4], cells[5].split("=")[-1]]
        expected = [hand["error"], hand["variance"], hand["bias"], hand["incoherence"]]
        assert [float(p) for p in printed] == pytest.approx(expected, abs=5e-3)


def test_the_worked_example_unbiased_variances_are_as_stated(pytester: pytest.Pytester) -> None:
    (block,) = [b for b in _blocks("python") if "SCATTERED" in b]
    pytester.makepyfile(test_by_hand=block.replace('(estimator="plugin")', "()"))
    pytester.runpytest_subprocess("--hotmess-json=out.json").assert_outcomes(passed=2)
    tests = _tests(pytester)
    for name, variance in (("steady", 0.60), ("scattered", 0.70)):  # the README's sentence
        totals = tests[f"test_by_hand[{name}]"]["totals"]
        assert isinstance(totals, dict)
        assert totals["variance"] == pytest.approx(variance, abs=1e-12)
    assert "so it reports variance 0.60 and 0.70 here" in " ".join(
        README.read_text(encoding="utf-8").split()
    )


def test_the_ci_recipe_is_a_workflow_using_real_options() -> None:
    (workflow,) = [b for b in _blocks("yaml") if "actions/checkout" in b]
    steps = yaml.safe_load(workflow)["jobs"]["coherence"]["steps"]
    uses = [step.get("uses", "") for step in steps]
    assert any(u.startswith("actions/cache@") for u in uses)
    assert any(u.startswith("actions/upload-artifact@") for u in uses)
    flags = {option.flag for option in OPTIONS}
    used = set(re.findall(r"--hotmess-[a-z-]+", workflow.replace("--hotmess-$mode", "")))
    assert used and used <= flags
    assert {"--hotmess-record", "--hotmess-replay"} <= flags
    env_names = {option.env_var for option in OPTIONS}
    for step in steps:
        for name in step.get("env", {}):
            assert not name.startswith("HOTMESS_") or name in env_names


def test_the_options_table_lists_every_option() -> None:
    text = README.read_text(encoding="utf-8")
    table = text[text.index("| command line | default | meaning |") :]
    table = table[: table.index("\n\n")]
    for option in OPTIONS:
        assert f"| `{option.flag}" in table, option.flag


def test_the_scale_and_difficulty_example_prints_the_quoted_tables(
    pytester: pytest.Pytester,
) -> None:
    """The README's difficulty example runs as written and prints the tables it quotes."""
    block = next(b for b in _blocks("python") if "def test_scale(" in b)
    pytester.makepyfile(test_scale=block)
    result = pytester.runpytest_subprocess("--hotmess-details")
    result.assert_outcomes(passed=2)
    quoted = next(b for b in _blocks("text") if "by difficulty (dataset, tertile)" in b)
    printed = result.stdout.lines
    for line in quoted.splitlines():
        if line.startswith("test_scale.py::"):
            continue  # the run prints other details between the node id and the table
        assert line in printed, line
