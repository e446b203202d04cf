"""Known samples, and the check that an ingested source decomposes as the same samples do
when recorded through ``resample.record``: the plugin's own path, to 1e-9."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

__all__ = ["KnownItem", "assert_same_figures", "run_twin"]

KnownItem = tuple[str, Sequence[Any], Any]
"""(item id, samples, target or None)."""

_FIGURES = ("error", "bias", "variance")
_TOTALS = ("items", "error", "bias", "variance", "incoherence", "targeted_items", "k_max")


def _close(a: Any, b: Any, where: str) -> None:
    if isinstance(a, float) or isinstance(b, float):
        assert a is not None and b is not None, where
        assert math.isclose(a, b, rel_tol=0, abs_tol=1e-9), f"{where}: {a} != {b}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def assert_same_figures(got: dict[str, Any], want: dict[str, Any]) -> None:
    """Two JSON test records with the same items, figures and totals (1e-9)."""
    got_items = {item["id"]: item for item in got["items"]}
    want_items = {item["id"]: item for item in want["items"]}
    assert sorted(got_items) == sorted(want_items)
    for item_id, item in want_items.items():
        for name in (*_FIGURES, "k", "target", "kind", "loss"):
            _close(got_items[item_id].get(name), item.get(name), f"item {item_id} {name}")
        assert got_items[item_id].get("counts") == item.get("counts"), item_id
    for name in _TOTALS:
        _close(got["totals"][name], want["totals"][name], f"totals {name}")


def run_twin(
    pytester: pytest.Pytester,
    source: Path,
    known: Sequence[KnownItem],
    *args: str,
    ingest_args: str = "",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run ``resample.ingest(source)`` and ``resample.record`` of ``known`` as two tests
    (under the given pytest args, e.g. ``-n 2``); their JSON records, ingested first."""
    pytester.makepyfile(
        test_twin=f"""
        import pytest

        KNOWN = {[(i, list(s), t) for i, s, t in known]!r}

        @pytest.mark.coherence()
        def test_ingested(resample):
            resample.ingest({str(source)!r}{ingest_args})

        @pytest.mark.coherence()
        def test_recorded(resample):
            for item_id, samples, target in KNOWN:
                if target is None:
                    resample.record(samples, item=item_id)
                else:
                    resample.record(samples, item=item_id, target=target)
        """
    )
    result = pytester.runpytest(*args, "--hotmess-json", "out.json")
    result.assert_outcomes(passed=2)
    report = json.loads((pytester.path / "out.json").read_text())
    tests = {test["nodeid"].rsplit("::", 1)[-1]: test for test in report["tests"]}
    return tests["test_ingested"], tests["test_recorded"]
