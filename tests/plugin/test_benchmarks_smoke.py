"""The benchmarks run and produce well-formed results (tiny sizes; no figure is judged here).

Timing assertions would be flaky on a shared machine, so these tests check shapes, counts and
invariants that hold at any speed: every call was served, ideal times follow from the sizes,
best-of-N is the minimum of the repeats, the server answers like an OpenAI endpoint.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def bench(name: str) -> ModuleType:
    """Import ``benchmarks.<name>`` from the checkout (xdist workers may lack it on sys.path)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(f"benchmarks.{name}")


def test_the_latency_server_answers_like_openai_after_its_latency() -> None:
    server_module = bench("_server")
    with server_module.LatencyServer(0.05) as server, httpx.Client(timeout=10) as client:
        body = {"model": "m", "messages": [{"role": "user", "content": "q1"}]}
        client.post(f"{server.base_url}/chat/completions", json=body)  # connect outside timing
        answers = []
        for _ in range(3):
            response = client.post(f"{server.base_url}/chat/completions", json=body)
            assert response.elapsed.total_seconds() >= 0.05
            answers.append(response.json()["choices"][0]["message"]["content"])
        missing = client.post(f"{server.base_url}/elsewhere", json=body)
    # the draws per prompt go on in order: draw 0 was the warm-up call
    assert answers == [server_module.answer_letter("q1", draw) for draw in (1, 2, 3)]
    assert missing.status_code == 404


def test_the_latency_server_keeps_up_with_pipelined_keep_alive_requests() -> None:
    server_module = bench("_server")

    async def burst(url: str) -> list[int]:
        limits = httpx.Limits(max_connections=4)
        async with httpx.AsyncClient(limits=limits, timeout=10) as client:
            body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
            calls = [client.post(f"{url}/chat/completions", json=body) for _ in range(40)]
            return [response.status_code for response in await asyncio.gather(*calls)]

    with server_module.LatencyServer(0.0) as server:
        assert asyncio.run(burst(server.base_url)) == [200] * 40


def test_best_of_repeats_is_the_fastest_run_and_its_cpu() -> None:
    common = bench("_common")
    timing = common.Timing(walls=(0.3, 0.1, 0.2), cpus=(0.03, 0.01, 0.02))
    assert (timing.best, timing.best_cpu) == (0.1, 0.01)
    assert timing.to_dict()["walls_s"] == [0.3, 0.1, 0.2]
    calls: list[int] = []

    def count() -> int:
        calls.append(1)
        return len(calls)

    measured, results = common.time_call(count, 3)
    assert results == [1, 2, 3] and len(measured.walls) == 3


def test_markdown_tables_line_up() -> None:
    text = bench("_common").markdown_table(["a", "long header"], [["xyz", 1], ["w", 22]])
    lines = text.splitlines()
    assert lines[0] == "| a   | long header |"
    assert lines[1] == "|-----|-------------|"
    assert lines[3] == "| w   | 22          |"
    assert len({len(line) for line in lines}) == 1


def check_throughput(result: dict[str, Any]) -> None:
    config = result["config"]
    assert config["calls"] == config["items"] * config["samples"]
    assert config["ideal_s"] == pytest.approx(
        config["calls"] * config["latency_s"] / config["concurrency"]
    )
    names = {row["variant"] for row in result["in_process"]}
    expected = {"httpx-split-pools", "threads-sync-httpx"}
    if importlib.util.find_spec("httpx_aiohttp") is not None:
        expected |= {"aiohttp-transport", "bare-aiohttp-loop"}
    assert expected <= names
    for row in result["in_process"]:
        assert row["calls"] == config["calls"]  # every sample came back valid
        assert row["wall_s"] == min(row["walls_s"]) > 0
        # nothing beats the latency: 'calls' answers of latency_s each over 'concurrency'
        assert row["wall_s"] >= config["ideal_s"] * 0.99
    sequential = result["sequential"]
    assert sequential["per_call_s"] >= config["latency_s"]
    # per_call_s is rounded to 5 decimals and extrapolated_s to 3: the two roundings bound
    # the difference by 0.5e-5 * calls + 0.5e-3
    assert sequential["extrapolated_s"] == pytest.approx(
        sequential["per_call_s"] * config["calls"], abs=0.5e-5 * config["calls"] + 0.5e-3
    )
    kinds = [row["variant"] for row in result["pytest_process"]]
    assert any(kind.startswith("pytest run") for kind in kinds)
    for row in result["pytest_process"]:
        assert row["wall_s"] == min(row["walls_s"]) <= row["median_s"] <= max(row["walls_s"])
    assert "pytest --collect-only -p no:hotmess" in kinds


def check_overhead(result: dict[str, Any]) -> None:
    config = result["config"]
    assert [row["model"] for row in result["rows"]] == ["sync (threads)", "async (event loop)"]
    for row in result["rows"]:
        assert row["calls"] == config["calls"]
        assert row["ratio_to_ideal"] == pytest.approx(row["wall_s"] / config["ideal_s"], rel=0.01)
        assert row["ratio_to_ideal"] >= 0.99  # a 1 ms sleep never takes less than 1 ms


def check_scaling(result: dict[str, Any]) -> None:
    rows = result["rows"]
    sizes = result["config"]["sizes"]
    for kind in ("categorical", "numeric"):
        for path in ("vectorised", "per-item", "record"):
            mine = [row for row in rows if row["kind"] == kind and row["path"] == path]
            assert [row["items"] for row in mine] == sizes
            values = [row["value"] for row in mine]
            assert all(value is not None and 0.0 <= value <= 1.0 for value in values)
            assert mine[0]["time_exponent"] is None and mine[1]["time_exponent"] is not None
    # the three paths compute the same incoherence from the same data (the unbiased estimator)
    for kind in ("categorical", "numeric"):
        largest = [r for r in rows if r["kind"] == kind and r["items"] == sizes[-1]]
        by_path = {row["path"]: row["value"] for row in largest}
        assert by_path["per-item"] == pytest.approx(by_path["record"], rel=1e-12)


def check_plugin_cost(result: dict[str, Any]) -> None:
    rows = result["rows"]
    assert {(row["suite"], row["mode"]) for row in rows} >= {
        ("coherence", "serial"),
        ("plain", "serial"),
    }
    for row in rows:
        assert row["tests"] == result["config"]["tests"] and row["wall_s"] > 0
        if row["suite"] == "plain":
            assert row["extra_s"] == 0.0


def check_scale(result: dict[str, Any]) -> None:
    config = result["config"]
    assert result["samples"] == config["tests"] * config["items"] * config["samples"]
    rows = {row["run"]: row for row in result["rows"]}
    assert set(rows) == {
        "plain (-p no:hotmess)",
        "plugin, no reports",
        "plugin + --hotmess-json",
        "plugin -n 2 + --hotmess-json",
    }
    assert all(row["wall_s"] > 0 and row["peak_rss_mb"] > 0 for row in rows.values())
    # only the runs asked for a report wrote one, the same size with and without xdist
    assert rows["plugin, no reports"]["json_bytes"] is None
    sizes = {rows[n]["json_bytes"] for n in rows if "--hotmess-json" in n}
    assert len(sizes) == 1 and sizes.pop() > 0
    for point in result["series"]:
        assert point["samples"] == point["tests"] * point["items"] * config["samples"]
        assert point["json_bytes"] > 0 and point["peak_rss_mb"] > 0
        # each point also ran as plain pytest tests, and the table says by how much ours grew
        assert point["plain_wall_s"] > 0 and point["plain_peak_rss_mb"] > 0
        over = point["peak_rss_mb"] - point["plain_peak_rss_mb"]
        assert point["rss_over_plain_mb"] == pytest.approx(over, abs=0.11)


def test_the_quick_run_writes_well_formed_results(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text())
    assert report["schema"] == "pytest-hotmess-bench/1" and report["quick"] is True
    assert report["machine"]["nproc"] >= 1 and report["machine"]["python"]
    benchmarks = report["benchmarks"]
    names = {"throughput", "overhead", "scaling", "plugin_cost", "scale", "sequential"}
    assert set(benchmarks) == names
    check_throughput(benchmarks["throughput"])
    check_overhead(benchmarks["overhead"])
    check_scaling(benchmarks["scaling"])
    check_plugin_cost(benchmarks["plugin_cost"])
    check_scale(benchmarks["scale"])
    assert "| true incoherence |" in benchmarks["sequential"]["tables"]
    for heading in (
        "### Throughput",
        "### Overhead",
        "### Scaling",
        "### Plugin cost",
        "### Scale:",
    ):
        assert heading in done.stdout


def test_unknown_benchmark_names_are_refused() -> None:
    with pytest.raises(SystemExit, match="unknown benchmark"):
        bench("run").main(["--only", "throughput,nonsense"])
