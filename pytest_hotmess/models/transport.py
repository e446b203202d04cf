"""Which httpx transport async model calls use: httpx's own, or aiohttp's through httpx-aiohttp.

Every request goes through an ``httpx`` client; only the async transport under it varies. The
``aiohttp`` one (the optional extra ``pytest-hotmess[aiohttp]``, the layout the OpenAI Python
SDK offers for the same reason) costs less CPU per call at high concurrency. ``auto`` takes it
when it is installed. Nothing here imports httpx or aiohttp: the choice is resolved when the
plugin configures a run, which must stay cheap.
"""

from __future__ import annotations

import importlib.util
from typing import Literal

from ..config.settings import SettingsError

__all__ = [
    "AIOHTTP_EXTRA",
    "TRANSPORTS",
    "TransportChoice",
    "TransportName",
    "TransportUnavailableError",
    "aiohttp_installed",
    "resolve_transport",
]

TransportChoice = Literal["auto", "httpx", "aiohttp"]
TransportName = Literal["httpx", "aiohttp"]
TRANSPORTS: tuple[TransportChoice, ...] = ("auto", "httpx", "aiohttp")
AIOHTTP_EXTRA = "pytest-hotmess[aiohttp]"


class TransportUnavailableError(SettingsError):
    """The transport asked for is not installed; the message names the setting and the extra."""


def aiohttp_installed() -> bool:
    """Whether ``httpx_aiohttp`` (and aiohttp under it) can be imported, without importing them."""
    return all(importlib.util.find_spec(name) is not None for name in ("httpx_aiohttp", "aiohttp"))


def resolve_transport(choice: str, source: str = "transport") -> TransportName:
    """The transport ``choice`` stands for; ``source`` says where the choice came from."""
    if choice == "auto":
        return "aiohttp" if aiohttp_installed() else "httpx"
    if choice == "httpx":
        return "httpx"
    if choice == "aiohttp":
        if not aiohttp_installed():
            raise TransportUnavailableError(
                f"{source}: the aiohttp transport needs the httpx-aiohttp package; install it "
                f"with: pip install '{AIOHTTP_EXTRA}' (or choose auto or httpx)"
            )
        return "aiohttp"
    raise SettingsError(f"{source}: expected one of {', '.join(TRANSPORTS)}, got {choice!r}")
