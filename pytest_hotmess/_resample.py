"""The ``resample`` fixture object: sample a model K times per item and keep every outcome."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import math
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from typing import Any, Literal

from ._budget import Budget
from ._completion import Completion, Sample
from ._decompose import ItemEstimate, estimate_item
from ._marker import THRESHOLDS
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
from ._sequential import SequentialDecision, SequentialPlan, decide, default_looks, make_plan
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
    thresholds: Mapping[str, float] = dataclasses.field(default_factory=dict)
    max_samples: int | None = None
    budget: Budget | None = None
    items: list[ItemResult] = dataclasses.field(default_factory=list)
    calls: int = 0
    failed_calls: int = 0
    calls_saved: int = 0
    sequential: SequentialDecision | None = None
    used: bool = False
    progress: Callable[[int], ProgressSink | None] | None = None

    def gated_thresholds(self) -> dict[str, float]:
        """The thresholds the statistical gate decides (the slope is judged separately)."""
        return {name: value for name, value in self.thresholds.items() if name in THRESHOLDS}

    def sequential_plan(self) -> SequentialPlan | None:
        """Looks for adaptive K: only when ``max_samples`` is set and something is gated."""
        if self.max_samples is None or not self.gated_thresholds():
            return None
        return make_plan(default_looks(self.max_samples), self.confidence)

    def add(self, result: ItemResult) -> None:
        if any(existing.id == result.id for existing in self.items):
            raise ValueError(f"item id {result.id!r} was already used in this test")
        self.items.append(result)

    def aggregate(self) -> Aggregate:
        return aggregate(
            [item.estimate for item in self.items if item.estimate is not None],
            confidence=self.confidence,
        )


@dataclasses.dataclass(frozen=True)
class _Batch:
    """One ``map``/``call`` request: prepared calls and how to turn draws into items."""

    calls: list[Call]
    targets: list[Any]
    weights: list[float]
    extract: Callable[[Any], Any] | None
    on_error: OnError
    kind: Kind | None
    plan: SequentialPlan | None

    def final_k(self, call: Call) -> int:
        return self.plan.looks[-1] if self.plan is not None else call.k


@dataclasses.dataclass(frozen=True)
class _Outcome:
    """What a batch drew: its items, the first failure, the last sequential decision."""

    results: list[ItemResult]
    failure: tuple[str, int, BaseException] | None
    decision: SequentialDecision | None
    drawn: list[Draw]

    @property
    def calls(self) -> int:
        return sum(
            1
            for draw in self.drawn
            for value, error in zip(draw.values, draw.errors, strict=True)
            if error is not None or value is not NOT_DRAWN
        )

    @property
    def failed_calls(self) -> int:
        return sum(1 for draw in self.drawn for error in draw.errors if error is not None)

    def saved(self, max_samples: int | None) -> int:
        """Calls not made against drawing ``max_samples`` for every item."""
        if max_samples is None:
            return 0
        return max_samples * len(self.drawn) - self.calls


def _extract(raw: Any, extract: Callable[[Any], Any] | None) -> tuple[Any, dict[str, float]]:
    """Apply ``extract`` (to a completion's text); None or an exception means invalid."""
    covariates: dict[str, float] = {}
    if isinstance(raw, Sample):
        covariates = _numbers(raw.covariates)
        raw = raw.value
    if isinstance(raw, Completion):
        covariates = {**raw.covariates(), **covariates}
        raw = raw.text
    if extract is None:
        return (INVALID if raw is None else raw), covariates
    try:
        answer = extract(raw)
    except Exception:
        return INVALID, covariates
    return (INVALID if answer is None else answer), covariates


def _numbers(covariates: Mapping[str, Any]) -> dict[str, float]:
    """Covariates must be finite numbers: they are averaged and regressed on."""
    out: dict[str, float] = {}
    for name, value in covariates.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise TypeError(f"covariate {name!r} must be a finite number, got {value!r}")
        out[str(name)] = value
    return out


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
        adaptive = samples is None
        return self._sample(calls, target_list, extract, on_error, kind, weight_list, adaptive)

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
        adaptive = samples is None
        return await self._asample(
            calls, target_list, extract, on_error, kind, weight_list, adaptive
        )

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
        rows = (
            tuple(_numbers(c) for c in covariates)
            if covariates is not None
            else ({},) * len(values)
        )
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

    def _batch(
        self,
        calls: list[Call],
        targets: list[Any],
        extract: Callable[[Any], Any] | None,
        on_error: str,
        kind: Kind | None,
        weights: list[float],
        adaptive: bool,
    ) -> tuple[_Batch, bool, ProgressSink | None]:
        """Use a model's async entry when it has one; plan the looks; start progress."""
        if on_error not in ("raise", "invalid"):
            raise ValueError(f"on_error must be 'raise' or 'invalid', got {on_error!r}")
        self._state.used = True
        prepared = []
        for call in calls:
            acall = getattr(call.fn, "acall", None)
            fn = acall if acall is not None and callable(acall) else call.fn
            prepared.append(dataclasses.replace(call, fn=fn))
        plan = self._state.sequential_plan() if adaptive else None
        batch = _Batch(prepared, targets, weights, extract, on_error, kind, plan)  # type: ignore[arg-type]
        use_async = any(is_async_callable(call.fn) for call in prepared)
        planned = sum(batch.final_k(call) for call in prepared)
        progress = self._state.progress(planned) if self._state.progress else None
        return batch, use_async, progress

    def _sample(
        self,
        calls: list[Call],
        targets: list[Any],
        extract: Callable[[Any], Any] | None,
        on_error: OnError,
        kind: Kind | None,
        weights: list[float],
        adaptive: bool = False,
    ) -> list[ItemResult]:
        batch, use_async, progress = self._batch(
            calls, targets, extract, on_error, kind, weights, adaptive
        )
        concurrency, budget = self._state.concurrency, self._state.budget
        stop = on_error == "raise"
        rounds = self._rounds(batch)
        try:
            round_calls = next(rounds)
            while True:
                if use_async:
                    draws = run_coroutine(
                        functools.partial(
                            draw_async,
                            round_calls,
                            concurrency=concurrency,
                            stop_on_error=stop,
                            progress=progress,
                            budget=budget,
                        )
                    )
                else:
                    draws = draw_sync(
                        round_calls,
                        concurrency=concurrency,
                        stop_on_error=stop,
                        progress=progress,
                        budget=budget,
                    )
                round_calls = rounds.send(draws)
        except StopIteration as finished:
            return self._commit(finished.value)
        finally:
            if progress is not None:
                progress.close()

    async def _asample(
        self,
        calls: list[Call],
        targets: list[Any],
        extract: Callable[[Any], Any] | None,
        on_error: OnError,
        kind: Kind | None,
        weights: list[float],
        adaptive: bool = False,
    ) -> list[ItemResult]:
        batch, use_async, progress = self._batch(
            calls, targets, extract, on_error, kind, weights, adaptive
        )
        concurrency, budget = self._state.concurrency, self._state.budget
        stop = on_error == "raise"
        rounds = self._rounds(batch)
        try:
            round_calls = next(rounds)
            while True:
                if use_async:
                    draws = await draw_async(
                        round_calls,
                        concurrency=concurrency,
                        stop_on_error=stop,
                        progress=progress,
                        budget=budget,
                    )
                else:  # sync callables in their thread pool, off the event loop
                    draws = await asyncio.to_thread(
                        draw_sync,
                        round_calls,
                        concurrency=concurrency,
                        stop_on_error=stop,
                        budget=budget,
                    )
                round_calls = rounds.send(draws)
        except StopIteration as finished:
            return self._commit(finished.value)
        finally:
            if progress is not None:
                progress.close()

    def _rounds(self, batch: _Batch) -> Generator[list[Call], list[Draw], _Outcome]:
        """Yield each round's calls, receive its draws; stop when the plan or a failure says.

        Without a plan there is one round of K samples. With a sequential plan every item is
        drawn up to the next look, then the group-sequential boundaries decide whether every
        threshold is settled; items are never stopped one by one.
        """
        looks = batch.plan.looks if batch.plan is not None else None
        drawn = [Draw([], []) for _ in batch.calls]
        done = 0
        decision: SequentialDecision | None = None
        for look_index in range(len(looks) if looks is not None else 1):
            round_calls = [
                dataclasses.replace(
                    call,
                    k=(looks[look_index] if looks is not None else call.k) - done,
                    first_index=done,
                )
                for call in batch.calls
            ]
            draws = yield round_calls
            for total, new in zip(drawn, draws, strict=True):
                total.values.extend(new.values)
                total.errors.extend(new.errors)
            done = len(drawn[0].values) if drawn else 0
            results, failure = self._results(batch, drawn)
            stopped = failure is not None or (
                self._state.budget is not None and self._state.budget.exhausted is not None
            )
            if batch.plan is None:
                return _Outcome(results, failure, None, drawn)
            prior = [item.estimate for item in self._state.items if item.estimate is not None]
            estimates = prior + [r.estimate for r in results if r.estimate is not None]
            decision = decide(
                batch.plan, look_index, estimates, self._state.gated_thresholds(), decision
            )
            if decision.stop or stopped:
                return _Outcome(results, failure, decision, drawn)
        raise AssertionError("unreachable: the last look always stops")  # pragma: no cover

    def _results(
        self, batch: _Batch, draws: list[Draw]
    ) -> tuple[list[ItemResult], tuple[str, int, BaseException] | None]:
        """Item results from the draws so far (partial items kept); the first failure."""
        results: list[ItemResult] = []
        first_failure: tuple[str, int, BaseException] | None = None
        for call, draw, target, weight in zip(
            batch.calls, draws, batch.targets, batch.weights, strict=True
        ):
            outcomes: list[Any] = []
            rows: list[dict[str, float]] = []
            complete = True
            for index, (value, error) in enumerate(zip(draw.values, draw.errors, strict=True)):
                if error is None and value is NOT_DRAWN:
                    complete = False  # the run stopped (failure or budget) before this sample
                    continue
                if error is not None:
                    if batch.on_error == "invalid":
                        outcomes.append(INVALID)
                        rows.append({})
                        continue
                    if first_failure is None:
                        first_failure = (call.item_id, index, error)
                    complete = False
                    continue
                outcome, covariates = _extract(value, batch.extract)
                outcomes.append(outcome)
                rows.append(covariates)
            if not outcomes and not complete:
                continue
            results.append(
                self._finish(
                    call.item_id, tuple(outcomes), tuple(rows), target, batch.kind, weight, complete
                )
            )
        return results, first_failure

    def _commit(self, outcome: _Outcome) -> list[ItemResult]:
        """Add the items to the test, count calls, then raise the first failure if any."""
        state = self._state
        for result in outcome.results:
            state.add(result)
        state.calls += outcome.calls
        state.failed_calls += outcome.failed_calls
        if outcome.decision is not None:
            state.sequential = outcome.decision
            state.calls_saved += outcome.saved(state.max_samples)
        if outcome.failure is not None:
            item_id, index, error = outcome.failure
            raise SamplingError(
                f"model call failed for item {item_id!r}, sample {index}: "
                f"{type(error).__name__}: {error}"
            ) from error
        return outcome.results

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
