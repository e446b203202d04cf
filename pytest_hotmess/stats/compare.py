"""Compare a run's JSON report with a baseline report, with paired intervals on every change.

Tests are paired by ``nodeid`` and items by ``id``. Only items present and estimated on both
sides enter a figure, so every change is a *paired* difference: the item-to-item spread (most
of the noise) cancels. Each figure is a ratio of sums over the paired items, with each side's
own item weights w:

- ``error``, ``bias``, ``variance``: sum w x / sum w, the report's weighted means, unclipped
  (bias and variance are not clipped at 0 here, so their changes stay unbiased);
- ``incoherence``: sum w v / sum w e over items with a target on both sides, unclipped.

The change is R_now - R_before, with a two-sided interval at ``confidence``:

- ``delta`` (default): linearise both ratios on the same items,
  D_i = (a_i - R_now b_i) / mean(b) - (a'_i - R_before b'_i) / mean(b'),
  SE = sd(D) / sqrt(N), t quantile with N - 1 degrees of freedom. For unit weights and the
  mean figures this is exactly the paired t interval of the per-item differences.
- ``bootstrap``: ``scipy.stats.bootstrap`` over items (both sides resampled together,
  ``paired=True``, BCa), seeded. Degenerate data fall back to ``delta`` and say so.

The paired values reported as ``current``/``baseline`` are over the paired items only; they
equal the reports' totals when no item is missing on either side.

Regressions: a rule ``figure:tolerance`` is violated when the *lower* bound of the increase
exceeds the tolerance. With the default 95% two-sided interval that is a one-sided test at
alpha = 0.025 per test and figure: with no real change a test is flagged in at most 2.5% of
runs (several tests or rules multiply the chances; tighten ``confidence`` for many tests).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .bootstrap import paired_bca_interval

__all__ = [
    "COMPARE_METHODS",
    "FIGURES",
    "REPORT_SCHEMA",
    "Rule",
    "compare_reports",
    "parse_fail_rules",
    "ratio_change",
    "regressions",
]

REPORT_SCHEMA: Final = "pytest-hotmess/1"
FIGURES: Final = ("error", "bias", "variance", "incoherence")
COMPARE_METHODS: Final = ("delta", "bootstrap")

Record = Mapping[str, Any]


# ----------------------------------------------------------------------------------------
# the paired change of a ratio of sums


def _check_confidence(confidence: float) -> float:
    value = float(confidence)
    if not 0.0 < value < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    return value


def _empty_change(items: int, note: str, method: str) -> dict[str, Any]:
    return {
        "current": None,
        "baseline": None,
        "change": None,
        "low": None,
        "high": None,
        "items": items,
        "method": method,
        "note": note,
    }


def _difference_of_ratios(
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    c: NDArray[np.float64],
    d: NDArray[np.float64],
    axis: int = -1,
) -> Any:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sum(a, axis=axis) / np.sum(b, axis=axis) - np.sum(c, axis=axis) / np.sum(
            d, axis=axis
        )


def ratio_change(
    num_now: ArrayLike,
    den_now: ArrayLike,
    num_before: ArrayLike,
    den_before: ArrayLike,
    *,
    confidence: float = 0.95,
    method: str = "delta",
    n_resamples: int = 2000,
    rng: np.random.Generator | None = None,
) -> dict[str, Any]:
    """Change of sum(num)/sum(den) between two paired samples of items, with its interval.

    Row i of the four arrays is the same item on both sides. Returns plain builtins:
    ``current``, ``baseline``, ``change``, ``low``, ``high`` (None where undefined), ``items``,
    the ``method`` actually used, and a ``note`` saying why something is undefined.
    """
    confidence = _check_confidence(confidence)
    if method not in COMPARE_METHODS:
        raise ValueError(f"method must be one of {', '.join(COMPARE_METHODS)}, got {method!r}")
    a, b, c, d = (
        np.asarray(x, dtype=np.float64) for x in (num_now, den_now, num_before, den_before)
    )
    n = a.shape[0]
    if any(x.shape != (n,) for x in (b, c, d)):
        raise ValueError("the four columns must be one-dimensional and of equal length")
    if not all(np.all(np.isfinite(x)) for x in (a, b, c, d)):
        raise ValueError("the columns must be finite numbers")
    if n == 0:
        return _empty_change(0, "no item on both sides", method)
    sum_now, sum_before = float(np.sum(b)), float(np.sum(d))
    out = _empty_change(n, "", method)
    out["current"] = float(np.sum(a)) / sum_now if sum_now > 0 else None
    out["baseline"] = float(np.sum(c)) / sum_before if sum_before > 0 else None
    if out["current"] is None or out["baseline"] is None:
        out["note"] = "undefined on one side (no error there)"
        return out
    ratio_now, ratio_before = float(out["current"]), float(out["baseline"])
    out["change"] = ratio_now - ratio_before
    if n < 2:
        out["note"] = "fewer than 2 paired items: no interval"
        return out
    influence = (a - ratio_now * b) / (sum_now / n) - (c - ratio_before * d) / (sum_before / n)
    bounds: tuple[float, float] | None = None
    if method == "bootstrap":
        spread = float(np.ptp(influence))
        if spread > 1e-12 * max(1.0, float(np.max(np.abs(influence)))):
            generator = rng if rng is not None else np.random.default_rng()
            bounds = paired_bca_interval(
                (a, b, c, d),
                _difference_of_ratios,
                confidence=confidence,
                n_resamples=n_resamples,
                rng=generator,
            )
        if bounds is None:
            out["method"] = "delta"
            out["note"] = "bootstrap undefined on these data: delta interval"
    if bounds is None:
        se = float(np.std(influence, ddof=1)) / math.sqrt(n)
        from scipy.special import stdtrit  # on first use: importing it costs ~0.2 s

        q = float(stdtrit(n - 1, 0.5 + confidence / 2.0))
        bounds = (out["change"] - q * se, out["change"] + q * se)
    out["low"], out["high"] = float(bounds[0]), float(bounds[1])
    out["note"] = out["note"] or None
    return out


# ----------------------------------------------------------------------------------------
# reports


def _tests_by_nodeid(report: Record, side: str) -> dict[str, Record]:
    schema = report.get("schema")
    if schema is not None and schema != REPORT_SCHEMA:
        raise ValueError(f"the {side} report has schema {schema!r}; expected {REPORT_SCHEMA!r}")
    tests = report.get("tests")
    if not isinstance(tests, Sequence) or isinstance(tests, str):
        raise ValueError(f"the {side} report has no 'tests' list")
    out: dict[str, Record] = {}
    for test in tests:
        nodeid = str(test["nodeid"])
        if nodeid in out:
            raise ValueError(f"the {side} report lists test {nodeid!r} twice")
        out[nodeid] = test
    return out


def _items_by_id(test: Record, side: str) -> dict[str, Record]:
    out: dict[str, Record] = {}
    for item in test.get("items") or ():
        item_id = str(item["id"])
        if item_id in out:
            raise ValueError(f"the {side} report lists item {item_id!r} twice in {test['nodeid']}")
        out[item_id] = item
    return out


def _number(item: Record, name: str) -> float | None:
    value = item.get(name)
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _weight(item: Record) -> float:
    weight = _number(item, "weight")
    return 1.0 if weight is None else weight


Pair = tuple[Record, Record]


def _figure_columns(pairs: Sequence[Pair], figure: str) -> tuple[NDArray[np.float64], ...]:
    """num_now, den_now, num_before, den_before for one figure over the usable pairs."""
    value = "variance" if figure == "incoherence" else figure
    needs_target = figure != "variance"
    rows: list[tuple[float, float, float, float]] = []
    for now, before in pairs:
        x_now, x_before = _number(now, value), _number(before, value)
        e_now, e_before = _number(now, "error"), _number(before, "error")
        if x_now is None or x_before is None:
            continue
        if needs_target and (e_now is None or e_before is None):
            continue
        w_now, w_before = _weight(now), _weight(before)
        if w_now == 0 and w_before == 0:
            continue
        if figure == "incoherence":
            assert e_now is not None and e_before is not None
            rows.append((w_now * x_now, w_now * e_now, w_before * x_before, w_before * e_before))
        else:
            rows.append((w_now * x_now, w_now, w_before * x_before, w_before))
    table = np.asarray(rows, dtype=np.float64).reshape(len(rows), 4)
    return tuple(table[:, j] for j in range(4))


def _figures(
    pairs: Sequence[Pair],
    confidence: float,
    method: str,
    n_resamples: int,
    rng: np.random.Generator,
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for figure in FIGURES:
        columns = _figure_columns(pairs, figure)
        change = ratio_change(
            *columns, confidence=confidence, method=method, n_resamples=n_resamples, rng=rng
        )
        out[figure] = change
    return out


def _settings_warnings(now: Record, before: Record) -> list[str]:
    notes = []
    for name in ("loss", "estimator"):
        if now.get(name) != before.get(name):
            notes.append(f"{name} differs: {before.get(name)!r} before, {now.get(name)!r} now")
    return notes


def _compare_test(
    nodeid: str,
    now: Record,
    before: Record,
    confidence: float,
    method: str,
    n_resamples: int,
    rng: np.random.Generator,
) -> tuple[dict[str, Any], list[Pair]]:
    items_now, items_before = _items_by_id(now, "current"), _items_by_id(before, "baseline")
    common = [i for i in items_now if i in items_before]
    pairs = [(items_now[i], items_before[i]) for i in common]
    unestimated = [
        i
        for i in common
        if _number(items_now[i], "variance") is None or _number(items_before[i], "variance") is None
    ]
    entry = {
        "nodeid": nodeid,
        "verdict": {"current": now.get("verdict"), "baseline": before.get("verdict")},
        "items_current": len(items_now),
        "items_baseline": len(items_before),
        "items_paired": len(common),
        "items_only_current": [i for i in items_now if i not in items_before],
        "items_only_baseline": [i for i in items_before if i not in items_now],
        "items_unestimated": unestimated,
        "warnings": _settings_warnings(now, before),
        "figures": _figures(pairs, confidence, method, n_resamples, rng),
    }
    return entry, pairs


def compare_reports(
    current: Record,
    baseline: Record,
    *,
    confidence: float = 0.95,
    method: str = "delta",
    seed: int | None = None,
    n_resamples: int = 2000,
) -> dict[str, Any]:
    """Per-test changes (current - baseline) in error, bias, variance and incoherence.

    Returns plain builtins: ``tests`` (one entry per test on both sides, in the current
    report's order, with ``figures`` and the item ids missing on either side),
    ``tests_only_current``, ``tests_only_baseline`` and ``total`` (all paired items of all
    paired tests pooled). Deterministic for a given ``seed``.
    """
    confidence = _check_confidence(confidence)
    if method not in COMPARE_METHODS:
        raise ValueError(f"method must be one of {', '.join(COMPARE_METHODS)}, got {method!r}")
    tests_now = _tests_by_nodeid(current, "current")
    tests_before = _tests_by_nodeid(baseline, "baseline")
    rng = np.random.default_rng(seed)
    entries: list[dict[str, Any]] = []
    all_pairs: list[Pair] = []
    for nodeid, now in tests_now.items():
        if nodeid not in tests_before:
            continue
        entry, pairs = _compare_test(
            nodeid, now, tests_before[nodeid], confidence, method, n_resamples, rng
        )
        entries.append(entry)
        all_pairs.extend(pairs)
    return {
        "confidence": confidence,
        "method": method,
        "tests": entries,
        "tests_only_current": [t for t in tests_now if t not in tests_before],
        "tests_only_baseline": [t for t in tests_before if t not in tests_now],
        "total": {
            "items_paired": len(all_pairs),
            "figures": _figures(all_pairs, confidence, method, n_resamples, rng),
        },
    }


# ----------------------------------------------------------------------------------------
# fail rules


@dataclasses.dataclass(frozen=True)
class Rule:
    """Fail when a figure's increase is, with confidence, larger than ``tolerance``."""

    figure: str
    tolerance: float

    def __str__(self) -> str:
        return f"{self.figure}:{self.tolerance:g}"


def _parse_rule(text: str) -> Rule:
    figure, sep, tolerance_text = text.partition(":")
    figure = figure.strip().lower()
    if not sep:
        raise ValueError(f"bad fail rule {text!r}: write FIGURE:TOLERANCE, e.g. 'incoherence:0.05'")
    if figure not in FIGURES:
        raise ValueError(
            f"bad fail rule {text!r}: unknown figure {figure!r}; use one of {', '.join(FIGURES)}"
        )
    try:
        tolerance = float(tolerance_text.strip())
    except ValueError:
        raise ValueError(
            f"bad fail rule {text!r}: tolerance {tolerance_text.strip()!r} is not a number"
        ) from None
    if not math.isfinite(tolerance) or tolerance < 0:
        raise ValueError(f"bad fail rule {text!r}: the tolerance must be a finite number >= 0")
    return Rule(figure, tolerance)


def parse_fail_rules(specs: str | Iterable[str]) -> list[Rule]:
    """Parse ``["incoherence:0.05", "error:0.1"]`` (commas inside one string also split).

    A bad figure or tolerance raises ValueError naming the rule and the problem.
    """
    texts = [specs] if isinstance(specs, str) else list(specs)
    rules: list[Rule] = []
    for text in texts:
        if not isinstance(text, str):
            raise TypeError(f"fail rules are strings like 'incoherence:0.05', got {text!r}")
        parts = [part.strip() for part in text.split(",")]
        if not any(parts):
            raise ValueError(f"bad fail rule {text!r}: it is empty")
        rules.extend(_parse_rule(part) for part in parts if part)
    return rules


def _violation(
    scope: str, rule: Rule, figure: Mapping[str, Any], confidence: float
) -> dict[str, Any]:
    change, low, high = float(figure["change"]), float(figure["low"]), float(figure["high"])
    percent = f"{100 * confidence:g}%"
    message = (
        f"{scope}: {rule.figure} rose by {change:.4g} ({percent} interval {low:.4g} to "
        f"{high:.4g}; baseline {figure['baseline']:.4g}, now {figure['current']:.4g}): "
        f"even the lower bound exceeds the tolerance {rule.tolerance:g}"
    )
    return {
        "nodeid": scope,
        "figure": rule.figure,
        "tolerance": rule.tolerance,
        "change": change,
        "low": low,
        "high": high,
        "current": figure["current"],
        "baseline": figure["baseline"],
        "message": message,
    }


def regressions(
    comparison: Mapping[str, Any], rules: Sequence[Rule], *, include_total: bool = False
) -> list[dict[str, Any]]:
    """Violations of ``rules`` in a ``compare_reports`` result, each with a message.

    A rule is violated when the lower bound of the figure's increase is above its tolerance;
    figures without an interval (too few items, undefined incoherence) never violate. With
    ``include_total`` the pooled total is checked too, under the scope ``"<total>"``.
    """
    confidence = float(comparison["confidence"])
    scopes: list[tuple[str, Mapping[str, Any]]] = [
        (str(test["nodeid"]), test["figures"]) for test in comparison["tests"]
    ]
    if include_total:
        scopes.append(("<total>", comparison["total"]["figures"]))
    found = []
    for scope, figures in scopes:
        for rule in rules:
            figure = figures[rule.figure]
            low = figure.get("low")
            if low is not None and low > rule.tolerance:
                found.append(_violation(scope, rule, figure, confidence))
    return found
