"""Registers the run options with pytest and reads them back for :mod:`..config.settings`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from ..config.settings import OPTIONS, RawOptions, Settings, SettingsError, resolve_settings

__all__ = ["add_options", "read_settings"]


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("hotmess", "coherence gating (pytest-hotmess)")
    for option in OPTIONS:
        sources = " ".join([f"[env {option.env_var}]", *(f"[{n}]" for n in option.fallback_env)])
        if option.kind == "flag":
            group.addoption(
                option.flag,
                *option.alias_flags,
                dest=option.ini,
                default=None,
                action="store_const",
                const="true",
                help=f"{option.help} {sources}",
            )
        else:
            repeat = " (repeatable)" if option.kind == "list" else ""
            group.addoption(
                option.flag,
                *option.alias_flags,
                dest=option.ini,
                default=None,
                metavar=option.metavar,
                action="append" if option.kind == "list" else "store",
                help=f"{option.help} {sources}{repeat}",
            )
        parser.addini(option.ini, help=option.help, type=option.ini_type, default=None)  # type: ignore[arg-type]


def read_settings(
    config: pytest.Config, file_values: Mapping[str, tuple[Any, str]] | None = None
) -> Settings:
    """The run's settings: CLI > environment > ini > hotmess.yaml > default; a bad value is a
    usage error naming its source."""
    raw = RawOptions(
        cli={option.name: config.getoption(option.ini) for option in OPTIONS},
        ini={option.name: config.getini(option.ini) for option in OPTIONS},
        inifile=str(config.inipath) if config.inipath else None,
        invocation_dir=config.invocation_params.dir,
        rootdir=config.rootpath,
    )
    try:
        return resolve_settings(raw, file_values)
    except SettingsError as exc:
        raise pytest.UsageError(f"pytest-hotmess: {exc}") from None
