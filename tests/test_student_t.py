"""The scipy.stats-free t quantiles equal scipy.stats' own, and the plugin loads without scipy."""

from __future__ import annotations

import subprocess
import sys

import pytest
from scipy import stats

from pytest_hotmess._student_t import t_isf, t_ppf

DFS = [1, 2, 3, 5, 9, 29, 99, 1_000, 1_000_000, 2.5]


@pytest.mark.parametrize("df", DFS)
@pytest.mark.parametrize("p", [0.5, 0.8, 0.9, 0.95, 0.975, 0.99, 0.999, 0.999999])
def test_t_ppf_matches_scipy_stats(p: float, df: float) -> None:
    # stats.t.ppf evaluates the same special function; allow 1e-12 relative for the
    # floating-point route (in practice the floats are identical).
    assert t_ppf(p, df) == pytest.approx(float(stats.t.ppf(p, df)), rel=1e-12, abs=0.0)


@pytest.mark.parametrize("df", DFS)
@pytest.mark.parametrize("a", [0.5, 0.1, 0.025, 1e-3, 1e-6, 1e-10])
def test_t_isf_matches_scipy_stats_even_in_the_far_tail(a: float, df: float) -> None:
    assert t_isf(a, df) == pytest.approx(float(stats.t.isf(a, df)), rel=1e-12, abs=0.0)


def test_t_ppf_known_values() -> None:
    # Textbook table values: t_{0.975, 1} = 12.7062, t_{0.975, 10} = 2.2281, t_{0.95, 1} = 6.3138;
    # and df = 1 is the Cauchy quantile tan(pi (p - 1/2)), so t_{0.75, 1} = 1 exactly.
    assert t_ppf(0.975, 1) == pytest.approx(12.7062, abs=5e-5)
    assert t_ppf(0.975, 10) == pytest.approx(2.2281, abs=5e-5)
    assert t_ppf(0.95, 1) == pytest.approx(6.3138, abs=5e-5)
    assert t_ppf(0.75, 1) == pytest.approx(1.0, rel=1e-14)
    assert t_isf(0.25, 1) == pytest.approx(1.0, rel=1e-14)


def test_loading_the_plugin_imports_no_scipy_matplotlib_or_aiohttp() -> None:
    code = (
        "import sys, pytest_hotmess.plugin\n"
        "heavy = ('scipy', 'matplotlib', 'aiohttp')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout
