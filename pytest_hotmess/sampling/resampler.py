"""The ``resample`` fixture object: sample a model K times per item and keep every outcome."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import math
import numbers
import threading
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from ..config.marker import THRESHOLDS
from ..stats.kinds import INVALID, KINDS, NOTHING, Estimator, Kind, LossName
from ..stats.plain import plain
from .budget import Budget
from .callables import CallableProfile, CallRecorder, awaiting_on, prepare_callable, profile_of
from .completion import Completion, Sample
from .context import test_scope
from .deferred import DeferredBatch, Waiting
from .draw import (
    NOT_DRAWN,
    Call,
    Draw,
    LoopRunner,
    ProgressSink,
    draw_async,
    draw_sync,
    ensure_no_running_loop,
    is_async_callable,
)
from .threads import WorkerThreads

# The estimating modules (numpy, scipy) are imported where they are first used, not here: the
# fixture needs this module before the first sample is drawn, and numpy's import can then
# overlap the wait for the first model answers.
if TYPE_CHECKING:
    from ..ingest import Source
    from ..stats.aggregate import Aggregate
    from ..stats.batch import Pending
    from ..stats.counting import CountedItem
    from ..stats.decompose import ItemEstimate
    from ..stats.outcomes import ItemError, PreparedItem
    from ..stats.sequential import SequentialDecision, SequentialPlan

__tracebackhide__ = True  # a failing model shows the user's frame, not the plugin's

__all__ = ["ItemResult", "Resampler", "SamplingError", "TestState"]

OnError = Literal["raise", "invalid"]


class SamplingError(RuntimeError):
    """A model call failed; the message names the item and the sample index."""


@dataclasses.dataclass(frozen=True)
class ItemResult:
    """One item's K outcomes and their bias/variance split.

    ``estimate`` is ``None`` when the item could not be estimated (fewer than two usable
    samples, or outcomes the engine rejects, named in ``problem``): its outcomes are still
    reported.
    """

    id: str
    target: Any
    outcomes: tuple[Any, ...]
    covariates: tuple[dict[str, float], ...]
    estimate: ItemEstimate | None
    problem: str | None = None

    @property
    def k(self) -> int:
        return len(self.outcomes)

    @property
    def invalid(self) -> int:
        return [outcome is INVALID for outcome in self.outcomes].count(True)

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
        """The item as JSON-ready builtins, keyed as in the JSON report (``None``, never NaN).

        A JSON edge for users' own files: the plugin's reports read the typed ``ItemRecord``
        that ``results.record.item_record`` builds from this object's fields, not this dict.
        """
        data: dict[str, Any]
        estimate = self.estimate
        if estimate is None:
            data = {
                "id": self.id,
                "target": None if self.target is NOTHING else plain(self.target),
                "k": self.k,
                "error": None,
                "bias": None,
                "variance": None,
                "outcomes": plain(self.outcomes),
            }
        else:
            data = {
                "id": estimate.id,
                "kind": estimate.kind,
                "loss": estimate.loss,
                "estimator": estimate.estimator,
                "k": estimate.k,
                "invalid": self.invalid,
                "weight": plain(estimate.weight),
                "error": plain(estimate.error),
                "bias": plain(estimate.bias),
                "variance": plain(estimate.variance),
                "target": plain(estimate.target),
            }
            # the report carries counts or outcomes, whichever applies
            if estimate.counts is not None:
                data["counts"] = dict(estimate.counts)
            if estimate.outcomes is not None:
                data["outcomes"] = plain(estimate.outcomes)
        data["invalid"] = self.invalid
        data["covariates"] = [dict(c) for c in self.covariates]
        if self.problem is not None:
            data["problem"] = self.problem
        return data


class _EstimateField:
    """``ItemResult.estimate``: an estimate still waiting (``Waiting``) is computed on first
    read, with every other waiting item of its test (:mod:`.deferred`)."""

    def __get__(self, result: ItemResult | None, owner: type | None = None) -> Any:
        if result is None:
            return self
        value = result.__dict__["estimate"]
        if isinstance(value, Waiting):
            value.batch.resolve()
            value = result.__dict__["estimate"]
        return value

    def __set__(self, result: ItemResult, value: Any) -> None:
        result.__dict__["estimate"] = value  # only the dataclass __init__ and the batch get here


setattr(ItemResult, "estimate", _EstimateField())  # noqa: B010 - after @dataclass read the fields


@dataclasses.dataclass
class TestState:
    """Everything one test sampled, and what its marker asked for (lives in ``item.stash``)."""

    nodeid: str
    samples: int
    concurrency: int
    loss: LossName | None = None
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
    sequential_items: int = 0
    """How many items the last sequential decision covered (later items void it)."""
    alpha_spent: float = 0.0
    """False-verdict rate (per direction) the test's sequential looks have spent so far: a
    later ``map`` of the same test spends only what is left (docs/statistics.md)."""
    used: bool = False
    progress: Callable[[int], ProgressSink | None] | None = None
    call_timeout: float | None = None
    """Seconds a model call may take before it counts as failed (None: no limit)."""
    error: Exception | None = None
    """The last error a ``resample`` call raised: the test's verdict is ``error`` if it fails
    the test."""
    seed: int = 0
    """The run seed (``--hotmess-seed``): per-sample seeds of callables derive from it."""
    recorder: CallRecorder | None = None
    """Records (or replays) the answers of callables under ``--hotmess-record``/``-replay``."""
    models: list[str] = dataclasses.field(default_factory=list)
    """The names of the models this test called (``model.name``, else the callable's name)."""
    difficulties: dict[str, dict[str, float | str]] = dataclasses.field(default_factory=dict)
    """Per source (``dataset``, ``given``): item id -> its difficulty, checked (a bucket label
    or a number; docs/statistics.md, 'Difficulty')."""
    _ids: set[str] = dataclasses.field(default_factory=set)
    _deferred: DeferredBatch = dataclasses.field(default_factory=DeferredBatch)
    _runner: LoopRunner = dataclasses.field(default_factory=LoopRunner)
    _pool: WorkerThreads | None = None

    def gated_thresholds(self) -> dict[str, float]:
        """The thresholds the statistical gate decides (the slope is judged separately)."""
        return {name: value for name, value in self.thresholds.items() if name in THRESHOLDS}

    def sequential_plan(self) -> SequentialPlan | None:
        """Looks for adaptive K: only when ``max_samples`` is set and something is gated."""
        if self.max_samples is None or not self.gated_thresholds():
            return None
        from ..stats.sequential import default_looks, make_plan

        alpha = 1.0 - self.confidence
        left = max(alpha - self.alpha_spent, alpha * 1e-9)  # spent: nothing left to decide on
        return make_plan(default_looks(self.max_samples), 1.0 - left)

    def sequential_verdicts(self) -> dict[str, str] | None:
        """The sequential design's verdicts, if they still cover every item of the test."""
        if self.sequential is None or self.sequential_items != len(self.items):
            return None
        return dict(self.sequential.verdicts)

    def check_new_ids(self, ids: Sequence[str]) -> None:
        """Reject a duplicate item id before any call is paid for."""
        seen: set[str] = set()
        for item_id in ids:
            if item_id in self._ids or item_id in seen:
                raise ValueError(f"item id {item_id!r} was already used in this test")
            seen.add(item_id)

    def add(self, result: ItemResult) -> None:
        self.check_new_ids([result.id])
        self._append(result)

    def _append(self, result: ItemResult) -> None:
        """Add an item whose id was checked (``check_new_ids``) since the last add."""
        self._ids.add(result.id)
        self.items.append(result)

    def add_difficulties(self, source: str, values: Mapping[str, object]) -> None:
        """Check and keep items' difficulties from one source; labels and numbers do not mix
        within a source (a ``DifficultyError`` names the items), nor do bad values."""
        if not values:
            return
        from ..stats.difficulty import DifficultyError, check_difficulty

        kept = self.difficulties.setdefault(source, {})
        checked = {item: check_difficulty(item, value) for item, value in values.items()}
        for item, value in checked.items():
            # the first kept item of the other type, if any (types never mix within ``kept``)
            clash = next(iter(kept), None)
            if clash is not None and isinstance(kept[clash], str) != isinstance(value, str):
                raise DifficultyError(
                    f"item {item!r}: difficulty {values[item]!r} mixes labels and numbers with "
                    f"item {clash!r} ({kept[clash]!r}); use one or the other within a test"
                )
            kept[item] = value

    def defer(self, result: ItemResult, item: Pending) -> None:
        """Add ``result`` (its id checked), whose estimate waits for the test's next batch
        (:mod:`.deferred`)."""
        self._append(result)
        object.__setattr__(result, "estimate", self._deferred.add(item, _filler(result)))

    def estimates(self) -> list[ItemEstimate]:
        self._deferred.resolve()
        return [estimate for item in self.items if (estimate := item.estimate) is not None]

    def aggregate_with_losses(self) -> tuple[Aggregate, list[str]]:
        from ..stats.aggregate import aggregate_one_loss

        return aggregate_one_loss(self.estimates(), confidence=self.confidence)

    def aggregate(self) -> Aggregate:
        return self.aggregate_with_losses()[0]

    def pool(self) -> WorkerThreads:
        """One set of daemon threads per test, reused by every sync ``resample`` call."""
        if self._pool is None:
            self._pool = WorkerThreads()
        return self._pool

    def run(self, make: Callable[[], Any]) -> Any:
        """Run async sampling from sync code on this test's event loop."""
        return self._runner.run(make)

    def close(self) -> None:
        """Release the test's thread pool and event loop (and the clients bound to it)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown()  # never waits: a hung model call must not hold the run
        self._runner.close()


class _NotingErrors:
    """``Resampler._noting_errors``: a plain context manager, as ``record`` runs per item and a
    generator-based one costs more than a recorded item's own checks."""

    __slots__ = ("_state",)

    def __init__(self, state: TestState) -> None:
        self._state = state

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: object, error: BaseException | None, traceback: object
    ) -> Literal[False]:
        if isinstance(error, Exception):
            self._state.error = error
        return False  # the error goes on as it was


def _filler(result: ItemResult) -> Callable[[ItemEstimate], None]:
    def fill(estimate: ItemEstimate) -> None:
        object.__setattr__(result, "estimate", estimate)

    return fill


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
    originals: list[Callable[..., Any]]
    """The callables as given (their ``acall`` may be what ``calls`` use)."""

    def final_k(self, call: Call) -> int:
        return self.plan.looks[-1] if self.plan is not None else call.k


@dataclasses.dataclass
class _Collected:
    """One item's samples so far, each extracted once (sequential looks add to it)."""

    outcomes: list[Any] = dataclasses.field(default_factory=list)
    covariates: list[dict[str, float]] = dataclasses.field(default_factory=list)
    drawn: int = 0
    failed: int = 0
    missing: int = 0
    problem: str | None = None


@dataclasses.dataclass(frozen=True)
class _Outcome:
    """What a batch drew: its items, what went wrong first, the last sequential decision."""

    results: list[ItemResult]
    failure: tuple[str, int, BaseException] | None
    problem: Exception | None
    decision: SequentialDecision | None
    collected: list[_Collected]
    alpha_spent: float = 0.0
    """What the batch's looks spent of the false-verdict rate, per direction."""

    @property
    def calls(self) -> int:
        return sum(c.drawn + c.failed for c in self.collected)

    @property
    def failed_calls(self) -> int:
        return sum(c.failed for c in self.collected)

    def saved(self, max_samples: int | None) -> int:
        """Calls not made against drawing ``max_samples`` for every item."""
        if max_samples is None:
            return 0
        return max_samples * len(self.collected) - self.calls


def _covariate_numbers(covariates: Mapping[str, Any]) -> dict[str, float]:
    """Covariates must be finite real numbers: they are averaged and regressed on."""
    out: dict[str, float] = {}
    for name, value in covariates.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"covariate {name!r} must be a number, got {value!r}")
        number = int(value) if isinstance(value, numbers.Integral) else float(value)
        if not math.isfinite(number):
            raise TypeError(f"covariate {name!r} must be finite, got {value!r}")
        out[str(name)] = number
    return out


def _extract(raw: Any, extract: Callable[[Any], Any] | None) -> tuple[Any, dict[str, float]]:
    """Apply ``extract`` (to a completion's text); None or an exception means invalid."""
    covariates: dict[str, float] = {}
    if isinstance(raw, Sample):
        covariates = _covariate_numbers(raw.covariates)
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
        record_key: Any = None,
        record_model: str | None = None,
        difficulty: float | str | None = None,
        **kwargs: Any,
    ) -> ItemResult:
        with self._noting_errors():
            ensure_no_running_loop()
            batch = self._one(
                fn, args, kwargs, item, target, extract, samples, on_error, kind, weight
            )
            self._given([batch.calls[0].item_id], [difficulty])
            batch = self._prepared(batch, record_key, record_model)
            return self._only(batch, self._sample(batch))

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
        record_key: Any = None,
        record_model: str | None = None,
        difficulty: Sequence[float | str | None] | None = None,
    ) -> list[ItemResult]:
        with self._noting_errors():
            ensure_no_running_loop()
            input_list = list(inputs)
            batch = self._many(
                fn, input_list, targets, items, extract, samples, on_error, kind, weights
            )
            self._difficulties(batch, input_list, difficulty)
            batch = self._prepared(batch, record_key, record_model)
            return self._sample(batch)

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
        record_key: Any = None,
        record_model: str | None = None,
        difficulty: float | str | None = None,
        **kwargs: Any,
    ) -> ItemResult:
        with self._noting_errors():
            batch = self._one(
                fn, args, kwargs, item, target, extract, samples, on_error, kind, weight
            )
            self._given([batch.calls[0].item_id], [difficulty])
            batch = self._prepared(batch, record_key, record_model)
            return self._only(batch, await self._asample(batch))

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
        record_key: Any = None,
        record_model: str | None = None,
        difficulty: Sequence[float | str | None] | None = None,
    ) -> list[ItemResult]:
        with self._noting_errors():
            input_list = list(inputs)
            batch = self._many(
                fn, input_list, targets, items, extract, samples, on_error, kind, weights
            )
            self._difficulties(batch, input_list, difficulty)
            batch = self._prepared(batch, record_key, record_model)
            return await self._asample(batch)

    def record(
        self,
        outcomes: Iterable[Any],
        *,
        item: str | None = None,
        target: Any = NOTHING,
        kind: Kind | None = None,
        weight: float = 1.0,
        covariates: Sequence[Mapping[str, float]] | None = None,
        difficulty: float | str | None = None,
    ) -> ItemResult:
        """Take K outcomes sampled elsewhere (``None`` counts as an invalid outcome)."""
        with self._noting_errors():
            if difficulty is not None:  # checked before the item joins the test
                from ..stats.difficulty import check_difficulty

                check_difficulty(self._item_id(item), difficulty)
            result = self._record(outcomes, item, target, kind, weight, covariates)
            if difficulty is not None:  # record is the per-item hot path: no work when absent
                self._given([result.id], [difficulty])
            return result

    def ingest(
        self,
        source: Source,
        *,
        extract: Callable[[Any], Any] | None = None,
        kind: Kind | None = None,
        loss: LossName | None = None,
        format: str = "auto",
        difficulty: Mapping[str, float | str] | None = None,
    ) -> list[ItemResult]:
        """Take the samples another eval tool drew (inspect_ai, promptfoo, lm-eval, plain
        JSONL/CSV files) as if drawn here: one item per item of the file.

        ``extract`` maps each sample's output text to an outcome, ``loss`` judges these items
        by another loss than the marker's; a file problem names the file, record and field.
        ``difficulty`` maps item ids to their difficulty (docs/statistics.md, 'Difficulty').
        """
        with self._noting_errors():
            from ..ingest import read_source

            if loss is not None:
                from ..stats.losses import selectable_losses

                if loss not in selectable_losses():
                    names = ", ".join(selectable_losses())
                    raise ValueError(f"resample.ingest: loss must be one of {names}, got {loss!r}")
            items = read_source(source, format=format, extract=extract)
            self._state.check_new_ids([item.item_id for item in items])
            if difficulty is not None:
                unknown = sorted(set(difficulty) - {item.item_id for item in items})
                if unknown:
                    raise ValueError(
                        f"resample.ingest: difficulty names items the source does not have: "
                        f"{', '.join(map(repr, unknown[:5]))}"
                    )
                self._state.add_difficulties("given", difficulty)
            state_loss, self._state.loss = self._state.loss, loss or self._state.loss
            try:
                return [
                    self._record(
                        item.samples, item.item_id, item.target, kind, 1.0, item.covariates or None
                    )
                    for item in items
                ]
            finally:
                self._state.loss = state_loss

    # -- building a batch (everything is checked before the first call) ----------------------

    def _noting_errors(self) -> _NotingErrors:
        """Remember what a call raised: if it fails the test, the test's verdict is ``error``."""
        return _NotingErrors(self._state)

    def _record(
        self,
        outcomes: Iterable[Any],
        item: str | None,
        target: Any,
        kind: Kind | None,
        weight: float,
        covariates: Sequence[Mapping[str, float]] | None,
    ) -> ItemResult:
        state = self._state
        state.used = True
        item_id = self._item_id(item)
        values = _recorded_outcomes(outcomes, item_id)
        state.check_new_ids([item_id])
        _check_kind_and_weights(kind, (weight,))
        if covariates is not None and len(covariates) != len(values):
            raise ValueError(
                f"item {item_id!r}: {len(covariates)} covariate rows for {len(values)} outcomes"
            )
        if covariates is None:
            rows: tuple[dict[str, float], ...] = tuple([{} for _ in values])
        else:
            rows = tuple(_covariate_numbers(c) for c in covariates)
        pending = self._prepare(item_id, values, target, kind, weight)
        if _waits(pending):
            result = ItemResult(item_id, target, values, rows, None)
            state.defer(result, pending)
            return result
        (estimate,) = _engine().estimate_many([pending])
        if isinstance(estimate, Exception):
            raise estimate
        result = ItemResult(item_id, target, values, rows, estimate)
        state._append(result)
        return result

    def _given(self, ids: Sequence[str], values: Sequence[object]) -> None:
        """Keep the user's ``difficulty=`` of these items (None: not given)."""
        self._state.add_difficulties(
            "given", {i: v for i, v in zip(ids, values, strict=True) if v is not None}
        )

    def _difficulties(
        self, batch: _Batch, inputs: Sequence[Any], given: Sequence[object] | None
    ) -> None:
        """A map's difficulties: ``metadata.difficulty`` of inputs that are dataset items, and
        the user's ``difficulty=`` sequence (aligned with the inputs)."""
        ids = [call.item_id for call in batch.calls]
        if given is not None:
            if isinstance(given, (str, bytes)) or not isinstance(given, Sequence):
                raise TypeError(
                    "resample.map: difficulty must be a sequence with one value per input, "
                    f"got a {type(given).__name__}"
                )
            if len(given) != len(ids):
                raise ValueError(
                    f"resample.map: difficulty has {len(given)} entries for {len(ids)} inputs"
                )
            self._given(ids, list(given))
        dataset = {
            item_id: value.metadata["difficulty"]
            for item_id, value in zip(ids, inputs, strict=True)
            if _is_dataset_item(value) and value.metadata.get("difficulty") is not None
        }
        self._state.add_difficulties("dataset", dataset)

    def _item_id(self, item: str | None, offset: int = 0) -> str:
        if item is None:
            return f"item-{len(self._state.items) + offset}"
        if not isinstance(item, str) or not item:
            raise TypeError(f"item must be a non-empty string, got {item!r}")
        return item

    def _k(self, samples: int | None) -> int:
        if samples is None:
            return self._state.samples
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 2:
            raise ValueError(f"samples must be an integer >= 2, got {samples!r}")
        return samples

    def _one(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        item: str | None,
        target: Any,
        extract: Callable[[Any], Any] | None,
        samples: int | None,
        on_error: OnError,
        kind: Kind | None,
        weight: float,
    ) -> _Batch:
        call = Call(self._item_id(item), fn, args, kwargs, self._k(samples))
        return self._batch([call], [target], [weight], extract, on_error, kind, adaptive=False)

    def _many(
        self,
        fn: Callable[..., Any],
        inputs: Iterable[Any],
        targets: Sequence[Any] | None,
        items: Sequence[str] | None,
        extract: Callable[[Any], Any] | None,
        samples: int | None,
        on_error: OnError,
        kind: Kind | None,
        weights: Sequence[float] | None,
    ) -> _Batch:
        input_list = list(inputs)
        n = len(input_list)
        for name, seq in (("targets", targets), ("items", items), ("weights", weights)):
            if seq is not None and len(seq) != n:
                raise ValueError(f"resample.map: {name} has {len(seq)} entries for {n} inputs")
        ids = [self._item_id(None if items is None else items[i], offset=i) for i in range(n)]
        k = self._k(samples)
        calls = [Call(ids[i], fn, (input_list[i],), {}, k) for i in range(n)]
        return self._batch(
            calls,
            list(targets) if targets is not None else [NOTHING] * n,
            list(weights) if weights is not None else [1.0] * n,
            extract,
            on_error,
            kind,
            adaptive=samples is None,  # an explicit K is a fixed K
        )

    def _batch(
        self,
        calls: list[Call],
        targets: list[Any],
        weights: list[float],
        extract: Callable[[Any], Any] | None,
        on_error: OnError,
        kind: Kind | None,
        *,
        adaptive: bool,
    ) -> _Batch:
        """Check what can be checked, use a model's async entry when it has one, plan looks."""
        if on_error not in ("raise", "invalid"):
            raise ValueError(f"on_error must be 'raise' or 'invalid', got {on_error!r}")
        _check_kind_and_weights(kind, weights)
        self._state.check_new_ids([call.item_id for call in calls])
        prepared = []
        for call in calls:
            if not callable(call.fn):
                raise TypeError(f"resample needs a callable model, got {call.fn!r}")
            name = getattr(call.fn, "name", None) or getattr(call.fn, "__qualname__", None)
            if isinstance(name, str) and name not in self._state.models:
                self._state.models.append(name)
            acall = getattr(call.fn, "acall", None)
            fn = acall if acall is not None and callable(acall) else call.fn
            prepared.append(dataclasses.replace(call, fn=fn))
        self._state.used = True
        plan = self._state.sequential_plan() if adaptive else None
        originals = [call.fn for call in calls]
        return _Batch(prepared, targets, weights, extract, on_error, kind, plan, originals)

    # -- drawing -----------------------------------------------------------------------------

    def _progress(self, batch: _Batch) -> ProgressSink | None:
        if self._state.progress is None:
            return None
        return self._state.progress(sum(batch.final_k(call) for call in batch.calls))

    def _only(self, batch: _Batch, results: list[ItemResult]) -> ItemResult:
        """The one item of a single-item call; an error when a budget stopped it undrawn."""
        if results:
            return results[0]
        budget = self._state.budget
        reason = budget.exhausted if budget is not None else None
        raise SamplingError(
            f"item {batch.calls[0].item_id!r} was not sampled: "
            f"{reason or 'sampling stopped'} before its first call"
        )

    def _prepared(self, batch: _Batch, record_key: Any, record_model: str | None) -> _Batch:
        """Wrap each call's callable (:mod:`.callables`); inputs that cannot be keyed for the
        recording raise here, before any call is made."""
        state = self._state
        if record_model is not None and (not isinstance(record_model, str) or not record_model):
            raise TypeError(f"record_model must be a non-empty string, got {record_model!r}")
        calls = []
        profiles: dict[int, CallableProfile] = {}  # a map's items share one callable
        for call, original in zip(batch.calls, batch.originals, strict=True):
            profile = profiles.get(id(call.fn))
            if profile is None:
                profile = profiles[id(call.fn)] = profile_of(call.fn)
            recorder = None if getattr(original, "hotmess_no_record", False) else state.recorder
            key = record_key
            if recorder is not None and callable(key):
                key = key(*call.args, **call.kwargs)
            fn = prepare_callable(
                call.fn,
                call.args,
                call.kwargs,
                test=state.nodeid,
                item=call.item_id,
                run_seed=state.seed,
                recorder=recorder,
                record_key=key,
                record_model=record_model,
                profile=profile,
            )
            calls.append(dataclasses.replace(call, fn=fn))
        return dataclasses.replace(batch, calls=calls)

    def _sample(self, batch: _Batch) -> list[ItemResult]:
        with test_scope(self._state.nodeid):
            return self._sample_in_test(batch)

    async def _asample(self, batch: _Batch) -> list[ItemResult]:
        with test_scope(self._state.nodeid):
            return await self._asample_in_test(batch)

    def _sample_in_test(self, batch: _Batch) -> list[ItemResult]:
        state = self._state
        use_async = any(is_async_callable(call.fn) for call in batch.calls)
        stop = batch.on_error == "raise"
        progress = self._progress(batch)
        rounds = self._rounds(batch)
        outcome: _Outcome | None = None
        try:
            round_calls = next(rounds)
            while outcome is None:
                if use_async:
                    draws = state.run(
                        functools.partial(
                            draw_async,
                            round_calls,
                            concurrency=state.concurrency,
                            stop_on_error=stop,
                            progress=progress,
                            budget=state.budget,
                            call_timeout=state.call_timeout,
                        )
                    )
                else:
                    draws = draw_sync(
                        round_calls,
                        concurrency=state.concurrency,
                        stop_on_error=stop,
                        progress=progress,
                        budget=state.budget,
                        pool=state.pool(),
                        call_timeout=state.call_timeout,
                    )
                round_calls, outcome = _advance(rounds, draws)
        finally:
            if progress is not None:
                progress.close()
        return self._commit(outcome)

    async def _asample_in_test(self, batch: _Batch) -> list[ItemResult]:
        state = self._state
        use_async = any(is_async_callable(call.fn) for call in batch.calls)
        stop = batch.on_error == "raise"
        progress = self._progress(batch) if use_async else None
        rounds = self._rounds(batch)
        outcome: _Outcome | None = None
        try:
            round_calls = next(rounds)
            while outcome is None:
                if use_async:
                    draws = await draw_async(
                        round_calls,
                        concurrency=state.concurrency,
                        stop_on_error=stop,
                        progress=progress,
                        budget=state.budget,
                        call_timeout=state.call_timeout,
                    )
                else:
                    draws = await self._draw_sync_off_loop(round_calls, stop)
                round_calls, outcome = _advance(rounds, draws)
        finally:
            if progress is not None:
                progress.close()
        return self._commit(outcome)

    async def _draw_sync_off_loop(self, calls: list[Call], stop: bool) -> list[Draw]:
        """Sync callables on the test's daemon threads, off the event loop; a cancelled
        await (Ctrl-C in an async test) stops the drawing instead of leaving it running."""
        state, cancel = self._state, threading.Event()
        draw = functools.partial(
            draw_sync,
            calls,
            concurrency=state.concurrency,
            stop_on_error=stop,
            budget=state.budget,
            pool=state.pool(),
            call_timeout=state.call_timeout,
            cancel=cancel,
        )
        with awaiting_on(asyncio.get_running_loop()):
            context = contextvars.copy_context()  # what asyncio.to_thread would pass on
        try:
            draws: list[Draw] = await asyncio.wrap_future(state.pool().submit(context.run, draw))
        except BaseException:
            cancel.set()
            raise
        return draws

    def _rounds(self, batch: _Batch) -> Generator[list[Call], list[Draw], _Outcome]:
        """Yield each round's calls, receive its draws; stop when the plan or a failure says.

        Without a plan there is one round of K samples. With a sequential plan every item is
        drawn up to the next look, then the group-sequential boundaries decide whether every
        threshold is settled; items are never stopped one by one.
        """
        looks = batch.plan.looks if batch.plan is not None else None
        collected = [_Collected() for _ in batch.calls]
        failure: tuple[str, int, BaseException] | None = None
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
            for call, draw, item in zip(batch.calls, draws, collected, strict=True):
                failure = _collect(item, call, draw, done, batch, failure)
            done = looks[look_index] if looks is not None else done
            results, problem = self._results(batch, collected)
            budget = self._state.budget
            stopped = failure is not None or (budget is not None and budget.exhausted is not None)
            if batch.plan is None:
                return _Outcome(results, failure, problem, None, collected)
            from ..stats.sequential import decide

            prior = self._state.estimates()
            estimates = prior + [r.estimate for r in results if r.estimate is not None]
            decision = decide(
                batch.plan, look_index, estimates, self._state.gated_thresholds(), decision
            )
            if decision.stop or stopped or problem is not None:
                spent = batch.plan.spent[look_index]
                return _Outcome(results, failure, problem, decision, collected, spent)
        raise AssertionError("unreachable: the last look always stops")  # pragma: no cover

    def _results(
        self, batch: _Batch, collected: list[_Collected]
    ) -> tuple[list[ItemResult], Exception | None]:
        """Item results from the samples so far, estimated together; an item the engine rejects
        is kept unestimated."""
        rows: list[tuple[Call, _Collected, Any, float]] = []
        notes: list[str | None] = []
        errors: list[Exception | None] = []
        pending: list[Pending] = []
        where: list[int] = []
        for call, item, target, weight in zip(
            batch.calls, collected, batch.targets, batch.weights, strict=True
        ):
            if not item.outcomes and item.missing:
                continue  # nothing drawn for it before the run stopped
            note: str | None = item.problem
            error: Exception | None = None
            if note is not None:
                error = TypeError(note)
            elif len(item.outcomes) >= 2 or not item.missing:
                try:
                    prepared = self._prepare(
                        call.item_id, tuple(item.outcomes), target, batch.kind, weight
                    )
                except (TypeError, ValueError) as exc:
                    note, error = str(exc), exc
                else:
                    pending.append(prepared)
                    where.append(len(rows))
            rows.append((call, item, target, weight))
            notes.append(note)
            errors.append(error)
        estimates: list[ItemEstimate | None] = [None] * len(rows)
        if pending:
            from ..stats.batch import estimate_many

            for index, estimate in zip(where, estimate_many(pending), strict=True):
                if isinstance(estimate, Exception):
                    notes[index], errors[index] = str(estimate), estimate
                else:
                    estimates[index] = estimate
        results = [
            ItemResult(
                call.item_id, target, tuple(item.outcomes), tuple(item.covariates), estimate, note
            )
            for (call, item, target, _), estimate, note in zip(rows, estimates, notes, strict=True)
        ]
        problem = next((error for error in errors if error is not None), None)
        return results, problem

    def _prepare(
        self, item_id: str, outcomes: tuple[Any, ...], target: Any, kind: Kind | None, weight: float
    ) -> Pending:
        """Validate one item (errors name it); string answers are only counted, not arrayed."""
        state, engine = self._state, _engine()
        counted = engine.count_labels(
            outcomes,
            target,
            item_id=item_id,
            kind=kind,
            loss=state.loss,
            estimator=state.estimator,
            weight=weight,
        )
        if counted is not None:
            return counted
        return engine.prepare_item(
            outcomes,
            target,
            item_id=item_id,
            kind=kind,
            loss=state.loss,
            estimator=state.estimator,
            weight=weight,
            labels=None,
        )

    def _commit(self, outcome: _Outcome) -> list[ItemResult]:
        """Add the items to the test and count the calls, then raise what went wrong first."""
        state = self._state
        for result in outcome.results:
            state.add(result)
        state.calls += outcome.calls
        state.failed_calls += outcome.failed_calls
        if outcome.decision is not None:
            state.sequential = outcome.decision
            state.sequential_items = len(state.items)
            state.alpha_spent += outcome.alpha_spent
            state.calls_saved += outcome.saved(state.max_samples)
        if outcome.failure is not None:
            item_id, index, error = outcome.failure
            if not isinstance(error, Exception):
                raise error  # pytest.skip/fail inside the model, or an interrupt: as they are
            raise SamplingError(
                f"model call failed for item {item_id!r}, sample {index}: "
                f"{type(error).__name__}: {error}"
            ) from error
        if outcome.problem is not None:
            raise outcome.problem
        return outcome.results


def _waits(item: Pending) -> bool:
    """Whether a recorded item's estimate can wait for its test's batch: categorical counts
    cannot overflow, so no error is left for later. Other kinds are estimated at once, so a
    loss that overflows fails the ``record`` call that gave it."""
    return item.kind == "categorical"


class _Engine(NamedTuple):
    """What ``record`` calls of the estimating modules for every item."""

    count_labels: Callable[..., CountedItem | None]
    prepare_item: Callable[..., PreparedItem]
    estimate_many: Callable[[Sequence[Pending]], list[ItemEstimate | ItemError]]


@functools.cache
def _engine() -> _Engine:
    """The estimating modules (numpy) imported on first use, as everywhere in this module, but
    once: an import statement costs more than the checks of a recorded item."""
    from ..stats.batch import estimate_many
    from ..stats.counting import count_labels
    from ..stats.outcomes import prepare_item

    return _Engine(count_labels, prepare_item, estimate_many)


def _recorded_outcomes(outcomes: Iterable[Any], item_id: str) -> tuple[Any, ...]:
    """``record``'s outcomes as a tuple, ``None`` as invalid; a lone string is refused."""
    if type(outcomes) is not list and (  # a list, the common case, needs no ABC check
        isinstance(outcomes, (str, bytes, bytearray, Mapping)) or not isinstance(outcomes, Iterable)
    ):
        raise TypeError(
            f"resample.record: item {item_id!r}: outcomes must be a sequence with one "
            f"outcome per sample, got a {type(outcomes).__name__} (wrap a single outcome "
            'in a list, e.g. ["abc"])'
        )
    return tuple([INVALID if o is None else o for o in outcomes])


def _advance(
    rounds: Generator[list[Call], list[Draw], _Outcome], draws: list[Draw]
) -> tuple[list[Call], _Outcome | None]:
    """Send a round's draws; the next round's calls, or the outcome once the plan stops."""
    try:
        return rounds.send(draws), None
    except StopIteration as finished:
        outcome: _Outcome = finished.value
    return [], outcome


def _collect(
    item: _Collected,
    call: Call,
    draw: Draw,
    first_index: int,
    batch: _Batch,
    failure: tuple[str, int, BaseException] | None,
) -> tuple[str, int, BaseException] | None:
    """Extract a round's new samples once; return the first failure so far."""
    for offset, (value, error) in enumerate(zip(draw.values, draw.errors, strict=True)):
        if error is None and value is NOT_DRAWN:
            item.missing += 1  # the run stopped (failure or budget) before this sample
            continue
        if error is not None:
            item.failed += 1
            if batch.on_error == "invalid" and isinstance(error, Exception):
                item.outcomes.append(INVALID)
                item.covariates.append({})
            else:
                item.missing += 1
                failure = failure or (call.item_id, first_index + offset, error)
            continue
        item.drawn += 1
        try:
            outcome, covariates = _extract(value, batch.extract)
        except TypeError as exc:  # a covariate that is not a number
            item.problem = item.problem or f"item {call.item_id!r}: {exc}"
            outcome, covariates = INVALID, {}
        item.outcomes.append(outcome)
        item.covariates.append(covariates)
    return failure


def _is_dataset_item(value: object) -> bool:
    """A ``DatasetItem``, known by its class's module and name: importing the datasets module
    here would import YAML for every ``map``, and a test run may have reloaded it."""
    kind = type(value)
    return kind.__name__ == "DatasetItem" and kind.__module__ == "pytest_hotmess.config.datasets"


def _check_kind_and_weights(kind: Kind | None, weights: Sequence[float]) -> None:
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    for weight in weights:
        if type(weight) is float and 0.0 <= weight < math.inf:
            continue  # the common case, without the ABC check below
        if (
            isinstance(weight, bool)
            or not isinstance(weight, numbers.Real)
            or not math.isfinite(weight)
            or weight < 0
        ):
            raise ValueError(f"weights must be finite numbers >= 0, got {weight!r}")
