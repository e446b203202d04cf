"""Public home of the offline simulated models: ``from pytest_hotmess.sim import hot_mess``.

They live in :mod:`pytest_hotmess.models.sim` beside the other providers; this module keeps the
documented import path.
"""

from .models.sim import *  # noqa: F403
from .models.sim import __all__ as __all__
