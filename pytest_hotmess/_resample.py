"""The ``resample`` fixture object: sample a model K times per item and keep every outcome."""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

from ._completion import Completion
from ._decompose import ItemEstimate, estimate_item
from ._sampling import (
    NOT_DRAWN,
    Call,
    Draw,
    ProgressSink,
    draw_async,
    draw_sync,
    is_async_callable,
    run_coroutine,
)
from ._types import INVALID, INVALID_LABEL, NOTHING, Estimator, Kind, Loss
from ._uncertainty import Aggregate, aggregate

__all__ = ["ItemResult", "Resampler", "SamplingError", "TestState"]

OnError = Literal["raise", "invalid"]


class SamplingError(RuntimeError):
    """A model call failed; the message names the item and the sample index."""


@dataclasses.dataclass(frozen=True)
class ItemResult:
    """One item's K outcomes and their bias/variance split.

    ``estimate`` is ``None`` when fewer than two usable samples were drawn (the run stopped on a
    failed call): the outcomes are still reported.
    """

    id: str
    target: Any
    outcomes: tuple[Any, ...]
    covariates: tuple[dict[str, float], ...]
    estimate: ItemEstimate | None

    @property
    def k(self) -> int:
        return len(self.outcomes)

    @property
    def invalid(self) -> int:
        return sum(1 for outcome in self.outcomes if outcome is INVALID)

    @property
    def error(self) -> float | None:
        return None if self.estimate is None else self.estimate.error

    @property
    def bias(self) -> float | None:
        return None if self.estimate is None else self.estimate.bias

    @property
    def variance(self) -> float | None:
        return None if self.estimate is None else self.estimate.variance

    def to_dict(self) -> dict[str, Any]:
        """Plain builtins for the JSON report and for crossing xdist."""
        if self.estimate is not None:
            data = self.estimate.to_dict()
        else:
            data = {
                "id": self.id,
                "target": None if self.target is NOTHING else _plain(self.target),
                "k": self.k,
                "error": None,
                "bias": None,
                "variance": None,
                "outcomes": [_plain(o) for o in self.outcomes],
            }
        for unused in ("counts", "outcomes"):
            if data.get(unused, ()) is None:
                del data[unused]  # the report carries counts or outcomes, whichever applies
        data["invalid"] = self.invalid
        data["covariates"] = [dict(c) for c in self.covariates]
        return data


def _plain(value: Any) -> Any:
    """Best-effort conversion of an outcome to JSON-able builtins (for incomplete items)."""
    if value is INVALID:
        return INVALID_LABEL
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if isinstance(value, Iterable):
        return [_plain(v) for v in value]
    return str(value)


@dataclasses.dataclass
class TestState:
    """Everything one test sampled, and what its marker asked for (lives in ``item.stash``)."""

    nodeid: str
    samples: int
    concurrency: int
    loss: Loss | None = None
    estimator: Estimator = "unbiased"
    confidence: float = 0.95
    items: list[ItemResult] = dataclasses.field(default_factory=list)
    calls: int = 0
    failed_calls: int = 0
    used: bool = False
    progress: Callable[[int], ProgressSink | None] | None = None

    def add(self, result: ItemResult) -> None:
        if any(existing.id == result.id for existing in self.items):
            raise ValueError(f"item id {result.id!r} was already used in this test")
        self.items.append(result)

    def aggregate(self) -> Aggregate:
        return aggregate(
            [item.estimate for item in self.items if item.estimate is not None],
            confidence=self.confidence,
        )


def _extract(raw: Any, extract: Callable[[Any], Any] | None) -> tuple[Any, dict[str, float]]:
    """Apply ``extract`` (to a completion's text); None or an exception means invalid."""
    covariates: dict[str, float] = {}
    if isinstance(raw, Completion):
        covariates = raw.covariates()
        raw = raw.text
    if extract is None:
        return (INVALID if raw is None else raw), covariates
    try:
        answer = extract(raw)
    except Exception:
        return INVALID, covariates
    return (INVALID if answer is None else answer), covariates


class Resampler:
    """Calls a model K times per item; every result joins the test's aggregate.

    ``resample(fn, *args, target=..., extract=..., **kwargs)`` samples one item,
    ``resample.map(fn, inputs, targets=...)`` many under one concurrency budget,
    ``resample.record(outcomes, target=...)`` takes outcomes sampled elsewhere, and
    ``resample.result`` is the aggregate so far. ``acall``/``amap`` are the awaitable twins
    for async tests.
    """

    def __init__(self, state: TestState) -> None:
        self._state = state

    # -- public API -------------------------------------------------------------------------

    @property
    def result(self) -> Aggregate:
        """The aggregate over every item this test has sampled or recorded so far."""
        return self._state.aggregate()

    @property
    def items(self) -> tuple[ItemResult, ...]:
        return tuple(self._state.items)

    def __call__(
        self,
        fn: Callable[..., Any],
        *args: Any,
        item: str | None = None,
        target: Any = NOTHING,
        extract: Callable[[Any], Any] | None = None,
        samples: int | None = None,
        on_error: OnError = "raise",
        kind: Kind | None = None,
        weight: float = 1.0,
        **kwargs: Any,
    ) -> ItemResult:
        calls = [self._call(fn, args, kwargs, item, samples)]
        return self._sample(calls, [target], extract, on_error, kind, [weight])[0]

    def map(
        self,
        fn: Callable[..., Any],
        inputs: Iterable[Any],
        *,
        targets: Sequence[Any] | None = None,
        items: Sequence[str] | None = None,
        extract: Callable[[Any], Any] | None = None,
        samples: int | None = None,
        on_error: OnError = "raise",
        kind: Kind | None = None,
        weights: Sequence[float] | None = None,
    ) -> list[ItemResult]:
        calls, target_list, weight_list = self._map_calls(
            fn, inputs, targets, items, samples, weights
        )
        return self._sample(calls, target_list, extract, on_error, kind, weight_list)

    async def acall(
        self,
        fn: Callable[..., Any],
        *args: Any,
        item: str | None = None,
        target: Any = NOTHING,
        extract: Callable[[Any], Any] | None = None,
        samples: int | None = None,
        on_error: OnError = "raise",
        kind: Kind | None = None,
        weight: float = 1.0,
        **kwargs: Any,
    ) -> ItemResult:
        calls = [self._call(fn, args, kwargs, item, samples)]
        results = await self._asample(calls, [target], extract, on_error, kind, [weight])
        return results[0]

    async def amap(
        self,
        fn: Callable[..., Any],
        inputs: Iterable[Any],
        *,
        targets: Sequence[Any] | None = None,
        items: Sequence[str] | None = None,
        extract: Callable[[Any], Any] | None = None,
        samples: int | None = None,
        on_error: OnError = "raise",
        kind: Kind | None = None,
        weights: Sequence[float] | None = None,
    ) -> list[ItemResult]:
        calls, target_list, weight_list = self._map_calls(
            fn, inputs, targets, items, samples, weights
        )
        return await self._asample(calls, target_list, extract, on_error, kind, weight_list)

    def record(
        self,
        outcomes: Iterable[Any],
        *,
        item: str | None = None,
        target: Any = NOTHING,
        kind: Kind | None = None,
        weight: float = 1.0,
        covariates: Sequence[Mapping[str, float]] | None = None,
    ) -> ItemResult:
        """Take K outcomes sampled elsewhere (``None`` counts as an invalid outcome)."""
        self._state.used = True
        values = tuple(INVALID if o is None else o for o in outcomes)
        item_id = self._item_id(item)
        if covariates is not None and len(covariates) != len(values):
            raise ValueError(
                f"item {item_id!r}: {len(covariates)} covariate rows for {len(values)} outcomes"
            )
        rows = tuple(dict(c) for c in covariates) if covariates is not None else ({},) * len(values)
        result = self._finish(item_id, values, rows, target, kind, weight, complete=True)
        self._state.add(result)
        return result

    # -- internals --------------------------------------------------------------------------

    def _item_id(self, item: str | None) -> str:
        if item is None:
            return f"item-{len(self._state.items)}"
        if not isinstance(item, str) or not item:
            raise TypeError(f"item must be a non-empty string, got {item!r}")
        return item

    def _k(self, samples: int | None) -> int:
        if samples is None:
            return self._state.samples
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 2:
            raise ValueError(f"samples must be an integer >= 2, got {samples!r}")
        return samples

    def _call(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        item: str | None,
        samples: int | None,
    ) -> Call:
        if not callable(fn):
            raise TypeError(f"resample needs a callable model, got {fn!r}")
        return Call(self._item_id(item), fn, args, kwargs, self._k(samples))

    def _map_calls(
        self,
        fn: Callable[..., Any],
        inputs: Iterable[Any],
        targets: Sequence[Any] | None,
        items: Sequence[str] | None,
        samples: int | None,
        weights: Sequence[float] | None,
    ) -> tuple[list[Call], list[Any], list[float]]:
        if not callable(fn):
            raise TypeError(f"resample.map needs a callable model, got {fn!r}")
        input_list = list(inputs)
        n = len(input_list)
        for name, seq in (("targets", targets), ("items", items), ("weights", weights)):
            if seq is not None and len(seq) != n:
                raise ValueError(f"resample.map: {name} has {len(seq)} entries for {n} inputs")
        base = len(self._state.items)
        ids = list(items) if items is not None else [f"item-{base + i}" for i in range(n)]
        if len(set(ids)) != len(ids):
            raise ValueError("resample.map: items contains duplicate ids")
        k = self._k(samples)
        calls = [Call(self._item_id(ids[i]), fn, (input_list[i],), {}, k) for i in range(n)]
        target_list = list(targets) if targets is not None else [NOTHING] * n
        weight_list = list(weights) if weights is not None else [1.0] * n
        return calls, target_list, weight_list

    def _prepare(self, calls: list[Call]) -> tuple[list[Call], bool, ProgressSink | None]:
        """Use a model's async entry when it has one; decide sync vs async sampling."""
        self._state.used = True
        prepared = []
        for call in calls:
            acall = getattr(call.fn, "acall", None)
            fn = acall if acall is not None and callable(acall) else call.fn
            prepared.append(dataclasses.replace(call, fn=fn))
        use_async = any(is_async_callable(call.fn) for call in prepared)
        planned = sum(call.k for call in prepared)
        progress = self._state.progress(planned) if self._state.progress else None
        return prepared, use_async, progress

    def _sample(
        self,
        calls: list[Call],
        targets: list[Any],
        extract: Callable[[Any], Any] | None,
        on_error: OnError,
        kind: Kind | None,
        weights: list[float],
    ) -> list[ItemResult]:
        _check_on_error(on_error)
        prepared, use_async, progress = self._prepare(calls)
        stop = on_error == "raise"
        concurrency = self._state.concurrency
        try:
            if use_async:
                draws = run_coroutine(
                    lambda: draw_async(
                        prepared, concurrency=concurrency, stop_on_error=stop, progress=progress
                    )
                )
            else:
                draws = draw_sync(
                    prepared, concurrency=concurrency, stop_on_error=stop, progress=progress
                )
        finally:
            if progress is not None:
                progress.close()
        return self._collect(prepared, draws, targets, extract, on_error, kind, weights)

    async def _asample(
        self,
        calls: list[Call],
        targets: list[Any],
        extract: Callable[[Any], Any] | None,
        on_error: OnError,
        kind: Kind | None,
        weights: list[float],
    ) -> list[ItemResult]:
        _check_on_error(on_error)
        prepared, use_async, progress = self._prepare(calls)
        stop = on_error == "raise"
        concurrency = self._state.concurrency
        if use_async:
            try:
                draws = await draw_async(
                    prepared, concurrency=concurrency, stop_on_error=stop, progress=progress
                )
            finally:
                if progress is not None:
                    progress.close()
        else:
            draws = await asyncio.to_thread(
                draw_sync, prepared, concurrency=concurrency, stop_on_error=stop, progress=None
            )
        return self._collect(prepared, draws, targets, extract, on_error, kind, weights)

    def _collect(
        self,
        calls: list[Call],
        draws: list[Draw],
        targets: list[Any],
        extract: Callable[[Any], Any] | None,
        on_error: OnError,
        kind: Kind | None,
        weights: list[float],
    ) -> list[ItemResult]:
        """Turn draws into item results; keep partial items, then raise the first failure."""
        results: list[ItemResult] = []
        first_failure: tuple[str, int, BaseException] | None = None
        for call, draw, target, weight in zip(calls, draws, targets, weights, strict=True):
            outcomes: list[Any] = []
            rows: list[dict[str, float]] = []
            complete = True
            for index in range(call.k):
                error, value = draw.errors[index], draw.values[index]
                if error is None and value is NOT_DRAWN:
                    complete = False  # the run stopped on a failure before this sample
                    continue
                self._state.calls += 1
                if error is not None:
                    self._state.failed_calls += 1
                    if on_error == "invalid":
                        outcomes.append(INVALID)
                        rows.append({})
                        continue
                    if first_failure is None:
                        first_failure = (call.item_id, index, error)
                    complete = False
                    continue
                outcome, covariates = _extract(value, extract)
                outcomes.append(outcome)
                rows.append(covariates)
            if not outcomes and not complete:
                continue
            result = self._finish(
                call.item_id, tuple(outcomes), tuple(rows), target, kind, weight, complete
            )
            self._state.add(result)
            results.append(result)
        if first_failure is not None:
            item_id, index, error = first_failure
            raise SamplingError(
                f"model call failed for item {item_id!r}, sample {index}: "
                f"{type(error).__name__}: {error}"
            ) from error
        return results

    def _finish(
        self,
        item_id: str,
        outcomes: tuple[Any, ...],
        covariates: tuple[dict[str, float], ...],
        target: Any,
        kind: Kind | None,
        weight: float,
        complete: bool,
    ) -> ItemResult:
        if not complete and len(outcomes) < 2:
            return ItemResult(item_id, target, outcomes, covariates, None)
        estimate = estimate_item(
            outcomes,
            target,
            item_id=item_id,
            kind=kind,
            loss=self._state.loss,
            estimator=self._state.estimator,
            weight=weight,
        )
        return ItemResult(item_id, target, outcomes, covariates, estimate)


def _check_on_error(on_error: str) -> None:
    if on_error not in ("raise", "invalid"):
        raise ValueError(f"on_error must be 'raise' or 'invalid', got {on_error!r}")
