"""Daemon worker threads for sync model calls, which may hang and must never block an exit.

``concurrent.futures.ThreadPoolExecutor`` joins its threads when the interpreter exits, so a
model call that never returns held a Ctrl-C'd run open for as long as it hung. These threads
are daemons, a shutdown never waits for them, and the pool grows instead of queueing: a
thread abandoned to a hung call (see ``call_timeout``) leaves a replacement free to start.
Idle threads are kept and reused, so a test that calls ``resample`` many times does not pay
for new threads each time.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["WorkerThreads"]

_Task = tuple[Callable[[], Any], "concurrent.futures.Future[Any]"]


class WorkerThreads:
    """``submit`` runs a function on an idle daemon thread, or on a new one when none is idle."""

    def __init__(self, name: str = "hotmess-sample") -> None:
        self._name = name
        self._tasks: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._closed = False
        self._numbers = itertools.count(1)

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the sampling threads were shut down")
            if self._idle:
                self._idle -= 1  # an idle thread will take this task
            else:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}_{next(self._numbers)}", daemon=True
                )
                thread.start()
            self._tasks.put((lambda: fn(*args), future))
        return future

    def _work(self) -> None:
        while (task := self._tasks.get()) is not None:
            fn, future = task
            if future.set_running_or_notify_cancel():
                try:
                    result = fn()
                except BaseException as error:  # kept on the future, like an executor does
                    future.set_exception(error)
                else:
                    future.set_result(result)
            del task, fn, future  # drop references (and the frames' locals) before idling
            with self._lock:
                if self._closed:
                    return
                self._idle += 1

    def shutdown(self) -> None:
        """Let idle threads end; busy ones end when their call returns (never waited for)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            idle, self._idle = self._idle, 0
        for _ in range(idle):
            self._tasks.put(None)
