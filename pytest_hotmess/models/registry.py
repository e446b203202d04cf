"""Which model `hotmess_model` is: built once per run from hotmess.yaml, maybe recorded.

With nothing configured the built-in simulated model answers, so suites run offline. With
``--hotmess-record`` every answer is also stored; with ``--hotmess-replay`` answers come from the
recording and no client ever reaches the network (no API key is needed).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

# The registry is built at every run's configure; the clients (HTTP stacks), the simulator
# (numpy) and the recording wrappers are imported only when a model is first requested.
from .transport import TransportName, resolve_transport

if TYPE_CHECKING:
    from ..config.file import HotmessConfig
    from ..sampling.completion import Model
    from .record_key import ModelIdentity
    from .recording import Recording

__all__ = ["BUILTIN_MODEL", "ModelRegistry", "UnknownModelError"]

BUILTIN_MODEL = "sim"
"""The name of the built-in simulated model, used when no model is chosen."""


class UnknownModelError(LookupError):
    """The chosen model name is neither configured nor built in."""


class ModelRegistry:
    """Builds each named model once and closes them all at the end of the run."""

    def __init__(
        self,
        config: HotmessConfig | None,
        *,
        seed: int,
        record: Recording | None = None,
        replay: Recording | None = None,
        environ: Mapping[str, str] | None = None,
        transport: str = "auto",
        transport_source: str = "transport",
    ) -> None:
        """``transport`` (``auto``, ``httpx`` or ``aiohttp``) is the async transport of every
        HTTP client; ``transport_source`` names where it was set, for the error raised here
        (:class:`~.transport.TransportUnavailableError`) when aiohttp is asked for but missing.
        """
        self._transport: TransportName = resolve_transport(transport, transport_source)
        self._config = config
        self._seed = seed
        self.record = record
        self.replay = replay
        self._environ = os.environ if environ is None else environ
        self._models: dict[str, Model] = {}
        self._lock = threading.Lock()

    @property
    def transport(self) -> TransportName:
        """The async transport model calls use, resolved: ``"httpx"`` or ``"aiohttp"``."""
        return self._transport

    def names(self) -> list[str]:
        configured = list(self._config.models) if self._config is not None else []
        return sorted({*configured, BUILTIN_MODEL})

    def get(self, name: str | None) -> Model:
        """The model called ``name`` (the built-in simulated one for ``None``)."""
        name = name or BUILTIN_MODEL
        with self._lock:
            model = self._models.get(name)
            if model is None:
                model = self._models[name] = self._build(name)
        return model

    def _spec(self, name: str) -> dict[str, Any]:
        if self._config is not None and name in self._config.models:
            return self._config.models[name].spec()
        if name == BUILTIN_MODEL:
            return {"provider": "sim"}
        raise UnknownModelError(
            f"unknown model {name!r}; configured models: {', '.join(self.names())}"
        )

    def _build(self, name: str) -> Model:
        spec = self._spec(name)
        if self.replay is not None:
            # The client is built only for its name and parameters (the recording's key);
            # it never sends a request, so it needs no API key.
            spec = {key: value for key, value in spec.items() if key != "api_key_env"}
        inner = self._client(name, spec)
        if self.replay is not None:
            from .recording import ReplayModel

            params = getattr(inner, "params", None)
            identity = self._identity(spec, inner)
            _close(inner)
            return ReplayModel(
                self.replay,
                name=inner.name,
                params=params if isinstance(params, Mapping) else {},
                identity=identity,
            )
        if self.record is not None:
            from .recording import RecordingModel

            identity = self._identity(spec, inner)
            return RecordingModel(inner, self.record, keep_latency=True, identity=identity)
        return inner

    def _identity(self, spec: Mapping[str, Any], inner: Model) -> ModelIdentity:
        """What a recorded answer is keyed by: never the entry's name. An HTTP client shows its
        provider, base URL, model id and parameters; a simulator is its settings and seed."""
        from .record_key import ModelIdentity, identity_of

        if spec.get("provider") == "sim":
            settings = {
                key: value
                for key, value in spec.items()
                if key not in ("provider", "name", "dataset")
            }
            settings.setdefault("seed", self._seed)
            if spec.get("dataset") is not None:  # its file name: an absolute path differs on CI
                settings["dataset"] = os.path.basename(str(spec["dataset"]))
            return ModelIdentity("sim", "sim", None, settings)
        return identity_of(inner)

    def _client(self, name: str, spec: Mapping[str, Any]) -> Model:
        from .providers import BuildContext, build_model

        context = BuildContext(
            entry=name, environ=self._environ, seed=self._seed, http_transport=self._transport
        )
        return build_model(spec, context)

    def close(self) -> None:
        with self._lock:
            models, self._models = list(self._models.values()), {}
        for model in models:
            _close(model)


def _close(model: object) -> None:
    close = getattr(model, "close", None)
    if callable(close):
        close()
