"""The run's part of pytest's terminal summary: the table, details, comparison, files written."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from ..config.settings import Settings

if TYPE_CHECKING:
    from ..results.records import RunRecord

__all__ = ["write_summary"]


def write_summary(
    terminal: Any,
    run: RunRecord | None,
    settings: Settings,
    written: list[tuple[str, str]],
    junit_family: str | None = None,
    covariates: Collection[str] = (),
) -> None:
    """Write the run record's sections; a run that gated nothing writes none of them.

    ``written`` is (what, where) of each report file the run wrote: only these are named.
    ``junit_family`` is the family of the JUnit XML written (None without one).
    ``covariates`` are the names of the samples' covariates the run saw.
    """
    if run is None or not run.tests:
        return
    from ..reports.terminal import render_comparison, render_details, render_table
    from ..results.insights import missing_covariate

    unknown = missing_covariate([dict.fromkeys(covariates, 0)], settings.length_covariate)
    if unknown is not None:
        where = settings.sources.get("length_covariate", "length_covariate")
        terminal.write_line(f"pytest-hotmess: {where}: {unknown}", yellow=True)
    terminal.write_sep("=", "hotmess coherence")
    for line in render_table(run):
        terminal.write_line(line)
    for test in run.tests:
        if test.stopped_by is not None:
            terminal.write_line(
                f"stopped early {test.nodeid}: {test.stopped_by}; decided with the samples drawn",
                yellow=True,
            )
    if settings.details:
        terminal.write_sep("-", "hotmess details")
        for line in render_details(run.tests):
            terminal.write_line(line)
    if run.by_model:
        from ..reports.terminal import render_by_model

        terminal.write_sep("-", "hotmess by model and difficulty")
        for line in render_by_model(run.by_model):
            terminal.write_line(line)
    if run.comparison is not None:
        terminal.write_sep("-", "hotmess baseline comparison")
        for line in render_comparison(run.comparison, run.regressions or []):
            terminal.write_line(line, red=line.startswith("REGRESSION"))
    if junit_family is not None:
        from ..reports.junit import family_note

        note = family_note(junit_family)
        if note is not None:
            terminal.write_line(note, yellow=True)
    for label, where in written:  # only what was written; failures are listed before
        terminal.write_line(
            f"baseline saved: {where}" if label == "baseline" else f"{label}: {where}"
        )
