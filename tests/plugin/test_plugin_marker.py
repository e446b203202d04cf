"""The coherence marker as users write it: registration, validation at collection, scoping."""

from __future__ import annotations

import pytest

BAD_ARGUMENTS = [
    ("0.4", "positional"),
    ("max_incoherense=0.4", "max_incoherense"),
    ("max_incoherence='0.4'", "max_incoherence must be a real number"),
    ("max_incoherence=True", "max_incoherence must be a real number"),
    ("max_incoherence=1.5", "max_incoherence must lie in [0, 1]"),
    ("max_incoherence=-0.1", "max_incoherence must lie in [0, 1]"),
    ("max_incoherence=float('nan')", "max_incoherence must be finite"),
    ("max_bias=-1", "max_bias must be >= 0"),
    ("max_variance=-0.5", "max_variance must be >= 0"),
    ("max_error=-2", "max_error must be >= 0"),
    ("max_error=[1]", "max_error must be a real number"),
    ("samples=1", "samples must be an integer >= 2"),
    ("samples=2.5", "samples must be an integer >= 2"),
    ("samples=True", "samples must be an integer >= 2"),
    ("loss='mse'", "loss must be one of"),
    ("estimator='mle'", "estimator must be one of"),
    ("confidence=1.0", "confidence must lie strictly between 0 and 1"),
    ("confidence=0", "confidence must lie strictly between 0 and 1"),
]


@pytest.mark.parametrize(("arguments", "expected"), BAD_ARGUMENTS)
def test_bad_marker_argument_is_a_usage_error_naming_test_and_argument(
    pytester: pytest.Pytester, arguments: str, expected: str
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.coherence({arguments})
        def test_model(resample):
            resample.record(["a", "b", "a"], target="a")
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*test_bad_marker_argument*::test_model: @pytest.mark.coherence:*"]
    )
    assert expected in result.stderr.str()


def test_usage_error_lists_every_bad_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.coherence(samples=1)
        def test_one(resample): pass

        @pytest.mark.coherence(loss="x")
        def test_two(resample): pass
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*::test_one: *samples*", "*::test_two: *loss*"])


def test_bad_marker_is_a_usage_error_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.coherence(max_incoherence=2)
        def test_model(resample): pass
        """
    )
    result = pytester.runpytest_subprocess("-n", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "max_incoherence must lie in [0, 1]" in result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize("xdist", [False, True], ids=["single", "xdist"])
def test_contradicting_file_rules_are_a_usage_error_naming_test_and_file(
    pytester: pytest.Pytester, xdist: bool
) -> None:
    pytester.makefile(
        ".yaml",
        hotmess="thresholds:\n"
        "  - {match: '*', samples: 20}\n"
        "  - {match: '*::test_ruled', max_samples: 5}\n",
    )
    pytester.makepyfile(
        """
        def test_ruled(resample):
            resample.record(["a", "b", "a"], target="a")

        def test_plain():
            pass
        """
    )
    result = pytester.runpytest_subprocess(*(["-n", "2"] if xdist else []))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    expected = (
        "::test_ruled: hotmess.yaml thresholds for this test: "
        "max_samples (5) must be at least samples (20)"
    )
    assert expected in result.stdout.str() + result.stderr.str()
    assert "test_plain: " not in result.stdout.str() + result.stderr.str()


def test_marker_is_registered_with_its_signature(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.coherence(max_incoherence=None, max_bias=None, max_variance=None, "
            "max_error=None,*"
        ]
    )


def test_class_and_module_markers_apply_closest_wins(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        pytestmark = pytest.mark.coherence(max_incoherence=0.9, samples=4)

        # each item: K=4, p_a = p_b = 1/2, target a: error 2(1 - 1/2) = 1,
        # unbiased variance 4/3 * (1 - 1/2) = 2/3, so incoherence 2/3
        ITEMS = [["a", "a", "b", "b"], ["a", "b", "a", "b"]]

        def test_module_level(resample):
            for i, outcomes in enumerate(ITEMS):
                resample.record(outcomes, target="a", item=f"q{i}")

        @pytest.mark.coherence(max_incoherence=0.5)
        class TestStrict:
            def test_class_level(self, resample):
                for i, outcomes in enumerate(ITEMS):
                    resample.record(outcomes, target="a", item=f"q{i}")

            @pytest.mark.coherence(max_incoherence=0.7)
            def test_function_level(self, resample):
                for i, outcomes in enumerate(ITEMS):
                    resample.record(outcomes, target="a", item=f"q{i}")
        """
    )
    result = pytester.runpytest("-rA")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*incoherence 0.6667 * > max_incoherence 0.5 (2 items, K=4)*"])


def test_marked_test_that_samples_nothing_fails_clearly(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.coherence(max_incoherence=0.4)
        def test_forgot():
            assert True
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*coherence test recorded no samples*"])


def test_threshold_needing_targets_on_variance_only_items_fails_naming_argument(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.coherence(max_incoherence=0.4, max_bias=0.1)
        def test_no_targets(resample):
            resample.record(["a", "b", "a"])
            resample.record(["a", "a", "a"])
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*test_no_targets: max_incoherence, max_bias needs targets*"])


def test_variance_threshold_works_without_targets(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.coherence(max_variance=0.1)
        def test_consistent(resample):
            resample.record(["a", "a", "a", "a"])
            resample.record(["b", "b", "b", "b"])

        @pytest.mark.coherence(max_variance=0.1)
        def test_inconsistent(resample):
            resample.record(["a", "b", "c", "d"])
            resample.record(["b", "b", "a", "a"])
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*variance * > max_variance 0.1 (2 items, K=4)*"])


def test_plugin_can_be_disabled(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_plain():
            assert True
        """
    )
    result = pytester.runpytest("-p", "no:hotmess", "--markers")
    assert "coherence" not in result.stdout.str()
    result = pytester.runpytest("-p", "no:hotmess")
    result.assert_outcomes(passed=1)
    assert "hotmess-" not in result.stdout.str()  # not even in the plugin list


def test_nothing_printed_when_no_test_uses_the_plugin(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain(): pass")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert "hotmess coherence" not in result.stdout.str()
