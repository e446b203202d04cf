"""The one conversion between typed records and JSON-ready builtins, shared by every record.

A record's ``to_plain()`` walks its fields in declaration order (the JSON report's key order);
``from_plain()`` rebuilds it from such data, the nested records and dataclasses (lists, dicts
and optionals of them) found from the field annotations. The analyses computed in ``stats``
(``LengthAnalysis``, ``EnsembleProjection``, ``Change``) are plain frozen dataclasses:
``to_plain_value`` writes them the same way, and ``from_plain_data`` rebuilds them alike.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from ..stats.plain import plain

__all__ = ["PlainRecord", "dataclass_plain", "from_plain_data", "to_plain_value"]

R = TypeVar("R", bound="PlainRecord")
T = TypeVar("T")


def to_plain_value(value: object) -> Any:
    """A field's value as builtins: nested records by their ``to_plain``, the rest by ``plain``."""
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None  # type: ignore[arg-type]
    if value is None or kind is str or kind is int or kind is bool:
        return value
    if kind is list or kind is tuple:
        return [to_plain_value(v) for v in value]  # type: ignore[attr-defined]
    if kind is dict:
        return {str(k): to_plain_value(v) for k, v in value.items()}  # type: ignore[attr-defined]
    if isinstance(value, PlainRecord):
        return value.to_plain()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclass_plain(value)
    if isinstance(value, (list, tuple)):
        return [to_plain_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_plain_value(v) for k, v in value.items()}
    return plain(value)


class _Unusual(Exception):
    """A value ``_asdict_plain`` does not take: the dataclass goes the general way."""


def dataclass_plain(value: object) -> Any:
    """``plain(dataclasses.asdict(value))``, without asdict's deep copies: the analyses'
    dataclasses hold only floats, ints, strings, lists and other dataclasses, which are
    walked directly (anything else sends the whole value the general way)."""
    try:
        return _asdict_plain(value)
    except _Unusual:
        return plain(dataclasses.asdict(value))  # type: ignore[call-overload]


def _asdict_plain(value: object) -> Any:
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None  # type: ignore[arg-type]
    if value is None or kind is str or kind is int or kind is bool:
        return value
    if kind is list or kind is tuple:
        return [_asdict_plain(v) for v in value]  # type: ignore[attr-defined]
    if kind is dict:
        if not all(type(k) is str for k in value):  # type: ignore[attr-defined]
            raise _Unusual
        return {k: _asdict_plain(v) for k, v in value.items()}  # type: ignore[attr-defined]
    names = _DATACLASS_FIELDS.get(kind)
    if names is None:
        if not dataclasses.is_dataclass(kind):
            raise _Unusual
        names = _field_names(kind)
    return {name: _asdict_plain(getattr(value, name)) for name in names}


_DATACLASS_FIELDS: dict[type, tuple[str, ...]] = {}
"""Field names per dataclass, in declaration order (``dataclasses.fields`` is slow to repeat)."""


def _field_names(kind: type) -> tuple[str, ...]:
    names = _DATACLASS_FIELDS.get(kind)
    if names is None:
        names = tuple(field.name for field in dataclasses.fields(kind))
        _DATACLASS_FIELDS[kind] = names
    return names


class PlainRecord:
    """Mixin for record dataclasses: ``to_plain`` and a ``from_plain`` that checks the shape."""

    OMIT_NONE: ClassVar[frozenset[str]] = frozenset()
    """Fields left out of the plain form when None (keys the JSON report shows only if set)."""

    def to_plain(self) -> dict[str, Any]:
        return self.plain_fields({})

    def plain_fields(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """``to_plain`` with the fields named in ``given`` taken from it as they are (a record
        lays out its lists of records itself), without copying the record to replace them."""
        out: dict[str, Any] = {}
        omit = self.OMIT_NONE
        for name in _field_names(type(self)):
            if name in given:
                out[name] = given[name]
                continue
            value = getattr(self, name)
            if value is None:
                if name not in omit:
                    out[name] = None
                continue
            out[name] = to_plain_value(value)
        return out

    @classmethod
    def from_plain(cls: type[R], data: Mapping[str, Any]) -> R:
        """Rebuild from ``to_plain`` output; absent optional keys take their defaults."""
        return _from_fields(cls, data)


def from_plain_data(kind: type[T], data: Any) -> T:
    """A dataclass rebuilt from its plain form (``to_plain_value`` output): a record by its own
    ``from_plain``, any other dataclass field by field, nested dataclasses by annotation."""
    from_plain = getattr(kind, "from_plain", None)
    if from_plain is not None:
        built: T = from_plain(data)
        return built
    return _from_fields(kind, data)


def _from_fields(kind: type[T], data: Any) -> T:
    """``kind`` built field by field from ``data``, nested values by their annotations."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{kind.__name__}: expected an object, got {type(data).__name__}")
    hints = _hints(kind)
    kwargs: dict[str, object] = {}
    for field in dataclasses.fields(kind):  # type: ignore[arg-type]
        if field.name in data:
            kwargs[field.name] = _typed(hints[field.name], data[field.name], kind, field.name)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ValueError(f"{kind.__name__}: missing {field.name!r}")
    return kind(**kwargs)


_HINTS: dict[type, dict[str, Any]] = {}
"""Resolved field annotations per dataclass (``typing.get_type_hints`` is slow to repeat)."""


def _hints(kind: type) -> dict[str, Any]:
    found = _HINTS.get(kind)
    if found is None:
        found = _HINTS[kind] = typing.get_type_hints(kind)
    return found


def _typed(hint: Any, value: Any, owner: type, name: str) -> Any:
    """``value`` with the dataclasses its annotation names rebuilt (lists, dicts, optionals)."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _typed(inner[0], value, owner, name) if len(inner) == 1 else value
    if origin is list:
        if not isinstance(value, list):
            raise ValueError(
                f"{owner.__name__}.{name}: expected a list, got {type(value).__name__}"
            )
        return [_typed(args[0], v, owner, name) for v in value]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ValueError(
                f"{owner.__name__}.{name}: expected an object, got {type(value).__name__}"
            )
        return {str(k): _typed(args[1], v, owner, name) for k, v in value.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return from_plain_data(hint, value)
    return value
