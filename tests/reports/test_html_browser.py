"""The HTML page laid out by a real browser (headless Chromium) at 1,400 px: nothing overflows
the page, wide tables scroll inside their own box, charts fit. Skipped, saying why, when no
Chromium is installed (CI installs Debian's ``chromium``; see .ci/run)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from test_html import NASTY, _full_page

VIEWPORT = (1400, 1000)

# Measures the layout once the page is drawn and writes it on <body> for --dump-dom to show.
_MEASURE = """
<script>
window.addEventListener("load", () => {
  const box = (el) => { const r = el.getBoundingClientRect();
    return {left: r.left, right: r.right, width: r.width, scroll: el.scrollWidth,
            client: el.clientWidth}; };
  const layout = {
    viewport: window.innerWidth,
    page: document.documentElement.scrollWidth,
    boxes: [...document.querySelectorAll(".scroll")].map(box),
    tables: [...document.querySelectorAll("table")].map(box),
    images: [...document.querySelectorAll("img")].map(box),
    sections: [...document.querySelectorAll("section")].map((s) => s.id),
  };
  document.body.setAttribute("data-layout", JSON.stringify(layout));
});
</script>
"""


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(
        "no headless browser: install Debian's chromium (apt-get install chromium) "
        "to check the HTML page's layout"
    )


def _wide_page() -> str:
    """The full page, with a test whose id is long enough to make the table wider than 72em."""
    long_name = "tests/" + "very_long_directory_name/" * 12 + "test_x.py::test_" + "y" * 80
    return _full_page().replace(NASTY, long_name, 1)


def _layout(page: str, tmp_path: Path) -> dict[str, Any]:
    browser = _chromium()
    path = tmp_path / "page.html"
    path.write_text(page.replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}",
        "--virtual-time-budget=5000",
        "--dump-dom",
        path.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    found = re.search(r'data-layout="([^"]*)"', done.stdout)
    assert found, f"the browser wrote no layout (exit {done.returncode}): {done.stderr[-2000:]}"
    text = found.group(1).replace("&quot;", '"').replace("&amp;", "&")
    layout: dict[str, Any] = json.loads(text)
    return layout


def test_the_page_fits_1400_px_and_wide_tables_scroll_inside_their_box(tmp_path: Path) -> None:
    layout = _layout(_wide_page(), tmp_path)
    viewport = layout["viewport"]
    assert viewport == VIEWPORT[0]
    assert layout["page"] <= viewport  # no horizontal scrolling of the page itself
    assert len(layout["tables"]) == len(layout["boxes"]) >= 8
    for box in [*layout["boxes"], *layout["images"]]:
        assert box["left"] >= 0 and box["right"] <= viewport, box
    # the wide tests table is wider than its box, and scrolls inside it
    widest = max(layout["boxes"], key=lambda b: b["scroll"])
    assert widest["scroll"] > widest["client"]
    assert layout["sections"] == ["tests", "baseline", "length", "ensembles", "difficulty"]
