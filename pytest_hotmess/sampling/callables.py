"""A user's callable as a model: async detection, sample index and seed, SDK answers, recording.

Every callable given to ``resample`` is wrapped once per item before the first call:

- async is detected through ``functools.wraps`` layers and bound methods (``inspect.unwrap``),
  so SDK methods such as ``AsyncOpenAI().chat.completions.create`` run on the event loop;
- a callable that declares a ``sample_index`` or ``sample_seed`` parameter receives the sample's
  index and a seed derived from the run seed, the test, the item and the index (runs reproduce);
- an openai or anthropic response object it returns becomes a :class:`Completion`
  (:mod:`.sdk`);
- under ``--hotmess-record``/``--hotmess-replay`` its answers are stored, or replayed with no
  call, through a :class:`CallRecorder` keyed by :class:`CallKey` (the plugin supplies one).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import enum
import functools
import hashlib
import inspect
import math
import time
import types
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from .context import current_sample
from .sdk import adapt_answer

__tracebackhide__ = True  # a failing model shows the user's frame, not the plugin's

__all__ = [
    "EXTRA_PARAMETERS",
    "CallKey",
    "CallRecorder",
    "CallableProfile",
    "UnkeyableInputError",
    "awaiting_on",
    "callable_name",
    "is_async_callable",
    "prepare_callable",
    "profile_of",
    "sample_seed",
]

EXTRA_PARAMETERS = ("sample_index", "sample_seed")
"""Parameters a callable may declare to receive its sample's index and seed."""

_SECRET_NAMES = frozenset(
    {"api_key", "apikey", "authorization", "x-api-key", "headers", "extra_headers", "token"}
)
"""Keyword arguments never part of a recording key (they may hold a credential)."""


_host_loop: contextvars.ContextVar[asyncio.AbstractEventLoop | None] = contextvars.ContextVar(
    "hotmess_host_loop", default=None
)


@contextlib.contextmanager
def awaiting_on(loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """Inside, a callable sampled on a worker thread that returns an awaitable (a lambda around
    an async SDK method) has it awaited on ``loop``, the running loop of the async test."""
    token = _host_loop.set(loop)
    try:
        yield
    finally:
        _host_loop.reset(token)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


class UnkeyableInputError(TypeError):
    """A callable's inputs cannot be serialised into a recording key; ``record_key=`` helps."""


@dataclasses.dataclass(frozen=True)
class CallKey:
    """What a callable's recorded answer is keyed by (with the sample index).

    ``model`` is the callable's identity (``record_model=``, or its qualified name) and
    ``inputs`` its canonical arguments (or the ``record_key=`` given).
    """

    test: str
    item: str
    model: str
    inputs: Any


class CallRecorder(Protocol):
    """Stores a callable's answers, or answers from a recording (see models/callable_recording)."""

    @property
    def replaying(self) -> bool: ...

    def recall(self, key: CallKey, sample: int) -> tuple[bool, Any]:
        """(True, answer) when an answer is held for ``key`` and ``sample``."""
        ...

    def store(self, key: CallKey, sample: int, answer: Any) -> Any:
        """Keep ``answer`` and return what a replay will return; TypeError if not storable."""
        ...

    def miss(self, key: CallKey, sample: int) -> Exception:
        """The error of a replay that holds no answer for ``key`` and ``sample``."""
        ...


def _unwrapped(fn: Any) -> Any:
    """The function behind ``functools.wraps`` layers, bound methods and partials."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    try:
        return inspect.unwrap(fn)
    except ValueError:  # a __wrapped__ cycle
        return fn


def is_async_callable(fn: Callable[..., Any]) -> bool:
    """True for coroutine functions, also behind decorators and bound methods, and for objects
    whose ``__call__`` is one."""
    if inspect.iscoroutinefunction(fn):
        return True
    if type(fn) is types.FunctionType and not hasattr(fn, "__wrapped__"):
        return False  # a plain function (every sampled call's wrapper): nothing to look behind
    if inspect.iscoroutinefunction(_unwrapped(fn)):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - we want the bound method, not callable()
    return call is not None and (
        inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(_unwrapped(call))
    )


def callable_name(fn: Any) -> str:
    """``module.qualname`` of what is really called: stable across runs, shown in errors."""
    target = _unwrapped(fn)
    if not (inspect.isfunction(target) or inspect.ismethod(target) or inspect.isbuiltin(target)):
        target = type(target)
    module = getattr(target, "__module__", None) or "?"
    qualname = getattr(target, "__qualname__", None) or repr(target)
    return f"{module}.{qualname}"


def sample_seed(run_seed: int, test: str, item: str, sample: int) -> int:
    """A seed for one sample, the same in every run with the same ``--hotmess-seed``.

    Derived with SHA-256 from the run seed, the test's node id, the item and the sample index,
    and kept below 2**31 so that every seeded API (numpy, ``random``, provider ``seed``) takes it.
    """
    text = f"{run_seed}\0{test}\0{item}\0{sample}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big") & 0x7FFF_FFFF


def _declared(fn: Callable[..., Any]) -> tuple[str, ...]:
    """Which of :data:`EXTRA_PARAMETERS` ``fn`` declares by name (``**kwargs`` does not count)."""
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return ()
    passable = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return tuple(
        name
        for name in EXTRA_PARAMETERS
        if name in parameters and parameters[name].kind in passable
    )


@dataclasses.dataclass(frozen=True)
class CallableProfile:
    """What is read once per callable (not per item or sample): its name, the extra parameters
    it declares and whether it is async."""

    name: str
    extras: tuple[str, ...]
    is_async: bool


def profile_of(fn: Callable[..., Any]) -> CallableProfile:
    return CallableProfile(callable_name(fn), _declared(fn), is_async_callable(fn))


def canonical_inputs(value: Any, where: str) -> Any:
    """Plain JSON data for ``value``: dataclasses and pydantic models by their fields, enums by
    their value, tuples as lists; anything else raises :class:`UnkeyableInputError`."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UnkeyableInputError(f"{where} is {value!r}, which JSON cannot hold")
        return value
    if isinstance(value, enum.Enum):
        return canonical_inputs(value.value, where)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise UnkeyableInputError(f"{where} has a non-string key {key!r}")
            out[key] = canonical_inputs(item, f"{where}[{key!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [canonical_inputs(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return canonical_inputs({"__type__": type(value).__qualname__, **fields}, where)
    dump = getattr(value, "model_dump", None)  # pydantic v2 models
    if callable(dump) and not isinstance(value, type):
        return canonical_inputs(dump(mode="json"), where)
    raise UnkeyableInputError(f"{where} is a {type(value).__name__}, which has no stable key")


def _inputs_key(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any], name: str
) -> Any:
    """The call's arguments (and a partial's bound ones) as canonical JSON, secrets left out."""
    bound_args: tuple[Any, ...] = ()
    bound_kwargs: dict[str, Any] = {}
    while isinstance(fn, functools.partial):
        bound_args = (*fn.args, *bound_args)
        bound_kwargs = {**fn.keywords, **bound_kwargs}
        fn = fn.func
    named = {
        key: value
        for key, value in {**bound_kwargs, **kwargs}.items()
        if key.lower() not in _SECRET_NAMES and key not in EXTRA_PARAMETERS
    }
    try:
        return {
            "args": canonical_inputs([*bound_args, *args], "args"),
            "kwargs": canonical_inputs(named, "kwargs"),
        }
    except UnkeyableInputError as exc:
        raise UnkeyableInputError(
            f"cannot record {name}: its argument {exc}; pass record_key= (JSON data that "
            "identifies the call) or record_key=False to call it even on replay"
        ) from None


def prepare_callable(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    *,
    test: str,
    item: str,
    run_seed: int,
    recorder: CallRecorder | None,
    record_key: Any = None,
    record_model: str | None = None,
    profile: CallableProfile | None = None,
) -> Callable[..., Any]:
    """``fn`` wrapped for sampling one item: extras passed, SDK answers adapted, maybe recorded.

    Raises :class:`UnkeyableInputError` before any call when answers are recorded or replayed
    and the inputs cannot be keyed (``record_key=`` names the call instead; ``False`` opts out).
    """
    profile = profile if profile is not None else profile_of(fn)
    extras, name = profile.extras, profile.name
    key: CallKey | None = None
    if recorder is not None and record_key is not False:
        inputs = (
            _inputs_key(fn, args, kwargs, name)
            if record_key is None
            else {"key": canonical_inputs(record_key, f"record_key of {name}")}
        )
        key = CallKey(test=test, item=item, model=record_model or name, inputs=inputs)

    def extra_kwargs(sample: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if "sample_index" in extras:
            out["sample_index"] = sample
        if "sample_seed" in extras:  # a hash per sample: only for callables that ask for it
            out["sample_seed"] = sample_seed(run_seed, test, item, sample)
        return out

    def before(call_kwargs: dict[str, Any]) -> tuple[int, tuple[bool, Any], dict[str, Any]]:
        sample = current_sample.get() or 0
        held: tuple[bool, Any] = (False, None)
        if recorder is not None and key is not None:
            held = recorder.recall(key, sample)
            if not held[0] and recorder.replaying:
                raise recorder.miss(key, sample)
        if not extras:
            return sample, held, call_kwargs
        return sample, held, {**extra_kwargs(sample), **call_kwargs}

    def after(sample: int, answer: Any, started: float) -> Any:
        answer = adapt_answer(answer, time.perf_counter() - started)
        if recorder is not None and key is not None:
            answer = recorder.store(key, sample, answer)
        return answer

    if profile.is_async:

        async def async_model(*call_args: Any, **call_kwargs: Any) -> Any:
            sample, held, call_kwargs = before(call_kwargs)
            if held[0]:
                return held[1]
            started = time.perf_counter()
            answer = fn(*call_args, **call_kwargs)
            if inspect.isawaitable(answer):
                answer = await answer
            return after(sample, answer, started)

        return async_model

    def model(*call_args: Any, **call_kwargs: Any) -> Any:
        sample, held, call_kwargs = before(call_kwargs)
        if held[0]:
            return held[1]
        started = time.perf_counter()
        answer = fn(*call_args, **call_kwargs)
        if inspect.isawaitable(answer):
            loop = _host_loop.get()
            if loop is None:
                return answer  # sync sampling: the sampler says what to do about it
            answer = asyncio.run_coroutine_threadsafe(_awaited(answer), loop).result()
        return after(sample, answer, started)

    return model
