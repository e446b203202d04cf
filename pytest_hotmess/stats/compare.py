"""Paired changes of error, bias, variance and incoherence between two runs, with intervals.

``results.compare_runs`` pairs tests by ``nodeid`` and items by ``id``; this module holds the
math over the paired items. Only items present and estimated on both
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
exceeds the tolerance; ``figure@bucket:tolerance`` looks at the change over the items of one
difficulty bucket (``results.compare_runs`` groups the pairs, this module's figures apply).
With the default 95% two-sided interval that is a one-sided test at
alpha = 0.025 per test and figure: with no real change a test is flagged in at most 2.5% of
runs (several tests or rules multiply the chances; tighten ``confidence`` for many tests).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .bootstrap import paired_bca_interval

__all__ = [
    "COMPARE_METHODS",
    "FIGURES",
    "REPORT_SCHEMA",
    "Change",
    "ItemFigures",
    "Rule",
    "check_options",
    "figure_changes",
    "parse_fail_rules",
    "ratio_change",
]

REPORT_SCHEMA: Final = "pytest-hotmess/1"
FIGURES: Final = ("error", "bias", "variance", "incoherence")
COMPARE_METHODS: Final = ("delta", "bootstrap")

# ----------------------------------------------------------------------------------------
# the paired change of a ratio of sums


def _check_confidence(confidence: float) -> float:
    value = float(confidence)
    if not 0.0 < value < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    return value


@dataclasses.dataclass(frozen=True)
class Change:
    """The paired change of a ratio of sums, current - baseline, with its interval.

    ``current`` and ``baseline`` are the ratios over the paired items; every number is None
    where undefined (never NaN), and ``note`` says why. ``method`` is the interval actually
    used (a bootstrap on degenerate data falls back to ``delta``).
    """

    current: float | None
    baseline: float | None
    change: float | None
    low: float | None
    high: float | None
    items: int = 0
    method: str = "delta"
    note: str | None = None


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
) -> Change:
    """Change of sum(num)/sum(den) between two paired samples of items, with its interval.

    Row i of the four arrays is the same item on both sides; see ``Change`` for the fields.
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
        return Change(None, None, None, None, None, 0, method, "no item on both sides")
    sum_now, sum_before = float(np.sum(b)), float(np.sum(d))
    current = float(np.sum(a)) / sum_now if sum_now > 0 else None
    baseline = float(np.sum(c)) / sum_before if sum_before > 0 else None
    if current is None or baseline is None:
        note = "undefined on one side (no error there)"
        return Change(current, baseline, None, None, None, n, method, note)
    change = current - baseline
    if n < 2:
        note = "fewer than 2 paired items: no interval"
        return Change(current, baseline, change, None, None, n, method, note)
    influence = (a - current * b) / (sum_now / n) - (c - baseline * d) / (sum_before / n)
    bounds: tuple[float, float] | None = None
    used, note_text = method, ""
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
            used, note_text = "delta", "bootstrap undefined on these data: delta interval"
    if bounds is None:
        se = float(np.std(influence, ddof=1)) / math.sqrt(n)
        from scipy.special import stdtrit  # on first use: importing it costs ~0.2 s

        q = float(stdtrit(n - 1, 0.5 + confidence / 2.0))
        bounds = (change - q * se, change + q * se)
    low, high = _finite(float(bounds[0])), _finite(float(bounds[1]))
    return Change(current, baseline, change, low, high, n, used, note_text or None)


# ----------------------------------------------------------------------------------------
# paired items


@dataclasses.dataclass(frozen=True)
class ItemFigures:
    """One item's figures on one side of a comparison (None where undefined)."""

    error: float | None
    bias: float | None
    variance: float | None
    weight: float = 1.0


Pair = tuple[ItemFigures, ItemFigures]


def _finite(value: float | None) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _figure_columns(pairs: Sequence[Pair], figure: str) -> tuple[NDArray[np.float64], ...]:
    """num_now, den_now, num_before, den_before for one figure over the usable pairs."""
    value = "variance" if figure == "incoherence" else figure
    needs_target = figure != "variance"
    rows: list[tuple[float, float, float, float]] = []
    for now, before in pairs:
        x_now, x_before = _finite(getattr(now, value)), _finite(getattr(before, value))
        e_now, e_before = _finite(now.error), _finite(before.error)
        if x_now is None or x_before is None:
            continue
        if needs_target and (e_now is None or e_before is None):
            continue
        w_now, w_before = _finite(now.weight), _finite(before.weight)
        w_now = 1.0 if w_now is None else w_now
        w_before = 1.0 if w_before is None else w_before
        if w_now == 0 and w_before == 0:
            continue
        if figure == "incoherence":
            assert e_now is not None and e_before is not None
            rows.append((w_now * x_now, w_now * e_now, w_before * x_before, w_before * e_before))
        else:
            rows.append((w_now * x_now, w_now, w_before * x_before, w_before))
    table = np.asarray(rows, dtype=np.float64).reshape(len(rows), 4)
    return tuple(table[:, j] for j in range(4))


def check_options(confidence: float, method: str) -> float:
    """The confidence as a float; ValueError for a bad confidence or method."""
    if method not in COMPARE_METHODS:
        raise ValueError(f"method must be one of {', '.join(COMPARE_METHODS)}, got {method!r}")
    return _check_confidence(confidence)


def figure_changes(
    pairs: Sequence[Pair],
    *,
    confidence: float = 0.95,
    method: str = "delta",
    n_resamples: int = 2000,
    rng: np.random.Generator | None = None,
) -> dict[str, Change]:
    """``ratio_change`` of each figure in ``FIGURES`` over the same paired items, by figure."""
    generator = rng if rng is not None else np.random.default_rng()
    return {
        figure: ratio_change(
            *_figure_columns(pairs, figure),
            confidence=confidence,
            method=method,
            n_resamples=n_resamples,
            rng=generator,
        )
        for figure in FIGURES
    }


# ----------------------------------------------------------------------------------------
# fail rules


@dataclasses.dataclass(frozen=True)
class Rule:
    """Fail when a figure's increase is, with confidence, larger than ``tolerance``; with a
    ``bucket``, the increase over that difficulty bucket's paired items only."""

    figure: str
    tolerance: float
    bucket: str | None = None

    def __str__(self) -> str:
        at = "" if self.bucket is None else f"@{self.bucket}"
        return f"{self.figure}{at}:{self.tolerance:g}"


def _parse_rule(text: str) -> Rule:
    from .difficulty import BUCKETS

    head, sep, tolerance_text = text.partition(":")
    figure, at, bucket_text = head.partition("@")
    figure = figure.strip().lower()
    if not sep:
        raise ValueError(
            f"bad fail rule {text!r}: write FIGURE:TOLERANCE or FIGURE@BUCKET:TOLERANCE, "
            "e.g. 'incoherence:0.05' or 'incoherence@hard:0.05'"
        )
    if figure not in FIGURES:
        raise ValueError(
            f"bad fail rule {text!r}: unknown figure {figure!r}; use one of {', '.join(FIGURES)}"
        )
    bucket = bucket_text.strip().lower() if at else None
    if bucket is not None and bucket not in BUCKETS:
        raise ValueError(
            f"bad fail rule {text!r}: unknown difficulty bucket {bucket!r}; "
            f"use one of {', '.join(BUCKETS)}"
        )
    try:
        tolerance = float(tolerance_text.strip())
    except ValueError:
        raise ValueError(
            f"bad fail rule {text!r}: tolerance {tolerance_text.strip()!r} is not a number"
        ) from None
    if not math.isfinite(tolerance) or tolerance < 0:
        raise ValueError(f"bad fail rule {text!r}: the tolerance must be a finite number >= 0")
    return Rule(figure, tolerance, bucket)


def parse_fail_rules(specs: str | Iterable[str]) -> list[Rule]:
    """Parse ``["incoherence:0.05", "error@hard:0.1"]`` (commas inside one string also split).

    A bad figure, bucket or tolerance raises ValueError naming the rule and the problem.
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
