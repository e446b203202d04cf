"""``python -m pytest_hotmess report SOURCE...``: gate results other eval tools wrote."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
