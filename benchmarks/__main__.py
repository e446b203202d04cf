"""``python -m benchmarks``: every benchmark, tables on stdout, JSON in benchmarks/out/."""

from __future__ import annotations

import sys

from benchmarks.run import main

sys.exit(main())
