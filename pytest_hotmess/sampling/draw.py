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
import queue
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, Protocol

from .budget import Budget
from .context import sample_scope

__all__ = [
    "NOT_DRAWN",
    "Call",
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
    with sample_scope(call.item_id, call.first_index + sample_index):
        result = call.fn(*call.args, **call.kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result


def draw_sync(
    calls: Sequence[Call],
    *,
    concurrency: int,
    stop_on_error: bool,
    progress: ProgressSink | None = None,
    budget: Budget | None = None,
    pool: concurrent.futures.ThreadPoolExecutor | None = None,
) -> list[Draw]:
    """Sample sync callables in a thread pool; progress is reported from the calling thread.

    ``pool`` lets a test reuse one executor across calls; it needs at least ``concurrency``
    workers. Without one, a pool lives for this call only.
    """
    if pool is None:
        with concurrent.futures.ThreadPoolExecutor(
            max_workers=concurrency, thread_name_prefix="hotmess-sample"
        ) as own:
            return _draw_in_pool(own, calls, concurrency, stop_on_error, progress, budget)
    return _draw_in_pool(pool, calls, concurrency, stop_on_error, progress, budget)


def _draw_in_pool(
    pool: concurrent.futures.ThreadPoolExecutor,
    calls: Sequence[Call],
    concurrency: int,
    stop_on_error: bool,
    progress: ProgressSink | None,
    budget: Budget | None,
) -> list[Draw]:
    """``concurrency`` pool threads pull samples from one schedule, like ``draw_async``.

    Workers take their next sample themselves instead of waiting for the calling thread to
    hand it over: the hand-over (a future per sample, a wake-up of the calling thread and one
    back) cost about 0.1 ms per sample, which is a tenth of a 1 ms model's time. The calling
    thread only reports progress, from a queue of finished samples.
    """
    draws = [Draw.empty(call.k) for call in calls]
    schedule = _schedule(calls)
    taking = threading.Lock()
    stopped = False
    finished: queue.SimpleQueue[bool | None] = queue.SimpleQueue()  # failed?; None: a worker ended
    context = contextvars.copy_context()  # the caller's context variables, seen by every sample

    def next_position() -> tuple[int, int] | None:
        nonlocal stopped
        with taking:
            position = None if stopped else next(schedule, None)
            if position is not None and budget is not None and not budget.acquire():
                stopped, position = True, None  # out of budget: start nothing more
            return position

    def worker() -> None:
        nonlocal stopped
        try:
            while (position := next_position()) is not None:
                call_index, sample_index = position
                try:
                    value = context.copy().run(_run_one, calls[call_index], sample_index)
                except BaseException as error:  # outcome exceptions too: kept, then re-raised
                    draws[call_index].errors[sample_index] = error
                    if stop_on_error or _is_stop(error):
                        stopped = True
                    finished.put(True)
                else:
                    draws[call_index].values[sample_index] = value
                    if budget is not None:
                        budget.charge(value)
                    finished.put(False)
        except BaseException:  # the worker's own failure (not a sample's): stop the others too
            stopped = True
            raise
        finally:
            finished.put(None)

    workers = [pool.submit(worker) for _ in range(min(concurrency, sum(c.k for c in calls)))]
    running = len(workers)
    try:
        while running:
            try:
                failed = finished.get(timeout=_REFRESH_S)
            except queue.Empty:
                failed = _NO_NEWS
            if failed is None:
                running -= 1
            elif failed is not _NO_NEWS and progress is not None:
                progress.advance(failed)
            if progress is not None:
                progress.refresh()
    except BaseException:  # Ctrl-C while waiting: start nothing more, let the calls in flight end
        stopped = True
        raise
    for ended in workers:
        ended.result()  # a worker's own failure (not a sample's) is raised, not lost
    return draws


async def draw_async(
    calls: Sequence[Call],
    *,
    concurrency: int,
    stop_on_error: bool,
    progress: ProgressSink | None = None,
    budget: Budget | None = None,
) -> list[Draw]:
    """Sample on the running loop with ``concurrency`` workers pulling from one schedule."""
    draws = [Draw.empty(call.k) for call in calls]
    schedule = _schedule(calls)
    stopped = False

    async def worker() -> None:
        nonlocal stopped
        for call_index, sample_index in schedule:
            if stopped or (budget is not None and not budget.acquire()):
                stopped = True
                return
            error: BaseException | None = None
            try:
                value = await _arun_one(calls[call_index], sample_index)
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
