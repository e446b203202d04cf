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
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, Protocol

from ._budget import Budget
from ._context import sample_scope

__all__ = [
    "NOT_DRAWN",
    "Call",
    "Draw",
    "ProgressSink",
    "draw_async",
    "draw_sync",
    "is_async_callable",
    "run_coroutine",
]

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


def _run_one(call: Call, sample_index: int) -> Any:
    with sample_scope(call.item_id, call.first_index + sample_index):
        return call.fn(*call.args, **call.kwargs)


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
    refresh_s: float = 0.2,
) -> list[Draw]:
    """Sample sync callables in a thread pool; progress is reported from the calling thread."""
    draws = [Draw.empty(call.k) for call in calls]
    schedule = _schedule(calls)
    stopped = False
    in_flight: dict[concurrent.futures.Future[Any], tuple[int, int]] = {}

    def submit_next(pool: concurrent.futures.ThreadPoolExecutor) -> bool:
        nonlocal stopped
        position = next(schedule, None)
        if position is None:
            return False
        if budget is not None and not budget.acquire():
            stopped = True  # out of budget: start nothing more
            return False
        context = contextvars.copy_context()
        future = pool.submit(context.run, _run_one, calls[position[0]], position[1])
        in_flight[future] = position
        return True

    with concurrent.futures.ThreadPoolExecutor(
        max_workers=concurrency, thread_name_prefix="hotmess-sample"
    ) as pool:
        while len(in_flight) < concurrency and submit_next(pool):
            pass
        while in_flight:
            done, _ = concurrent.futures.wait(
                in_flight, timeout=refresh_s, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in done:
                call_index, sample_index = in_flight.pop(future)
                error = future.exception()
                if error is None:
                    draws[call_index].values[sample_index] = value = future.result()
                    if budget is not None:
                        budget.charge(value)
                else:
                    draws[call_index].errors[sample_index] = error
                    stopped = stopped or stop_on_error
                if progress is not None:
                    progress.advance(error is not None)
                if not stopped:
                    submit_next(pool)
            if progress is not None:
                progress.refresh()
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
            try:
                value = await _arun_one(calls[call_index], sample_index)
                draws[call_index].values[sample_index] = value
                if budget is not None:
                    budget.charge(value)
                error: BaseException | None = None
            except Exception as exc:
                error = exc
                draws[call_index].errors[sample_index] = exc
                stopped = stopped or stop_on_error
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
    return draws


def run_coroutine(make: Callable[[], Awaitable[Any]]) -> Any:
    """Run a coroutine from sync code; refuse to nest inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_as_coroutine(make))
    raise RuntimeError(
        "resample was called synchronously inside a running event loop; "
        "in an async test use `await resample.acall(...)` / `await resample.amap(...)`"
    )


async def _as_coroutine(make: Callable[[], Awaitable[Any]]) -> Any:
    return await make()
