"""Rewrite promptfoo_results.json with a real ``promptfoo eval --repeat 4`` run.

Not a test: run by hand with promptfoo installed (``npm install promptfoo@0.118.0``, the
last release that runs on node 20) and HOTMESS_PROMPTFOO naming its ``promptfoo`` script.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parent.parent / "ingest")]

from _promptfoo_run import find_promptfoo, run_promptfoo  # noqa: E402


def main() -> None:
    command, why = find_promptfoo()
    if command is None:
        raise SystemExit(why)
    results = run_promptfoo(command, Path(tempfile.mkdtemp()))
    shutil.copy(results, HERE / "promptfoo_results.json")


if __name__ == "__main__":
    main()
