"""What configure builds, checked once: the file config, the models, the budget, the baselines.

Every option that cannot work is a usage error here, naming the option and where it was set,
before collection and before any model is called. Each builder takes what it reads and returns
what the run keeps; ``HotmessRun`` calls them in this order, so the first problem reported is
always the same one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ..config.settings import Settings, SettingsError
from ..models.registry import ModelRegistry
from ..reports.baseline import BaselineError, baseline_path, load_baseline
from ..sampling.budget import Budget, Prices
from .errors import usage_error
from .recording import RecordingKeeper

if TYPE_CHECKING:
    from ..config.file import HotmessConfig
    from ..models.recording import Recording
    from ..results.records import RunRecord

__all__ = ["baseline_folder", "check_baselines", "load_file_config", "model_registry", "run_budget"]


def load_file_config(
    config: pytest.Config, path: str | None, source: str | None
) -> HotmessConfig | None:
    """``--hotmess-config``/``hotmess_config``, else ``hotmess.yaml`` at the rootdir.

    Anything named ``hotmess.yaml`` there is read: a directory (or a dangling link) in its
    place is an error naming it, never silently a run without the file.
    """
    if path is None:
        default = config.rootpath / "hotmess.yaml"
        if not (default.exists() or default.is_symlink()):
            return None
        path = str(default)
    elif not Path(path).exists():
        raise usage_error(f"{source or 'config'}: configuration file not found: {path}")
    from ..config.file import ConfigError, load_config  # YAML: only with a file to read
    from ..models.providers import provider_names

    try:
        return load_config(path, providers=provider_names())
    except ConfigError as exc:
        raise usage_error(str(exc)) from None


def model_registry(
    settings: Settings, file_config: HotmessConfig | None, recording: RecordingKeeper
) -> ModelRegistry:
    """The run's models, recording into (or replaying from) the file the options name."""
    sources = settings.sources
    if settings.record and settings.replay:
        raise usage_error(
            "--hotmess-record and --hotmess-replay cannot be used together "
            f"(record from {sources['record']}, replay from {sources['replay']})"
        )
    record: Recording | None = None
    replay: Recording | None = None
    if settings.record:
        record = recording.open(settings.record)
    elif settings.replay:
        from ..models.recording import Recording, RecordingFormatError

        try:
            replay = Recording.load(settings.replay)
        except FileNotFoundError:
            raise usage_error(f"recording to replay not found: {settings.replay}") from None
        except RecordingFormatError as exc:
            raise usage_error(str(exc)) from None
    try:
        registry = ModelRegistry(
            file_config,
            seed=settings.seed,
            record=record,
            replay=replay,
            transport=settings.transport,
            transport_source=settings.sources.get("transport", "transport"),
        )
    except SettingsError as exc:
        raise usage_error(str(exc)) from None
    if settings.model is not None and settings.model not in registry.names():
        raise usage_error(
            f"{sources['model']}: unknown model {settings.model!r}; "
            f"known models: {', '.join(registry.names())}"
        )
    unknown = [name for name in settings.models if name not in registry.names()]
    if unknown:
        raise usage_error(
            f"{sources['models']}: unknown model {unknown[0]!r}; "
            f"known models: {', '.join(registry.names())}"
        )
    return registry


def run_budget(
    config: pytest.Config, settings: Settings, file_config: HotmessConfig | None
) -> Budget:
    """The run's call and cost budget; under xdist each worker gets an equal share."""
    model = settings.model
    workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
    entry = file_config.models.get(model) if file_config and model else None
    prices = None
    if entry is not None and entry.prices:
        prices = Prices(entry.prices.get("input_price", 0.0), entry.prices.get("output_price", 0.0))
    for name in ("max_cost", "max_test_cost"):
        if getattr(settings, name) is not None and prices is None:
            raise usage_error(
                f"{settings.sources[name]}: a cost budget needs token prices; add "
                f"input_price/output_price to the model entry {model or 'sim'!r} in hotmess.yaml"
            )
    calls, retries, wait = settings.max_run_calls, settings.max_retries, settings.max_retry_wait
    return Budget(
        # an equal share per worker, rounded up so that no worker gets nothing
        max_calls=None if calls is None else -(-calls // workers),
        max_cost=None if settings.max_cost is None else settings.max_cost / workers,
        max_retries=None if retries is None else -(-retries // workers),
        max_retry_wait=None if wait is None else wait / workers,
        prices=prices,
        label="run",
    )


def baseline_folder(config: pytest.Config, settings: Settings) -> Path:
    """Where saved baselines live: ``--hotmess-baseline-dir``, else ``.hotmess`` at the rootdir."""
    folder = settings.baseline_dir
    return Path(folder) if folder else config.rootpath / ".hotmess"


def check_baselines(
    settings: Settings, folder: Path, *, is_worker: bool
) -> tuple[Path, RunRecord] | None:
    """The baseline to compare with (controller only), once the names to read and save are ok."""
    baseline = None
    try:
        if settings.compare and not is_worker:
            baseline = load_baseline(settings.compare, folder)
    except BaselineError as exc:
        raise usage_error(f"{settings.sources['compare']}: {exc}") from None
    try:
        if settings.save:
            baseline_path(settings.save, folder)
    except BaselineError as exc:
        raise usage_error(f"{settings.sources['save']}: {exc}") from None
    if settings.compare_fail and not settings.compare:
        raise usage_error("--hotmess-compare-fail needs a baseline (--hotmess-compare NAME)")
    return baseline
