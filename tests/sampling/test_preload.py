"""numpy and scipy.special are imported on a thread while the first samples are drawn.

Each test runs a fresh interpreter: the test process has long imported both.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

_PROBE = textwrap.dedent(
    """
    import asyncio, json, sys, threading, time

    from pytest_hotmess.sampling.draw import Call, draw_async, draw_sync

    before = sorted(m for m in ("numpy", "scipy.special") if m in sys.modules)

    def model(prompt):
        time.sleep(0.01)  # a call waiting on the network
        return "A"

    async def amodel(prompt):
        await asyncio.sleep(0.01)
        return "A"

    calls = [Call(item_id="q", fn={fn}, args=("q",), kwargs={{}}, k=2)]
    if {use_async}:
        draws = asyncio.run(draw_async(calls, concurrency=2, stop_on_error=True))
    else:
        draws = draw_sync(calls, concurrency=2, stop_on_error=True)
    for thread in threading.enumerate():
        if thread.name == "pytest-hotmess-preload":
            thread.join(60)
    print(json.dumps({{
        "before": before,
        "values": draws[0].values,
        "after": sorted(m for m in ("numpy", "scipy.special") if m in sys.modules),
    }}))
    """
)


def _probe(fn: str, use_async: bool) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(fn=fn, use_async=use_async)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.mark.parametrize(("fn", "use_async"), [("model", False), ("amodel", True)])
def test_drawing_imports_numpy_and_scipy_special_meanwhile(fn: str, use_async: bool) -> None:
    result = _probe(fn, use_async)
    assert result["before"] == []  # importing the sampler imported neither
    assert result["values"] == ["A", "A"]
    # the model never touched them: the sampler imported both while the calls were in flight
    assert result["after"] == ["numpy", "scipy.special"]


def test_the_preload_starts_once_and_not_when_done() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from pytest_hotmess.sampling.preload import preload_numbers\n"
            "first = preload_numbers()\n"
            "assert first is not None\n"
            "first.join(60)\n"
            "assert preload_numbers() is None\n"
            "import sys; print(sorted(m for m in ('numpy', 'scipy.special') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.split() == ["['numpy',", "'scipy.special']"]
