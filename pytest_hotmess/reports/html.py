"""A self-contained HTML page of a run: splits, baseline changes, length, ensembles, difficulty.

One file to attach to a CI run or mail around, so it references nothing outside itself: CSS is
inline, charts are PNG ``data:`` URIs, and there are no scripts. Every piece of text from the
report (node ids, item ids, notes) is HTML-escaped, and escaped for matplotlib's mathtext in
chart labels. Charts need matplotlib (the optional extra ``pytest-hotmess[plot]``); without it
the page has the same tables, with CSS bars, and a line saying how to get the charts.
"""

from __future__ import annotations

import base64
import html
import importlib
import io
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from ..results.comparison import BucketChange, Comparison, TestComparison
from ..results.records import (
    DifficultyRecord,
    ModelBucketRow,
    ModelInfo,
    RunInfo,
    RunRecord,
    TestRecord,
    Totals,
)
from ..stats.compare import Change
from ..stats.ensemble import EnsembleMethod, EnsembleProjection
from ..stats.length import LengthAnalysis, Overthinking, Slope

__all__ = ["PLOT_HINT", "render_html"]

PLOT_HINT: Final = "Charts need matplotlib: pip install pytest-hotmess[plot]"


_CSS: Final = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 72em; padding: 0 1em; color: #1d2330; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #d5d9e0; }
h3 { font-size: 1.05em; margin-top: 1.5em; word-break: break-all; }
.scroll { overflow-x: auto; max-width: 100%; margin: 0.8em 0; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #d5d9e0; padding: 0.25em 0.6em; text-align: right; }
th { background: #f1f3f7; }
td.text, th.text { text-align: left; overflow-wrap: anywhere; min-width: 16em; }
.meta, .note, .hint { color: #5b6475; font-size: 0.9em; }
.hint { background: #fff8e1; border: 1px solid #f0d98c; padding: 0.5em 0.8em; }
.verdict { padding: 0.05em 0.5em; border-radius: 0.8em; font-size: 0.85em; }
.verdict-pass { background: #d9f2dd; } .verdict-fail { background: #f9d6d5; }
.verdict-inconclusive { background: #fdf0c8; } .verdict-other { background: #e6e8ee; }
.verdict-error { background: #f4b6b4; }
.bar { display: flex; width: 8em; height: 0.9em; background: #f1f3f7; }
.bar .bias { background: #4e79a7; } .bar .variance { background: #f28e2b; }
.track { position: relative; width: 8em; height: 0.9em; background: #f1f3f7; }
.track .span { position: absolute; top: 0.3em; height: 0.3em; background: #9aa3b5; }
.track .point { position: absolute; top: 0; width: 2px; height: 0.9em; background: #1d2330; }
.worse { background: #f9d6d5; } .better { background: #d9f2dd; }
.legend span { display: inline-block; width: 0.8em; height: 0.8em; margin: 0 0.3em 0 1em; }
img { max-width: 100%; }
details.run { margin: 0.5em 0; } details.run summary { cursor: pointer; color: #5b6475; }
"""


_BIDI: Final = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Bidirectional controls: a right-to-left override would make the page show text reordered."""


def _visible(char: str) -> str:
    """A character that is invisible or reorders text, written so that a reader sees it."""
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # the control pictures: U+2400 is the symbol for NUL
    if code == 0x7F:
        return "\u2421"  # the symbol for DELETE
    return f"[U+{code:04X}]"


_UNSAFE: Final = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff" + "".join(sorted(_BIDI)) + "]"
)
"""Control characters (tab and line breaks aside), lone surrogates and bidi controls."""


def _text(value: object) -> str:
    """Report text for the page: HTML-escaped, with control and bidi characters made visible."""
    return html.escape(_UNSAFE.sub(lambda m: _visible(m.group()), str(value)), quote=True)


def _number(value: Any, digits: int = 3) -> str:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return "n/a"
    if not math.isfinite(value):
        return "n/a"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def _signed(value: Any, digits: int = 3) -> str:
    text = _number(value, digits)
    return text if text == "n/a" or text.startswith("-") else "+" + text


def _interval(low: Any, high: Any, digits: int = 3) -> str:
    if low is None or high is None:
        return "n/a"
    return f"[{_number(low, digits)}, {_number(high, digits)}]"


def _verdict(value: Any) -> str:
    name = str(value) if value is not None else "n/a"
    css = (
        f"verdict-{name}" if name in ("pass", "fail", "inconclusive", "error") else "verdict-other"
    )
    return f'<span class="verdict {css}">{_text(name)}</span>'


def _percent(value: float) -> str:
    return f"{100.0 * min(max(value, 0.0), 1.0):.1f}%"


def _split_bar(bias: Any, variance: Any, scale: float) -> str:
    """Bias and variance as a stacked CSS bar, scaled to the largest error on the page."""
    if not isinstance(bias, (int, float)) or not isinstance(variance, (int, float)) or scale <= 0:
        return ""
    return (
        f'<div class="bar" title="bias {_number(bias)}, variance {_number(variance)}">'
        f'<span class="bias" style="width:{_percent(max(bias, 0.0) / scale)}"></span>'
        f'<span class="variance" style="width:{_percent(max(variance, 0.0) / scale)}"></span>'
        "</div>"
    )


def _interval_track(point: Any, low: Any, high: Any) -> str:
    """An incoherence and its interval on a 0..1 CSS track."""
    if not isinstance(point, (int, float)):
        return ""
    span = ""
    if isinstance(low, (int, float)) and isinstance(high, (int, float)):
        span = (
            f'<span class="span" style="left:{_percent(low)};'
            f'width:{_percent(max(high - low, 0.0))}"></span>'
        )
    return (
        f'<div class="track" title="{_interval(low, high)}">{span}'
        f'<span class="point" style="left:{_percent(point)}"></span></div>'
    )


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int = 1) -> str:
    """Headers are escaped here; cells must arrive escaped (they may hold markup)."""
    head = "".join(
        f'<th class="text">{_text(h)}</th>' if i < text_columns else f"<th>{_text(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="text">{cell}</td>' if i < text_columns else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="scroll">{table}</div>'  # a wide table scrolls inside its box


# ----------------------------------------------------------------------------------------
# charts


def _mathtext_safe(label: str, limit: int = 60) -> str:
    """A chart label: shortened, and with ``$`` escaped so mathtext leaves it alone."""
    short = label if len(label) <= limit else "..." + label[-(limit - 3) :]
    return short.replace("\\", "\\\\").replace("$", r"\$")


class _Charts:
    """PNG charts as ``<img>`` tags with data URIs; every method returns "" without matplotlib."""

    def __init__(self) -> None:
        try:
            self._figure_module: Any = importlib.import_module("matplotlib.figure")
            self._agg: Any = importlib.import_module("matplotlib.backends.backend_agg")
        except ImportError:
            self._figure_module = None
            self._agg = None

    @property
    def available(self) -> bool:
        return self._figure_module is not None

    def _new(self, width: float, height: float) -> Any:
        figure = self._figure_module.Figure(figsize=(width, height), dpi=100, layout="constrained")
        self._agg.FigureCanvasAgg(figure)
        return figure

    @staticmethod
    def _img(figure: Any, alt: str) -> str:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", metadata={"Software": None})
        data = base64.b64encode(buffer.getvalue()).decode("ascii")
        return f'<img alt="{_text(alt)}" src="data:image/png;base64,{data}">'

    def tests(self, rows: Sequence[TestRecord]) -> str:
        """Bias and variance per test on one error axis per loss (errors of different losses
        are not comparable), and each test's incoherence, coloured by verdict, against its
        ``max_incoherence`` threshold."""
        if not self.available or not rows:
            return ""
        groups: dict[str, list[TestRecord]] = {}
        for test in rows:
            groups.setdefault(_loss_label(test), []).append(test)
        figure = self._new(10.0, 1.2 + 0.35 * len(rows) + 0.5 * len(groups))
        axes = figure.subplots(
            len(groups),
            2,
            squeeze=False,
            width_ratios=(3, 2),
            height_ratios=[len(g) for g in groups.values()],
        )
        seen: set[str] = set()
        for (loss, tests), (left, right) in zip(groups.items(), axes, strict=True):
            self._split(left, tests, loss)
            self._incoherence(right, tests, seen)
        handles, names = axes[0][0].get_legend_handles_labels()  # bias, variance
        for row in axes:  # then every group's verdicts and the threshold: one legend on top
            found, labels = row[1].get_legend_handles_labels()
            handles += found
            names += labels
        axes[0][0].legend(
            handles,
            names,
            loc="lower left",
            bbox_to_anchor=(0.0, 1.0),
            ncols=min(len(handles), 4),
            frameon=False,
            fontsize="small",
        )
        axes[-1][1].set_xlabel("incoherence (variance share)")
        return self._img(figure, "bias and variance per test, incoherence against thresholds")

    @staticmethod
    def _split(axes: Any, tests: Sequence[TestRecord], loss: str) -> None:
        totals = [t.totals for t in tests]
        bias = [max(_float(s.bias), 0.0) for s in totals]
        variance = [max(_float(s.variance), 0.0) for s in totals]
        positions = list(range(len(tests)))
        axes.barh(positions, bias, color="#4e79a7", label="bias")
        axes.barh(positions, variance, left=bias, color="#f28e2b", label="variance")
        axes.set_yticks(positions, [_mathtext_safe(t.nodeid) for t in tests])
        axes.set_ylim(len(tests) - 0.5, -0.5)
        axes.set_xlabel(_mathtext_safe(f"error = bias + variance ({loss})"))

    @staticmethod
    def _incoherence(axes: Any, tests: Sequence[TestRecord], seen: set[str]) -> None:
        for y, test in enumerate(tests):
            summary, verdict = test.totals, str(test.verdict)
            colour = _VERDICT_COLOURS[_verdict_name(verdict)]
            label = verdict if verdict not in seen else None
            point = summary.incoherence
            if isinstance(point, (int, float)):
                seen.add(verdict)
                low, high = summary.incoherence_low, summary.incoherence_high
                if isinstance(low, (int, float)) and isinstance(high, (int, float)):
                    axes.errorbar(
                        point,
                        y,
                        xerr=[[point - low], [high - point]],
                        fmt="o",
                        color=colour,
                        label=label,
                    )
                else:
                    axes.plot(point, y, "o", color=colour, label=label)
            threshold = test.thresholds.get("max_incoherence")
            if isinstance(threshold, (int, float)):
                first = "threshold" not in seen
                seen.add("threshold")
                axes.plot(
                    [threshold, threshold],
                    [y - 0.4, y + 0.4],
                    color="#c62828",
                    linestyle="--",
                    linewidth=1.5,
                    label="max_incoherence" if first else None,
                )
        axes.set_xlim(0.0, 1.0)
        axes.set_ylim(len(tests) - 0.5, -0.5)
        axes.set_yticks([])

    def length(self, analysis: LengthAnalysis) -> str:
        buckets = [b for b in analysis.buckets if b.incoherence is not None]
        if not self.available or not buckets:
            return ""
        figure = self._new(6.0, 3.2)
        axes = figure.subplots()
        for bucket in buckets:
            x, y = _float(bucket.length), _float(bucket.incoherence)
            low, high = bucket.low, bucket.high
            if low is not None and high is not None:
                axes.errorbar(x, y, yerr=[[y - low], [high - y]], fmt="o", color="#f28e2b")
            else:
                axes.plot(x, y, "o", color="#f28e2b")
        axes.set_xscale("log")
        ticker = importlib.import_module("matplotlib.ticker")
        # plain numbers (30, not 3×10^1); minor ticks labelled only when few decades show
        axes.xaxis.set_major_formatter(ticker.LogFormatter(labelOnlyBase=False))
        axes.xaxis.set_minor_formatter(ticker.LogFormatter(labelOnlyBase=False))
        axes.set_ylim(0.0, 1.0)
        axes.set_xlabel(_mathtext_safe(f"mean {analysis.covariate} per item (bucket)"))
        axes.set_ylabel("incoherence")
        return self._img(figure, "incoherence by length bucket")

    def difficulty(self, record: DifficultyRecord) -> str:
        """Incoherence per difficulty bucket with its interval, easy to hard."""
        shown = [(i, b) for i, b in enumerate(record.buckets) if b.incoherence is not None]
        if not self.available or not shown:
            return ""
        figure = self._new(4.5, 2.8)
        axes = figure.subplots()
        for index, bucket in shown:
            y, low, high = (
                _float(bucket.incoherence),
                bucket.incoherence_low,
                bucket.incoherence_high,
            )
            if low is not None and high is not None:
                axes.errorbar(index, y, yerr=[[y - low], [high - y]], fmt="o", color="#e15759")
            else:
                axes.plot(index, y, "o", color="#e15759")
        axes.set_xticks(range(len(record.buckets)), [b.bucket for b in record.buckets])
        axes.set_xlim(-0.5, len(record.buckets) - 0.5)
        axes.set_ylim(0.0, 1.0)
        axes.set_xlabel(f"difficulty bucket ({record.difficulty_source})")
        axes.set_ylabel("incoherence")
        return self._img(figure, "incoherence by difficulty bucket")

    def comparison(self, tests: Sequence[TestComparison], figure_name: str) -> str:
        rows = [t for t in tests if t.figures[figure_name].change is not None]
        if not self.available or not rows:
            return ""
        figure = self._new(8.0, 1.2 + 0.35 * len(rows))
        axes = figure.subplots()
        for y, test in enumerate(rows):
            data = test.figures[figure_name]
            point, low, high = data.change, data.low, data.high
            assert point is not None
            if low is not None and high is not None:
                axes.errorbar(
                    point, y, xerr=[[point - low], [high - point]], fmt="o", color="#1d2330"
                )
            else:
                axes.plot(point, y, "o", color="#1d2330")
        axes.axvline(0.0, color="#9aa3b5", linewidth=1)
        axes.set_yticks(range(len(rows)), [_mathtext_safe(t.nodeid) for t in rows])
        axes.invert_yaxis()
        axes.set_xlabel(f"change in {figure_name} (current - baseline)")
        return self._img(figure, f"change in {figure_name} against the baseline")

    def ensembles(self, projection: EnsembleProjection) -> str:
        if not self.available:
            return ""
        series = []
        for method, block in _methods(projection):
            rows = [r for r in block.rows if r.error is not None]
            if rows:
                series.append((method, [r.m for r in rows], [r.error for r in rows]))
        if not series:
            return ""
        figure = self._new(6.0, 3.2)
        axes = figure.subplots()
        for method, ms, errors in series:
            axes.plot(ms, errors, "o-", label=method)
        axes.set_xlabel("ensemble size m")
        axes.set_ylabel("projected error")
        axes.legend()
        return self._img(figure, "projected error of m-sample ensembles")


_VERDICT_COLOURS: Final = {
    "pass": "#2e7d32",
    "fail": "#c62828",
    "inconclusive": "#f9a825",
    "error": "#6a1b9a",
    "other": "#5b6475",
}
"""Verdict colours of the incoherence chart (the table's verdict badges use the same hues)."""


def _verdict_name(verdict: Any) -> str:
    name = str(verdict)
    return name if name in _VERDICT_COLOURS else "other"


def _loss_label(test: TestRecord) -> str:
    """The loss a test's errors are measured in: its error axis in the chart."""
    losses = test.totals.losses or ([test.loss] if test.loss else [])
    return " + ".join(losses) + " loss" if losses else "no loss"


def _float(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _methods(projection: EnsembleProjection) -> tuple[tuple[str, EnsembleMethod], ...]:
    return (("averaging", projection.averaging), ("majority", projection.majority))


# ----------------------------------------------------------------------------------------
# sections


def _thresholds(value: Any) -> str:
    if not isinstance(value, Mapping) or not value:
        return ""
    return ", ".join(f"{_text(k)} {_text(v)}" for k, v in value.items())


def _clipped(summary: Totals, name: str) -> str:
    """A figure, with its unclipped value when display clipping changed it."""
    text = _number(getattr(summary, name))
    raw = summary.clipped.get(name)
    if raw is None:
        return text
    sign = "&ge;" if raw > 1 else "&le;"
    return f"{sign}{text} (clipped from {_number(raw)})"


def _summary_row(
    name: str, verdict: str, summary: Totals, k: Any, extra: str, scale: float
) -> list[str]:
    return [
        name,
        verdict,
        _number(summary.items),
        _text(k) if k is not None else "n/a",
        _number(summary.error),
        _clipped(summary, "bias"),
        _clipped(summary, "variance"),
        _split_bar(summary.bias, summary.variance, scale),
        _clipped(summary, "incoherence"),
        _interval(summary.incoherence_low, summary.incoherence_high)
        + (" approximate" if summary.interval_approximate else ""),
        _interval_track(summary.incoherence, summary.incoherence_low, summary.incoherence_high),
        extra,
    ]


def _summary_section(run: RunRecord, charts: _Charts) -> str:
    tests = run.tests
    errors = [_float(s.error) for s in [*(t.totals for t in tests), run.totals]]
    scale = max([e for e in errors if e > 0], default=0.0)
    rows = [
        _summary_row(
            _text(t.nodeid),
            _verdict(t.verdict),
            t.totals,
            t.samples,
            _thresholds(t.thresholds),
            scale,
        )
        for t in tests
    ]
    rows.append(_summary_row("<b>total</b>", "", run.totals, None, "", scale))
    headers = [
        "test",
        "verdict",
        "items",
        "K",
        "error",
        "bias",
        "variance",
        "bias | variance",
        "incoherence",
        "interval",
        "0 .. 1",
        "thresholds",
    ]
    legend = (
        '<p class="legend">'
        '<span style="background:#4e79a7"></span>bias'
        '<span style="background:#f28e2b"></span>variance</p>'
    )
    return (
        '<section id="tests"><h2>Tests</h2>'
        + charts.tests(tests)
        + legend
        + _table(headers, rows)
        + "".join(_error_note(t) for t in tests if t.verdict == "error")
        + "".join(
            f'<p class="note">{_text(t.nodeid)}: {_text(n.message)}</p>'
            for t in tests
            for n in t.notes
        )
        + "</section>"
    )


def _error_note(test: TestRecord) -> str:
    """Why a test has verdict ``error``: the error's first line and the calls it made."""
    calls = test.calls
    reason = (test.message or "sampling failed").splitlines()[0]
    made = (
        f"calls made {_number(calls.made)}, failed {_number(calls.failed)}"
        if calls is not None
        else "no calls counted"
    )
    return f'<p class="note">{_text(test.nodeid)}: error: {_text(reason)} ({made})</p>'


_FIGURE_NAMES: Final = ("error", "bias", "variance", "incoherence")


def _change_cell(data: Change) -> str:
    low = data.low
    css = ""
    if isinstance(low, (int, float)) and low > 0:
        css = "worse"
    high = data.high
    if isinstance(high, (int, float)) and high < 0:
        css = "better"
    text = f"{_signed(data.change)} {_interval(low, high)}"
    return f'<span class="{css}">{_text(text)}</span>' if css else _text(text)


def _id_list(label: str, ids: Sequence[Any]) -> str:
    if not ids:
        return ""
    shown = ", ".join(_text(i) for i in ids[:50])
    more = f" and {len(ids) - 50} more" if len(ids) > 50 else ""
    return f'<p class="note">{_text(label)} ({len(ids)}): {shown}{more}</p>'


def _comparison_section(comparison: Comparison, charts: _Charts) -> str:
    confidence = _float(comparison.confidence)
    tests = comparison.tests
    rows = []
    for test in tests:
        figures = test.figures
        rows.append(
            [
                _text(test.nodeid),
                _number(test.items_paired),
                *(_change_cell(figures[name]) for name in _FIGURE_NAMES),
            ]
        )
    total = comparison.total
    if total.figures:
        rows.append(
            [
                "<b>total</b>",
                _number(total.items_paired),
                *(_change_cell(total.figures[name]) for name in _FIGURE_NAMES),
            ]
        )
    notes = "".join(
        _id_list(f"{test.nodeid}: items only in the current run", test.items_only_current)
        + _id_list(f"{test.nodeid}: items only in the baseline", test.items_only_baseline)
        + "".join(f'<p class="note">{_text(test.nodeid)}: {_text(w)}</p>' for w in test.warnings)
        for test in tests
    )
    intro = (
        f'<p class="meta">current - baseline over items present in both, with '
        f"{_text(f'{100 * confidence:g}%')} intervals ({_text(comparison.method)}); "
        "red: the interval lies above 0 (worse), green: below 0 (better).</p>"
    )
    return (
        '<section id="baseline"><h2>Change against the baseline</h2>'
        + intro
        + charts.comparison(tests, "incoherence")
        + (_table(["test", "paired items", *_FIGURE_NAMES], rows) if rows else "")
        + _bucket_change_table(comparison)
        + _id_list("tests only in the current run", comparison.tests_only_current)
        + _id_list("tests only in the baseline", comparison.tests_only_baseline)
        + notes
        + "</section>"
    )


def _bucket_change_table(comparison: Comparison) -> str:
    """Paired changes per difficulty bucket, test by test and pooled (none: no buckets)."""
    scopes: list[tuple[str, Sequence[BucketChange]]] = [
        (_text(test.nodeid), test.buckets) for test in comparison.tests
    ]
    scopes.append(("<b>total</b>", comparison.total.buckets))
    rows = [
        [name, _text(entry.bucket), _number(entry.items_paired)]
        + [_change_cell(entry.figures[figure]) for figure in _FIGURE_NAMES]
        for name, buckets in scopes
        for entry in buckets
    ]
    if not rows:
        return ""
    return "<h3>By difficulty bucket</h3>" + _table(
        ["test", "difficulty", "paired items", *_FIGURE_NAMES], rows, text_columns=2
    )


def _by_model_section(rows: Sequence[ModelBucketRow]) -> str:
    """The ``--hotmess-models`` table: one row per model and difficulty bucket."""
    cells = [
        [
            _text(row.model),
            _text(row.bucket or "(none)"),
            _number(row.totals.items),
            _number(row.totals.error),
            _clipped(row.totals, "bias"),
            _clipped(row.totals, "variance"),
            _clipped(row.totals, "incoherence"),
            _interval(row.totals.incoherence_low, row.totals.incoherence_high)
            + (" approximate" if row.totals.interval_approximate else ""),
        ]
        for row in rows
    ]
    headers = ["model", "difficulty", "items", "error", "bias", "variance", "incoherence"]
    return (
        '<section id="by-model"><h2>By model and difficulty</h2>'
        '<p class="meta">each model\'s items pooled over the tests it ran, per difficulty '
        "bucket.</p>" + _table([*headers, "interval"], cells, text_columns=2) + "</section>"
    )


def _slope_line(slope: Slope | None) -> str:
    if slope is None:
        return ""
    if slope.slope is None:
        return f'<p class="note">slope: n/a ({_text(slope.note)})</p>'
    return (
        f"<p>slope: {_text(_signed(slope.slope))} incoherence per doubling of length, "
        f"interval {_text(_interval(slope.low, slope.high))} over "
        f"{_text(slope.items)} items</p>"
    )


def _overthinking_line(split: Overthinking | None) -> str:
    if split is None:
        return ""
    short, long, change = split.short, split.long, split.change
    if short is None or long is None or change is None:
        missing = len(split.items_without_outcomes)
        reason = (
            f"{missing} items keep no per-sample outcomes (categorical reports keep counts)"
            if missing
            else "no item has at least 2 samples on each side of its median length"
        )
        return f'<p class="note">short vs long samples within items: n/a ({_text(reason)})</p>'
    return (
        "<p>within items, shorter than the median length: incoherence "
        f"{_text(_number(short.incoherence))}; at or above it: "
        f"{_text(_number(long.incoherence))}; change "
        f"{_text(_signed(change.change))} "
        f"{_text(_interval(change.low, change.high))} over "
        f"{_text(split.items)} items</p>"
    )


def _length_section(length: Mapping[str, LengthAnalysis], charts: _Charts) -> str:
    parts = ['<section id="length"><h2>Incoherence by length</h2>']
    for nodeid, analysis in length.items():
        parts.append(f"<h3>{_text(nodeid)}</h3>")
        if analysis.covariate is None or not analysis.buckets:
            parts.append(f'<p class="note">{_text(analysis.note or "no length data")}</p>')
            continue
        parts.append(f'<p class="meta">length covariate: {_text(analysis.covariate)}</p>')
        parts.append(charts.length(analysis))
        rows = [
            [
                _text(b.bucket),
                _number(b.items),
                f"{_number(b.length_min, 0)} - {_number(b.length_max, 0)}",
                _number(b.error),
                _number(b.variance),
                _number(b.incoherence),
                _interval(b.low, b.high),
            ]
            for b in analysis.buckets
        ]
        headers = ["bucket", "items", "mean length", "error", "variance", "incoherence", "interval"]
        parts.append(_table(headers, rows))
        parts.append(_slope_line(analysis.slope))
        parts.append(_overthinking_line(analysis.overthinking))
        parts.append(_id_list("items without a length", analysis.items_without_length))
    parts.append("</section>")
    return "".join(parts)


def _difficulty_section(tests: Sequence[TestRecord], charts: _Charts) -> str:
    parts = ['<section id="difficulty"><h2>Incoherence by difficulty</h2>']
    for test in tests:
        record = test.difficulty
        if record is None:
            continue
        parts.append(f"<h3>{_text(test.nodeid)}</h3>")
        parts.append(
            f'<p class="meta">difficulty from {_text(record.difficulty_source)} '
            f"({_text(record.scale)})</p>"
        )
        if record.note:
            parts.append(f'<p class="note">{_text(record.note)}</p>')
        parts.append(charts.difficulty(record))
        rows = [
            [
                _text(b.bucket),
                _number(b.items),
                _number(b.error),
                _number(b.bias),
                _number(b.variance),
                _number(b.incoherence),
                _interval(b.incoherence_low, b.incoherence_high),
            ]
            for b in record.buckets
        ]
        headers = ["bucket", "items", "error", "bias", "variance", "incoherence", "interval"]
        parts.append(_table(headers, rows))
        slope = record.slope
        if slope is not None and slope.slope is not None:
            parts.append(
                f"<p>slope: {_text(_signed(slope.slope))} incoherence per bucket step, "
                f"interval {_text(_interval(slope.low, slope.high))}</p>"
            )
    parts.append("</section>")
    return "".join(parts)


def _ensemble_section(ensembles: Mapping[str, EnsembleProjection], charts: _Charts) -> str:
    parts = ['<section id="ensembles"><h2>Ensembles of m samples (projected)</h2>']
    titles = {"averaging": "averaging", "majority": "majority vote"}
    for nodeid, projection in ensembles.items():
        parts.append(f"<h3>{_text(nodeid)}</h3>")
        parts.append(charts.ensembles(projection))
        for method, block in _methods(projection):
            rows = [
                [
                    _text(r.m),
                    _number(r.error),
                    _number(r.bias),
                    _number(r.variance),
                    _number(r.incoherence),
                    _interval(r.low, r.high),
                    _text(r.note or ""),
                ]
                for r in block.rows
            ]
            if not rows:
                continue
            title = titles[method]
            parts.append(f"<p>{_text(title)} over {_text(block.items)} items</p>")
            headers = ["m", "error", "bias", "variance", "incoherence", "interval", "note"]
            parts.append(_table(headers, rows))
    parts.append("</section>")
    return "".join(parts)


def render_html(run: RunRecord) -> str:
    """The run as one self-contained HTML page: the same typed record as its JSON report."""
    return _page(
        run,
        comparison=run.comparison,
        # an analysis with nothing to show is left out, and a section with none of them too
        length={
            t.nodeid: t.length
            for t in run.tests
            if t.length is not None and t.length.covariate is not None and t.length.buckets
        },
        ensembles={
            t.nodeid: t.ensembles
            for t in run.tests
            if t.ensembles is not None and any(block.rows for _, block in _methods(t.ensembles))
        },
    )


def _model_text(model: ModelInfo) -> str:
    where = ", ".join(
        str(part)
        for part in (model.provider, model.model and f"model {model.model}", model.base_url)
        if part
    )
    params = ", ".join(f"{k} {v}" for k, v in model.params.items())
    inside = "; ".join(part for part in (where, params) if part)
    return model.name + (f" ({inside})" if inside else "")


def _run_block(info: RunInfo | None) -> str:
    """The run's models, seed and transport, and the settings in force (folded)."""
    if info is None:
        return ""
    models = "; ".join(_model_text(m) for m in info.models) or info.model
    facts = [f"model {models}", f"seed {info.seed}", f"transport {info.transport or 'n/a'}"]
    facts += [
        f"{label} {path}"
        for label, path in (("recorded to", info.record), ("replayed from", info.replay))
        if path
    ]
    block = f'<p class="meta">{_text(", ".join(facts))}</p>'
    if info.settings:
        rows = [
            [_text(name), _text(_setting_text(entry.value)), _text(entry.source)]
            for name, entry in info.settings.items()
        ]
        table = _table(["option", "value", "source"], rows, text_columns=3)
        block += (
            f'<details class="run"><summary>settings in force ({len(rows)})</summary>'
            f"{table}</details>"
        )
    return block


def _setting_text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


def _page(
    run: RunRecord,
    *,
    comparison: Comparison | None,
    length: Mapping[str, LengthAnalysis],
    ensembles: Mapping[str, EnsembleProjection],
) -> str:
    charts = _Charts()
    meta = ", ".join(
        f"{label} {_text(value)}"
        for value, label in (
            (run.plugin_version, "pytest-hotmess"),
            (run.created, "created"),
            (run.schema, "schema"),
        )
    )
    body = [
        "<h1>pytest-hotmess report</h1>",
        f'<p class="meta">{meta}</p>' if meta else "",
        _run_block(run.run),
        "" if charts.available else f'<p class="hint">{_text(PLOT_HINT)}</p>',
        _summary_section(run, charts),
        _by_model_section(run.by_model) if run.by_model else "",
        _comparison_section(comparison, charts) if comparison else "",
        _length_section(length, charts) if length else "",
        _ensemble_section(ensembles, charts) if ensembles else "",
        _difficulty_section(run.tests, charts)
        if any(t.difficulty is not None for t in run.tests)
        else "",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>pytest-hotmess report</title><style>{_CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )
