"""Benchmark: do the intervals cover and do the gates keep their alpha? Seeded simulation.

Run ``python -m benchmarks.validity`` (``make validity``; part of ``make bench``) with
``--reps``, ``--seed`` and ``--out PATH.json``; it prints three markdown tables:

- **coverage** of the two-sided 95% interval on incoherence, per method x true I x N x K (with
  the share of suites marked ``approximate`` and the default's coverage over the rest), and a
  skewed scenario (items' difficulty spread growing, N = 50, K = 10, I = 0.8) with the mean
  effective number of items n_eff = (sum e)^2 / sum e^2;
- **false verdicts** of the 95% gate ``max_incoherence = 0.4``: fail and pass rates at I = tau,
  power near (I = tau -/+ 0.1) and far (tau -/+ 0.2), fixed K = 20 and sequential (looks 2, 11,
  20), same and mixed difficulty, N = 20/50/100, for the plain t test (0.1.0), Hall's test with
  N - 1 df (the previous default, near tau only) and the calibrated test (every row, with
  I = 0.35 and 0.45 too, is in the JSON, ``gate_markdown`` prints it);
- **savings** of the sequential gate at I = 0.35/0.45.

The engine is not under test here, so samples are drawn with numpy (multinomial counts of
categorical answers, C = 4, target option 0) and the per-item terms come from
``stats.decompose.categorical_terms``; the intervals and gates are the plugin's own functions
(``stats.skew``, ``stats.aggregate``, ``stats.sequential.look_bounds``), applied to many
simulated suites at once. Every suite draws its items afresh from an item population whose
incoherence is the truth (its knob bisected on a large sample of items), so intervals
and gates face both the spread between items and the sampling within them, as on a new test
set of the same kind. The gates' populations are the ``same`` (``uniform``) and ``mixed``
difficulty families of ``benchmarks/sequential.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, softmax, stdtrit

from benchmarks.sequential import Probabilities, population_incoherence
from pytest_hotmess.stats.aggregate import ratio_delta_interval
from pytest_hotmess.stats.decompose import categorical_terms
from pytest_hotmess.stats.sequential import default_looks, look_bounds, make_plan
from pytest_hotmess.stats.skew import (
    APPROXIMATE_ABOVE,
    effective_items,
    is_approximate,
    ratio_calibrated_bounds,
    ratio_hall_bounds,
    ratio_hall_interval,
)

__all__ = ["METHODS", "coverage_items", "interval_rows", "main"]

OPTIONS: Final = 4
CONFIDENCE: Final = 0.95
METHODS: Final = ("delta", "logit", "log", "fieller", "boot-t", "hall-raw", "hall")
"""Interval methods compared; ``hall`` is the default (``stats.skew``, calibrated), ``hall-raw``
the same inversion without the small-sample calibration (the default before), ``boot-t`` the
studentized bootstrap over items."""

BOOT_SUITES: Final = 500
"""The studentized bootstrap runs on the first BOOT_SUITES suites of a cell (Monte Carlo SE
about 1 point at 95%): it costs as much as every other method together."""

BOOT_RESAMPLES: Final = 199
"""Resamples of the studentized bootstrap (its quantiles at 2.5/97.5% move by about 1% of
the interval's width from 199 to 999 in a trial at N = 50; it is a comparison, not the default)."""

Bounds = tuple[NDArray[np.float64], NDArray[np.float64]]


# ----------------------------------------------------------------------------------------
# suites


POPULATION: Final = 100_000
"""Items drawn to fix the knob of a coverage population (its incoherence to about 1e-3)."""


def _difficult_items(
    rng: np.random.Generator, shape: tuple[int, ...], spread: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    difficulty = rng.normal(0.0, spread, shape)
    spill = rng.beta(1.0, 19.0, shape)  # share of the wrong mass off the favourite
    wrong = np.stack([1.0 - spill, spill / 2.0, spill / 2.0], axis=-1)
    return difficulty, wrong


def _answers(
    difficulty: NDArray[np.float64], wrong: NDArray[np.float64], knob: NDArray[np.float64]
) -> Probabilities:
    m = expit(difficulty - knob.reshape(knob.shape + (1,) * (difficulty.ndim - 1)))[..., None]
    result: Probabilities = np.concatenate([1.0 - m, m * wrong], axis=-1)
    return result


def coverage_items(
    rng: np.random.Generator, suites: int, items: int, truth: float, spread: float
) -> Probabilities:
    """Suites of N items drawn from a population of items whose incoherence is ``truth``.

    An item's wrong mass is m = expit(a - x), a ~ N(0, spread), going mostly to one favourite
    wrong answer (a share ~ Beta(1, 19) spills evenly onto the other two). The knob x is
    bisected on POPULATION items so that the population's ratio of sums equals ``truth``;
    the suites then draw their items afresh, so an interval must cover both the spread between
    items and the sampling within them (what a new test set of the same kind would change).
    Larger ``spread`` concentrates the error in fewer items (the skewed scenario).
    """
    big_d, big_w = _difficult_items(rng, (1, POPULATION), spread)

    def family(knob: NDArray[np.float64]) -> Probabilities:
        return _answers(big_d, big_w, knob)

    low, high = np.full(1, -40.0), np.full(1, 40.0)
    for _ in range(50):
        middle = (low + high) / 2.0
        below = population_incoherence(family(middle)) < truth
        low, high = np.where(below, middle, low), np.where(below, high, middle)
    knob = float((low[0] + high[0]) / 2.0)
    difficulty, wrong = _difficult_items(rng, (suites, items), spread)
    return _answers(difficulty, wrong, np.full(suites, knob))


def _terms(counts: NDArray[np.int64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Unbiased Brier error and variance per item, (suites, items) each."""
    suites, items, options = counts.shape
    error, _, variance = categorical_terms(
        counts.reshape(-1, options), np.zeros(suites * items, dtype=np.int64)
    )
    return error.reshape(suites, items), variance.reshape(suites, items)


# ----------------------------------------------------------------------------------------
# interval methods, vectorised over suites (unit weights)


def interval_rows(
    method: str,
    v: NDArray[np.float64],
    e: NDArray[np.float64],
    confidence: float = CONFIDENCE,
    rng: np.random.Generator | None = None,
) -> Bounds:
    """Two-sided bounds of sum v / sum e per row by ``method`` (NaN where it gives none)."""
    n = v.shape[-1]
    q = float(-stdtrit(n - 1, (1.0 - confidence) / 2.0))
    if method == "hall":
        _, low, high = ratio_calibrated_bounds(v, e, None, (1.0 - confidence) / 2.0)
        return low, high
    if method == "hall-raw":
        _, low, high = ratio_hall_bounds(v, e, None, q)
        return low, high
    if method == "boot-t":
        return _bootstrap_t(v, e, confidence, rng or np.random.default_rng(0))
    ratio = v.sum(-1) / e.sum(-1)
    d = (v - ratio[:, None] * e) / e.mean(-1)[:, None]
    se = d.std(-1, ddof=1) / math.sqrt(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "delta":
            return ratio - q * se, ratio + q * se
        if method == "log":
            centre, half = np.log(ratio), q * se / ratio
            return np.exp(centre - half), np.exp(centre + half)
        if method == "logit":
            centre, half = np.log(ratio / (1.0 - ratio)), q * se / (ratio * (1.0 - ratio))
            return expit(centre - half), expit(centre + half)
        if method == "fieller":
            return _fieller(v, e, q)
    raise ValueError(f"unknown method {method!r}")


def _bootstrap_t(
    v: NDArray[np.float64], e: NDArray[np.float64], confidence: float, rng: np.random.Generator
) -> Bounds:
    """Studentized bootstrap over items: R - t*_{hi} SE, R - t*_{lo} SE, t* = (R* - R) / SE*.

    SE is the delta method's; resamples without error or with SE* = 0 are dropped.
    """
    rows, n = v.shape
    ratio = v.sum(-1) / e.sum(-1)
    se = ((v - ratio[:, None] * e) / e.mean(-1)[:, None]).std(-1, ddof=1) / math.sqrt(n)
    tail = (1.0 - confidence) / 2.0
    low, high = np.empty(rows), np.empty(rows)
    chunk = max(1, 2_000_000 // (BOOT_RESAMPLES * n))
    for start in range(0, rows, chunk):
        part = slice(start, min(rows, start + chunk))
        index = rng.integers(0, n, (v[part].shape[0], BOOT_RESAMPLES, n))
        vb = np.take_along_axis(v[part][:, None, :], index, -1)
        eb = np.take_along_axis(e[part][:, None, :], index, -1)
        with np.errstate(divide="ignore", invalid="ignore"):
            rb = vb.sum(-1) / eb.sum(-1)
            db = (vb - rb[..., None] * eb) / eb.mean(-1)[..., None]
            tb = (rb - ratio[part, None]) / (db.std(-1, ddof=1) / math.sqrt(n))
        tb = np.where(np.isfinite(tb), tb, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a row with no usable resample
            top = np.nanquantile(tb, 1.0 - tail, axis=-1)
            bottom = np.nanquantile(tb, tail, axis=-1)
        low[part] = ratio[part] - top * se[part]
        high[part] = ratio[part] - bottom * se[part]
    return low, high


def _fieller(v: NDArray[np.float64], e: NDArray[np.float64], q: float) -> Bounds:
    """Fieller's interval: the thetas where (mean v - theta mean e)^2 <= q^2 Var / N."""
    n = v.shape[-1]
    a, b = v.mean(-1), e.mean(-1)
    cov = np.einsum("ri,ri->r", v - a[:, None], e - b[:, None]) / (n - 1)
    saa, sbb = v.var(-1, ddof=1), e.var(-1, ddof=1)
    k = q * q / n
    qa, qb, qc = b * b - k * sbb, a * b - k * cov, a * a - k * saa
    disc = qb * qb - qa * qc
    bounded = (qa > 0) & (disc >= 0)
    root = np.sqrt(np.where(bounded, disc, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where(bounded, (qb - root) / qa, -np.inf)
        high = np.where(bounded, (qb + root) / qa, np.inf)
    return low, high


def _cross_check(v: NDArray[np.float64], e: NDArray[np.float64]) -> None:
    """The vectorised delta and Hall rows must be the plugin's scalar functions, to 1e-9."""
    for row in range(min(3, v.shape[0])):
        w = np.ones(v.shape[-1])
        for name, scalar in (("delta", ratio_delta_interval), ("hall", ratio_hall_interval)):
            expected = scalar(v[row], e[row], w, CONFIDENCE)
            low, high = interval_rows(name, v[row : row + 1], e[row : row + 1])
            if expected is None or not np.allclose(
                [low[0], high[0]], expected, rtol=1e-9, atol=1e-9
            ):
                raise AssertionError(f"{name} rows {low[0]}, {high[0]} vs the plugin {expected}")


def _covers(bounds: Bounds, truth: float) -> float:
    low, high = bounds
    return float(np.mean((low <= truth) & (truth <= high)))


def coverage_cell(
    rng: np.random.Generator, reps: int, items: int, k: int, truth: float, spread: float
) -> dict[str, float]:
    """Coverage of every method, mean n_eff and the share marked approximate, in one cell."""
    p = coverage_items(rng, reps, items, truth, spread)
    e, v = _terms(rng.multinomial(k, p))
    ok = e.sum(-1) > 0
    e, v = e[ok], v[ok]
    _cross_check(v, e)
    bounds = {m: interval_rows(m, v, e, rng=rng) for m in METHODS if m != "boot-t"}
    row: dict[str, float] = {m: _covers(b, truth) for m, b in bounds.items()}
    row["boot-t"] = _covers(
        interval_rows("boot-t", v[:BOOT_SUITES], e[:BOOT_SUITES], rng=rng), truth
    )
    neff = np.asarray([effective_items(r, np.ones(items)) for r in e], dtype=np.float64)
    row["n_eff"] = float(np.mean(neff))
    ratio = v.sum(-1) / e.sum(-1)
    approximate = np.asarray([is_approximate(items, float(r)) for r in ratio])
    row["approximate"] = float(np.mean(approximate))
    low, high = bounds["hall"]
    inside = (low <= truth) & (truth <= high)
    row["hall_when_marked"] = float(np.mean(inside[approximate])) if approximate.any() else math.nan
    row["hall_when_not"] = (
        float(np.mean(inside[~approximate])) if (~approximate).any() else math.nan
    )
    error_sd = e.std(-1) / e.mean(-1)
    row["error_cv"] = float(np.mean(error_sd))
    return row


# ----------------------------------------------------------------------------------------
# gates


GATE_TESTS: Final = ("t", "hall", "calibrated")
"""The plain t test (0.1.0), Hall's correction with N - 1 df (the previous default) and the
calibrated test (the default)."""


def _gate_rates(
    p: Probabilities, tau: float, looks: Sequence[int], test: str, rng_seed: int
) -> dict[str, float]:
    """Pass/fail rates and mean samples of the fixed and the sequential gate on suites ``p``."""
    rng = np.random.default_rng(rng_seed)  # common random numbers across the two tests
    suites = p.shape[0]
    plan = make_plan(looks, CONFIDENCE)
    fixed = make_plan((looks[-1],), CONFIDENCE)
    counts = np.zeros(p.shape, dtype=np.int64)
    verdict = np.zeros(suites, dtype=np.int8)
    stopped = np.full(suites, float(looks[-1]))
    running = np.ones(suites, dtype=bool)
    drawn = 0
    for look, k in enumerate(looks):
        counts += rng.multinomial(k - drawn, p)
        drawn = k
        e, v = _terms(counts)
        _, low, high = look_bounds(plan, look, v - tau * e, **_flags(test))
        now = np.where(high < 0, -1, np.where(low > 0, 1, 0))
        newly = running & (now != 0)
        verdict[newly] = now[newly]
        stopped[newly] = k
        running &= ~newly
    e, v = _terms(counts)
    _, low, high = look_bounds(fixed, 0, v - tau * e, **_flags(test))
    final = np.where(high < 0, -1, np.where(low > 0, 1, 0))
    return {
        "fixed_pass": float(np.mean(final == -1)),
        "fixed_fail": float(np.mean(final == 1)),
        "seq_pass": float(np.mean(verdict == -1)),
        "seq_fail": float(np.mean(verdict == 1)),
        "seq_samples": float(np.mean(stopped)),
        "saving": 1.0 - float(np.mean(stopped)) / looks[-1],
    }


def _flags(test: str) -> dict[str, bool]:
    return {"skew": test != "t", "calibrated": test == "calibrated"}


_WRONG: Final = np.asarray([0.10, 0.80, 0.05, 0.05])
_SCATTER: Final = np.asarray([0.55, 0.15, 0.15, 0.15])


def _same_family(
    rng: np.random.Generator, shape: tuple[int, ...]
) -> Callable[[float], Probabilities]:
    """Equal difficulty (benchmarks/sequential.py, ``uniform``): one blend, jittered per item."""
    jitter = np.exp(rng.normal(0.0, 0.3, (*shape, OPTIONS)))

    def family(weight: float) -> Probabilities:
        raw = ((1.0 - weight) * _WRONG + weight * _SCATTER) * jitter
        result: Probabilities = raw / raw.sum(axis=-1, keepdims=True)
        return result

    return family


def _mixed_family(
    rng: np.random.Generator, shape: tuple[int, ...]
) -> Callable[[float], Probabilities]:
    """Mixed difficulty (benchmarks/sequential.py, ``mixed``): softmax(logits / T), log T knob."""
    logits = rng.normal(0.0, 1.0, (*shape, OPTIONS))
    logits[..., 0] += 1.5

    def family(log_t: float) -> Probabilities:
        result: Probabilities = softmax(logits / math.exp(log_t), axis=-1)
        return result

    return family


FAMILIES: Final = {"same": (_same_family, (0.0, 1.0)), "mixed": (_mixed_family, (-3.0, 1.6))}


def population_items(
    name: str, rng: np.random.Generator, suites: int, items: int, truth: float
) -> Probabilities:
    """Suites whose items come from a population of incoherence ``truth`` (knob bisected)."""
    make, (low, high) = FAMILIES[name]
    big = make(rng, (1, POPULATION // 4))
    for _ in range(60):
        middle = (low + high) / 2.0
        if float(population_incoherence(big(middle))[0]) < truth:
            low = middle
        else:
            high = middle
    return make(rng, (suites, items))((low + high) / 2.0)


def gate_table(
    reps: int, seed: int, truths: Sequence[float], tau: float = 0.4, max_samples: int = 20
) -> list[dict[str, float | str]]:
    """Rates per difficulty x N x truth, for each of GATE_TESTS on the same samples."""
    looks = default_looks(max_samples)
    rows: list[dict[str, float | str]] = []
    for g, name in enumerate(FAMILIES):
        for items in (20, 50, 100):
            for t, truth in enumerate(truths):
                rng = np.random.default_rng([seed, 7, g, items, t])
                p = population_items(name, rng, reps, items, truth)
                draw_seed = int(rng.integers(2**32))
                for test in GATE_TESTS:
                    if test == "hall" and abs(truth - tau) > 0.15:
                        continue  # the previous default: at and near tau only
                    rates = _gate_rates(p, tau, looks, test, draw_seed)
                    rows.append(
                        {"difficulty": name, "items": items, "truth": truth, "test": test, **rates}
                    )
    return rows


# ----------------------------------------------------------------------------------------
# output


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.1%}"


def coverage_markdown(rows: Sequence[dict[str, float]]) -> str:
    head = (
        "| I | N | K | "
        + " | ".join(METHODS)
        + " | n_eff | marked approximate | hall, not marked |"
    )
    lines = [head, "|" + "---:|" * (len(METHODS) + 6)]
    for r in rows:
        cells = " | ".join(_pct(r[m]) for m in METHODS)
        lines.append(
            f"| {r['truth']:.1f} | {r['items']:.0f} | {r['k']:.0f} | {cells} "
            f"| {r['n_eff']:.1f} | {_pct(r['approximate'])} | {_pct(r['hall_when_not'])} |"
        )
    return "\n".join(lines)


def skew_markdown(rows: Sequence[dict[str, float]]) -> str:
    head = (
        "| difficulty spread | CV of item error | n_eff | "
        + " | ".join(METHODS)
        + " | marked approximate | hall, marked | hall, not marked |"
    )
    lines = [head, "|" + "---:|" * (len(METHODS) + 6)]
    for r in rows:
        cells = " | ".join(_pct(r[m]) for m in METHODS)
        lines.append(
            f"| {r['spread']:.1f} | {r['error_cv']:.2f} | {r['n_eff']:.1f} | {cells} "
            f"| {_pct(r['approximate'])} | {_pct(r['hall_when_marked'])} "
            f"| {_pct(r['hall_when_not'])} |"
        )
    return "\n".join(lines)


def gate_markdown(rows: Sequence[dict[str, float | str]], tau: float) -> str:
    head = (
        "| difficulty | N | true I | test | fixed pass | fixed fail | seq. pass | seq. fail "
        "| seq. samples/item | fewer calls |"
    )
    lines = [head, "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['difficulty']} | {r['items']} | {float(r['truth']):.2f} | {r['test']} "
            f"| {_pct(float(r['fixed_pass']))} | {_pct(float(r['fixed_fail']))} "
            f"| {_pct(float(r['seq_pass']))} | {_pct(float(r['seq_fail']))} "
            f"| {float(r['seq_samples']):.2f} | {float(r['saving']):.0%} |"
        )
    return "\n".join(lines)


def false_verdict_markdown(rows: Sequence[dict[str, float | str]], tau: float) -> str:
    """Per difficulty x N x test: wrong verdicts at I = tau, power near (-/+ 0.1) and far (0.2)."""
    head = (
        f"| difficulty | N | test | fail at I = {tau:g} | pass at I = {tau:g} "
        f"| pass at I = {tau - 0.1:g} | fail at I = {tau + 0.1:g} "
        f"| pass at I = {tau - 0.2:g} | fail at I = {tau + 0.2:g} |"
    )
    lines = [head, "|---|---:|---|---:|---:|---:|---:|---:|---:|"]

    def cell(name: str, items: int, test: str, truth: float, verdict: str) -> str:
        for r in rows:
            if (
                r["difficulty"] == name
                and r["items"] == items
                and r["test"] == test
                and math.isclose(float(r["truth"]), truth)
            ):
                fixed, seq = float(r[f"fixed_{verdict}"]), float(r[f"seq_{verdict}"])
                return f"{_pct(fixed)} / {_pct(seq)}"
        return "-"

    labels = {"t": "t (0.1.0)", "hall": "Hall, N - 1 df (before)", "calibrated": "calibrated"}
    for name in FAMILIES:
        for items in (20, 50, 100):
            for test in GATE_TESTS:
                cells = [
                    cell(name, items, test, tau, "fail"),
                    cell(name, items, test, tau, "pass"),
                    cell(name, items, test, tau - 0.1, "pass"),
                    cell(name, items, test, tau + 0.1, "fail"),
                    cell(name, items, test, tau - 0.2, "pass"),
                    cell(name, items, test, tau + 0.2, "fail"),
                ]
                label = labels[test]
                lines.append(f"| {name} | {items} | {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def savings_markdown(rows: Sequence[dict[str, float | str]], truths: Sequence[float]) -> str:
    """Calls the sequential gate saves against fixed K (the calibrated test, the default)."""
    head = "| difficulty | N | " + " | ".join(f"I = {t:g}" for t in truths) + " |"
    lines = [head, "|---|---:|" + "---:|" * len(truths)]
    chosen = [r for r in rows if r["test"] == "calibrated"]
    for name in FAMILIES:
        for items in (20, 50, 100):
            cells = []
            for truth in truths:
                match = [
                    r
                    for r in chosen
                    if r["difficulty"] == name
                    and r["items"] == items
                    and math.isclose(float(r["truth"]), truth)
                ]
                cells.append(f"{float(match[0]['saving']):.0%}" if match else "-")
            lines.append(f"| {name} | {items} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=2000, help="suites per coverage cell")
    parser.add_argument("--gate-reps", type=int, default=4000, help="suites per gate cell")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    reps = 50 if args.quick else args.reps
    gate_reps = 50 if args.quick else args.gate_reps
    started = time.perf_counter()
    coverage: list[dict[str, float]] = []
    for a, truth in enumerate((0.1, 0.4, 0.8)):
        for items in (20, 50, 200):
            for k in (5, 10, 30):
                rng = np.random.default_rng([args.seed, 1, a, items, k])
                row = coverage_cell(rng, reps, items, k, truth, spread=1.0)
                coverage.append({"truth": truth, "items": items, "k": k, **row})
    print(
        f"## Coverage of the two-sided 95% interval ({reps} suites per cell; difficulty "
        f"spread 1.0; Monte Carlo SE about {math.sqrt(0.05 * 0.95 / reps):.1%})\n"
    )
    print(coverage_markdown(coverage), "\n", flush=True)
    skewed: list[dict[str, float]] = []
    for s, spread in enumerate((0.5, 1.0, 2.0, 3.0, 4.0)):
        rng = np.random.default_rng([args.seed, 2, s])
        row = coverage_cell(rng, reps, 50, 10, 0.8, spread=spread)
        skewed.append({"spread": spread, **row})
    print(
        f"## Skewed items (N = 50, K = 10, I = 0.8; approximate: estimate above "
        f"{APPROXIMATE_ABOVE:g})\n"
    )
    print(skew_markdown(skewed), "\n", flush=True)
    tau = 0.4
    gates = gate_table(gate_reps, args.seed, (0.2, 0.3, 0.35, tau, 0.45, 0.5, 0.6), tau=tau)
    print(
        f"## Gate max_incoherence = {tau} at 95% ({gate_reps} suites per row; fixed K = 20, "
        f"sequential looks {list(default_looks(20))}; Monte Carlo SE at 5%: "
        f"{math.sqrt(0.05 * 0.95 / gate_reps):.1%})\n"
    )
    print(false_verdict_markdown(gates, tau), "\n")
    print("## Fewer calls with the sequential gate (threshold 0.4, max_samples 20)\n")
    print(savings_markdown(gates, (0.35, 0.45)), "\n")
    elapsed = time.perf_counter() - started
    print(f"({elapsed:.0f} s)")
    if args.out is not None:
        payload = {
            "benchmark": "pytest-hotmess/validity",
            "config": {"reps": reps, "gate_reps": gate_reps, "seed": args.seed},
            "coverage": coverage,
            "skewed": skewed,
            "gates": gates,
            "seconds": elapsed,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
