"""Draw K samples for each of N calls under one concurrency budget.

Sync callables run in a bounded thread pool, async ones on one event loop with a fixed number
of worker coroutines; in both cases at most ``concurrency`` calls are in flight. After the first
failure (unless failures are recorded as outcomes) nothing new starts, calls already in flight
finish, and everything drawn so far is returned so that the reports lose nothing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import dataclasses
import inspect
import itertools
import queue
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, Protocol

from .budget import Budget
from .context import sample_scope
from .threads import WorkerThreads

__all__ = [
    "NOT_DRAWN",
    "Call",
    "CallTimeoutError",
    "Draw",
    "LoopRunner",
    "ProgressSink",
    "draw_async",
    "draw_sync",
    "ensure_no_running_loop",
    "is_async_callable",
]

_REFRESH_S = 0.2
"""How often the sync path wakes to redraw progress while calls are in flight."""

_NO_NEWS: Any = object()
"""No sample finished within ``_REFRESH_S``: redraw progress all the same."""

NOT_DRAWN: Any = type("NotDrawn", (), {"__repr__": lambda self: "NOT_DRAWN"})()
"""Placeholder for a sample that was never drawn because the run stopped on a failure."""


class CallTimeoutError(TimeoutError):
    """A model call ran past ``call_timeout``; a failed call, which ``on_error`` decides."""

    def __init__(self, item_id: str, sample_index: int, timeout: float) -> None:
        super().__init__(f"no answer within call_timeout={timeout:g}s")
        self.item_id = item_id
        self.sample_index = sample_index
        self.timeout = timeout


@dataclasses.dataclass(frozen=True)
class Call:
    """One item's call: ``fn(*args, **kwargs)``, sampled ``k`` times as sample indices
    ``first_index`` to ``first_index + k - 1`` (later rounds of sequential sampling continue
    where earlier ones stopped, so recordings and seeded models see stable indices)."""

    item_id: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    k: int
    first_index: int = 0


@dataclasses.dataclass
class Draw:
    """The samples of one call, by sample index; ``NOT_DRAWN`` where a sample was not drawn."""

    values: list[Any]
    errors: list[BaseException | None]

    @classmethod
    def empty(cls, k: int) -> Draw:
        return cls(values=[NOT_DRAWN] * k, errors=[None] * k)


class ProgressSink(Protocol):
    def advance(self, failed: bool) -> None: ...

    def refresh(self) -> None: ...

    def close(self) -> None: ...


def is_async_callable(fn: Callable[..., Any]) -> bool:
    """True for coroutine functions and for objects whose ``__call__`` is one."""
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - we want the bound method, not callable()
    return call is not None and inspect.iscoroutinefunction(call)


def _schedule(calls: Sequence[Call]) -> Iterator[tuple[int, int]]:
    """Item-major order: a run that stops early leaves whole items behind."""
    for call_index, call in enumerate(calls):
        for sample_index in range(call.k):
            yield call_index, sample_index


def _is_stop(error: BaseException) -> bool:
    """Outcome exceptions (``pytest.skip`` inside a model) and interrupts are not samples."""
    return not isinstance(error, Exception)


def _run_one(call: Call, sample_index: int) -> Any:
    __tracebackhide__ = True
    with sample_scope(call.item_id, call.first_index + sample_index):
        result = call.fn(*call.args, **call.kwargs)
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()  # never awaited: close it so Python does not warn later
        raise TypeError(
            f"{call.fn!r} returned an awaitable when called synchronously; pass the async "
            "function itself (resample awaits it) or use `await resample.acall(...)`"
        )
    return result


async def _arun_one(call: Call, sample_index: int) -> Any:
    __tracebackhide__ = True
    with sample_scope(call.item_id, call.first_index + sample_index):
        result = call.fn(*call.args, **call.kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result


async def _arun_bounded(call: Call, sample_index: int, call_timeout: float | None) -> Any:
    """One async call, cancelled after ``call_timeout`` seconds (``asyncio.timeout`` by hand:
    it needs Python 3.11, and ``wait_for`` cannot tell its expiry from the model's own
    ``TimeoutError``)."""
    __tracebackhide__ = True
    if call_timeout is None:
        return await _arun_one(call, sample_index)
    task = asyncio.current_task()
    assert task is not None  # a worker task of draw_async
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        task.cancel()

    timer = asyncio.get_running_loop().call_later(call_timeout, expire)
    try:
        return await _arun_one(call, sample_index)
    except asyncio.CancelledError:
        if not expired:
            raise
        if sys.version_info >= (3, 11):
            task.uncancel()
        raise CallTimeoutError(
            call.item_id, call.first_index + sample_index, call_timeout
        ) from None
    finally:
        timer.cancel()


def draw_sync(
    calls: Sequence[Call],
    *,
    concurrency: int,
    stop_on_error: bool,
    progress: ProgressSink | None = None,
    budget: Budget | None = None,
    pool: WorkerThreads | None = None,
    call_timeout: float | None = None,
    cancel: threading.Event | None = None,
) -> list[Draw]:
    """Sample sync callables on worker threads; progress is reported from the calling thread.

    ``pool`` lets a test reuse its threads across calls; without one, threads live for this
    call only. A call still running ``call_timeout`` seconds after it started fails with
    :class:`CallTimeoutError` and its thread is abandoned, not joined. ``cancel`` stops the
    drawing from another thread (an async test that was cancelled); what was drawn is kept.
    """
    if pool is not None:
        return _draw_in_pool(
            pool, calls, concurrency, stop_on_error, progress, budget, call_timeout, cancel
        )
    own = WorkerThreads()
    try:
        return _draw_in_pool(
            own, calls, concurrency, stop_on_error, progress, budget, call_timeout, cancel
        )
    finally:
        own.shutdown()


@dataclasses.dataclass
class _Flight:
    """What one worker is calling, and until when (tracked only with a ``call_timeout``)."""

    call_index: int
    sample_index: int
    deadline: float


def _draw_in_pool(
    pool: WorkerThreads,
    calls: Sequence[Call],
    concurrency: int,
    stop_on_error: bool,
    progress: ProgressSink | None,
    budget: Budget | None,
    call_timeout: float | None,
    cancel: threading.Event | None,
) -> list[Draw]:
    """``concurrency`` worker threads pull samples from one schedule, like ``draw_async``.

    Workers take their next sample themselves instead of waiting for the calling thread to
    hand it over: the hand-over (a future per sample, a wake-up of the calling thread and one
    back) cost about 0.1 ms per sample, which is a tenth of a 1 ms model's time. The calling
    thread reports progress from a queue of finished samples, and fails calls that overran
    ``call_timeout``: their worker is abandoned (whatever its call returns later is dropped)
    and a fresh worker takes its place.
    """
    draws = [Draw.empty(call.k) for call in calls]
    schedule = _schedule(calls)
    taking = threading.Lock()
    stopped = False
    # (worker, failed?); failed None: the worker ended
    finished: queue.SimpleQueue[tuple[int, bool | None]] = queue.SimpleQueue()
    flights: dict[int, _Flight] = {}
    abandoned: set[int] = set()
    context = contextvars.copy_context()  # the caller's context variables, seen by every sample

    def next_position(worker_id: int) -> tuple[int, int] | None:
        nonlocal stopped
        with taking:
            position = None if stopped or worker_id in abandoned else next(schedule, None)
            if position is not None and budget is not None and not budget.acquire():
                stopped, position = True, None  # out of budget: start nothing more
            if position is not None and call_timeout is not None:
                flights[worker_id] = _Flight(*position, time.monotonic() + call_timeout)
            return position

    def keep(worker_id: int, call_index: int, sample_index: int, value: Any) -> bool:
        """Store a sample's result, unless its call timed out and the worker was abandoned."""
        if call_timeout is not None:
            with taking:
                if worker_id in abandoned:
                    return False
                del flights[worker_id]
        if isinstance(value, _Raised):
            draws[call_index].errors[sample_index] = value.error
        else:
            draws[call_index].values[sample_index] = value
        return True

    def worker(worker_id: int) -> None:
        __tracebackhide__ = True
        nonlocal stopped
        try:
            while (position := next_position(worker_id)) is not None:
                call_index, sample_index = position
                try:
                    value = context.copy().run(_run_one, calls[call_index], sample_index)
                except BaseException as error:  # outcome exceptions too: kept, then re-raised
                    value = _Raised(error)
                if not keep(worker_id, call_index, sample_index, value):
                    return  # abandoned: the caller already failed this call
                if isinstance(value, _Raised):
                    if stop_on_error or _is_stop(value.error):
                        stopped = True
                    finished.put((worker_id, True))
                else:
                    if budget is not None:
                        budget.charge(value)
                    finished.put((worker_id, False))
        except BaseException:  # the worker's own failure (not a sample's): stop the others too
            stopped = True
            raise
        finally:
            finished.put((worker_id, None))

    futures: dict[int, concurrent.futures.Future[Any]] = {}
    ids = itertools.count()

    def start() -> int:
        worker_id = next(ids)
        futures[worker_id] = pool.submit(worker, worker_id)
        return worker_id

    def overran(now: float) -> list[tuple[int, _Flight]]:
        """Abandon the workers whose call is past its deadline, and fail those calls."""
        nonlocal stopped
        with taking:
            late = [(w, f) for w, f in flights.items() if f.deadline <= now]
            for worker_id, flight in late:
                del flights[worker_id]
                abandoned.add(worker_id)
                draws[flight.call_index].errors[flight.sample_index] = CallTimeoutError(
                    calls[flight.call_index].item_id,
                    calls[flight.call_index].first_index + flight.sample_index,
                    call_timeout or 0.0,
                )
                if stop_on_error:
                    stopped = True
            return late

    def wait_for() -> float:
        if call_timeout is None:
            return _REFRESH_S
        with taking:
            first = min((f.deadline for f in flights.values()), default=None)
        if first is None:
            return _REFRESH_S
        return min(_REFRESH_S, max(first - time.monotonic(), 0.0) + 0.001)

    running = {start() for _ in range(min(concurrency, sum(c.k for c in calls)))}
    try:
        while running:
            try:
                worker_id, failed = finished.get(timeout=wait_for())
            except queue.Empty:
                worker_id, failed = -1, _NO_NEWS
            if failed is None:
                running.discard(worker_id)
            elif failed is not _NO_NEWS and progress is not None:
                progress.advance(failed)
            if call_timeout is not None:
                for late, _ in overran(time.monotonic()):
                    running.discard(late)
                    if progress is not None:
                        progress.advance(True)
                    if not stopped:
                        running.add(start())  # a fresh worker takes the abandoned one's place
            if cancel is not None and cancel.is_set():
                stopped = True
                break
            if progress is not None:
                progress.refresh()
    except BaseException:  # Ctrl-C while waiting: start nothing more, wait for no call
        stopped = True
        raise
    for worker_id, ended in futures.items():
        if worker_id not in abandoned and worker_id not in running:  # running: cancelled
            ended.result()  # a worker's own failure (not a sample's) is raised, not lost
    return draws


@dataclasses.dataclass(frozen=True)
class _Raised:
    """A sample's call raised ``error`` (kept apart from values, which may be anything)."""

    error: BaseException


async def draw_async(
    calls: Sequence[Call],
    *,
    concurrency: int,
    stop_on_error: bool,
    progress: ProgressSink | None = None,
    budget: Budget | None = None,
    call_timeout: float | None = None,
) -> list[Draw]:
    """Sample on the running loop with ``concurrency`` workers pulling from one schedule.

    A call still running after ``call_timeout`` seconds is cancelled and fails with
    :class:`CallTimeoutError` (a coroutine that blocks the loop cannot be cancelled).
    """
    draws = [Draw.empty(call.k) for call in calls]
    schedule = _schedule(calls)
    stopped = False

    async def worker() -> None:
        __tracebackhide__ = True
        nonlocal stopped
        for call_index, sample_index in schedule:
            if stopped or (budget is not None and not budget.acquire()):
                stopped = True
                return
            error: BaseException | None = None
            try:
                value = await _arun_bounded(calls[call_index], sample_index, call_timeout)
            except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # outcome exceptions too: kept, then re-raised
                error = exc
                draws[call_index].errors[sample_index] = exc
                stopped = stopped or stop_on_error or _is_stop(exc)
            else:
                draws[call_index].values[sample_index] = value
                if budget is not None:
                    budget.charge(value)
            if progress is not None:
                progress.advance(error is not None)
                progress.refresh()
            if stopped:
                return

    workers = [asyncio.ensure_future(worker()) for _ in range(concurrency)]
    try:
        await asyncio.gather(*workers)
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return draws


def ensure_no_running_loop() -> None:
    """Sync sampling must not block (or nest inside) a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        "resample was called synchronously inside a running event loop; "
        "in an async test use `await resample.acall(...)` / `await resample.amap(...)`"
    )


class LoopRunner:
    """One event loop per test, reused across its sync ``resample`` calls.

    Reusing the loop keeps async clients' connection pools alive from one item to the next
    (``asyncio.run`` per call would open new connections every time).
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None

    def run(self, make: Callable[[], Awaitable[Any]]) -> Any:
        ensure_no_running_loop()
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(_as_coroutine(make))

    def close(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()


async def _as_coroutine(make: Callable[[], Awaitable[Any]]) -> Any:
    return await make()
