"""What a run keeps of each item once its test is judged: a few numbers in a spilled file.

The run's pooled totals need every estimated item's k, invalid count, weight, error, bias,
variance and loss, and nothing else; a test's outcomes, counts and covariates go to the
report spool and are not kept. Each item is one 52-byte row of a temporary file
(``stats.spilled``): the run holds a bounded buffer of rows and each test's place in the
file, however many items it has, and the controller of an xdist run keeps no more than a
single process would.

``pooled_totals`` gives the same figures as ``record.pooled_totals`` over the tests' full
records: the same items in the same order (tests by node id, items as the test listed them),
read back a range at a time by ``stats.pooled``, which sums them in the order the
whole-array aggregate does. Every figure is the same to the last bit, but the unclipped
figures on Python 3.12 and later (Python's ``sum`` compensates within each call there: they
may differ in the last bits).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, cast, overload

import numpy as np
from numpy.typing import NDArray

from ..stats.columns import ItemColumns
from ..stats.decompose import ItemEstimate
from ..stats.difficulty import BUCKETS
from ..stats.pooled import Reader, pooled_aggregate
from ..stats.spilled import SpilledRows
from .record import totals_from
from .records import RunTotals, TestRecord, verdict_counts

__all__ = ["ROW", "KeptItems"]

ROW: Final = np.dtype(
    [
        ("k", "<i8"),
        ("invalid", "<i8"),
        ("weight", "<f8"),
        ("error", "<f8"),
        ("bias", "<f8"),
        ("variance", "<f8"),
        ("targeted", "?"),
        ("loss", "<i2"),
        ("bucket", "i1"),
    ]
)
"""One kept item: ``error`` and ``bias`` are 0 without a target; ``loss`` indexes
``KeptItems.losses`` and ``bucket`` ``BUCKETS`` (-1 for none)."""


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
    """Kept rows viewed as a sequence of rows with an estimate's attributes."""

    def __init__(self, rows: NDArray[Any], losses: Sequence[str]) -> None:
        self.k, self.invalid = rows["k"], rows["invalid"]
        self.weight, self.error = rows["weight"], rows["error"]
        self.bias, self.variance = rows["bias"], rows["variance"]
        self.targeted, self.loss = rows["targeted"], rows["loss"]
        self.losses = losses
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
    """Every estimated item's figures, one row each in a spilled file, and each test's rows."""

    def __init__(self) -> None:
        self._rows = SpilledRows(ROW)
        self.losses: list[str] = []
        self.rows: dict[str, tuple[int, int]] = {}
        """Each test's rows, first and past-the-end; a rerun's test points at its last rows."""

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, nodeid: str, items: Iterable[Mapping[str, Any]]) -> None:
        """Keep the figures of a test's items (their plain form, as the report has them).

        One pass per column over the test's items (a list comprehension each), not one
        Python loop with nine assignments per item."""
        start = len(self._rows)
        rows = [item for item in items if item.get("variance") is not None]  # not estimated: out
        errors = [item.get("error") for item in rows]
        names = [str(item.get("loss")) for item in rows]
        for loss in dict.fromkeys(names):
            if loss not in self.losses:
                self.losses.append(loss)
        codes = {loss: self.losses.index(loss) for loss in set(names)}
        buckets = [item.get("bucket") for item in rows]
        out = np.empty(len(rows), dtype=ROW)
        out["k"] = [int(item.get("k", 0)) for item in rows]
        out["invalid"] = [int(item.get("invalid", 0)) for item in rows]
        out["weight"] = [_weight(item.get("weight")) for item in rows]
        out["error"] = [0.0 if error is None else float(error) for error in errors]
        out["bias"] = [float(item.get("bias") or 0.0) for item in rows]
        out["variance"] = [float(item["variance"]) for item in rows]
        out["targeted"] = [error is not None for error in errors]
        out["loss"] = [codes[name] for name in names]
        out["bucket"] = [BUCKETS.index(b) if b in BUCKETS else -1 for b in buckets]
        self._rows.append(out)
        self.rows[nodeid] = (start, start + len(rows))

    def read(self, start: int, stop: int) -> NDArray[Any]:
        """Kept rows ``start`` to ``stop`` (``ROW`` records)."""
        return self._rows.read(start, stop)

    def columns(self, nodeids: Iterable[str]) -> ItemColumns:
        """The kept items of these tests, in this order, as the aggregate's columns (all at
        once: ``pooled_totals`` reads them a range at a time)."""
        read, n = self._reader(nodeids)
        return read(0, n)

    def _reader(self, nodeids: Iterable[str]) -> tuple[Reader, int]:
        """``read(start, stop)`` over the kept items of these tests in this order, and their
        number: the tests' rows, adjoining ones merged, read back a range at a time."""
        spans: list[tuple[int, int]] = []
        for a, b in (self.rows[n] for n in nodeids if n in self.rows):
            if b <= a:
                continue
            if spans and spans[-1][1] == a:
                spans[-1] = (spans[-1][0], b)
            else:
                spans.append((a, b))
        ends = np.cumsum([b - a for a, b in spans]).tolist()
        n = ends[-1] if ends else 0

        def read(start: int, stop: int) -> ItemColumns:
            start, stop = max(start, 0), min(stop, n)
            rows = np.empty(max(stop - start, 0), dtype=ROW)
            at, filled = bisect.bisect_right(ends, start), 0
            while start < stop:
                upto = min(stop, ends[at])
                offset = spans[at][0] - (ends[at] - (spans[at][1] - spans[at][0]))
                size = upto - start
                self._rows.read(start + offset, upto + offset, rows[filled : filled + size])
                start, at, filled = upto, at + 1, filled + size
            return self._as_columns(rows)

        return read, n

    def _as_columns(self, rows: NDArray[Any]) -> ItemColumns:
        def column(name: str, dtype: type[Any]) -> NDArray[Any]:
            return np.ascontiguousarray(rows[name], dtype=dtype)

        codes = np.unique(rows["loss"]).tolist()
        return ItemColumns(
            k=column("k", np.int64),
            invalid=column("invalid", np.int64),
            weight=column("weight", np.float64),
            error=column("error", np.float64),
            bias=column("bias", np.float64),
            variance=column("variance", np.float64),
            targeted=column("targeted", np.bool_),
            losses=tuple(sorted({self.losses[code] for code in codes})),
        )

    def bucketed(self, record: TestRecord) -> list[tuple[str | None, ItemEstimate]]:
        """A test's kept items with their difficulty buckets (for the by-model table)."""
        rows = self.read(*self.rows.get(record.nodeid, (0, 0)))
        columns = _Columns(rows, self.losses)
        return [
            (BUCKETS[code] if code >= 0 else None, cast("ItemEstimate", row))
            for code, row in zip(rows["bucket"].tolist(), columns, strict=True)
        ]

    def pooled_totals(self, records: Sequence[TestRecord], confidence: float) -> RunTotals:
        """The run's totals over the kept items of ``records`` (in their order), read back a
        range at a time (``stats.pooled``)."""
        read, n = self._reader(r.nodeid for r in records)
        pooled = pooled_aggregate(read, n, confidence=confidence)
        totals = totals_from(pooled.aggregate, pooled.losses, clipped=pooled.unclipped)
        fields = {name: getattr(totals, name) for name in totals.__dataclass_fields__}
        return RunTotals(**fields, tests=len(records), verdicts=verdict_counts(records))

    def close(self) -> None:
        """Delete the kept rows' file."""
        self._rows.close()


def _weight(weight: Any) -> float:
    return 1.0 if weight is None else float(weight)
