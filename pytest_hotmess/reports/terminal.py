"""The terminal summary: table, details and baseline comparison (pure: records in, lines out)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..results.comparison import BucketChange, Comparison, Regression
from ..results.records import ModelBucketRow, RunRecord, TestRecord, Totals
from ..stats.compare import Change
from ..stats.plain import format_k
from .difficulty import difficulty_lines

__all__ = [
    "render_by_model",
    "render_comparison",
    "render_details",
    "render_errors",
    "render_notes",
    "render_table",
    "table_cells",
]

_SHORT = {
    "max_incoherence": "inc",
    "max_bias": "bias",
    "max_variance": "var",
    "max_error": "err",
    "max_incoherence_slope": "slope",
}


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _figure(totals: Totals, name: str) -> str:
    """A figure as displayed, and its unclipped value when display clipping changed it."""
    text = _num(getattr(totals, name))
    raw = totals.clipped.get(name)
    if raw is not None:
        text = f"{'>=' if raw > 1 else '<='}{text} (clipped from {raw:.3f})"
    return text


def _interval(totals: Totals) -> str:
    if len(totals.losses) > 1:
        return "mixed losses"
    if totals.incoherence is None:
        return "undefined"
    text = _figure(totals, "incoherence")
    if totals.incoherence_low is not None:
        text += f" [{_num(totals.incoherence_low)}, {_num(totals.incoherence_high)}]"
        if totals.interval_approximate:
            text += " approximate"
    return text


def _thresholds(record: TestRecord) -> str:
    parts = [f"{_SHORT[name]}<={value:g}" for name, value in record.thresholds.items()]
    if record.confidence is not None and parts:
        parts.append(f"@{record.confidence:.0%}")
    return " ".join(parts) or "-"


def _row(name: str, totals: Totals, k: str, thresholds: str, verdict: str) -> list[str]:
    return [
        name,
        str(totals.items),
        k,
        _num(totals.error),
        _figure(totals, "bias"),
        _figure(totals, "variance"),
        _interval(totals),
        thresholds,
        verdict,
    ]


def table_cells(run: RunRecord) -> tuple[list[str], list[list[str]]]:
    """The table's header and rows (the TOTAL row last) as text cells, for any renderer."""
    records, totals = run.tests, run.totals
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
            r.nodeid,
            r.totals,
            format_k(r.totals.k_min, r.totals.k_max),
            _thresholds(r),
            r.verdict,
        )
        for r in records
    ]
    counts = ", ".join(f"{n} {v}" for v, n in sorted(totals.verdicts.items()))
    rows.append(
        _row(
            f"TOTAL ({len(records)} test{'' if len(records) == 1 else 's'})",
            totals,
            format_k(totals.k_min, totals.k_max),
            "",
            counts,
        )
    )
    level = totals.confidence
    if level is not None:
        header[6] = f"incoherence [{level:.0%} CI]"
    return header, rows


def render_table(run: RunRecord) -> list[str]:
    """One row per coherence test and a total row, columns aligned."""
    header, rows = table_cells(run)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    numeric = {1, 3, 4, 5}

    def line(row: list[str]) -> str:
        cells = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "  ".join(cells).rstrip()

    rule = "-" * len(line(header))
    table = [line(header), rule, *[line(r) for r in rows[:-1]], rule, line(rows[-1])]
    return table + render_errors(run.tests) + _retries(run.tests) + render_notes(run.tests)


def render_notes(records: Sequence[TestRecord]) -> list[str]:
    """Under the table, each test's notes: what its figures cannot be trusted for."""
    return [f"note {r.nodeid}: {note.message}" for r in records for note in r.notes]


def _retries(records: Sequence[TestRecord]) -> list[str]:
    """A line naming the HTTP retries, when model calls needed any (a sign of rate limits)."""
    retried = [(r.nodeid, r.calls.retried) for r in records if r.calls and r.calls.retried]
    if not retried:
        return []
    total = sum(count for _, count in retried)
    worst = ", ".join(
        f"{nodeid} {count}" for nodeid, count in sorted(retried, key=lambda x: -x[1])[:3]
    )
    return [f"model calls retried {total} times ({worst})"]


def render_errors(records: Sequence[TestRecord]) -> list[str]:
    """Under the table, why each test with verdict ``error`` has no judgement."""
    lines = []
    for record in records:
        if record.verdict != "error":
            continue
        calls = record.calls
        made = f"calls made {calls.made}, failed {calls.failed}" if calls else "no calls counted"
        reason = (record.message or "sampling failed").splitlines()[0]
        lines.append(f"error {record.nodeid}: {reason} ({made})")
    return lines


def render_comparison(comparison: Comparison, regressions: Sequence[Regression]) -> list[str]:
    """Per test, the change of each figure against the baseline with its interval."""
    lines = [f"baseline: {comparison.baseline_path or '?'}"]
    for test in comparison.tests:
        missing = len(test.items_only_current) + len(test.items_only_baseline)
        suffix = f"  ({missing} unpaired items)" if missing else ""
        lines.append(f"{test.nodeid}: " + _changes_text(test.figures) + suffix)
        lines += _bucket_lines(test.buckets)
    if any(test.buckets for test in comparison.tests) and len(comparison.tests) > 1:
        lines.append("all tests pooled:")
        lines += _bucket_lines(comparison.total.buckets)
    lines += [f"{nodeid}: only in this run" for nodeid in comparison.tests_only_current]
    lines += [f"{nodeid}: only in the baseline" for nodeid in comparison.tests_only_baseline]
    lines += [f"REGRESSION {r.message}" for r in regressions]
    return lines


def _changes_text(figures: Mapping[str, Change]) -> str:
    parts = []
    for figure in ("error", "bias", "variance", "incoherence"):
        data = figures[figure]
        if data.change is None:
            parts.append(f"{figure} -")
            continue
        text = f"{figure} {data.change:+.3f}"
        if data.low is not None and data.high is not None:
            text += f" [{data.low:+.3f}, {data.high:+.3f}]"
        parts.append(text)
    return ", ".join(parts)


def _bucket_lines(buckets: Sequence[BucketChange]) -> list[str]:
    """One indented line per difficulty bucket: its paired items and the changes."""
    return [f"  {b.bucket} ({b.items_paired} paired): {_changes_text(b.figures)}" for b in buckets]


def render_details(records: Sequence[TestRecord]) -> list[str]:
    """Incoherence by length bucket, its slope, ensemble projections and the figures by
    difficulty bucket, per test."""
    lines: list[str] = []
    for record in records:
        length, ensembles = record.length, record.ensembles
        if not length and not ensembles and not record.difficulty:
            continue
        lines.append(record.nodeid)
        if length:
            buckets = ", ".join(f"~{b.length:.0f}: {_num(b.incoherence)}" for b in length.buckets)
            lines.append(f"  incoherence by {length.covariate}: {buckets or '-'}")
            slope = length.slope
            if slope is not None and slope.slope is not None:
                interval = ""
                if slope.low is not None and slope.high is not None:
                    interval = f" [{slope.low:+.3f}, {slope.high:+.3f}]"
                lines.append(f"  slope per doubling of length: {slope.slope:+.3f}{interval}")
        if ensembles:
            for method, block in (
                ("averaging", ensembles.averaging),
                ("majority", ensembles.majority),
            ):
                text = ", ".join(
                    f"m={row.m}: err {_num(row.error)} inc {_num(row.incoherence)}"
                    for row in block.rows
                    if row.error is not None  # majority vote: categorical items only
                )
                if text:
                    lines.append(f"  ensembles ({method}): {text}")
        if record.difficulty:
            lines += difficulty_lines(record.difficulty)
    return lines


def render_by_model(rows: Sequence[ModelBucketRow]) -> list[str]:
    """The "by model and difficulty" table of a ``--hotmess-models`` run, columns aligned."""
    if not rows:
        return []
    level = next((r.totals.confidence for r in rows if r.totals.confidence is not None), None)
    header = ["model", "difficulty", "items", "error", "bias", "variance"]
    header.append(f"incoherence [{level:.0%} CI]" if level is not None else "incoherence")
    cells = [header] + [
        [
            row.model,
            row.bucket or "(none)",
            str(row.totals.items),
            _num(row.totals.error),
            _figure(row.totals, "bias"),
            _figure(row.totals, "variance"),
            _interval(row.totals),
        ]
        for row in rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    numeric = {2, 3, 4, 5}
    out = [
        "  ".join(
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(line)
        ).rstrip()
        for line in cells
    ]
    return [out[0], "-" * len(out[0]), *out[1:]]
