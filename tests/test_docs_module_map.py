"""docs/architecture.md's module map names every module of the package, with its docstring."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pytest_hotmess"


def _module_map() -> dict[str, set[str]]:
    """Layer -> the module file names listed under its ``**`layer/`**`` heading."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    listed: dict[str, set[str]] = {}
    layer = None
    for line in text.splitlines():
        heading = re.fullmatch(r"\*\*`(\w+)/`\*\*", line.strip())
        if heading:
            layer = heading.group(1)
            listed.setdefault(layer, set())
        elif layer is not None and (entry := re.match(r"- `(\w+\.py)`:", line)):
            listed[layer].add(entry.group(1))
    return listed


def test_every_module_of_every_layer_is_in_the_module_map() -> None:
    listed = _module_map()
    missing = []
    for path in sorted(PACKAGE.glob("*/*.py")):
        if path.name == "__init__.py":
            continue
        if path.name not in listed.get(path.parent.name, set()):
            missing.append(f"{path.parent.name}/{path.name}")
    assert missing == [], f"not in docs/architecture.md's module map: {missing}"


def test_every_listed_module_exists_and_has_a_docstring() -> None:
    for layer, names in _module_map().items():
        for name in names:
            path = PACKAGE / layer / name
            assert path.is_file(), f"docs/architecture.md lists {layer}/{name}, which is gone"
            assert ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))), path
