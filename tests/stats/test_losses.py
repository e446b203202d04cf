"""The loss registry: one class per loss, read by kind inference, the engine, the marker and
hotmess.yaml (docs/statistics.md, 'Losses')."""

from __future__ import annotations

import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import numpy as np
import pytest
from numpy.typing import NDArray

from pytest_hotmess.config.file import ConfigError, parse_config
from pytest_hotmess.config.marker import MarkerError, parse_marker_kwargs
from pytest_hotmess.stats.aggregate import aggregate
from pytest_hotmess.stats.decompose import categorical_terms, estimate_item
from pytest_hotmess.stats.kinds import KINDS, Estimator
from pytest_hotmess.stats.losses import (
    LOSSES,
    BrierLoss,
    Loss,
    Terms,
    default_loss,
    register_loss,
    selectable_losses,
)


def test_the_registry_lists_each_loss_once_with_its_kinds() -> None:
    assert list(LOSSES) == ["brier", "squared", "kl"]
    assert {name: loss.kinds for name, loss in LOSSES.items()} == {
        "brier": ("categorical", "distribution"),
        "squared": ("binary", "numeric", "vector", "coverage"),
        "kl": ("categorical", "distribution"),
    }
    assert all(loss.name == name for name, loss in LOSSES.items())


def test_every_kind_has_one_default_loss() -> None:
    assert {kind: default_loss(kind).name for kind in KINDS} == {
        "categorical": "brier",
        "distribution": "brier",
        "binary": "squared",
        "numeric": "squared",
        "vector": "squared",
        "coverage": "squared",
    }


def test_squared_is_implied_by_the_kind_and_not_named_in_a_marker() -> None:
    assert selectable_losses() == ("brier", "kl")
    assert estimate_item([1.0, 2.0], 1.5, loss="squared").loss == "squared"  # the engine takes it
    with pytest.raises(MarkerError, match="loss must be one of 'brier', 'kl', got 'squared'"):
        parse_marker_kwargs((), {"loss": "squared"})


def test_registration_rejects_a_taken_name_or_default() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_loss(type("Again", (BrierLoss,), {}))

    class Grabby(Loss):
        name = "grabby"
        kinds = ("numeric",)
        default_for = ("numeric",)

    with pytest.raises(ValueError, match="numeric already have a default loss"):
        register_loss(Grabby)

    class Nowhere(Loss):
        name = "nowhere"
        kinds = ("numeric",)
        default_for = ("categorical",)

    with pytest.raises(ValueError, match="nowhere"):
        register_loss(Nowhere)
    assert "grabby" not in LOSSES and "nowhere" not in LOSSES


def test_losses_that_do_not_fit_are_named_in_the_error() -> None:
    with pytest.raises(ValueError, match="does not fit categorical outcomes; use 'brier' or 'kl'"):
        categorical_terms([[1, 1]], [0], loss="squared")
    with pytest.raises(ValueError, match="it needs binary or numeric or vector or coverage"):
        estimate_item(["a", "b"], "a", kind="categorical", loss="squared")


# ----------------------------------------------------------------------------------------
# adding a loss is one class and one decorator


class HalfBrier(Loss):
    """Half the one-hot Brier score (the probability of a wrong answer, in expectation)."""

    name = "half_brier"
    kinds = ("categorical",)

    def count_terms(
        self, counts: NDArray[np.float64], target_index: NDArray[np.int64], estimator: Estimator
    ) -> Terms:
        error, bias, variance = LOSSES["brier"].count_terms(counts, target_index, estimator)
        return error / 2.0, bias / 2.0, variance / 2.0


@pytest.fixture
def half_brier() -> Iterator[Loss]:
    register_loss(HalfBrier)
    try:
        yield LOSSES["half_brier"]
    finally:
        del LOSSES["half_brier"]


def test_a_registered_loss_is_accepted_by_the_marker_and_hotmess_yaml(half_brier: Loss) -> None:
    assert parse_marker_kwargs((), {"loss": "half_brier"}).loss == "half_brier"
    with pytest.raises(MarkerError, match="'brier', 'kl', 'half_brier', got 'mse'"):
        parse_marker_kwargs((), {"loss": "mse"})
    config = parse_config("thresholds:\n  - match: '*'\n    loss: half_brier\n")
    assert config.thresholds_for("test_x.py::test") == {"loss": "half_brier"}
    with pytest.raises(ConfigError, match="expected one of brier, kl, half_brier"):
        parse_config("thresholds:\n  - match: '*'\n    loss: mse\n")


def test_a_registered_loss_is_used_by_the_engine(half_brier: Loss) -> None:
    outcomes = ["A", "B", "A", "C", "A"]
    brier = estimate_item(outcomes, "A", estimator="unbiased")
    half = estimate_item(outcomes, "A", loss="half_brier", estimator="unbiased")
    assert half.loss == "half_brier"
    # Brier by hand: error 2 (1 - 3/5) = 0.8; variance (25 - 9 - 1 - 1) / 20 = 0.7
    assert (brier.error, brier.variance) == pytest.approx((0.8, 0.7), rel=1e-15)
    assert (half.error, half.bias, half.variance) == pytest.approx((0.4, 0.05, 0.35), rel=1e-14)
    suite = aggregate([half, estimate_item(["B", "B"], "A", loss="half_brier")])
    assert suite.error == pytest.approx((0.4 + 1.0) / 2, rel=1e-15)
    with pytest.raises(ValueError, match="loss 'half_brier' does not fit numeric outcomes"):
        estimate_item([1.0, 2.0], 1.0, loss="half_brier")


def test_a_registered_loss_gates_a_test_through_the_plugin(
    pytester: pytest.Pytester, half_brier: Loss
) -> None:
    pytester.makepyfile(
        textwrap.dedent(
            """
            import pytest

            ANSWERS = iter(["A", "B", "A", "C", "A"] * 4)

            @pytest.mark.coherence(max_incoherence=1.0, samples=5, loss="half_brier")
            def test_gated(resample):
                resample.map(
                    lambda prompt: next(ANSWERS), ["q1", "q2", "q3", "q4"], targets=["A"] * 4
                )
            """
        )
    )
    result = pytester.runpytest(
        "-p", "no:xdist", "--junitxml=junit.xml", "-o", "junit_family=xunit1"
    )
    result.assert_outcomes(passed=1)
    case = ET.parse(pytester.path / "junit.xml").getroot().find(".//testcase")
    assert case is not None
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["hotmess.loss"] == "half_brier"
    assert float(props["hotmess.error"] or "nan") == pytest.approx(0.4, rel=1e-12)
