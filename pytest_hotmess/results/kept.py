"""What a run keeps of each item once its test is judged: a few numbers in run-wide columns.

The run's pooled totals need every estimated item's k, invalid count, weight, error, bias,
variance and loss, and nothing else; a test's outcomes, counts and covariates go to the
report spool and are not kept. The columns are ``array.array`` (8 bytes a figure), so a run
keeps about 50 bytes per item however many tests it has, and the controller of an xdist run
keeps no more than a single process would.

``pooled_totals`` gives the same figures as ``record.pooled_totals`` over the tests' full
records, to the last bit: the same items in the same order (tests by node id, items as the
test listed them) go through the same aggregate, handed over as columns (``stats.columns``)
without one object per item.
"""

from __future__ import annotations

import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, cast, overload

import numpy as np
from numpy.typing import NDArray

from ..stats.aggregate import aggregate_one_loss
from ..stats.columns import ItemColumns
from ..stats.decompose import ItemEstimate
from ..stats.difficulty import BUCKETS
from .record import totals_from
from .records import RunTotals, TestRecord, verdict_counts

__all__ = ["KeptItems"]


class _Row:
    """One kept item, read back with the attributes the aggregate reads of an estimate."""

    __slots__ = ("_at", "_cols")

    id = ""
    kind = None
    estimator = None
    target = None
    counts = None
    outcomes = None

    def __init__(self, cols: _Columns, at: int) -> None:
        self._cols, self._at = cols, at

    @property
    def k(self) -> int:
        return int(self._cols.k[self._at])

    @property
    def invalid(self) -> int:
        return int(self._cols.invalid[self._at])

    @property
    def weight(self) -> float:
        return float(self._cols.weight[self._at])

    @property
    def variance(self) -> float:
        return float(self._cols.variance[self._at])

    @property
    def has_target(self) -> bool:
        return bool(self._cols.targeted[self._at])

    @property
    def error(self) -> float | None:
        return float(self._cols.error[self._at]) if self.has_target else None

    @property
    def bias(self) -> float | None:
        return float(self._cols.bias[self._at]) if self.has_target else None

    @property
    def loss(self) -> str:
        return self._cols.losses[int(self._cols.loss[self._at])]


class _Columns(Sequence[_Row]):
    """The kept figures of the chosen items, as numpy arrays, viewed as a sequence of rows."""

    def __init__(self, kept: KeptItems, rows: NDArray[np.intp]) -> None:
        def pick(column: array.array[Any]) -> NDArray[Any]:
            return np.frombuffer(column, dtype=column.typecode)[rows] if len(column) else rows

        self.k, self.invalid = pick(kept.k), pick(kept.invalid)
        self.weight, self.error = pick(kept.weight), pick(kept.error)
        self.bias, self.variance = pick(kept.bias), pick(kept.variance)
        self.targeted, self.loss = pick(kept.targeted), pick(kept.loss)
        self.losses = kept.losses
        self._n = len(rows)

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, at: int) -> _Row: ...
    @overload
    def __getitem__(self, at: slice) -> Sequence[_Row]: ...
    def __getitem__(self, at: int | slice) -> _Row | Sequence[_Row]:
        if isinstance(at, slice):
            return [_Row(self, i) for i in range(*at.indices(self._n))]
        if not -self._n <= at < self._n:
            raise IndexError(at)
        return _Row(self, at % self._n)

    def __iter__(self) -> Iterator[_Row]:
        return (_Row(self, i) for i in range(self._n))


class KeptItems:
    """Run-wide columns of every estimated item's figures, and each test's rows in them."""

    def __init__(self) -> None:
        self.k: array.array[int] = array.array("q")
        self.invalid: array.array[int] = array.array("q")
        self.weight: array.array[float] = array.array("d")
        self.error: array.array[float] = array.array("d")
        self.bias: array.array[float] = array.array("d")
        self.variance: array.array[float] = array.array("d")
        self.targeted: array.array[int] = array.array("b")
        self.loss: array.array[int] = array.array("h")
        self.losses: list[str] = []
        self.bucket: array.array[int] = array.array("b")
        """Each item's difficulty bucket: its index in ``BUCKETS``, -1 for none."""
        self.rows: dict[str, tuple[int, int]] = {}
        """Each test's rows, first and past-the-end; a rerun's test points at its last rows."""

    def add(self, nodeid: str, items: Iterable[Mapping[str, Any]]) -> None:
        """Keep the figures of a test's items (their plain form, as the report has them).

        One pass per column over the test's items (a list comprehension each), not one
        Python loop with eight appends per item."""
        start = len(self.k)
        rows = [item for item in items if item.get("variance") is not None]  # not estimated: out
        errors = [item.get("error") for item in rows]
        names = [str(item.get("loss")) for item in rows]
        for loss in dict.fromkeys(names):
            if loss not in self.losses:
                self.losses.append(loss)
        codes = {loss: self.losses.index(loss) for loss in set(names)}
        buckets = [item.get("bucket") for item in rows]
        self.k.extend([int(item.get("k", 0)) for item in rows])
        self.invalid.extend([int(item.get("invalid", 0)) for item in rows])
        self.weight.extend([_weight(item.get("weight")) for item in rows])
        self.error.extend([0.0 if error is None else float(error) for error in errors])
        self.bias.extend([float(item.get("bias") or 0.0) for item in rows])
        self.variance.extend([float(item["variance"]) for item in rows])
        self.targeted.extend([error is not None for error in errors])
        self.loss.extend([codes[name] for name in names])
        self.bucket.extend([BUCKETS.index(b) if b in BUCKETS else -1 for b in buckets])
        self.rows[nodeid] = (start, len(self.k))

    def columns(self, nodeids: Iterable[str]) -> ItemColumns:
        """The kept items of these tests, in this order, as the aggregate's columns."""
        spans = [self.rows[n] for n in nodeids if n in self.rows]
        rows = (
            np.concatenate([np.arange(a, b, dtype=np.intp) for a, b in spans])
            if spans
            else np.zeros(0, dtype=np.intp)
        )

        def pick(column: array.array[Any], dtype: type[Any]) -> NDArray[Any]:
            if not len(column):
                return np.zeros(0, dtype=dtype)
            return np.asarray(np.frombuffer(column, dtype=column.typecode)[rows], dtype=dtype)

        codes = pick(self.loss, np.int64)
        return ItemColumns(
            k=pick(self.k, np.int64),
            invalid=pick(self.invalid, np.int64),
            weight=pick(self.weight, np.float64),
            error=pick(self.error, np.float64),
            bias=pick(self.bias, np.float64),
            variance=pick(self.variance, np.float64),
            targeted=pick(self.targeted, np.bool_),
            losses=tuple(sorted({self.losses[code] for code in np.unique(codes).tolist()})),
        )

    def bucketed(self, record: TestRecord) -> list[tuple[str | None, ItemEstimate]]:
        """A test's kept items with their difficulty buckets (for the by-model table)."""
        start, stop = self.rows.get(record.nodeid, (0, 0))
        columns = _Columns(self, np.arange(start, stop, dtype=np.intp))
        return [
            (BUCKETS[code] if code >= 0 else None, cast("ItemEstimate", row))
            for code, row in zip(self.bucket[start:stop], columns, strict=True)
        ]

    def pooled_totals(self, records: Sequence[TestRecord], confidence: float) -> RunTotals:
        """The run's totals over the kept items of ``records`` (in their order)."""
        columns = self.columns(r.nodeid for r in records)
        totals = totals_from(*aggregate_one_loss(columns, confidence=confidence), columns)
        fields = {name: getattr(totals, name) for name in totals.__dataclass_fields__}
        return RunTotals(**fields, tests=len(records), verdicts=verdict_counts(records))


def _weight(weight: Any) -> float:
    return 1.0 if weight is None else float(weight)
