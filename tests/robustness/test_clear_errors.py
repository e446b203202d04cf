"""Bad inputs get an error that names the culprit, never a bare exception or silence.

One test per scenario of the README's "Reliability" table (issue 13, "unclear errors"), run the
way a user meets it: through pytest (``pytester``) and the files it writes.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_hotmess.config.atomic import write_atomic
from pytest_hotmess.models.clients import ModelConfigError, model_from_spec


def _report(pytester: pytest.Pytester, name: str = "out.json") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((pytester.path / name).read_text(encoding="utf-8"))
    return data


def _output(result: pytest.RunResult) -> str:
    return result.stdout.str() + "\n" + result.stderr.str()


# -- an outcome too large for a float ----------------------------------------------------------


def test_an_integer_outcome_too_large_for_a_float_names_item_sample_and_why(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        def model(i):
            return 10**400 if i == 2 else i

        def test_huge(resample):
            resample.map(model, range(4), targets=[1] * 4, samples=3, kind="numeric")
        """
    )
    result = pytester.runpytest("--hotmess-json", "out.json")
    result.assert_outcomes(failed=1)
    problem = "item 'item-2': outcome #0 <an integer of 400+ digits> is too large for a float"
    result.stdout.fnmatch_lines([f"*{problem}*"])
    assert "int too large to convert" not in _output(result)
    (test,) = _report(pytester)["tests"]
    assert [item["id"] for item in test["items"]] == ["item-0", "item-1", "item-2", "item-3"]
    assert problem in test["items"][2]["problem"]
    assert test["calls"]["made"] == 12  # every paid sample is kept and counted


@pytest.mark.parametrize(
    ("arguments", "culprit"),
    [
        ("[1.0, 2.0], target=10**400", "target"),
        ("[[1.0, 10**400], [1.0, 2.0]]", "outcome #0 entry #1"),
        ("[{'a': 1.0}, {'a': 10**400}], kind='distribution'", "a probability of outcome #1"),
        ("[1, 2, -(10**5000)], kind='numeric'", "outcome #2 <a negative integer of 5000+"),
    ],
    ids=["target", "vector", "distribution", "huge-negative"],
)
def test_every_place_a_number_is_read_names_a_too_large_integer(
    pytester: pytest.Pytester, arguments: str, culprit: str
) -> None:
    pytester.makepyfile(
        f"""
        def test_huge(resample):
            resample.record({arguments}, item="q1")
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*item 'q1': {culprit}*too large for a float*"])
    assert "int too large to convert" not in _output(result)


# -- NaN and infinity in request parameters ----------------------------------------------------

_NAN_PARAMS = """\
models:
  local:
    provider: openai
    model: gpt-test
    base_url: http://127.0.0.1:9/v1
    params:
      top_logprobs: 2
      temperature: .nan
"""


def test_a_nan_request_parameter_in_hotmess_yaml_is_refused_at_load_with_file_line_key(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(".yaml", hotmess=_NAN_PARAMS)
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*hotmess.yaml:8: models.local.params.temperature: must be a finite number, got nan*"]
    )


def test_an_infinite_number_nested_in_params_is_refused_with_its_key_path(
    pytester: pytest.Pytester,
) -> None:
    text = _NAN_PARAMS.replace("temperature: .nan", 'logit_bias: {"50256": -.inf}')
    pytester.makefile(".yaml", hotmess=text)
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*hotmess.yaml:8: models.local.params.logit_bias.50256: *-inf*"])


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"temperature": float("nan")}, "parameter 'temperature'"),
        ({"extra_body": {"scores": [0.5, float("inf")]}}, "parameter 'extra_body.scores[1]'"),
    ],
)
def test_model_from_spec_refuses_non_finite_params_naming_entry_and_key(
    params: dict[str, object], named: str
) -> None:
    spec = {"provider": "openai", "model": "gpt-test", "base_url": "http://127.0.0.1:9/v1"}
    with pytest.raises(
        ModelConfigError, match=r"model entry 'local': " + named.replace("[", r"\[")
    ):
        model_from_spec({**spec, **params}, entry="local")


# -- a hotmess.yaml that is a directory ---------------------------------------------------------


def test_a_hotmess_yaml_directory_is_an_error_not_a_run_without_config(
    pytester: pytest.Pytester,
) -> None:
    pytester.mkdir("hotmess.yaml")
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*hotmess.yaml:1: (file): is a directory, not a YAML file*"])


def test_a_missing_config_file_names_the_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("--hotmess-config", "nope.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--hotmess-config: configuration file not found: *nope.yaml*"])


# -- a length covariate no sample has -----------------------------------------------------------

_LENGTHS = """
import pytest

@pytest.mark.coherence(max_incoherence_slope=0.5)
def test_lengths(resample):
    for j in range(6):
        lengths = [{"output_tokens": 5 + j + k} for k in range(4)]
        resample.record(["a", "b", "a", "c"], target="a", item=f"q{j}", covariates=lengths)
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_an_unknown_length_covariate_is_named_with_the_covariates_the_samples_have(
    pytester: pytest.Pytester, workers: list[str]
) -> None:
    pytester.makepyfile(_LENGTHS)
    result = pytester.runpytest(
        *workers, "--hotmess-length-covariate", "nosuch", "--hotmess-json", "out.json"
    )
    result.assert_outcomes(failed=1)
    said = "no sample has the length covariate 'nosuch'; the samples' covariates: output_tokens"
    result.stdout.fnmatch_lines([f"pytest-hotmess: --hotmess-length-covariate: {said}"])
    result.stdout.fnmatch_lines([f"*max_incoherence_slope needs a length per sample*{said}*"])
    (test,) = _report(pytester)["tests"]
    assert test["length"]["note"] == said


def test_a_known_length_covariate_draws_no_complaint(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(_LENGTHS)
    result = pytester.runpytest("-o", "hotmess_length_covariate=output_tokens")
    assert "no sample has the length covariate" not in _output(result)


# -- report files: only what was written is announced -------------------------------------------


def test_only_the_reports_that_were_written_are_announced_and_failures_name_report_and_option(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile("def test_x(resample):\n    resample.record(['a', 'b'], target='a')\n")
    (pytester.path / "afile").write_text("")  # a file where a folder is needed: writes fail
    result = pytester.runpytest(
        "--hotmess-json",
        "afile/out.json",
        "--hotmess-save",
        "base",
        "--hotmess-baseline-dir",
        "afile",
        "--hotmess-html",
        "page.html",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "pytest-hotmess: could not write JSON report *afile/out.json (--hotmess-json): *",
            "pytest-hotmess: could not write baseline *afile/base.json (--hotmess-save): *",
        ]
    )
    assert "JSON report: " not in out and "baseline saved" not in out
    result.stdout.fnmatch_lines(["HTML report: *page.html"])  # the one that was written
    assert (pytester.path / "page.html").is_file()
    assert "INTERNALERROR" not in _output(result)


# -- --hotmess-save cannot write outside the baseline folder ------------------------------------


@pytest.mark.parametrize("name", ["../outside/x", "sub/x.json", "..", "{absolute}"])
def test_a_baseline_name_that_is_a_path_is_a_usage_error_naming_the_option(
    pytester: pytest.Pytester, name: str
) -> None:
    absolute = pytester.path.parent / "absolute-x"
    name = name.format(absolute=absolute)
    pytester.makepyfile("def test_x(resample):\n    resample.record(['a', 'b'], target='a')\n")
    result = pytester.runpytest("--hotmess-save", name)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--hotmess-save: baseline name {name!r} is a path*"])
    assert not (pytester.path.parent / "outside").exists()
    assert not (pytester.path / "sub").exists()
    assert not absolute.exists()


def test_a_baseline_name_is_saved_in_the_baseline_folder_and_compared_by_name(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile("def test_x(resample):\n    resample.record(['a', 'b'], target='a')\n")
    saved = pytester.runpytest("--hotmess-save", "base.json")
    saved.assert_outcomes(passed=1)
    saved.stdout.fnmatch_lines(["baseline saved: *.hotmess*base.json"])
    assert (pytester.path / ".hotmess" / "base.json").is_file()
    pytester.runpytest("--hotmess-compare", "base").assert_outcomes(passed=1)


# -- NUL and bidi controls in the HTML page -----------------------------------------------------


def test_nul_and_bidi_controls_never_reach_the_html_page_raw(pytester: pytest.Pytester) -> None:
    # items without a length are listed by id in the page's length section
    pytester.makepyfile(
        """
        def test_ids(resample):
            for j in range(3):
                lengths = [{"output_tokens": 5 + j}, {"output_tokens": 9 + j}]
                resample.record(["a", "b"], target="a", item=f"q{j}", covariates=lengths)
            for item in ["nul\\x00here", "evil\\u202egnp.exe", "isolate\\u2066x\\u2069 bell\\x07"]:
                resample.record(["a", "b"], target="a", item=item, covariates=[{}, {}])
        """
    )
    pytester.runpytest("--hotmess-html", "page.html").assert_outcomes(passed=1)
    page = (pytester.path / "page.html").read_bytes()
    text = page.decode("utf-8")
    assert b"\x00" not in page and b"\x07" not in page
    for control in ("\u202e", "\u2066", "\u2069"):
        assert control not in text
    for shown in ("nul\u2400here", "evil[U+202E]gnp.exe", "isolate[U+2066]x[U+2069] bell\u2407"):
        assert shown in text


# -- write_atomic leaves the process umask alone ------------------------------------------------


@pytest.fixture
def umask_027() -> Iterator[None]:
    previous = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("umask_027")
def test_write_atomic_never_changes_the_umask_and_still_honours_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_umask(mask: int) -> int:
        raise AssertionError(f"os.umask({mask:#o}) changes the umask of every thread")

    monkeypatch.setattr(os, "umask", no_umask)
    target = write_atomic(tmp_path / "deep" / "report.json", b"{}")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # what open(path, "w") gives
    assert target.read_bytes() == b"{}"
    assert [p.name for p in target.parent.iterdir()] == ["report.json"]  # no temp left
