"""Benchmark: group-sequential sampling against a fixed K, on simulated multiple-choice suites.

Run ``python -m benchmarks.sequential`` (or ``python benchmarks/sequential.py``) with
``--suites``, ``--seed`` and ``--out PATH.json``; it prints one markdown table per scenario.

Each simulated suite has N items with C = 4 answer options (target: option 0). An item's
answer distribution p is fixed for the suite, and the suite's population incoherence, the
ratio of sums sum_i (1 - sum_c p_ic^2) / sum_i 2 (1 - p_iy), equals the target exactly (to
1e-9): every generator has one continuous knob per suite, found by bisection on the items
actually drawn. Two scenarios bracket what real suites look like:

- ``mixed`` (items differ, as in real benchmarks): item i has logits l_ic ~ N(0, 1) plus a
  bonus of 1.5 on the correct option, and answers with softmax(l_i / T). The knob is one
  sampling temperature T shared by the suite's items. Some items are answered right reliably,
  some confidently wrong, some at random, so the per-item terms v_i - tau e_i differ a lot
  between items: the gate's standard error is dominated by the number of items, and more
  samples per item buy little. Suites whose items cannot reach the target at any temperature
  (about 2% at 0.55) are redrawn.
- ``uniform`` (items of equal difficulty): every item blends the same two profiles, a
  confidently wrong one (0.10, 0.80, 0.05, 0.05) and a scattered one (0.55, 0.15, 0.15, 0.15),
  with a per-item log-normal jitter (sd 0.3) of the four probabilities; the knob is the blend
  weight. Here sampling noise within items dominates, the case sequential sampling is for.

Both designs see the same samples (common random numbers): the sequential design draws the
looks' samples in rounds and the fixed design uses all max_samples of them. Verdicts use
``pytest_hotmess.stats.sequential.look_bounds`` (with a one-look plan for the fixed design, which
tests/test_sequential.py proves identical to ``gate_incoherence``; a few suites per truth are
also cross-checked against ``gate_incoherence`` here). Rates are over suites; "samples" is
the mean number of samples per item at the stop.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray
from scipy.special import softmax

from pytest_hotmess.stats.aggregate import gate_incoherence
from pytest_hotmess.stats.decompose import categorical_terms, estimate_item
from pytest_hotmess.stats.sequential import (
    SequentialPlan,
    default_looks,
    look_bounds,
    make_plan,
    plan_looks,
)

__all__ = [
    "SCENARIOS",
    "Row",
    "main",
    "mixed_items",
    "population_incoherence",
    "run_scenario",
    "uniform_items",
]

OPTIONS: Final = 4
TRUTHS: Final = (0.25, 0.35, 0.38, 0.40, 0.42, 0.45, 0.50, 0.55)
BISECTION_STEPS: Final = 80
EXACT: Final = 1e-9

Probabilities = NDArray[np.float64]
"""(suites, items, options) answer distributions."""


def population_incoherence(p: Probabilities) -> NDArray[np.float64]:
    """Per suite: sum of population variances over sum of population errors (target 0)."""
    variance = 1.0 - np.sum(p * p, axis=-1)
    error = 2.0 * (1.0 - p[..., 0])
    result: NDArray[np.float64] = variance.sum(axis=-1) / error.sum(axis=-1)
    return result


def _bisect(
    family: Callable[[NDArray[np.float64]], Probabilities],
    low: NDArray[np.float64],
    high: NDArray[np.float64],
    truth: float,
) -> Probabilities:
    """Knob per suite with incoherence(family(knob)) == truth; needs f(low) < truth <= f(high)."""
    for _ in range(BISECTION_STEPS):
        middle = (low + high) / 2.0
        below = population_incoherence(family(middle)) < truth
        low = np.where(below, middle, low)
        high = np.where(below, high, middle)
    return family((low + high) / 2.0)


def mixed_items(rng: np.random.Generator, suites: int, items: int, truth: float) -> Probabilities:
    """Heterogeneous items: softmax(logits / T) with T shared by a suite (see module doc)."""
    logits = rng.normal(0.0, 1.0, (suites, items, OPTIONS))
    logits[..., 0] += 1.5
    grid = np.geomspace(0.01, 5.0, 48)
    for _ in range(20):  # redraw suites that cannot reach the target at any temperature
        curve = np.stack(
            [population_incoherence(softmax(logits / t, axis=-1)) for t in grid], axis=1
        )
        # reachable: above the target at some temperature, below it at the coldest one
        reachable = np.any(curve >= truth, axis=1) & (curve[:, 0] < truth)
        if reachable.all():
            break
        missing = int(np.sum(~reachable))
        fresh = rng.normal(0.0, 1.0, (missing, items, OPTIONS))
        fresh[..., 0] += 1.5
        logits[~reachable] = fresh
    else:
        raise RuntimeError(f"could not draw suites reaching incoherence {truth}")
    first = np.argmax(curve >= truth, axis=1)  # incoherence < truth at the grid's low end
    if np.any(first == 0):
        raise RuntimeError("the temperature grid starts above the target")

    def family(log_t: NDArray[np.float64]) -> Probabilities:
        result: Probabilities = softmax(logits / np.exp(log_t)[:, None, None], axis=-1)
        return result

    log_grid = np.log(grid)
    return _bisect(family, log_grid[first - 1], log_grid[first], truth)


_WRONG_PROFILE: Final = np.asarray([0.10, 0.80, 0.05, 0.05])
_SCATTER_PROFILE: Final = np.asarray([0.55, 0.15, 0.15, 0.15])


def uniform_items(rng: np.random.Generator, suites: int, items: int, truth: float) -> Probabilities:
    """Equal-difficulty items: one blend of two profiles per suite, jittered per item."""
    jitter = np.exp(rng.normal(0.0, 0.3, (suites, items, OPTIONS)))

    def family(weight: NDArray[np.float64]) -> Probabilities:
        w = weight[:, None, None]
        blend = (1.0 - w) * _WRONG_PROFILE + w * _SCATTER_PROFILE
        raw = blend * jitter
        result: Probabilities = raw / raw.sum(axis=-1, keepdims=True)
        return result

    low, high = np.zeros(suites), np.ones(suites)
    if np.any(population_incoherence(family(low)) >= truth) or np.any(
        population_incoherence(family(high)) < truth
    ):
        raise RuntimeError(f"the uniform scenario cannot reach incoherence {truth}")
    return _bisect(family, low, high, truth)


SCENARIOS: Final[dict[str, Callable[[np.random.Generator, int, int, float], Probabilities]]] = {
    "mixed": mixed_items,
    "uniform": uniform_items,
}


def _verdicts(
    plan: SequentialPlan, look: int, counts: NDArray[np.int64], tau: float
) -> NDArray[np.int8]:
    """-1 pass, +1 fail, 0 undecided, per suite, from the (suites, items, options) counts."""
    suites, items, options = counts.shape
    error, _, variance = categorical_terms(
        counts.reshape(-1, options), np.zeros(suites * items, dtype=np.int64)
    )
    values = (variance - tau * error).reshape(suites, items)
    _, low, high = look_bounds(plan, look, values)
    verdict = np.zeros(suites, dtype=np.int8)
    verdict[high < 0] = -1
    verdict[low > 0] = 1
    return verdict


def _cross_check(counts: NDArray[np.int64], tau: float, confidence: float) -> None:
    """The fixed design's verdict must be the engine's ``gate_incoherence`` verdict."""
    labels = [str(c) for c in range(counts.shape[-1])]
    for suite in counts:
        estimates = [
            estimate_item(
                [label for label, n in zip(labels, row, strict=True) for _ in range(int(n))],
                "0",
                item_id=f"q{i}",
                labels=labels,
            )
            for i, row in enumerate(suite)
        ]
        engine = gate_incoherence(estimates, tau, confidence=confidence).verdict
        plan = make_plan((int(suite[0].sum()),), confidence)
        mine = {-1: "pass", 1: "fail", 0: "inconclusive"}[
            int(_verdicts(plan, 0, suite[None], tau)[0])
        ]
        if engine != mine:
            raise AssertionError(f"fixed design says {mine}, gate_incoherence says {engine}")


Row = dict[str, float]


def simulate_truth(
    p: Probabilities,
    looks: Sequence[int],
    tau: float,
    confidence: float,
    rng: np.random.Generator,
    cross_check: int = 3,
) -> Row:
    """Rates and mean samples of both designs for the suites' answer distributions ``p``."""
    suites = p.shape[0]
    plan = make_plan(looks, confidence)
    fixed = make_plan((looks[-1],), confidence)
    counts = np.zeros(p.shape, dtype=np.int64)
    verdict = np.zeros(suites, dtype=np.int8)
    stopped_at = np.full(suites, looks[-1], dtype=np.float64)
    running = np.ones(suites, dtype=bool)
    drawn = 0
    for look, k in enumerate(looks):
        counts += rng.multinomial(k - drawn, p)
        drawn = k
        now = _verdicts(plan, look, counts, tau)
        newly = running & (now != 0)
        verdict[newly] = now[newly]
        stopped_at[newly] = k
        running &= ~newly
    final = _verdicts(fixed, 0, counts, tau)
    _cross_check(counts[:cross_check], tau, confidence)
    return {
        "fixed_pass": float(np.mean(final == -1)),
        "fixed_fail": float(np.mean(final == 1)),
        "fixed_inconclusive": float(np.mean(final == 0)),
        "fixed_samples": float(looks[-1]),
        "seq_pass": float(np.mean(verdict == -1)),
        "seq_fail": float(np.mean(verdict == 1)),
        "seq_inconclusive": float(np.mean(verdict == 0)),
        "seq_samples": float(np.mean(stopped_at)),
    }


def wrong_rate(row: Row, truth: float, tau: float, design: str) -> float:
    """Verdicts on the wrong side of the threshold (at truth == tau: pass and fail both)."""
    if math.isclose(truth, tau):
        return row[f"{design}_pass"] + row[f"{design}_fail"]
    return row[f"{design}_fail"] if truth < tau else row[f"{design}_pass"]


def run_scenario(
    name: str,
    *,
    suites: int,
    items: int,
    truths: Sequence[float],
    tau: float,
    looks: Sequence[int],
    confidence: float,
    seed: int,
) -> list[Row]:
    """One row per true incoherence; each truth has its own seeded generator."""
    rows = []
    for index, truth in enumerate(truths):
        rng = np.random.default_rng([seed, index, sorted(SCENARIOS).index(name)])
        p = SCENARIOS[name](rng, suites, items, truth)
        worst = float(np.max(np.abs(population_incoherence(p) - truth)))
        if worst > EXACT:
            raise AssertionError(f"generator missed the target {truth} by {worst}")
        row = {"truth": truth, **simulate_truth(p, looks, tau, confidence, rng)}
        row["fixed_wrong"] = wrong_rate(row, truth, tau, "fixed")
        row["seq_wrong"] = wrong_rate(row, truth, tau, "seq")
        row["saving"] = 1.0 - row["seq_samples"] / row["fixed_samples"]
        rows.append(row)
    return rows


def targets(rows: Sequence[Row], tau: float) -> dict[str, object]:
    """The issue's targets: same wrong-verdict rates (3 points), >= 35% fewer calls far out."""
    wrong_gap = max(abs(r["seq_wrong"] - r["fixed_wrong"]) for r in rows)
    rate_gap = max(abs(r[f"seq_{v}"] - r[f"fixed_{v}"]) for r in rows for v in ("pass", "fail"))
    far = [r for r in rows if abs(r["truth"] - tau) >= 0.05 - 1e-12]
    least_saving = min(r["saving"] for r in far) if far else math.nan
    return {
        "max_wrong_rate_gap": wrong_gap,
        "max_pass_fail_rate_gap": rate_gap,
        "least_saving_far": least_saving,
        "wrong_rates_met": wrong_gap <= 0.03,
        "savings_met": least_saving >= 0.35,
    }


def markdown(name: str, rows: Sequence[Row], summary: dict[str, object]) -> str:
    """A table of both designs' rates per true incoherence, and the targets' outcome."""
    head = (
        "| true incoherence | fixed pass | fixed fail | fixed inconcl. | fixed samples/item "
        "| seq. pass | seq. fail | seq. inconcl. | seq. samples/item | fewer calls |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [f"**{name}**", "", head]
    for r in rows:
        lines.append(
            f"| {r['truth']:.2f} | {r['fixed_pass']:.1%} | {r['fixed_fail']:.1%} "
            f"| {r['fixed_inconclusive']:.1%} | {r['fixed_samples']:.0f} "
            f"| {r['seq_pass']:.1%} | {r['seq_fail']:.1%} | {r['seq_inconclusive']:.1%} "
            f"| {r['seq_samples']:.2f} | {r['saving']:.0%} |"
        )
    lines.append("")
    lines.append(
        f"wrong-verdict rates: largest gap {summary['max_wrong_rate_gap']:.1%} "
        f"(target <= 3 points: {'met' if summary['wrong_rates_met'] else 'NOT met'}); "
        f"pass/fail rates: largest gap {summary['max_pass_fail_rate_gap']:.1%}; "
        f"fewest calls saved at |truth - threshold| >= 0.05: "
        f"{summary['least_saving_far']:.0%} "
        f"(target >= 35%: {'met' if summary['savings_met'] else 'NOT met'})"
    )
    return "\n".join(lines)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suites", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    parser.add_argument("--scenarios", default="mixed,uniform")
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--threshold", type=float, default=0.4)
    parser.add_argument("--max-samples", type=int, default=20)
    parser.add_argument(
        "--initial", type=int, default=None, help="first look (default: default_looks)"
    )
    parser.add_argument("--step", type=int, default=None, help="samples added per look")
    parser.add_argument("--confidence", type=float, default=0.95)
    parser.add_argument("--truths", default=",".join(f"{t:g}" for t in TRUTHS))
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    names = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenario(s) {unknown}; choose from {sorted(SCENARIOS)}")
    truths = [float(t) for t in args.truths.split(",")]
    if args.initial is None and args.step is None:
        looks = default_looks(args.max_samples)
    else:
        initial = 2 if args.initial is None else args.initial
        step = args.step if args.step is not None else max(1, (args.max_samples - initial) // 2)
        looks = plan_looks(initial, args.max_samples, step)
    plan = make_plan(looks, args.confidence)
    print(
        f"{args.suites} suites x {args.items} items, threshold {args.threshold}, "
        f"confidence {args.confidence}, fixed K = {args.max_samples}; sequential looks "
        f"{list(looks)} with critical values {[round(c, 3) for c in plan.upper]}\n"
    )
    started = time.perf_counter()
    results: dict[str, object] = {}
    for name in names:
        rows = run_scenario(
            name,
            suites=args.suites,
            items=args.items,
            truths=truths,
            tau=args.threshold,
            looks=looks,
            confidence=args.confidence,
            seed=args.seed,
        )
        summary = targets(rows, args.threshold)
        results[name] = {"rows": rows, "targets": summary}
        print(markdown(name, rows, summary), "\n", flush=True)
    elapsed = time.perf_counter() - started
    print(f"({elapsed:.1f} s)")
    if args.out is not None:
        payload = {
            "benchmark": "pytest-hotmess/sequential",
            "config": {
                "suites": args.suites,
                "items": args.items,
                "threshold": args.threshold,
                "max_samples": args.max_samples,
                "looks": list(looks),
                "critical_values": list(plan.upper),
                "confidence": args.confidence,
                "seed": args.seed,
            },
            "scenarios": results,
            "seconds": elapsed,
        }
        args.out.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
