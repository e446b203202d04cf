"""Run a real ``promptfoo eval --repeat`` against the sampling server on 127.0.0.1.

The promptfoo command comes from ``HOTMESS_PROMPTFOO`` (a path to its ``promptfoo`` script),
``.cache/promptfoo`` in the repository (``npm install --prefix .cache/promptfoo
promptfoo@0.118.0``) or ``promptfoo`` on PATH; ``find_promptfoo`` returns None, with the
reason, when there is none.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from _sampling_server import ANSWERS, TARGETS, SamplingServer

__all__ = ["REPEAT", "find_promptfoo", "run_promptfoo"]

REPEAT = 4
CACHE = Path(__file__).resolve().parent.parent.parent / ".cache" / "promptfoo"


def find_promptfoo() -> tuple[str | None, str]:
    """The promptfoo command, or None and why not."""
    if shutil.which("node") is None:
        return None, "node is not installed"
    named = os.environ.get("HOTMESS_PROMPTFOO")
    if named:
        return (
            (named, "") if Path(named).exists() else (None, f"HOTMESS_PROMPTFOO={named} is missing")
        )
    cached = CACHE / "node_modules" / ".bin" / "promptfoo"
    found = str(cached) if cached.exists() else shutil.which("promptfoo")
    if found is None:
        return None, (
            "promptfoo is not installed (npm install --prefix .cache/promptfoo "
            "promptfoo@0.118.0, or set HOTMESS_PROMPTFOO to its node_modules/.bin/promptfoo)"
        )
    return found, ""


def _config(base_url: str) -> str:
    tests = [
        {"vars": {"question": q}, "assert": [{"type": "equals", "value": TARGETS[q]}]}
        for q in ANSWERS
    ]
    config = {
        "description": "hotmess questions",
        "prompts": ["{{question}}"],
        "providers": [
            {
                "id": "openai:chat:fake",
                "config": {"apiBaseUrl": base_url, "apiKey": "unused", "temperature": 1},
            }
        ],
        "tests": tests,
    }
    return json.dumps(config, indent=2)


def run_promptfoo(command: str, workdir: Path) -> Path:
    """``promptfoo eval --repeat REPEAT -o results.json`` in ``workdir``; the results file."""
    with SamplingServer() as server:
        (workdir / "promptfooconfig.json").write_text(_config(server.openai_base_url))
        env = {
            **os.environ,
            "PROMPTFOO_DISABLE_TELEMETRY": "1",
            "PROMPTFOO_DISABLE_UPDATE": "1",
            "PROMPTFOO_CONFIG_DIR": str(workdir / ".promptfoo"),
            "OPENAI_API_KEY": "unused",
        }
        done = subprocess.run(
            [
                command,
                "eval",
                "-c",
                "promptfooconfig.json",
                "--repeat",
                str(REPEAT),
                "--no-cache",
                "--max-concurrency",
                "1",
                "--no-progress-bar",
                "-o",
                "results.json",
            ],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    results = workdir / "results.json"
    if not results.exists():
        raise AssertionError(
            f"promptfoo wrote no results:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    return results
