"""The terminal summary table (pure: records in, lines out)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..stats.plain import format_k

__all__ = ["render_table"]

_SHORT = {
    "max_incoherence": "inc",
    "max_bias": "bias",
    "max_variance": "var",
    "max_error": "err",
    "max_incoherence_slope": "slope",
}


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"


def _interval(totals: Mapping[str, Any]) -> str:
    if len(totals.get("losses", ())) > 1:
        return "mixed losses"
    if totals.get("incoherence") is None:
        return "undefined"
    text = _num(totals["incoherence"])
    if totals.get("incoherence_low") is not None:
        text += f" [{_num(totals['incoherence_low'])}, {_num(totals['incoherence_high'])}]"
    return text


def _thresholds(record: Mapping[str, Any]) -> str:
    parts = [f"{_SHORT[name]}<={value:g}" for name, value in record["thresholds"].items()]
    if record.get("confidence") is not None and parts:
        parts.append(f"@{record['confidence']:.0%}")
    return " ".join(parts) or "-"


def _row(name: str, totals: Mapping[str, Any], k: str, thresholds: str, verdict: str) -> list[str]:
    return [
        name,
        str(totals.get("items", 0)),
        k,
        _num(totals.get("error")),
        _num(totals.get("bias")),
        _num(totals.get("variance")),
        _interval(totals),
        thresholds,
        verdict,
    ]


def render_table(records: Sequence[Mapping[str, Any]], totals: Mapping[str, Any]) -> list[str]:
    """One row per coherence test and a total row, columns aligned."""
    header = [
        "test",
        "items",
        "K",
        "error",
        "bias",
        "variance",
        "incoherence [95% CI]",
        "thresholds",
        "verdict",
    ]
    rows = [
        _row(
            r["nodeid"],
            r["totals"],
            format_k(r["totals"].get("k_min"), r["totals"].get("k_max")),
            _thresholds(r),
            r["verdict"],
        )
        for r in records
    ]
    counts = ", ".join(f"{n} {v}" for v, n in sorted(totals.get("verdicts", {}).items()))
    rows.append(
        _row(
            f"TOTAL ({len(records)} tests)",
            totals,
            format_k(totals.get("k_min"), totals.get("k_max")),
            "",
            counts,
        )
    )
    level = totals.get("confidence")
    if level is not None:
        header[6] = f"incoherence [{level:.0%} CI]"
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    numeric = {1, 3, 4, 5}

    def line(row: list[str]) -> str:
        cells = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "  ".join(cells).rstrip()

    rule = "-" * len(line(header))
    return [line(header), rule, *[line(r) for r in rows[:-1]], rule, line(rows[-1])]


def render_comparison(
    comparison: Mapping[str, Any], regressions: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Per test, the change of each figure against the baseline with its interval."""
    lines = [f"baseline: {comparison.get('baseline_path', '?')}"]
    for test in comparison["tests"]:
        parts = []
        for figure in ("error", "bias", "variance", "incoherence"):
            data = test["figures"][figure]
            if data.get("change") is None:
                parts.append(f"{figure} -")
                continue
            text = f"{figure} {data['change']:+.3f}"
            if data.get("low") is not None:
                text += f" [{data['low']:+.3f}, {data['high']:+.3f}]"
            parts.append(text)
        missing = len(test["items_only_current"]) + len(test["items_only_baseline"])
        suffix = f"  ({missing} unpaired items)" if missing else ""
        lines.append(f"{test['nodeid']}: " + ", ".join(parts) + suffix)
    for side in ("tests_only_current", "tests_only_baseline"):
        for nodeid in comparison.get(side, []):
            where = "this run" if side == "tests_only_current" else "the baseline"
            lines.append(f"{nodeid}: only in {where}")
    lines += [f"REGRESSION {r['message']}" for r in regressions]
    return lines


def render_details(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Incoherence by length bucket, its slope, and ensemble projections, per test."""
    lines: list[str] = []
    for record in records:
        length, ensembles = record.get("length"), record.get("ensembles")
        if not length and not ensembles:
            continue
        lines.append(record["nodeid"])
        if length:
            buckets = ", ".join(
                f"~{b['length']:.0f}: {_num(b.get('incoherence'))}"
                for b in length.get("buckets", [])
            )
            lines.append(f"  incoherence by {length['covariate']}: {buckets or '-'}")
            slope = length.get("slope") or {}
            if slope.get("slope") is not None:
                interval = ""
                if slope.get("low") is not None:
                    interval = f" [{slope['low']:+.3f}, {slope['high']:+.3f}]"
                lines.append(f"  slope per doubling of length: {slope['slope']:+.3f}{interval}")
        if ensembles:
            for method in ("averaging", "majority"):
                rows = [
                    row
                    for row in ensembles.get(method, {}).get("rows", [])
                    if row.get("error") is not None  # majority vote: categorical items only
                ]
                text = ", ".join(
                    f"m={row['m']}: err {_num(row.get('error'))} inc {_num(row.get('incoherence'))}"
                    for row in rows
                )
                if text:
                    lines.append(f"  ensembles ({method}): {text}")
    return lines
