"""The plugin's fixtures: ``resample`` (a small callable object), the seed and the chosen model."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ..models.registry import UnknownModelError
from .items import item_state
from .run import hotmess_run

if TYPE_CHECKING:
    from ..sampling.completion import Model
    from ..sampling.resampler import Resampler

__all__ = ["hotmess_model", "hotmess_seed", "parametrize_models", "resample"]


@pytest.fixture
def resample(request: pytest.FixtureRequest) -> Resampler:
    """Sample a model K times per item; gated when the test has a ``coherence`` marker."""
    from ..sampling.resampler import Resampler

    item = request.node
    return Resampler(hotmess_run(request.config).test_state(item, item_state(item)))


@pytest.fixture
def hotmess_seed(request: pytest.FixtureRequest) -> int:
    """The run's seed (``--hotmess-seed``), for seeding simulated models of your own."""
    return hotmess_run(request.config).settings.seed


@pytest.fixture
def hotmess_model(request: pytest.FixtureRequest) -> Model:
    """The model chosen by ``--hotmess-model``: built once per run, simulated by default.

    With ``--hotmess-models a,b`` the fixture is parametrised (``models_for``): each test
    that uses it runs once per model, and its record names the model.
    """
    run = hotmess_run(request.config)
    name = run.settings.model
    param = getattr(request, "param", None)
    if isinstance(param, str):
        name = item_state(request.node).model = param
    try:
        return run.registry.get(name)
    except (UnknownModelError, ValueError) as exc:  # a ModelConfigError is a ValueError
        problem = str(exc)
    pytest.fail(f"pytest-hotmess: cannot build model {name or 'sim'!r}: {problem}", pytrace=False)


def parametrize_models(metafunc: pytest.Metafunc) -> None:
    """``--hotmess-models a,b``: every test using ``hotmess_model`` runs once per model, with
    ids ``[a]``, ``[b]``. A test that parametrises ``hotmess_model`` itself is left alone."""
    if "hotmess_model" not in metafunc.fixturenames:
        return
    models = list(hotmess_run(metafunc.config).settings.models)
    if not models:
        return
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        if "hotmess_model" in names:
            return
    metafunc.parametrize("hotmess_model", models, indirect=True, ids=models)
