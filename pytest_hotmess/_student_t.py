"""Student t quantiles without importing ``scipy.stats`` (about 0.5 s of the plugin's start-up).

``scipy.special.stdtrit`` is the function ``scipy.stats.t.ppf`` evaluates; calling it directly
gives the same floats (checked in ``tests/test_student_t.py``). ``scipy.special`` itself
costs about 0.2 s to import, so it is imported on first use, not when the plugin loads.
"""

from __future__ import annotations

__all__ = ["t_isf", "t_ppf"]


def t_ppf(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (``stats.t.ppf``)."""
    from scipy.special import stdtrit

    return float(stdtrit(df, p))


def t_isf(a: float, df: float) -> float:
    """The upper-tail ``a`` quantile, ``stats.t.isf(a, df)``: by symmetry ``-ppf(a)``.

    Negating the lower quantile keeps full precision for tiny ``a`` (``ppf(1 - a)`` would not).
    """
    from scipy.special import stdtrit

    return -float(stdtrit(df, a))
