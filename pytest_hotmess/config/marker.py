"""The ``coherence`` marker: its signature, and validation into a :class:`CoherenceSpec`.

Validation happens at collection so that a typo in a threshold is a usage error that names the
test and the argument, before any model call is paid for.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from ..stats.kinds import Estimator, LossName

__all__ = [
    "DEFAULT_CONFIDENCE",
    "MARKER_HELP",
    "THRESHOLDS",
    "UNSETTABLE",
    "CoherenceSpec",
    "MarkerError",
    "parse_marker_kwargs",
]

DEFAULT_CONFIDENCE = 0.95
"""The interval level when neither the marker nor the run sets a confidence."""

THRESHOLDS = ("max_incoherence", "max_bias", "max_variance", "max_error")
"""Threshold names, in report order."""

ESTIMATORS: tuple[Estimator, ...] = ("unbiased", "plugin", "jackknife", "bootstrap")

MARKER_HELP = (
    "coherence(max_incoherence=None, max_bias=None, max_variance=None, max_error=None, "
    "samples=None, loss=None, estimator=None, confidence=None, max_samples=None, "
    "max_incoherence_slope=None, call_timeout=None): gate the test on the bias/variance split "
    "of the model outcomes it samples through the `resample` fixture. Thresholds compare the "
    "aggregate over the test's items; `samples` is K (>= 2); `loss` names the loss for "
    "categorical and distribution outcomes (default 'brier'; e.g. 'kl'); `estimator` is "
    "'unbiased', 'plugin' or 'jackknife'; `confidence` in (0, 1) switches to the statistical "
    "gate; `max_samples` makes K adaptive (sequential sampling in resample.map); "
    "`max_incoherence_slope` gates the rise of incoherence per doubling of reasoning length; "
    "`call_timeout` (seconds) fails a model call that takes longer. A threshold given as None "
    "unsets what an outer marker or hotmess.yaml set."
)


class MarkerError(ValueError):
    """A ``coherence`` marker argument is wrong; the message names the argument."""


@dataclasses.dataclass(frozen=True)
class CoherenceSpec:
    """What one test's ``coherence`` marker asks for; ``None`` means "not set here"."""

    max_incoherence: float | None = None
    max_bias: float | None = None
    max_variance: float | None = None
    max_error: float | None = None
    samples: int | None = None
    loss: LossName | None = None
    estimator: Estimator | None = None
    confidence: float | None = None
    max_samples: int | None = None
    max_incoherence_slope: float | None = None
    call_timeout: float | None = None
    """Seconds one model call may take before it counts as failed."""

    def thresholds(self) -> dict[str, float]:
        """The thresholds that are set (the slope last), in report order."""
        found = {name: getattr(self, name) for name in (*THRESHOLDS, "max_incoherence_slope")}
        return {name: value for name, value in found.items() if value is not None}

    def target_thresholds(self) -> list[str]:
        """The thresholds set here that are only defined against a target."""
        names = ("max_incoherence", "max_bias", "max_error", "max_incoherence_slope")
        return [name for name in names if getattr(self, name) is not None]

    def check(self) -> None:
        """Arguments that are fine alone but contradict each other."""
        samples, most = self.samples, self.max_samples
        if samples is not None and most is not None and most < samples:
            raise MarkerError(f"max_samples ({most}) must be at least samples ({samples})")

    cleared: frozenset[str] = frozenset()
    """Thresholds set to ``None`` here on purpose: unset, whatever a farther marker or
    hotmess.yaml rule says."""
    from_file: frozenset[str] = frozenset()
    """Thresholds that came from a hotmess.yaml rule rather than a marker: one that needs
    targets is skipped (with a note) for a test without targets instead of failing it."""

    def without(self, names: list[str]) -> CoherenceSpec:
        """This spec with the named arguments unset."""
        values: dict[str, Any] = {name: getattr(self, name) for name in _FIELDS}
        values.update(dict.fromkeys(names))
        return CoherenceSpec(**values, cleared=self.cleared, from_file=self.from_file)

    def merged_over(self, base: CoherenceSpec) -> CoherenceSpec:
        """This spec, with the fields it leaves unset (and has not cleared) taken from ``base``."""
        values: dict[str, Any] = {}
        from_file = set()
        for name in _FIELDS:
            mine = getattr(self, name)
            owner = self if mine is not None or name in self.cleared else base
            values[name] = getattr(owner, name)
            if name in owner.from_file and values[name] is not None:
                from_file.add(name)
        cleared = self.cleared | {n for n in base.cleared if getattr(self, n) is None}
        return CoherenceSpec(**values, cleared=frozenset(cleared), from_file=frozenset(from_file))


def _real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MarkerError(f"{name} must be a real number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise MarkerError(f"{name} must be finite, got {value!r}")
    return number


def _validate(name: str, value: Any) -> Any:
    if name == "max_incoherence":
        number = _real(name, value)
        if not 0.0 <= number <= 1.0:
            raise MarkerError(f"max_incoherence must lie in [0, 1], got {value!r}")
        return number
    if name in ("max_bias", "max_variance", "max_error"):
        number = _real(name, value)
        if number < 0:
            raise MarkerError(f"{name} must be >= 0, got {value!r}")
        return number
    if name in ("samples", "max_samples"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 2:
            raise MarkerError(f"{name} must be an integer >= 2, got {value!r}")
        return value
    if name == "max_incoherence_slope":
        return _real(name, value)
    if name == "call_timeout":
        number = _real(name, value)
        if number <= 0:
            raise MarkerError(f"call_timeout must be a number of seconds > 0, got {value!r}")
        return number
    if name == "loss":
        # the registry brings numpy; only a marker that names a loss pays for it here
        from ..stats.losses import selectable_losses

        names = selectable_losses()
        if value not in names:
            raise MarkerError(f"loss must be one of {', '.join(map(repr, names))}, got {value!r}")
        return value
    if name == "estimator":
        if value not in ESTIMATORS:
            raise MarkerError(
                f"estimator must be one of {', '.join(map(repr, ESTIMATORS))}, got {value!r}"
            )
        return value
    if name == "confidence":
        number = _real(name, value)
        if not 0.0 < number < 1.0:
            raise MarkerError(f"confidence must lie strictly between 0 and 1, got {value!r}")
        return number
    raise AssertionError(name)  # pragma: no cover - guarded by the caller


_FIELDS = tuple(
    f.name for f in dataclasses.fields(CoherenceSpec) if f.name not in ("cleared", "from_file")
)
"""The marker's arguments."""
UNSETTABLE = (*THRESHOLDS, "max_incoherence_slope")
"""Arguments whose ``None`` on a marker unsets a value that a farther marker or the file set."""


def parse_marker_kwargs(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> CoherenceSpec:
    """Validate one marker's arguments.

    ``None`` means "not set" except for a threshold, where it unsets what a farther marker or a
    hotmess.yaml rule set (``cleared``).
    """
    if args:
        raise MarkerError(
            f"takes keyword arguments only, got positional {', '.join(map(repr, args))}"
        )
    unknown = sorted(set(kwargs) - set(_FIELDS))
    if unknown:
        raise MarkerError(
            f"unknown argument(s) {', '.join(unknown)}; expected some of {', '.join(_FIELDS)}"
        )
    values = {name: _validate(name, value) for name, value in kwargs.items() if value is not None}
    cleared = frozenset(n for n in UNSETTABLE if n in kwargs and kwargs[n] is None)
    spec = CoherenceSpec(**values, cleared=cleared)
    spec.check()
    return spec
