"""The HTML page: well formed, self-contained, escaped, with tables; charts with matplotlib."""

from __future__ import annotations

import base64
import dataclasses
import re
import sys
from html.parser import HTMLParser
from typing import Any

import numpy as np
import pytest

from pytest_hotmess.reports.html import PLOT_HINT
from pytest_hotmess.reports.html import render_html as _render_run
from pytest_hotmess.results.compare_runs import compare_runs
from pytest_hotmess.results.difficulty import difficulty_for
from pytest_hotmess.results.plain_record import to_plain_value
from pytest_hotmess.results.records import ItemRecord, RunRecord
from pytest_hotmess.stats.aggregate import aggregate
from pytest_hotmess.stats.decompose import estimate_item
from pytest_hotmess.stats.ensemble import ensemble_projection
from pytest_hotmess.stats.length import items_from_record, length_analysis

NASTY = 'tests/t.py::test_<script>alert("x")</script>[$a$ & http://x.io/y.png]'

_VOID = {"meta", "img", "br", "hr", "link", "input", "source", "wbr", "col", "area", "base"}


class _Page(HTMLParser):
    """Collects tags, attributes, table rows and text; checks that every tag is closed."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.tables: list[list[list[str]]] = []
        self.text: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    assert parser.problems == []
    assert parser.stack == []
    return parser


def _test_record(nodeid: str, seed: int, shift: float) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    p = np.array([0.55 - shift, 0.25, 0.1 + shift, 0.1])
    items, estimates = [], []
    for i in range(24):
        outcomes = [str(x) for x in rng.choice(list("ABCD"), size=10, p=p)]
        estimate = estimate_item(outcomes, "A", item_id=f"q<{i}>")
        record = estimate.to_dict()
        record["covariates"] = [{"output_tokens": int(rng.integers(50, 5000))} for _ in outcomes]
        items.append(record)
        estimates.append(estimate)
    return {
        "nodeid": nodeid,
        "outcome": "passed",
        "verdict": "fail" if shift else "pass",
        "loss": "brier",
        "estimator": "unbiased",
        "samples": 10,
        "thresholds": {"max_incoherence": 0.6},
        "totals": aggregate(estimates).to_dict(),
        "items": items,
    }


def _reports() -> tuple[dict[str, Any], dict[str, Any]]:
    header = {"schema": "pytest-hotmess/1", "plugin_version": "0.1.0", "created": "2026-01-01"}
    current = {
        **header,
        "tests": [_test_record(NASTY, 1, 0.1), _test_record("t.py::test_plain", 2, 0.0)],
        "totals": {"items": 48, "error": 1.0, "bias": 0.4, "variance": 0.6, "incoherence": 0.6},
    }
    baseline = {
        **header,
        "tests": [_test_record(NASTY, 3, 0.0), _test_record("t.py::test_gone", 4, 0.0)],
        "totals": {},
    }
    return current, baseline


def render_html(report: dict[str, Any], baseline: dict[str, Any] | None = None) -> str:
    """The page of a JSON-shaped report, compared with ``baseline`` when given."""
    run = RunRecord.from_plain(report)
    if baseline is not None:
        comparison = compare_runs(run, RunRecord.from_plain(baseline))
        run = dataclasses.replace(run, comparison=comparison)
    return _render_run(run)


def _full_page() -> str:
    current, baseline = _reports()
    for test in current["tests"]:
        test["length"] = to_plain_value(length_analysis(items_from_record(test)))
        test["ensembles"] = to_plain_value(ensemble_projection(test["items"]))
        items = [ItemRecord.from_plain(item) for item in test["items"]]
        numbers = {item.id: float(index) for index, item in enumerate(items)}
        record, marked = difficulty_for(items, {"given": numbers}, confidence=0.95)
        test["difficulty"] = to_plain_value(record)
        test["items"] = [item.to_plain() for item in marked]
    return render_html(current, baseline)


@pytest.fixture
def no_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import matplotlib...`` fail as if the extra were not installed."""
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)


def _external_references(parser: _Page, page: str) -> list[str]:
    found = []
    for tag, attrs in parser.tags:
        if tag in ("script", "link", "iframe", "object", "embed"):
            found.append(f"<{tag}>")
        for name in ("src", "href", "srcset", "action", "poster", "data"):
            value = attrs.get(name)
            if value is not None and not value.startswith(("data:", "#")):
                found.append(f"{tag} {name}={value[:60]}")
    found.extend(re.findall(r"url\(\s*['\"]?(?!data:)[^)]*\)", page))
    found.extend(re.findall(r"@import", page))
    return found


@pytest.mark.usefixtures("no_matplotlib")
def test_page_without_matplotlib_has_tables_and_says_how_to_get_charts() -> None:
    page = _full_page()
    parser = _parse(page)
    assert _external_references(parser, page) == []
    assert not any(tag == "img" for tag, _ in parser.tags)
    assert PLOT_HINT in "".join(parser.text)
    assert "pip install pytest-hotmess[plot]" in PLOT_HINT
    assert (
        len(parser.tables) >= 1 + 2 + 2 + 4
    )  # tests, baseline (+ buckets), 2 length, 2x2 ensembles
    tests_table = parser.tables[0]
    assert tests_table[0][:3] == ["test", "verdict", "items"]
    assert [row[0] for row in tests_table[1:]] == [NASTY, "t.py::test_plain", "total"]
    assert tests_table[1][1] == "fail" and tests_table[1][2] == "24"
    baseline_table = parser.tables[1]
    assert baseline_table[0] == ["test", "paired items", "error", "bias", "variance", "incoherence"]
    assert baseline_table[1][0] == NASTY and baseline_table[1][1] == "24"
    text = "".join(parser.text)
    assert "tests only in the current run (1): t.py::test_plain" in text
    assert "tests only in the baseline (1): t.py::test_gone" in text
    assert "incoherence per doubling of length" in text
    bucket_table = parser.tables[2]  # the baseline's changes by difficulty bucket
    assert bucket_table[0][:3] == ["test", "difficulty", "paired items"]
    assert {row[0] for row in bucket_table[1:]} == {NASTY, "total"}
    length_table = parser.tables[3]
    assert length_table[0][:3] == ["bucket", "items", "mean length"]
    assert [row[1] for row in length_table[1:]] == ["6", "6", "6", "6"]


def test_text_from_the_report_is_escaped() -> None:
    page = _full_page()
    parser = _parse(page)
    assert not any(tag == "script" for tag, _ in parser.tags)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    headings = [t for t in parser.text if t.startswith("tests/t.py")]
    assert NASTY in headings  # the parser gives back exactly the original text


@pytest.mark.usefixtures("no_matplotlib")
def test_item_ids_and_notes_are_escaped_too() -> None:
    item = {"id": "<img src=x>", "error": 1.0, "bias": 0.5, "variance": 0.5}
    current = {"tests": [{"nodeid": "t::a", "estimator": "plugin", "items": [item]}]}
    baseline = {"tests": [{"nodeid": "t::a", "estimator": "<i>", "items": []}]}
    page = render_html(current, baseline)
    parser = _parse(page)
    assert not any(tag in ("img", "i") for tag, _ in parser.tags)
    text = "".join(parser.text)
    assert "items only in the current run (1): <img src=x>" in text
    assert "estimator differs: '<i>' before, 'plugin' now" in text


def test_undefined_numbers_show_as_not_available() -> None:
    report = {
        "schema": "pytest-hotmess/1",
        "tests": [
            {
                "nodeid": "t.py::test_all_right",
                "verdict": "no-errors",
                "samples": 5,
                "totals": {"items": 3, "error": 0.0, "bias": 0.0, "variance": 0.0},
                "items": [],
            }
        ],
    }
    parser = _parse(render_html(report))
    row = parser.tables[0][1]
    assert row[1] == "no-errors"
    assert row[8] == "n/a" and row[9] == "n/a"  # incoherence and its interval


def test_an_empty_report_still_renders_a_valid_page() -> None:
    parser = _parse(render_html({"tests": []}))
    assert "pytest-hotmess report" in "".join(parser.text)


def test_page_with_matplotlib_embeds_png_charts_as_data_uris() -> None:
    pytest.importorskip("matplotlib")
    page = _full_page()
    parser = _parse(page)
    assert _external_references(parser, page) == []
    assert "data:image/png;base64," in page
    images = [attrs for tag, attrs in parser.tags if tag == "img"]
    # tests chart, baseline chart, one length, one ensemble and one difficulty chart per test
    assert len(images) == 1 + 1 + 2 + 2 + 2
    for attrs in images:
        src = attrs["src"] or ""
        payload = base64.b64decode(src.removeprefix("data:image/png;base64,"), validate=True)
        assert payload.startswith(b"\x89PNG\r\n\x1a\n")
        assert attrs["alt"]
    assert PLOT_HINT not in page


# -- layout: charts, scrolling tables, empty sections, the run's header ------------------------


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The matplotlib figures the page draws, kept for inspection instead of embedded."""
    pytest.importorskip("matplotlib")
    from pytest_hotmess.reports import html as html_module

    kept: list[Any] = []

    def keep(figure: Any, alt: str) -> str:
        figure.canvas.draw()
        figure.alt = alt
        kept.append(figure)
        return f'<img alt="{alt}" src="data:image/png;base64,">'

    monkeypatch.setattr(html_module._Charts, "_img", staticmethod(keep))
    return kept


def _mixed_losses_page() -> str:
    current, _ = _reports()
    numeric = _test_record("t.py::test_numeric", 5, 0.0)
    numeric["totals"] = {**numeric["totals"], "losses": ["squared"], "error": 40.0, "bias": 10.0}
    numeric["totals"]["variance"] = 30.0
    numeric["loss"], numeric["verdict"] = "squared", "inconclusive"
    numeric["thresholds"] = {"max_incoherence": 0.3}
    current["tests"].append(numeric)
    for test in current["tests"][:2]:
        test["totals"] = {**test["totals"], "losses": ["brier"]}
    return render_html(current)


def test_tests_chart_has_one_error_axis_per_loss_thresholds_and_verdict_colours(
    figures: list[Any],
) -> None:
    _mixed_losses_page()
    chart = figures[0]
    axes = chart.get_axes()
    assert len(axes) == 4  # two losses: an error axis and an incoherence axis each
    labels = [a.get_xlabel() for a in axes]
    assert "error = bias + variance (brier loss)" in labels
    assert "error = bias + variance (squared loss)" in labels
    brier = next(a for a in axes if a.get_xlabel().endswith("(brier loss)"))
    squared = next(a for a in axes if a.get_xlabel().endswith("(squared loss)"))
    assert brier.get_xlim()[1] < 5 < squared.get_xlim()[1]  # not one shared error scale
    incoherence = [a for a in axes if not a.get_xlabel().startswith("error")]
    thresholds = sorted(
        line.get_xdata()[0]
        for a in incoherence
        for line in a.get_lines()
        if line.get_linestyle() == "--"
    )
    assert thresholds == [0.3, 0.6, 0.6]
    legend = [t.get_text() for t in axes[0].get_legend().get_texts()]
    assert {"fail", "pass", "inconclusive", "max_incoherence"} <= set(legend)
    points = [
        (line.get_xdata()[0], line.get_color())
        for a in incoherence
        for line in a.get_lines()
        if line.get_marker() == "o"
    ]
    assert {colour for _, colour in points} == {"#c62828", "#2e7d32", "#f9a825"}


def test_length_axis_reads_plain_numbers(figures: list[Any]) -> None:
    _full_page()
    length_charts = [f for f in figures if f.alt == "incoherence by length bucket"]
    assert length_charts
    for figure in length_charts:
        axis = figure.get_axes()[0].xaxis
        texts = [t.get_text() for t in [*axis.get_ticklabels(), *axis.get_ticklabels(minor=True)]]
        shown = [t for t in texts if t]
        assert shown, texts
        assert all(re.fullmatch(r"[0-9][0-9.,]*", t) for t in shown), shown


def test_every_table_scrolls_inside_its_own_box() -> None:
    page = _full_page()
    assert ".scroll { overflow-x: auto;" in page
    tables = page.count("<table>")
    assert tables >= 8
    assert page.count('<div class="scroll"><table>') == tables


def test_sections_with_nothing_to_show_are_left_out() -> None:
    current, _ = _reports()
    for test in current["tests"]:
        test["length"] = to_plain_value(length_analysis(items_from_record(test), covariate="none"))
        empty = to_plain_value(ensemble_projection(test["items"]))
        empty["averaging"]["rows"], empty["majority"]["rows"] = [], []
        test["ensembles"] = empty
    page = render_html(current)
    assert "Incoherence by length" not in page
    assert "Ensembles of m samples" not in page
    assert 'id="length"' not in page and 'id="ensembles"' not in page
    assert 'id="difficulty"' not in page  # no test has figures by difficulty
    full = _full_page()
    assert 'id="length"' in full and 'id="ensembles"' in full  # shown when they hold figures
    assert 'id="difficulty"' in full


def test_the_difficulty_chart_shows_each_bucket_with_its_interval(figures: list[Any]) -> None:
    page = _full_page()
    charts = [f for f in figures if f.alt == "incoherence by difficulty bucket"]
    assert len(charts) == 2  # one per test
    axes = charts[0].axes[0]
    assert [t.get_text() for t in axes.get_xticklabels()] == ["easy", "medium", "hard"]
    assert axes.get_ylim() == (0.0, 1.0)
    parser = _parse(page)
    table = next(t for t in parser.tables if t and t[0][:2] == ["bucket", "items"] and
                 t[0][2] == "error")  # fmt: skip
    assert [row[0] for row in table[1:]] == ["easy", "medium", "hard"]
    assert [row[1] for row in table[1:]] == ["8", "8", "8"]  # 24 items with distinct numbers


def test_header_names_the_model_and_the_settings_in_force() -> None:
    current, _ = _reports()
    current["run"] = {
        "plugin_version": "0.1.0",
        "transport": "httpx",
        "model": "local",
        "seed": 7,
        "models": [
            {
                "name": "local",
                "provider": "openai",
                "model": "tiny-1",
                "base_url": "http://127.0.0.1:9/v1",
                "params": {"temperature": 0.7},
            }
        ],
        "settings": {
            "samples": {"value": 12, "source": "--hotmess-samples"},
            "compare_fail": {"value": ["incoherence:0.05"], "source": "default"},
        },
    }
    parser = _parse(render_html(current))
    text = "".join(parser.text)
    assert "model local (openai, model tiny-1, http://127.0.0.1:9/v1; temperature 0.7)" in text
    assert "seed 7, transport httpx" in text
    settings = next(t for t in parser.tables if t[0] == ["option", "value", "source"])
    assert settings[1:] == [
        ["samples", "12", "--hotmess-samples"],
        ["compare_fail", "incoherence:0.05", "default"],
    ]
