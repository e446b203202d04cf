"""Typed results: one item, one test, one run; what every report reads and xdist carries.

Each record's ``to_plain()`` is the JSON report's shape (``data/report.schema.json``), field for
field and in the same order; ``from_plain()`` reads it back (an xdist report, a baseline file).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from ..stats.decompose import ItemEstimate
from ..stats.difficulty import DifficultySlope
from ..stats.ensemble import EnsembleProjection
from ..stats.gate import Check
from ..stats.length import LengthAnalysis
from .comparison import Comparison, Regression
from .notes import Note
from .plain_record import PlainRecord, to_plain_value

__all__ = [
    "ITEM_LEFT_OUT_WHEN_NONE",
    "KEPT_FIELDS",
    "SAMPLE_FIELDS",
    "SCHEMA",
    "BucketRecord",
    "CallStats",
    "DifficultyRecord",
    "ItemRecord",
    "ModelBucketRow",
    "ModelInfo",
    "Note",
    "RunInfo",
    "RunRecord",
    "RunTotals",
    "SequentialRecord",
    "SettingValue",
    "TestRecord",
    "Totals",
    "item_keys",
    "kept_figures",
]

SCHEMA = "pytest-hotmess/1"

SAMPLE_FIELDS = frozenset({"counts", "outcomes", "covariates"})
"""An item's per-sample data: in the JSON report only at ``--hotmess-json-detail samples``."""


KEPT_FIELDS = ("k", "invalid", "weight", "error", "bias", "variance", "loss", "bucket")
"""What ``results.kept`` reads of an item's plain form."""


def kept_figures(
    k: int,
    invalid: int,
    weight: float | None,
    error: float | None,
    bias: float | None,
    variance: float | None,
    loss: str | None,
    bucket: str | None,
) -> dict[str, Any]:
    """An item's kept figures (``KEPT_FIELDS``) in their plain form: the one definition for
    ``ItemRecord.kept_plain`` and ``results.record.kept_row``."""
    figure = to_plain_value
    return {
        "k": figure(k),
        "invalid": figure(invalid),
        "weight": figure(weight),
        "error": figure(error),
        "bias": figure(bias),
        "variance": figure(variance),
        "loss": figure(loss),
        "bucket": bucket,
    }


def _item_keys(estimated: bool, samples: bool) -> tuple[str, ...]:
    """An item's plain keys in order (each once), before those left out when unset."""
    order: tuple[str, ...]
    if estimated:
        head = ("id", "kind", "loss", "estimator", "k", "invalid", "weight")
        order = (*head, "error", "bias", "variance", "target", "counts", "outcomes")
    else:
        order = ("id", "target", "k", "error", "bias", "variance", "outcomes", "invalid")
    tail = ("invalid", "covariates", "problem", "out_of_range", "difficulty", "bucket")
    names = dict.fromkeys(order + tail)
    return tuple(name for name in names if samples or name not in SAMPLE_FIELDS)


_ITEM_KEYS = {(e, s): _item_keys(e, s) for e in (False, True) for s in (False, True)}
"""By (estimated, with samples)."""


def item_keys(estimated: bool, samples: bool) -> tuple[str, ...]:
    """The keys an item's plain form may have, in order: ``ITEM_LEFT_OUT_WHEN_NONE`` are left
    out when None (``out_of_range`` also when empty); the JSON layout writes items by them."""
    return _ITEM_KEYS[estimated, samples]


ITEM_LEFT_OUT_WHEN_NONE = _ITEM_NONE_LEFT_OUT = frozenset(
    {"counts", "outcomes", "problem", "difficulty", "bucket", "out_of_range"}
)
"""An item's keys left out of its plain form when None (``out_of_range`` also when empty)."""


@dataclasses.dataclass(frozen=True)
class ItemRecord(PlainRecord):
    """One item of one test: its split of error and the samples' covariates.

    An estimated item carries ``kind``, ``loss``, ``estimator`` and ``weight``; ``counts`` or
    ``outcomes`` (whichever applies) and ``problem`` appear only when set.
    """

    id: str
    k: int = 0
    invalid: int = 0
    error: float | None = None
    bias: float | None = None
    variance: float | None = None
    target: object = None
    covariates: list[dict[str, float]] = dataclasses.field(default_factory=list)
    kind: str | None = None
    loss: str | None = None
    estimator: str | None = None
    weight: float | None = None
    counts: dict[str, int] | None = None
    outcomes: list[object] | None = None
    problem: str | None = None
    out_of_range: list[str] | None = None
    """Figures outside their valid range, e.g. ``["bias<0", "variance>error"]`` (kept as is)."""
    difficulty: float | str | None = None
    """The item's difficulty as given (dataset label or number) or measured (reference error)."""
    bucket: str | None = None
    """Its difficulty bucket: easy, medium or hard (docs/statistics.md, 'Difficulty')."""

    @property
    def estimated(self) -> bool:
        return self.kind is not None

    def to_plain(self, samples: bool = True) -> dict[str, Any]:
        """The item's plain form; without ``samples`` its per-sample data (``counts``,
        ``outcomes``, ``covariates``) is left out (``--hotmess-json-detail items``)."""
        out: dict[str, Any] = {}
        for name in _ITEM_KEYS[self.kind is not None, samples]:
            value = getattr(self, name)
            kind = type(value)
            if kind is float:
                out[name] = value if math.isfinite(value) else None
            elif kind is str or kind is int:
                out[name] = value
            elif value is None:
                if name not in _ITEM_NONE_LEFT_OUT:
                    out[name] = None
            elif name != "out_of_range" or value:
                out[name] = to_plain_value(value)
        return out

    def kept_plain(self) -> dict[str, Any]:
        """The fields the run keeps of an item once its test is judged (``results.kept``), as
        ``to_plain`` gives them: a single process hands its items over without the rest."""
        return kept_figures(
            self.k, self.invalid, self.weight, self.error, self.bias, self.variance, self.loss,
            self.bucket,
        )  # fmt: skip

    def estimate(self) -> ItemEstimate | None:
        """The item's estimate, for pooling; None when it was not estimated."""
        if self.variance is None:
            return None
        return ItemEstimate(
            id=self.id,
            kind=self.kind,  # type: ignore[arg-type]
            loss=self.loss,  # type: ignore[arg-type]
            estimator=self.estimator,  # type: ignore[arg-type]
            k=self.k,
            invalid=self.invalid,
            weight=1.0 if self.weight is None else self.weight,
            error=self.error,
            bias=self.bias,
            variance=self.variance,
            target=self.target,
            counts=self.counts,
            outcomes=self.outcomes,
        )


@dataclasses.dataclass(frozen=True)
class CallStats(PlainRecord):
    """Model calls of one test. A token count no answer reported is None (null in the JSON:
    unknown, never 0); cost is None unless prices were given."""

    made: int = 0
    failed: int = 0
    saved: int = 0
    retried: int = 0
    """HTTP retries the test's model calls made (attempts after a transient failure)."""
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost: float | None = None


@dataclasses.dataclass(frozen=True)
class SequentialRecord(PlainRecord):
    """How sequential sampling went: the planned looks and where it stopped."""

    max_samples: int | None
    looks: list[int] | None
    stopped_at_look: int | None
    samples_per_item: int | None
    verdicts: dict[str, str]


@dataclasses.dataclass(frozen=True)
class Totals(PlainRecord):
    """Aggregate figures over a set of items (one test's, or the run's pooled)."""

    items: int = 0
    error: float | None = None
    bias: float | None = None
    variance: float | None = None
    incoherence: float | None = None
    incoherence_low: float | None = None
    incoherence_high: float | None = None
    confidence: float | None = None
    targeted_items: int | None = None
    k_min: int | None = None
    k_max: int | None = None
    invalid: int | None = None
    interval_method: str | None = None
    losses: list[str] = dataclasses.field(default_factory=list)
    clipped: dict[str, float] = dataclasses.field(default_factory=dict)
    """Figures clipped for display (bias, variance at 0; incoherence to [0, 1]), unclipped."""
    interval_approximate: bool | None = None
    """True when the items are too few for their skewness for the interval to be trusted at
    its level (docs/statistics.md, 'Intervals'); None in reports written before it existed."""
    effective_items: float | None = None
    interval_skewness: float | None = None


@dataclasses.dataclass(frozen=True)
class RunTotals(Totals):
    """The run's pooled totals, with the number of tests and their verdicts."""

    tests: int = 0
    verdicts: dict[str, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class BucketRecord(PlainRecord):
    """One difficulty bucket of one test: the test aggregate's figures over its items
    (``stats.difficulty.BucketFigures``); None where undefined (an empty bucket has 0 items)."""

    bucket: str
    items: int = 0
    targeted_items: int = 0
    error: float | None = None
    bias: float | None = None
    variance: float | None = None
    incoherence: float | None = None
    incoherence_low: float | None = None
    incoherence_high: float | None = None
    interval_method: str | None = None
    interval_approximate: bool | None = None
    difficulty_min: float | None = None
    """The smallest number in the bucket (None for labels)."""
    difficulty_max: float | None = None


@dataclasses.dataclass(frozen=True)
class DifficultyRecord(PlainRecord):
    """One test's figures by item difficulty (docs/statistics.md, 'Difficulty').

    ``difficulty_source`` says where every item's difficulty came from: ``dataset``
    (``metadata.difficulty``), ``given`` (``difficulty=``), ``reference`` (the item's error in
    the ``--hotmess-compare`` baseline) or ``run`` (its error in this run, the weaker choice);
    ``scale`` is ``label`` (easy/medium/hard as given) or ``tertile`` (numbers ranked).
    ``buckets`` are always easy, medium, hard in that order.
    """

    difficulty_source: str
    scale: str
    confidence: float
    buckets: list[BucketRecord] = dataclasses.field(default_factory=list)
    slope: DifficultySlope | None = None
    note: str | None = None

    def bucket(self, name: str) -> BucketRecord | None:
        return next((b for b in self.buckets if b.bucket == name), None)


@dataclasses.dataclass(frozen=True)
class TestRecord(PlainRecord):
    """One coherence test: its verdict, figures, items and analyses, and pytest's outcome."""

    __test__: ClassVar[bool] = False  # not a pytest test class
    OMIT_NONE: ClassVar[frozenset[str]] = frozenset({"model"})

    nodeid: str
    model: str | None = None
    """The ``--hotmess-models`` entry this test's ``hotmess_model`` was (None otherwise)."""
    outcome: str | None = None
    verdict: str = "ungated"
    message: str | None = None
    loss: str | None = None
    estimator: str | None = None
    samples: int | None = None
    confidence: float | None = None
    thresholds: dict[str, float] = dataclasses.field(default_factory=dict)
    checks: list[Check] = dataclasses.field(default_factory=list)
    calls: CallStats | None = None
    sequential: SequentialRecord | None = None
    stopped_by: str | None = None
    length: LengthAnalysis | None = None
    ensembles: EnsembleProjection | None = None
    totals: Totals = dataclasses.field(default_factory=Totals)
    items: list[ItemRecord] = dataclasses.field(default_factory=list)
    notes: list[Note] = dataclasses.field(default_factory=list)
    """What the figures cannot be trusted for (KL at small K, dependent batches)."""
    difficulty: DifficultyRecord | None = None
    """Figures by item difficulty bucket (None when no source covers the test's items)."""

    def with_outcome(self, outcome: str | None) -> TestRecord:
        return dataclasses.replace(self, outcome=outcome)

    def plain_at(self, detail: str) -> dict[str, Any]:
        """The plain form at a ``--hotmess-json-detail`` level: without ``items`` (``tests``),
        each item without its samples (``items``), or whole (``samples``)."""
        if detail == "tests":
            out = self.plain_fields({"items": None})
            del out["items"]
            return out
        samples = detail == "samples"
        return self.plain_fields({"items": [item.to_plain(samples) for item in self.items]})


@dataclasses.dataclass(frozen=True)
class ModelInfo(PlainRecord):
    """A model the run used, as far as it can be said without a secret.

    The base URL has no user info and no query parameter that may hold a key; ``params`` are
    the request parameters (or a simulator's settings) with anything named like a credential
    or a header left out. The key's environment variable is never named here either.
    """

    name: str
    provider: str | None
    model: str | None = None
    base_url: str | None = None
    params: dict[str, object] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class SettingValue(PlainRecord):
    """One run option in force, and where its value came from (flag, variable, ini, file)."""

    value: object
    source: str


@dataclasses.dataclass(frozen=True)
class RunInfo(PlainRecord):
    """How the run was made: plugin, transport, model, seed, and record/replay paths (no keys);
    the models used and every option in force with its source."""

    plugin_version: str
    transport: str | None
    model: str
    seed: int | None
    record: str | None = None
    replay: str | None = None
    models: list[ModelInfo] = dataclasses.field(default_factory=list)
    settings: dict[str, SettingValue] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class ModelBucketRow(PlainRecord):
    """One model and one difficulty bucket of a ``--hotmess-models`` run: the pooled figures
    of that model's items in that bucket, over every test it ran (``bucket`` None: items
    without a difficulty)."""

    model: str
    bucket: str | None
    totals: Totals = dataclasses.field(default_factory=Totals)


@dataclasses.dataclass(frozen=True)
class RunRecord(PlainRecord):
    """The whole run: what the terminal, JUnit, JSON and HTML reports and baselines read."""

    OMIT_NONE: ClassVar[frozenset[str]] = frozenset(
        {"run", "comparison", "regressions", "by_model", "detail"}
    )

    plugin_version: str = ""
    created: str = ""
    exitstatus: int | None = None
    run: RunInfo | None = None
    tests: list[TestRecord] = dataclasses.field(default_factory=list)
    totals: RunTotals = dataclasses.field(default_factory=RunTotals)
    comparison: Comparison | None = None
    regressions: list[Regression] | None = None
    by_model: list[ModelBucketRow] | None = None
    """With ``--hotmess-models``: one row per model and difficulty bucket."""
    detail: str | None = None
    """How much per-item data the report holds (``tests``, ``items``, ``samples``); None in
    reports written before ``--hotmess-json-detail`` (they hold samples)."""
    schema: str = SCHEMA

    def to_plain(self) -> dict[str, Any]:
        """The report's document; its tests at the run's ``detail`` (whole when None)."""
        level = self.detail or "samples"
        body = self.plain_fields({"tests": [test.plain_at(level) for test in self.tests]})
        schema = body.pop("schema")
        return {"schema": schema, **body}

    @classmethod
    def from_plain(cls, data: Mapping[str, Any]) -> RunRecord:
        """A JSON report (this run's, or a baseline file) read back; ValueError if it is not."""
        if not isinstance(data, Mapping):
            raise ValueError("a report is a JSON object")
        schema = data.get("schema")
        if schema is not None and schema != SCHEMA:
            raise ValueError(f"the report has schema {schema!r}; expected {SCHEMA!r}")
        tests = data.get("tests")
        if not isinstance(tests, list):
            raise ValueError("the report has no 'tests' list")
        run: RunRecord = super().from_plain(data)
        return run

    def test(self, nodeid: str) -> TestRecord | None:
        return next((t for t in self.tests if t.nodeid == nodeid), None)


def verdict_counts(tests: Sequence[TestRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for test in tests:
        counts[test.verdict] = counts.get(test.verdict, 0) + 1
    return counts
