"""Kind inference, validation and normalisation of one item's outcomes.

The engine needs to know what an outcome *is* before it can pick a loss. This module turns
the raw outcomes of one item (whatever ``extract`` returned, K times) into arrays the
decomposition cores understand, and rejects anything it cannot interpret with an error that
names the item and the problem.

**Kind inference.** An explicit ``kind=`` always wins. Otherwise the kind comes from the
first valid (non-invalid) outcome, falling back to the target when every outcome is invalid:

- ``bool`` / ``numpy.bool_`` -> ``binary``;
- ``float`` / numpy floating (any non-integral real number) -> ``numeric``;
- ``str``, ``int``, ``bytes``, ``enum.Enum`` and tuples of labels -> ``categorical`` (ints
  are labels: a numeric answer needs floats or ``kind="numeric"``). Any other object (an SDK
  response, say) is an error naming its type: it would give every sample a label of its own
  and a confident, meaningless verdict. ``kind="categorical"`` accepts any hashable label;
- a ``Mapping`` label -> probability -> ``distribution``;
- a sequence or 1-d array of bools -> ``coverage``;
- a sequence or 1-d array of numbers -> ``vector`` (a float vector is a distribution only
  with ``kind="distribution"`` or a loss that reads vectors as distributions, ``loss="kl"``);
- every outcome invalid and no usable target -> ``categorical``.

With an inferred kind every valid outcome must have that same kind (``[0.5, 1]`` mixes a
number and a label and is rejected; ``kind="numeric"`` accepts it).

**Invalid outcomes** (the ``INVALID`` sentinel; ``None`` is read as ``INVALID`` because that
is what a failed ``extract`` returns) are never dropped silently and are always counted:

- categorical: a wrong category of their own, labelled ``"<invalid>"``;
- binary: a ``False``; coverage: every check ``False`` (they stay in K);
- numeric, vector, distribution: there is no natural wrong value, so they are left out of
  the estimate; the item uses its remaining valid samples, which must still be at least 2.

**Targets.** ``NOTHING`` means a variance-only item, except for binary (target ``True``) and
coverage (target: every check ``True``), whose pass/fail outcomes carry their own target.
``None`` is not a target. Categorical targets are labels (a float is rejected); a
distribution target is a label of its label set, an index for bare probability vectors, or
a soft target (a mapping or a probability vector).

**Losses** come from the registry in ``losses``: a named loss must fit the kind, and
``loss=None`` picks the kind's default loss (docs/statistics.md, 'Losses').
"""

from __future__ import annotations

import dataclasses
import enum
import math
import numbers
from collections.abc import Hashable, Mapping, Sequence
from typing import Final, cast, get_args

import numpy as np
from numpy.typing import NDArray

from .kinds import INVALID, INVALID_LABEL, NOTHING, Estimator, Kind, LossName
from .losses import LOSSES, default_loss

__all__ = [
    "ESTIMATORS",
    "KINDS",
    "PROBABILITY_TOLERANCE",
    "ItemError",
    "ItemTypeError",
    "PreparedItem",
    "check_estimator",
    "infer_kind",
    "is_invalid",
    "label_name",
    "prepare_item",
    "resolve_loss",
]

KINDS: Final[tuple[Kind, ...]] = get_args(Kind)
ESTIMATORS: Final[tuple[Estimator, ...]] = get_args(Estimator)

PROBABILITY_TOLERANCE: Final = 1e-6
"""How far a probability vector's sum may stray from 1."""


class ItemError(ValueError):
    """An item's outcomes, target or settings cannot be estimated; says which item and why."""

    def __init__(self, item_id: str, problem: str) -> None:
        super().__init__(f"item {item_id!r}: {problem}")
        self.item_id = item_id
        self.problem = problem


class ItemTypeError(ItemError, TypeError):
    """An outcome or target has a type the engine cannot interpret."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Fields:
    """What a per-kind normaliser finds; ``PreparedItem`` adds the kind-independent settings."""

    k: int
    has_target: bool
    target_json: object
    counts: NDArray[np.int64] | None = None
    target_index: int | None = None
    samples: NDArray[np.float64] | None = None
    target_values: NDArray[np.float64] | None = None
    counts_json: dict[str, int] | None = None
    outcomes_json: list[object] | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class PreparedItem(_Fields):
    """One item, validated and turned into the arrays the decomposition cores take.

    ``counts``/``target_index`` are set for categorical items, ``samples``/``target_values``
    for the others (shape ``(K,)`` for binary and numeric, ``(K, D)`` otherwise).
    ``target_values`` is ``None`` for a variance-only item.
    """

    item_id: str
    kind: Kind
    loss: LossName
    estimator: Estimator
    weight: float
    invalid: int


# ----------------------------------------------------------------------------------------
# small predicates


def is_invalid(outcome: object) -> bool:
    """``INVALID`` and ``None`` (a failed ``extract``) are invalid outcomes."""
    return outcome is INVALID or outcome is None


def _is_bool(value: object) -> bool:
    return isinstance(value, (bool, np.bool_))


def _is_integral(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not _is_bool(value)


def _is_real(value: object) -> bool:
    """A real number that is not a bool (ints included)."""
    return isinstance(value, numbers.Real) and not _is_bool(value)


def _is_float_like(value: object) -> bool:
    return _is_real(value) and not isinstance(value, numbers.Integral)


def _plain_scalar(value: object) -> object:
    """numpy scalars become their Python twins so labels compare, hash and print as users expect."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def label_name(label: object) -> str:
    """How a label is named in counts and reports (``"<invalid>"`` for invalid outcomes)."""
    if is_invalid(label):
        return INVALID_LABEL
    if isinstance(label, enum.Enum):
        return label.name
    return str(label)


def _label_json(label: object) -> object:
    """A label as JSON: str/int/bool stay themselves, anything else becomes its name."""
    label = _plain_scalar(label)
    if isinstance(label, (str, bool, int)) and not isinstance(label, enum.Enum):
        return label
    return label_name(label)


def _short(value: object) -> str:
    if isinstance(value, int) and value.bit_length() > 200:  # repr of a huge int is slow or fails
        digits = math.floor((value.bit_length() - 1) * math.log10(2)) + 1
        return f"<{'a negative' if value < 0 else 'an'} integer of {digits}+ digits>"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _as_float(value: object, item_id: str, what: str) -> float:
    """``float(value)``, with an ItemError naming the item and value when it does not fit."""
    try:
        return float(cast(float, value))
    except OverflowError:
        raise ItemError(
            item_id,
            f"{what} {_short(value)} is too large for a float (the largest is about 1.8e308)",
        ) from None


# ----------------------------------------------------------------------------------------
# kind inference


def _is_label(value: object) -> bool:
    """A categorical label without ``kind=``: str, int, bool, bytes, Enum, or a tuple of them."""
    exact = type(value)
    if exact is str or exact is int or exact is bool:
        return True
    if isinstance(value, (str, bytes, enum.Enum)) or _is_bool(value) or _is_integral(value):
        return True
    return isinstance(value, tuple) and all(_is_label(v) for v in value)


def _type_name(value: object) -> str:
    kind = type(value)
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def _not_a_label(value: object, item_id: str, what: str = "an outcome") -> ItemTypeError:
    # the type, not the repr: an SDK response's repr can be long and hold request details
    return ItemTypeError(
        item_id,
        f"{what} of type {_type_name(value)} is not a label: categorical labels are str, "
        "int, bool, bytes, Enum or tuples of them; extract a label from it (extract=...), or pass "
        "kind='categorical' to take such objects as labels",
    )


def _sequence_kind(values: Sequence[object], item_id: str, strict: bool) -> Kind:
    if len(values) == 0:
        raise ItemError(item_id, "an outcome is an empty vector")
    bools = [_is_bool(v) for v in values]
    reals = [_is_real(v) for v in values]
    if all(bools):
        return "coverage"
    if all(reals):
        return "vector"
    if all(b or r for b, r in zip(bools, reals, strict=True)):
        raise ItemTypeError(item_id, f"outcome {_short(values)} mixes bools and numbers")
    if _is_label(values) or (not strict and isinstance(values, Hashable)):
        return "categorical"  # a tuple of labels is one label
    if isinstance(values, tuple) and isinstance(values, Hashable):
        element = next(v for v in values if not _is_label(v))
        raise _not_a_label(element, item_id, "an element of a tuple outcome")
    raise ItemTypeError(item_id, f"outcome {_short(values)} is neither numbers nor bools")


def _value_kind(value: object, item_id: str, strict: bool = True) -> Kind:
    """The kind a single (valid) outcome or target suggests.

    ``strict``: only :func:`_is_label` values are categorical (an inferred kind); without it
    (an explicit ``kind=``) any hashable object is.
    """
    exact = type(value)  # exact-type fast path: the common cases skip the ABC checks below
    if exact is str or exact is int:
        return "categorical"
    if exact is float:
        return "numeric"
    if _is_bool(value):
        return "binary"
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return _value_kind(value.item(), item_id, strict)
        if value.ndim != 1:
            raise ItemTypeError(item_id, f"an outcome is a {value.ndim}-d array; use 1-d arrays")
        if value.size == 0:
            raise ItemError(item_id, "an outcome is an empty vector")
        if value.dtype.kind == "b":
            return "coverage"
        if value.dtype.kind in "iuf":
            return "vector"
        raise ItemTypeError(item_id, f"an outcome is an array of dtype {value.dtype}")
    if isinstance(value, Mapping):
        return "distribution"
    if isinstance(value, (str, bytes, enum.Enum)):
        return "categorical"
    if isinstance(value, numbers.Number):
        if isinstance(value, numbers.Integral):
            return "categorical"
        if isinstance(value, numbers.Real):
            return "numeric"
        raise ItemTypeError(item_id, f"outcome {_short(value)} is not a real number")
    if isinstance(value, (list, tuple)):
        return _sequence_kind(value, item_id, strict)
    if isinstance(value, Hashable):
        if strict:
            raise _not_a_label(value, item_id)
        return "categorical"
    raise ItemTypeError(
        item_id, f"outcome {_short(value)} of type {type(value).__name__} is unsupported"
    )


def infer_kind(
    outcomes: Sequence[object],
    target: object = NOTHING,
    *,
    loss: LossName | None = None,
    item_id: str = "item",
) -> Kind:
    """The outcome kind by the rules in the module docstring (first valid outcome, then target)."""
    kind: Kind | None = None
    for outcome in outcomes:
        if not is_invalid(outcome):
            kind = _value_kind(outcome, item_id)
            break
    if kind is None:
        if target is NOTHING or target is None:
            return "categorical"
        try:
            kind = _value_kind(target, item_id)
        except (TypeError, ValueError):
            return "categorical"
    named = LOSSES.get(loss) if isinstance(loss, str) else None
    if kind == "vector" and named is not None and named.vectors_are_distributions:
        return "distribution"
    return kind


# ----------------------------------------------------------------------------------------
# settings


def check_estimator(estimator: object, item_id: str = "item") -> Estimator:
    if estimator not in ESTIMATORS:
        raise ItemError(
            item_id, f"unknown estimator {estimator!r}; use one of {', '.join(ESTIMATORS)}"
        )
    return estimator


def _check_kind(kind: object, item_id: str) -> Kind:
    if kind not in KINDS:
        raise ItemError(item_id, f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    return kind


def _check_loss_name(loss: object, item_id: str) -> LossName:
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ItemError(item_id, f"unknown loss {loss!r}; use one of {', '.join(LOSSES)}")
    return loss


def resolve_loss(kind: Kind, loss: object, item_id: str = "item") -> LossName:
    """``loss`` checked against ``kind``; ``None`` means the kind's default."""
    if loss is None:
        return default_loss(kind).name
    name = _check_loss_name(loss, item_id)
    fitting = LOSSES[name].kinds
    if kind not in fitting:
        hint = " (pass kind='distribution' for probability vectors)" if kind == "vector" else ""
        raise ItemError(
            item_id,
            f"loss {loss!r} does not fit {kind} outcomes; it needs {' or '.join(fitting)}{hint}",
        )
    return name


def _check_weight(weight: object, item_id: str) -> float:
    if not _is_real(weight):
        raise ItemTypeError(item_id, f"weight must be a number, got {_short(weight)}")
    value = _as_float(weight, item_id, "weight")
    if not math.isfinite(value) or value < 0:
        raise ItemError(item_id, f"weight must be finite and >= 0, got {value!r}")
    return value


def _check_finite_real(value: object, item_id: str, what: str) -> float:
    if type(value) is float:  # exact-type fast path (a float subclass takes the full check)
        if not math.isfinite(value):
            raise ItemError(item_id, f"{what} is {value!r}; NaN and infinity are not allowed")
        return value
    if not _is_real(value):
        raise ItemTypeError(item_id, f"{what} {_short(value)} is not a number")
    number = _as_float(value, item_id, what)
    if not math.isfinite(number):
        raise ItemError(item_id, f"{what} is {number!r}; NaN and infinity are not allowed")
    return number


# ----------------------------------------------------------------------------------------
# per-kind normalisers


@dataclasses.dataclass
class _Split:
    """The outcomes of one item, split into valid ones (with their positions) and invalid ones."""

    valid: list[object]
    positions: list[int]
    invalid: int
    total: int


def _split(outcomes: list[object]) -> _Split:
    valid = [o for o in outcomes if not is_invalid(o)]
    positions = [i for i, o in enumerate(outcomes) if not is_invalid(o)]
    return _Split(valid, positions, len(outcomes) - len(valid), len(outcomes))


_EXPLICIT_ACCEPTS: Final[dict[Kind, tuple[Kind, ...]]] = {
    "categorical": ("categorical", "binary"),
    "binary": ("binary",),
    "numeric": ("numeric",),
    "vector": ("vector",),
    "coverage": ("coverage",),
    "distribution": ("distribution", "vector"),
}


def _check_kinds(split: _Split, kind: Kind, explicit: bool, item_id: str) -> None:
    """Every valid outcome must have the item's kind (explicit kinds accept a few more)."""
    for position, value in zip(split.positions, split.valid, strict=True):
        found = _value_kind(value, item_id, strict=not explicit)
        if explicit:
            accepted = found in _EXPLICIT_ACCEPTS[kind] or (
                kind == "numeric" and _is_integral(_plain_scalar(value))
            )
        else:  # loss="kl" makes float vectors distributions
            accepted = found == kind or (kind == "distribution" and found == "vector")
        if not accepted:
            raise ItemError(
                item_id,
                f"mixed kinds: outcome #{position} {_short(value)} is {found}, but the item is "
                f"{kind}" + ("" if explicit else " (pass kind=... to choose)"),
            )


def _require_k(count: int, item_id: str, note: str = "") -> None:
    if count < 2:
        raise ItemError(item_id, f"K={count} usable samples{note}; a variance needs K >= 2")


class _LabelSet:
    """Ordered labels with unique report names (``1`` and ``"1"`` would collide)."""

    def __init__(self, item_id: str) -> None:
        self.item_id = item_id
        self.labels: list[object] = []
        self.index: dict[object, int] = {}
        self.names: dict[str, object] = {}

    def add(self, label: object) -> int:
        if label in self.index:
            return self.index[label]
        name = label_name(label)
        if name in self.names:
            raise ItemError(
                self.item_id,
                f"labels {_short(self.names[name])} and {_short(label)} share the name {name!r}",
            )
        self.index[label] = len(self.labels)
        self.names[name] = label
        self.labels.append(label)
        return self.index[label]

    def __contains__(self, label: object) -> bool:
        return label in self.index

    def __len__(self) -> int:
        return len(self.labels)


def _as_label(value: object, item_id: str, what: str) -> object:
    exact = type(value)
    if exact is str or exact is int:  # exact-type fast path: already a plain, hashable label
        return value
    value = _plain_scalar(value)
    if _is_float_like(value):
        raise ItemError(item_id, f"{what} {_short(value)} is a float, not a class label")
    if isinstance(value, (Mapping, list, np.ndarray)) or (
        isinstance(value, numbers.Number) and not isinstance(value, numbers.Real)
    ):
        raise ItemTypeError(item_id, f"{what} {_short(value)} is not a class label")
    try:
        hash(value)
    except TypeError:
        raise ItemTypeError(item_id, f"{what} {_short(value)} is not a hashable label") from None
    return value


def _given_labels(labels: Sequence[object] | None, item_id: str) -> _LabelSet | None:
    if labels is None:
        return None
    if isinstance(labels, (str, bytes, Mapping)):
        raise ItemTypeError(item_id, "labels must be a sequence of labels")
    given = _LabelSet(item_id)
    for raw in labels:
        label = _as_label(raw, item_id, "label")
        if is_invalid(label) or label == INVALID_LABEL:
            raise ItemError(item_id, f"{INVALID_LABEL!r} is reserved for invalid outcomes")
        if label in given:
            raise ItemError(item_id, f"label {_short(label)} is listed twice")
        given.add(label)
    if len(given) == 0:
        raise ItemError(item_id, "labels is empty")
    return given


def _categorical(
    split: _Split, target: object, labels: Sequence[object] | None, item_id: str, strict: bool
) -> _Fields:
    _require_k(split.total, item_id)
    given = _given_labels(labels, item_id)
    columns = given if given is not None else _LabelSet(item_id)
    observed: list[int] = []
    for position, raw in zip(split.positions, split.valid, strict=True):
        label = _as_label(raw, item_id, f"outcome #{position}")
        if given is not None and label not in given:
            raise ItemError(item_id, f"outcome #{position} {_short(label)} is not among labels")
        observed.append(columns.add(label))
    target_index: int | None = None
    target_json: object = None
    if target is not NOTHING:
        if is_invalid(target):
            raise ItemError(item_id, f"target {target!r} is not a label; omit it for no target")
        label = _as_label(target, item_id, "target")
        if strict and not _is_label(label):
            raise _not_a_label(label, item_id, "the target")
        if given is not None and label not in given:
            raise ItemError(item_id, f"target {_short(label)} is not among labels")
        target_index = columns.add(label)
        target_json = _label_json(label)
    if split.invalid:
        observed += [columns.add(INVALID)] * split.invalid
    counts = np.bincount(np.array(observed, dtype=np.int64), minlength=len(columns)).astype(
        np.int64
    )
    return _Fields(
        k=split.total,
        counts=counts,
        target_index=target_index,
        has_target=target_index is not None,
        target_json=target_json,
        counts_json={
            label_name(lab): int(n) for lab, n in zip(columns.labels, counts, strict=True)
        },
    )


def _binary(split: _Split, target: object, item_id: str) -> _Fields:
    _require_k(split.total, item_id)
    if target is NOTHING:
        goal = True
    elif _is_bool(target):
        goal = bool(cast(bool, target))
    else:
        raise ItemTypeError(item_id, f"a binary target must be a bool, got {_short(target)}")
    hits = [bool(cast(bool, v)) for v in split.valid]
    passed = sum(hits)
    samples = np.zeros(split.total, dtype=np.float64)
    samples[: len(hits)] = np.asarray(hits, dtype=np.float64)
    counts = {"True": passed, "False": len(hits) - passed}
    if split.invalid:
        counts[INVALID_LABEL] = split.invalid
    return _Fields(
        k=split.total,
        samples=samples,
        target_values=np.asarray(float(goal)),
        has_target=True,
        target_json=goal,
        counts_json=counts,
    )


def _left_out(split: _Split) -> str:
    return f" ({split.invalid} invalid left out)" if split.invalid else ""


def _numeric(split: _Split, target: object, item_id: str) -> _Fields:
    values = [
        _check_finite_real(v, item_id, f"outcome #{p}")
        for p, v in zip(split.positions, split.valid, strict=True)
    ]
    _require_k(len(values), item_id, _left_out(split))
    goal: float | None = None
    if target is not NOTHING:
        if is_invalid(target):
            raise ItemError(item_id, f"target {target!r} is not a number; omit it for no target")
        goal = _check_finite_real(target, item_id, "target")
    return _Fields(
        k=len(values),
        samples=np.asarray(values, dtype=np.float64),
        outcomes_json=list(values),
        has_target=goal is not None,
        target_values=None if goal is None else np.asarray(goal, dtype=np.float64),
        target_json=goal,
    )


def _float_vector(value: object, item_id: str, what: str) -> NDArray[np.float64]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (Sequence, np.ndarray)):
        raise ItemTypeError(item_id, f"{what} {_short(value)} is not a vector of numbers")
    items = list(value)
    if not items:
        raise ItemError(item_id, f"{what} is an empty vector")
    if not all(_is_real(v) for v in items):
        raise ItemTypeError(item_id, f"{what} {_short(value)} is not a vector of numbers")
    array = np.asarray(
        [_as_float(v, item_id, f"{what} entry #{i}") for i, v in enumerate(items)],
        dtype=np.float64,
    )
    if not np.all(np.isfinite(array)):
        raise ItemError(item_id, f"{what} contains NaN or infinity")
    return array


def _stack(
    rows: list[NDArray[np.float64]], positions: list[int], item_id: str
) -> NDArray[np.float64]:
    width = rows[0].shape[0]
    for position, row in zip(positions, rows, strict=True):
        if row.shape[0] != width:
            raise ItemError(
                item_id,
                f"vectors of different lengths: outcome #{position} has {row.shape[0]}, "
                f"outcome #{positions[0]} has {width}",
            )
    return np.vstack(rows)


def _vector(split: _Split, target: object, item_id: str) -> _Fields:
    rows = [
        _float_vector(v, item_id, f"outcome #{p}")
        for p, v in zip(split.positions, split.valid, strict=True)
    ]
    _require_k(len(rows), item_id, _left_out(split))
    samples = _stack(rows, split.positions, item_id)
    goal: NDArray[np.float64] | None = None
    if target is not NOTHING:
        goal = _float_vector(target, item_id, "target")
        if goal.shape[0] != samples.shape[1]:
            raise ItemError(
                item_id, f"target has length {goal.shape[0]}, outcomes have {samples.shape[1]}"
            )
    return _Fields(
        k=len(rows),
        samples=samples,
        outcomes_json=[row.tolist() for row in rows],
        has_target=goal is not None,
        target_values=goal,
        target_json=None if goal is None else goal.tolist(),
    )


def _bool_vector(value: object, item_id: str, what: str) -> list[bool]:
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind == "b":
        return [bool(v) for v in value]
    if isinstance(value, (list, tuple, np.ndarray)) and all(_is_bool(v) for v in value):
        if len(value) == 0:
            raise ItemError(item_id, f"{what} is an empty vector")
        return [bool(cast(bool, v)) for v in value]
    raise ItemTypeError(item_id, f"{what} {_short(value)} is not a vector of bools")


def _coverage(split: _Split, target: object, item_id: str) -> _Fields:
    _require_k(split.total, item_id)
    rows = [
        _bool_vector(v, item_id, f"outcome #{p}")
        for p, v in zip(split.positions, split.valid, strict=True)
    ]
    goal: list[bool] | None = None
    if target is not NOTHING:
        goal = _bool_vector(target, item_id, "target")
    if rows:
        width = len(rows[0])
    elif goal is not None:
        width = len(goal)
    else:
        raise ItemError(item_id, "every outcome is invalid, so the number of checks is unknown")
    rows += [[False] * width for _ in range(split.invalid)]
    samples = _stack(
        [np.asarray(r, dtype=np.float64) for r in rows],
        split.positions + [-1] * split.invalid,
        item_id,
    )
    if goal is None:
        goal = [True] * width
    if len(goal) != width:
        raise ItemError(item_id, f"target has {len(goal)} checks, outcomes have {width}")
    return _Fields(
        k=split.total,
        samples=samples,
        target_values=np.asarray(goal, dtype=np.float64),
        has_target=True,
        target_json=goal,
        outcomes_json=[list(r) for r in rows],
    )


def _check_probabilities(probs: NDArray[np.float64], item_id: str, what: str) -> None:
    if np.any(probs < 0):
        raise ItemError(item_id, f"{what} has a negative probability")
    total = float(probs.sum())
    if abs(total - 1.0) > PROBABILITY_TOLERANCE:
        raise ItemError(item_id, f"{what} sums to {total!r}, not 1 (tolerance 1e-6)")


def _mapping_probs(
    value: Mapping[object, object], columns: _LabelSet, fixed: bool, item_id: str, what: str
) -> dict[int, float]:
    probs: dict[int, float] = {}
    for raw_label, raw_prob in value.items():
        label = _as_label(raw_label, item_id, f"a label of {what}")
        if label not in columns:
            if fixed:
                raise ItemError(
                    item_id, f"{what} has label {_short(label)} absent from the label set"
                )
            columns.add(label)
        probs[columns.index[label]] = _check_finite_real(
            raw_prob, item_id, f"a probability of {what}"
        )
    return probs


def _dense(probs: dict[int, float], width: int) -> NDArray[np.float64]:
    row = np.zeros(width, dtype=np.float64)
    for column, prob in probs.items():
        row[column] = prob
    return row


def _distribution(
    split: _Split, target: object, labels: Sequence[object] | None, item_id: str
) -> _Fields:
    given = _given_labels(labels, item_id)
    forms = {isinstance(v, Mapping) for v in split.valid}
    if len(forms) > 1:
        raise ItemError(item_id, "mixed kinds: some outcomes are mappings, others vectors")
    mapping_form = forms == {True} or (not forms and isinstance(target, Mapping))
    columns = given if given is not None else _LabelSet(item_id)
    outcomes_json: list[object]
    if mapping_form:
        sparse = [
            _mapping_probs(
                cast(Mapping[object, object], v),
                columns,
                given is not None,
                item_id,
                f"outcome #{p}",
            )
            for p, v in zip(split.positions, split.valid, strict=True)
        ]
        _require_k(len(sparse), item_id, _left_out(split))
        samples = np.vstack([_dense(s, len(columns)) for s in sparse])
        outcomes_json = [{label_name(columns.labels[c]): p for c, p in s.items()} for s in sparse]
    else:
        rows = [
            _float_vector(v, item_id, f"outcome #{p}")
            for p, v in zip(split.positions, split.valid, strict=True)
        ]
        _require_k(len(rows), item_id, _left_out(split))
        samples = _stack(rows, split.positions, item_id)
        if given is not None and len(given) != samples.shape[1]:
            raise ItemError(
                item_id, f"{len(given)} labels given for vectors of length {samples.shape[1]}"
            )
        outcomes_json = [row.tolist() for row in rows]
    for position, row in zip(split.positions, samples, strict=True):
        _check_probabilities(row, item_id, f"outcome #{position}")
    goal: NDArray[np.float64] | None = None
    target_json: object = None
    if target is not NOTHING:
        goal, target_json = _distribution_target(
            target, columns, mapping_form, given, samples.shape[1], item_id
        )
    return _Fields(
        k=samples.shape[0],
        samples=samples,
        target_values=goal,
        has_target=goal is not None,
        target_json=target_json,
        outcomes_json=outcomes_json,
    )


def _distribution_target(
    target: object,
    columns: _LabelSet,
    mapping_form: bool,
    given: _LabelSet | None,
    width: int,
    item_id: str,
) -> tuple[NDArray[np.float64], object]:
    """A hard target (label or index) becomes one-hot; a soft one is checked and renormalised."""
    if is_invalid(target):
        raise ItemError(item_id, f"target {target!r} is not a label; omit it for no target")
    if isinstance(target, Mapping):
        if not mapping_form:
            raise ItemTypeError(item_id, "a mapping target needs mapping outcomes")
        probs = _mapping_probs(
            cast(Mapping[object, object], target), columns, True, item_id, "target"
        )
        goal = _dense(probs, len(columns))
        _check_probabilities(goal, item_id, "target")
        soft = {label_name(columns.labels[c]): p for c, p in probs.items()}
        return goal / goal.sum(), soft
    if isinstance(target, (list, tuple, np.ndarray)):
        if mapping_form:
            raise ItemTypeError(item_id, "a vector target needs vector outcomes; use a mapping")
        goal = _float_vector(target, item_id, "target")
        if goal.shape[0] != width:
            raise ItemError(item_id, f"target has length {goal.shape[0]}, outcomes have {width}")
        _check_probabilities(goal, item_id, "target")
        return goal / goal.sum(), goal.tolist()
    label = _as_label(target, item_id, "target")
    if mapping_form or given is not None:
        if label not in columns:
            raise ItemError(item_id, f"target class {_short(label)} is absent from the label set")
        index = columns.index[label]
        json_label = _label_json(label)
    else:
        if not _is_integral(label):
            raise ItemTypeError(
                item_id, f"target {_short(label)} must be a class index for probability vectors"
            )
        index = int(cast(int, label))
        if not 0 <= index < width:
            raise ItemError(item_id, f"target class {index} is outside 0..{width - 1}")
        json_label = index
    goal = np.zeros(width, dtype=np.float64)
    goal[index] = 1.0
    return goal, json_label


# ----------------------------------------------------------------------------------------
# entry point


def prepare_item(
    outcomes: Sequence[object],
    target: object,
    *,
    item_id: str,
    kind: Kind | None,
    loss: LossName | None,
    estimator: Estimator,
    weight: float,
    labels: Sequence[object] | None,
) -> PreparedItem:
    """Validate one item and normalise it for the cores; errors name the item and the problem.

    The settings are those of ``estimate_item``, whose signature holds their defaults.
    """
    if not isinstance(item_id, str):
        raise TypeError(f"item id must be a str, got {item_id!r}")
    if isinstance(outcomes, (str, bytes, Mapping)) or not isinstance(
        outcomes, (Sequence, np.ndarray)
    ):
        raise ItemTypeError(item_id, "outcomes must be a sequence with one entry per sample")
    raw = list(outcomes)
    if not raw:
        raise ItemError(item_id, "empty item: no outcomes")
    checked_kind = None if kind is None else _check_kind(kind, item_id)
    checked_estimator = check_estimator(estimator, item_id)
    checked_weight = _check_weight(weight, item_id)
    if target is None:
        raise ItemError(item_id, "target None is not a target; omit the target for none")
    if loss is not None:
        _check_loss_name(loss, item_id)
    resolved_kind = checked_kind or infer_kind(raw, target, loss=loss, item_id=item_id)
    resolved_loss = resolve_loss(resolved_kind, loss, item_id)
    if labels is not None and resolved_kind not in ("categorical", "distribution"):
        raise ItemError(
            item_id, f"labels apply to categorical and distribution items, not {resolved_kind}"
        )
    split = _split(raw)
    _check_kinds(split, resolved_kind, checked_kind is not None, item_id)
    fields = _normalise(resolved_kind, split, target, labels, item_id, checked_kind is None)
    return PreparedItem(
        item_id=item_id,
        kind=resolved_kind,
        loss=resolved_loss,
        estimator=checked_estimator,
        weight=checked_weight,
        invalid=split.invalid,
        **{field.name: getattr(fields, field.name) for field in dataclasses.fields(fields)},
    )


def _normalise(
    kind: Kind,
    split: _Split,
    target: object,
    labels: Sequence[object] | None,
    item_id: str,
    inferred: bool,
) -> _Fields:
    if kind == "categorical":
        return _categorical(split, target, labels, item_id, strict=inferred)
    if kind == "binary":
        return _binary(split, target, item_id)
    if kind == "numeric":
        return _numeric(split, target, item_id)
    if kind == "vector":
        return _vector(split, target, item_id)
    if kind == "coverage":
        return _coverage(split, target, item_id)
    return _distribution(split, target, labels, item_id)
