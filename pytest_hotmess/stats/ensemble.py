"""Projected error and incoherence of ensembles of m samples: averaging and majority vote.

Would calling the model m times and combining the answers help, and does it remove the
incoherent part of the error? Both projections are unbiased estimates computed from the K
samples already drawn, so they cost no extra model calls.

**Averaging** (Brier and squared losses): the loss of the mean of m independent samples is
bias + variance / m, exactly (the bias/variance split is the split of a mean's squared error).
With the unbiased per-item bias and variance, error_m = bias + variance / m is unbiased for
every m; a ``plugin`` item is first converted (variance * K / (K - 1)). For categorical items
this is the soft vote (the Brier loss of the averaged one-hot answers). KL items are left
out: the KL of an averaged distribution does not split this way.

**Majority vote** (categorical items with Brier loss, and binary items): the vote of m samples
picks the most frequent answer, ties broken uniformly at random, so its expected loss is
2 (1 - q_y) for Brier (1 - q_y for binary squared error), where q_c is the chance that answer
c wins. q is estimated without bias by the mean over *all* m-subsets of the K samples (a
U-statistic; each subset is m independent draws), computed exactly from the answer counts:
a subset's composition a is multivariate hypergeometric, P(a) = prod_c C(n_c, a_c) / C(K, m),
and a wins c with share [a_c = max a] / #ties. The vote's variance is the chance that two
independent votes disagree, 1 - sum_c q_c^2; sum_c q_c^2 is a polynomial of degree 2m in the
answer probabilities, so it has an unbiased estimate only when K >= 2m (the mean over pairs
of disjoint m-subsets). Below that the row gives the vote's error only. The invalid answer
is a wrong class of its own and can win a vote; binary invalid outcomes count as False,
as in the estimate. Exact enumeration grows with the number of distinct answers; past
``COMPOSITION_BUDGET`` compositions a row says so instead of guessing.

Aggregates follow the report: weighted means over items, incoherence as the ratio of sums
with the delta interval of ``aggregate.ratio_delta_interval`` (every size in one array pass);
bias clipped at 0 and incoherence to [0, 1] for display. A vote's figures depend only on m and
the item's answer counts, which a suite repeats test after test: each distinct count vector
is enumerated once and remembered (up to ``_CACHE_LIMIT`` entries). Each row is summed on
its own, so its figures are the same bit for bit whatever else was enumerated with it.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .decompose import ItemEstimate
from .kinds import INVALID_LABEL
from .skipped import SkippedItem

__all__ = [
    "COMPOSITION_BUDGET",
    "ENSEMBLE_SIZES",
    "EnsembleMethod",
    "EnsembleProjection",
    "EnsembleRow",
    "SkippedItem",
    "ensemble_projection",
    "vote_agreement",
    "vote_probabilities",
]

ENSEMBLE_SIZES: Final = (1, 3, 5, 9)
COMPOSITION_BUDGET: Final = 5_000_000
"""Largest number of subset compositions (or pairs of them) enumerated for one table."""

_CELLS_PER_CHUNK: Final = 4_000_000
"""Array cells per block of items when weighting compositions (bounds memory)."""


@dataclasses.dataclass(frozen=True)
class EnsembleRow:
    """Projected figures of an ensemble of m samples (None where undefined; ``note`` says why).

    Bias is clipped at 0 and incoherence and its interval to [0, 1], as the report shows them.
    """

    m: int
    error: float | None
    bias: float | None
    variance: float | None
    incoherence: float | None
    low: float | None
    high: float | None
    note: str | None


@dataclasses.dataclass(frozen=True)
class EnsembleMethod:
    """One way of combining m samples (averaging or majority vote): a row per m, over
    ``items`` items, and the items it cannot combine."""

    items: int
    excluded: list[SkippedItem]
    rows: list[EnsembleRow]


@dataclasses.dataclass(frozen=True)
class EnsembleProjection:
    """Both projections for the sizes ``ms``; items without a target are listed apart."""

    ms: list[int]
    confidence: float
    items: int
    items_without_target: list[str]
    averaging: EnsembleMethod
    majority: EnsembleMethod


class TooManyAnswers(ValueError):
    """The exact vote projection would enumerate more than ``COMPOSITION_BUDGET`` cases."""


# ----------------------------------------------------------------------------------------
# composition tables (shared by every item with the same number of distinct answers)


@functools.lru_cache(maxsize=64)
def _compositions(total: int, parts: int) -> NDArray[np.int64]:
    """Every way to write ``total`` as ``parts`` ordered non-negative integers."""
    size = math.comb(total + parts - 1, parts - 1)
    if size > COMPOSITION_BUDGET:
        raise TooManyAnswers(f"{size} compositions of {total} into {parts} answers")
    if parts == 1:
        return np.asarray([[total]], dtype=np.int64)
    bars = np.asarray(list(itertools.combinations(range(total + parts - 1), parts - 1)))
    edges = np.concatenate(
        [np.full((size, 1), -1), bars, np.full((size, 1), total + parts - 1)], axis=1
    )
    table: NDArray[np.int64] = np.diff(edges, axis=1).astype(np.int64) - 1
    table.setflags(write=False)  # cached and shared: never to be modified
    return table


@functools.lru_cache(maxsize=64)
def _vote_table(m: int, parts: int) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Compositions a of m and, per answer, its share of the win (ties split evenly)."""
    a = _compositions(m, parts)
    top = a == a.max(axis=1, keepdims=True)
    shares = top / top.sum(axis=1, keepdims=True)
    shares = shares.astype(np.float64)
    shares.setflags(write=False)
    return a, shares


_log_factorials: NDArray[np.float64] = np.zeros(1)
"""ln(i!) for i = 0, 1, ...: grown on demand (replaced whole, never changed in place)."""


def _log_factorial(values: ArrayLike) -> NDArray[np.float64]:
    """ln(x!) of whole numbers x >= 0 (every argument here is a count), looked up in a table.

    The table holds ``math.lgamma(i + 1)``, which agrees with ``scipy.special.gammaln`` to the
    last bit or two; looking it up spares judging a test the 0.2 s import of scipy.special.
    """
    global _log_factorials
    index = np.asarray(values, dtype=np.float64).astype(np.int64)
    table = _log_factorials
    top = int(index.max(initial=0))
    if top >= table.shape[0]:
        size = max(top + 1, 2 * table.shape[0])
        table = np.array([math.lgamma(i + 1.0) for i in range(size)], dtype=np.float64)
        table.setflags(write=False)
        _log_factorials = table
    result: NDArray[np.float64] = table[index]
    return result


def _log_inverse_factorials(a: NDArray[np.int64]) -> NDArray[np.float64]:
    result: NDArray[np.float64] = -_log_factorial(a).sum(axis=1)
    return result


@functools.lru_cache(maxsize=32)
def _agreement_table(m: int, parts: int) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Compositions b of 2m and M(b) = sum over a + a' = b of g(a) g(a') shares(a).shares(a').

    g(a) = 1 / prod a_c!. With it, the chance that votes on two disjoint m-subsets agree is
    sum_b [prod_c (n_c)_(b_c)] M(b) (m!)^2 / (K)_(2m), falling factorials (n)_b.
    """
    a, shares = _vote_table(m, parts)
    if a.shape[0] ** 2 > COMPOSITION_BUDGET:
        raise TooManyAnswers(f"{a.shape[0] ** 2} pairs of vote compositions")
    b = _compositions(2 * m, parts)
    powers = (2 * m + 1) ** np.arange(parts, dtype=np.int64)
    keys_b = b @ powers
    order = np.argsort(keys_b)
    keys_a = a @ powers
    g = np.exp(_log_inverse_factorials(a))
    table = np.zeros(b.shape[0], dtype=np.float64)
    rows = max(1, _CELLS_PER_CHUNK // a.shape[0])
    for start in range(0, a.shape[0], rows):
        block = slice(start, start + rows)
        weights = (g[block, None] * g[None, :]) * (shares[block] @ shares.T)
        position = np.searchsorted(keys_b, keys_a[block, None] + keys_a[None, :], sorter=order)
        table += np.bincount(order[position].ravel(), weights.ravel(), minlength=b.shape[0])
    table.setflags(write=False)
    return b, table


# ----------------------------------------------------------------------------------------
# hypergeometric weights over compositions


def _log_falling(n: NDArray[np.float64], a: NDArray[np.float64]) -> NDArray[np.float64]:
    """log n (n-1) ... (n-a+1), -inf where a > n."""
    room = n - a
    value = _log_factorial(n) - _log_factorial(np.where(room >= 0, room, 0.0))
    result: NDArray[np.float64] = np.where(room >= 0, value, -np.inf)
    return result


def _weighted_sum(
    counts: NDArray[np.int64],
    compositions: NDArray[np.int64],
    log_constant: NDArray[np.float64],
    values: NDArray[np.float64],
) -> NDArray[np.float64]:
    """sum_j prod_c (n_ic)_(a_jc) exp(log_constant_i) values_j, in blocks of items.

    ``log_constant`` (N,) carries the per-item normaliser, a function of the row's counts;
    ``values`` is (J,) or (J, C). Rows with equal counts are computed once (large suites
    repeat the same few count vectors).
    """
    unique, first, inverse = np.unique(counts, axis=0, return_index=True, return_inverse=True)
    result: NDArray[np.float64] = _weighted_sum_distinct(
        unique, compositions, log_constant[first], values
    )[inverse.reshape(-1)]
    return result


def _weighted_sum_distinct(
    counts: NDArray[np.int64],
    compositions: NDArray[np.int64],
    log_constant: NDArray[np.float64],
    values: NDArray[np.float64],
) -> NDArray[np.float64]:
    n_items, parts = counts.shape
    per_item = max(1, compositions.shape[0] * parts)
    rows = max(1, _CELLS_PER_CHUNK // per_item)
    a = compositions[None, :, :].astype(np.float64)
    out = np.zeros((n_items, *values.shape[1:]), dtype=np.float64)
    for start in range(0, n_items, rows):
        block = slice(start, start + rows)
        n = counts[block, None, :].astype(np.float64)
        log_w = _log_falling(n, a).sum(axis=2) + log_constant[block, None]
        weights = np.exp(log_w)
        # each row summed on its own (not a matrix product, whose rounding depends on the
        # other rows): a row's figures are the same in any batch, so they can be remembered
        if values.ndim == 1:
            out[block] = np.sum(weights * values, axis=1)
        else:
            for column in range(values.shape[1]):
                out[block, column] = np.sum(weights * values[:, column], axis=1)
    return out


def _as_counts(counts: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    n = np.asarray(counts)
    if n.ndim != 2 or n.shape[1] < 1:
        raise ValueError(f"counts must have shape (N, C), got {n.shape}")
    if n.size and (not np.issubdtype(n.dtype, np.integer) or np.any(n < 0)):
        raise ValueError("counts must be non-negative integers")
    n = n.astype(np.int64)
    return n, n.sum(axis=1)


def _by_distinct_answers(counts: NDArray[np.int64]) -> dict[int, NDArray[np.intp]]:
    """Rows grouped by how many answers they saw (each group shares one table)."""
    distinct = (counts > 0).sum(axis=1)
    return {int(c): np.flatnonzero(distinct == c) for c in np.unique(distinct)}


def _compact(rows: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.intp]]:
    """Each row's non-zero counts (same number per row) and their column positions."""
    columns = np.argsort(rows == 0, axis=1, kind="stable")[:, : int((rows[0] > 0).sum())]
    return np.take_along_axis(rows, columns, axis=1), columns


def _check_m(m: int) -> int:
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise ValueError(f"an ensemble size must be a positive int, got {m!r}")
    return int(m)


def vote_probabilities(counts: ArrayLike, m: int) -> NDArray[np.float64]:
    """Unbiased chance that each answer wins a vote of m samples, from (N, C) answer counts.

    The mean over all m-subsets of each row's K samples (ties split evenly); needs K >= m.
    Rows sum to 1. Raises ``TooManyAnswers`` past the enumeration budget.
    """
    m = _check_m(m)
    n, k = _as_counts(counts)
    if np.any(k < m):
        raise ValueError(f"a vote of {m} needs K >= {m} samples; smallest K is {int(k.min())}")
    q = np.zeros(n.shape, dtype=np.float64)
    for parts, rows in _by_distinct_answers(n).items():
        compact, columns = _compact(n[rows])
        a, shares = _vote_table(m, parts)
        log_values = _log_inverse_factorials(a)
        k_rows = k[rows].astype(np.float64)
        log_constant = math.lgamma(m + 1.0) - _log_falling(k_rows, np.full_like(k_rows, m))
        weighted = _weighted_sum(compact, a, log_constant, shares * np.exp(log_values)[:, None])
        block = q[rows]
        np.put_along_axis(block, columns, weighted, axis=1)
        q[rows] = block
    return q


def vote_agreement(counts: ArrayLike, m: int) -> NDArray[np.float64]:
    """Unbiased chance that votes of two independent m-sample ensembles agree (sum_c q_c^2).

    The mean over all pairs of disjoint m-subsets of each row's K samples; needs K >= 2m.
    """
    m = _check_m(m)
    n, k = _as_counts(counts)
    if np.any(k < 2 * m):
        raise ValueError(
            f"the agreement of two votes of {m} needs K >= {2 * m}; smallest K is {int(k.min())}"
        )
    out = np.zeros(n.shape[0], dtype=np.float64)
    for parts, rows in _by_distinct_answers(n).items():
        compact, _ = _compact(n[rows])
        b, table = _agreement_table(m, parts)
        k_rows = k[rows].astype(np.float64)
        log_constant = 2.0 * math.lgamma(m + 1.0) - _log_falling(
            k_rows, np.full_like(k_rows, 2 * m)
        )
        out[rows] = _weighted_sum(compact, b, log_constant, table)
    return out


# ----------------------------------------------------------------------------------------
# answer counts seen before (a suite repeats the same few count vectors, test after test)

_CACHE_LIMIT: Final = 20_000
"""Most remembered (kernel, m, counts) entries; past it the memo starts afresh."""

_remembered: dict[tuple[str, int, tuple[int, ...]], NDArray[np.float64] | float] = {}
"""``vote_probabilities`` rows (trimmed to the counts' length) and ``vote_agreement`` values,
by kernel name, m and answer counts: each depends on nothing else."""


def _remembered_votes(
    kernel: str, m: int, keys: Sequence[tuple[int, ...]], counts: NDArray[np.int64]
) -> NDArray[np.float64]:
    """``vote_probabilities`` (D, width) or ``vote_agreement`` (D,) of the distinct rows
    ``counts`` (``keys`` their counts unpadded), computing only rows not seen before."""
    found = [_remembered.get((kernel, m, key)) for key in keys]
    missing = [i for i, value in enumerate(found) if value is None]
    if missing:
        compute = vote_probabilities if kernel == "vote" else vote_agreement
        fresh = compute(counts[missing], m)
        if len(_remembered) + len(missing) > _CACHE_LIMIT:
            _remembered.clear()
        for i, value in zip(missing, fresh, strict=True):
            kept = value[: len(keys[i])].copy() if kernel == "vote" else float(value)
            _remembered[(kernel, m, keys[i])] = found[i] = kept
    if kernel != "vote":
        return np.asarray(found, dtype=np.float64)
    out = np.zeros(counts.shape, dtype=np.float64)
    for i, value in enumerate(found):
        out[i, : len(keys[i])] = value
    return out


# ----------------------------------------------------------------------------------------
# items


class _ItemLike(Protocol):
    """What the projections read of one item (an ``ItemEstimate`` has it all)."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str | None: ...
    @property
    def loss(self) -> str | None: ...
    @property
    def estimator(self) -> str | None: ...
    @property
    def k(self) -> int | None: ...
    @property
    def weight(self) -> float: ...
    @property
    def error(self) -> float | None: ...
    @property
    def variance(self) -> float | None: ...
    @property
    def target(self) -> object: ...
    @property
    def counts(self) -> object: ...


@dataclasses.dataclass(frozen=True)
class _Item:
    """An item of a JSON report file, read as the projections read an estimate."""

    id: str
    kind: str | None
    loss: str | None
    estimator: str | None
    k: int | None
    weight: float
    error: float | None
    variance: float | None
    target: object
    counts: object

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> _Item:
        weight = item.get("weight")  # records without one (older reports) weigh 1
        return cls(
            id=str(item["id"]),
            kind=item.get("kind"),
            loss=item.get("loss", "brier"),
            estimator=item.get("estimator"),
            k=item.get("k"),
            weight=1.0 if weight is None else float(weight),
            error=item.get("error"),
            variance=item.get("variance"),
            target=item.get("target"),
            counts=item.get("counts"),
        )


def _vote_classes(item: _ItemLike) -> tuple[tuple[int, ...], int, float] | str:
    """(answer counts, index of the target among them, loss scale) or why the item can't vote."""
    kind = item.kind
    counts = item.counts
    if kind == "categorical" and type(counts) is dict and item.loss == "brier":
        key = str(item.target)  # the common case first: a categorical item's counts
        values = tuple(map(int, counts.values()))
        if key not in counts:
            return (*values, 0), len(values), 1.0
        for index, label in enumerate(counts):
            if label == key:
                return values, index, 1.0
    if kind not in ("binary", "categorical"):
        return f"majority vote needs categorical or binary outcomes, not {kind}"
    if type(counts) is not dict and not isinstance(counts, Mapping):  # the ABC check is slow
        return "no answer counts"
    target = item.target
    if kind == "binary":
        invalid = int(counts.get(INVALID_LABEL, 0))
        passed, failed = int(counts.get("True", 0)), int(counts.get("False", 0)) + invalid
        return (passed, failed), (0 if target is not False else 1), 0.5
    if item.loss != "brier":
        return f"majority vote is projected for Brier loss, not {item.loss}"
    key = str(target)
    labels = list(counts)
    values = tuple(int(counts[label]) for label in labels)
    if key not in counts:
        labels.append(key)
        values = (*values, 0)
    return values, labels.index(key), 1.0


def _clip01(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def _finite(value: float) -> float | None:
    """None for NaN or infinity: rows hold None where undefined, as the report shows them."""
    return value if math.isfinite(value) else None


def _empty_row(m: int, note: str | None) -> EnsembleRow:
    return EnsembleRow(m, None, None, None, None, None, None, note)


@functools.lru_cache(maxsize=256)
def _t_quantile(df: int, confidence: float) -> float:
    """The two-sided t quantile of ``aggregate.ratio_delta_interval`` (the same call), once
    per (df, confidence): a suite's tests repeat the same few."""
    from scipy.special import stdtrit  # on first use: importing scipy.special costs ~0.2 s

    return float(stdtrit(df, 0.5 + confidence / 2.0))


def _delta_intervals(
    variances: NDArray[np.float64],
    errors: NDArray[np.float64],
    weights: NDArray[np.float64],
    confidence: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``aggregate.ratio_delta_interval`` of each row of (R, N) ``variances`` and ``errors``
    (weights > 0), in one array pass; NaN bounds where it gives None.

    ``np.mean`` and ``np.std(ddof=1)`` are spelt out as the ufunc calls they make (their
    Python wrappers cost more than the sums over a test's items): the same operations in the
    same order, so the same bits.
    """
    rows, n = errors.shape
    if n < 2:
        return np.full(rows, np.nan), np.full(rows, np.nan)
    add = np.add.reduce
    with np.errstate(divide="ignore", invalid="ignore"):
        sum_we = add(weights * errors, axis=1)
        mean_we = sum_we / n
        ratio = add(weights * variances, axis=1) / sum_we
        d = weights * (variances - ratio[:, None] * errors) / mean_we[:, None]
        centred = d - add(d, axis=1, keepdims=True) / n
        np.square(centred, out=centred)
        se = np.sqrt(add(centred, axis=1) / (n - 1)) / math.sqrt(n)
    q = _t_quantile(n - 1, confidence)
    defined = mean_we > 0
    return np.where(defined, ratio - q * se, np.nan), np.where(defined, ratio + q * se, np.nan)


def _summaries(
    ms: Sequence[int],
    errors: NDArray[np.float64],
    variances: NDArray[np.float64] | None,
    weights: NDArray[np.float64],
    confidence: float,
    notes: Sequence[str | None] | None = None,
) -> list[EnsembleRow]:
    """A row per m from (M, N) per-item errors and the (V, N) variances of the first V rows
    (None: none; the other rows give the error only): weighted means, and the ratio of sums
    with its delta interval, all rows in one array pass. Each row is summed on its own, so
    its figures do not depend on the other rows."""
    notes = notes if notes is not None else [None] * len(ms)
    total_w = float(np.add.reduce(weights))
    if not total_w > 0:
        return [_empty_row(m, note) for m, note in zip(ms, notes, strict=True)]
    error_mass = np.add.reduce(weights * errors, axis=1).tolist()
    paired = 0 if variances is None else variances.shape[0]
    out = []
    if variances is not None and paired:
        variance_mass = np.add.reduce(weights * variances, axis=1).tolist()
        keep = weights > 0
        if keep.all():  # rows contiguous: numpy sums them as it sums one item list
            lows, highs = _delta_intervals(variances, errors[:paired], weights, confidence)
        else:
            lows, highs = _delta_intervals(
                np.ascontiguousarray(variances[:, keep]),
                np.ascontiguousarray(errors[:paired, keep]),
                weights[keep],
                confidence,
            )
        for row, low_, high_ in zip(range(paired), lows.tolist(), highs.tolist(), strict=True):
            m, mass = ms[row], error_mass[row]
            error = mass / total_w
            variance = variance_mass[row] / total_w
            incoherence = low = high = None
            if mass > 0:
                incoherence = _finite(_clip01(variance_mass[row] / mass))
                if not math.isnan(low_):
                    low = _finite(_clip01(low_))
                    high = _finite(_clip01(high_))
            out.append(
                EnsembleRow(
                    m,
                    error=_finite(error),
                    bias=_finite(max(error - variance, 0.0)),
                    variance=_finite(max(variance, 0.0)),
                    incoherence=incoherence,
                    low=low,
                    high=high,
                    note=notes[row],
                )
            )
    for row in range(paired, len(ms)):
        error = _finite(error_mass[row] / total_w)
        out.append(EnsembleRow(ms[row], error, None, None, None, None, None, notes[row]))
    return out


@dataclasses.dataclass
class _Rows:
    """One method's rows before their sums: those known already (None: to sum), the
    per-item figures of the others and the weights they are summed with."""

    items: int
    excluded: list[SkippedItem]
    rows: list[EnsembleRow | None]
    weights: NDArray[np.float64] | None = None
    paired: list[tuple[int, NDArray[np.float64], NDArray[np.float64]]] = dataclasses.field(
        default_factory=list
    )
    """(row, errors, variances) of the rows with both."""
    error_only: list[tuple[int, NDArray[np.float64], str]] = dataclasses.field(default_factory=list)
    """(row, errors, note) of the rows with the error only."""

    def method(self) -> EnsembleMethod:
        return EnsembleMethod(self.items, self.excluded, [r for r in self.rows if r is not None])


def _sum_rows(methods: Sequence[_Rows], ms: Sequence[int], confidence: float) -> None:
    """Fill in the rows to sum of ``methods``: those summed with the same weights (the same
    items, as both methods have for a categorical suite) in one ``_summaries`` pass."""
    groups: dict[bytes, list[_Rows]] = {}
    for method in methods:
        if method.weights is not None and (method.paired or method.error_only):
            groups.setdefault(method.weights.tobytes(), []).append(method)
    for members in groups.values():
        paired = [(method, row, e, v) for method in members for row, e, v in method.paired]
        alone = [(method, row, e, note) for method in members for row, e, note in method.error_only]
        errors = np.stack([e for _, _, e, _ in paired] + [e for _, _, e, _ in alone])
        variances = np.stack([v for _, _, _, v in paired]) if paired else None
        notes = [None] * len(paired) + [note for _, _, _, note in alone]
        at = [(method, row) for method, row, _, _ in paired] + [(m, r) for m, r, _, _ in alone]
        sizes = [ms[row] for _, row in at]
        weights = members[0].weights
        assert weights is not None
        summed = _summaries(sizes, errors, variances, weights, confidence, notes)
        for (method, row), summary in zip(at, summed, strict=True):
            method.rows[row] = summary


def _averaging(items: Sequence[_ItemLike], ms: Sequence[int]) -> _Rows:
    used = [item for item in items if item.loss != "kl"]
    excluded = [SkippedItem(i.id, "KL loss does not average") for i in items if i.loss == "kl"]
    if not used:
        return _Rows(0, excluded, [_empty_row(m, "no item can be averaged") for m in ms])
    error = np.asarray([i.error for i in used], dtype=np.float64)
    variance = np.asarray([i.variance for i in used], dtype=np.float64)
    plugin = [i.estimator == "plugin" for i in used]
    if any(plugin):  # the unbiased split, whatever the item was estimated with
        k = np.asarray([i.k if i.estimator == "plugin" else 2 for i in used], dtype=np.int64)
        variance = np.where(np.asarray(plugin), variance * k / (k - 1), variance)
    bias = error - variance
    w = np.asarray([i.weight for i in used], dtype=np.float64)
    per_m = variance[None, :] / np.asarray(ms, dtype=np.float64)[:, None]
    errors = bias[None, :] + per_m
    paired = [(row, errors[row], per_m[row]) for row in range(len(ms))]
    return _Rows(len(used), excluded, [None] * len(ms), w, paired)


def _voters(
    items: Sequence[_ItemLike],
) -> tuple[list[tuple[tuple[int, ...], int, float, float]], list[SkippedItem]]:
    """(answer counts, target index, loss scale, weight) of the items that can vote, and
    the others with the reason."""
    voters: list[tuple[tuple[int, ...], int, float, float]] = []
    excluded: list[SkippedItem] = []
    for item in items:
        found = _vote_classes(item)
        if isinstance(found, str):
            excluded.append(SkippedItem(item.id, found))
        else:
            voters.append((*found, item.weight))
    return voters, excluded


def _majority(items: Sequence[_ItemLike], ms: Sequence[int]) -> _Rows:
    voters, excluded = _voters(items)
    if not voters:
        return _Rows(0, excluded, [_empty_row(m, "no categorical or binary item") for m in ms])
    # the kernels see each distinct row of answer counts once
    distinct: dict[tuple[int, ...], int] = {}
    row = np.asarray([distinct.setdefault(v[0], len(distinct)) for v in voters])
    keys = list(distinct)
    counts = np.zeros((len(keys), max(len(key) for key in keys)), dtype=np.int64)
    for index, key in enumerate(keys):
        counts[index, : len(key)] = key
    target = np.asarray([v[1] for v in voters], dtype=np.intp)
    scale = np.asarray([v[2] for v in voters], dtype=np.float64)
    w = np.asarray([v[3] for v in voters], dtype=np.float64)
    k_min = min(sum(key) for key in keys)
    out = _Rows(len(voters), excluded, [None] * len(ms), w)
    for at, m in enumerate(ms):
        if k_min < m:
            out.rows[at] = _empty_row(m, f"needs K >= {m} for every item; smallest K is {k_min}")
            continue
        try:
            hit = _remembered_votes("vote", m, keys, counts)[row, target]
            errors = scale * 2.0 * (1.0 - hit)
            if k_min >= 2 * m:
                agreement = _remembered_votes("agreement", m, keys, counts)[row]
                out.paired.append((at, errors, scale * (1.0 - agreement)))
            else:
                note = f"the vote's variance needs K >= {2 * m} (smallest K is {k_min}): error only"
                out.error_only.append((at, errors, note))
        except TooManyAnswers as exc:
            out.rows[at] = _empty_row(m, f"too many distinct answers to enumerate exactly ({exc})")
    return out


def ensemble_projection(
    items: Sequence[ItemEstimate | Mapping[str, Any]],
    ms: Sequence[int] = ENSEMBLE_SIZES,
    *,
    confidence: float = 0.95,
) -> EnsembleProjection:
    """Projected error, bias, variance and incoherence of m-sample ensembles, per m.

    ``items`` are item estimates, or items of a JSON report file (``Mapping`` at that edge
    only: a report read back from disk). Both projections have a row per m, sorted.
    """
    sizes = sorted({_check_m(m) for m in ms})
    if not sizes:
        raise ValueError("give at least one ensemble size")
    if not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    records: list[_ItemLike] = [
        item if isinstance(item, ItemEstimate) else _Item.of(item) for item in items
    ]
    targeted = [r for r in records if r.error is not None and r.variance is not None]
    averaging, majority = _averaging(targeted, sizes), _majority(targeted, sizes)
    _sum_rows([averaging, majority], sizes, float(confidence))
    return EnsembleProjection(
        ms=sizes,
        confidence=float(confidence),
        items=len(targeted),
        items_without_target=[r.id for r in records if r.error is None or r.variance is None],
        averaging=averaging.method(),
        majority=majority.method(),
    )
