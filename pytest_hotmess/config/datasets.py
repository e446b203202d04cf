"""Evaluation items from YAML, checked where they are written, and their prompt text.

A dataset file is either a list of items or a mapping ``{items: [...]}``. Each item::

    - id: capital-france            # unique; a string (integers are turned into strings)
      prompt: What is the capital of France?
      choices: [Paris, Lyon, Nice, Lille]   # or {A: Paris, B: Lyon, ...}; omit for open items
      answer: A                     # a choice label when there are choices
      metadata: {difficulty: easy}  # anything else goes here

A list of choices is labelled A, B, C, ... in order. Problems are ``DatasetError``s whose
message is ``<file>:<line>: <item>.<field>: <problem>``.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import os
import string
from typing import Any

import yaml

from .file import LocatedError, YamlDocument

__all__ = [
    "DatasetError",
    "DatasetItem",
    "choice_labels",
    "format_prompt",
    "load_bundled_questions",
    "load_items",
    "parse_items",
]

_FIELDS = ("id", "prompt", "choices", "answer", "metadata")
_BUNDLED = "questions.yaml"


class DatasetError(LocatedError):
    """A dataset file is malformed; the message names the file, line and item."""


@dataclasses.dataclass(frozen=True)
class DatasetItem:
    """One question with its target. ``answer`` is a choice label when there are choices."""

    id: str
    prompt: str
    choices: dict[str, str] | list[str] | None
    answer: object
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)

    def labelled_choices(self) -> dict[str, str] | None:
        """The choices by label; a list is labelled A, B, C, ... in order."""
        if self.choices is None:
            return None
        if isinstance(self.choices, list):
            return dict(zip(choice_labels(len(self.choices)), self.choices, strict=True))
        return dict(self.choices)


def choice_labels(count: int) -> list[str]:
    """Labels for ``count`` listed choices: A, B, C, ... (at most 26)."""
    if not 0 <= count <= len(string.ascii_uppercase):
        raise ValueError(f"cannot label {count} choices with single letters")
    return list(string.ascii_uppercase[:count])


def format_prompt(item: DatasetItem) -> str:
    """The question, its lettered choices and the instruction to answer with one letter."""
    choices = item.labelled_choices()
    if not choices:
        return item.prompt
    labels = list(choices)
    listed = "\n".join(f"{label}) {text}" for label, text in choices.items())
    spelled = labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} or {labels[-1]}"
    return f"{item.prompt}\n\n{listed}\n\nAnswer with a single letter ({spelled})."


def load_items(path: str | os.PathLike[str]) -> list[DatasetItem]:
    """Read a dataset file; every problem is a ``DatasetError`` naming file, line and item."""
    return _parse(YamlDocument.read(path, DatasetError))


def parse_items(text: str, *, file: str = "<string>") -> list[DatasetItem]:
    """Like ``load_items`` for YAML text already in memory."""
    return _parse(YamlDocument(text, file, DatasetError))


def load_bundled_questions() -> list[DatasetItem]:
    """The multiple-choice questions shipped with the package (general knowledge, arithmetic,
    logic; ``metadata.difficulty`` is easy, medium or hard), usable from any install."""
    resource = importlib.resources.files("pytest_hotmess").joinpath("data").joinpath(_BUNDLED)
    text = resource.read_text(encoding="utf-8")
    return parse_items(text, file=f"pytest_hotmess/data/{_BUNDLED}")


def _parse(doc: YamlDocument) -> list[DatasetItem]:
    root = doc.root
    if root is None:
        doc.fail(None, "", "the file has no items")
    if isinstance(root, yaml.MappingNode):
        entries = doc.mapping(root, "")
        for name, key_node, _ in entries:
            if name != "items":
                doc.fail(key_node, name, "unknown key; a dataset mapping holds only 'items'")
        if not entries:
            doc.fail(root, "items", "missing 'items' (the list of items)")
        root = entries[0][2]
    elif not isinstance(root, yaml.SequenceNode):
        doc.fail(root, "", "expected a list of items, or a mapping {items: [...]}")
    nodes = doc.sequence(root, "items")
    if not nodes:
        doc.fail(root, "items", "the dataset has no items")
    items: list[DatasetItem] = []
    first_line: dict[str, int] = {}
    for index, node in enumerate(nodes):
        item = _item(doc, node, f"items[{index}]")
        where = f"items[{index}] (id {item.id!r})"
        if item.id in first_line:
            doc.fail(
                node, f"{where}.id", f"duplicate id (first used on line {first_line[item.id]})"
            )
        first_line[item.id] = int(node.start_mark.line) + 1
        items.append(item)
    return items


def _item(doc: YamlDocument, node: yaml.Node, where: str) -> DatasetItem:
    entries = {name: (key_node, value) for name, key_node, value in doc.mapping(node, where)}
    if "id" not in entries:
        doc.fail(node, where, "missing 'id'")
    item_id = _item_id(doc, entries["id"][1], f"{where}.id")
    where = f"{where} (id {item_id!r})"
    for name, (key_node, _) in entries.items():
        if name not in _FIELDS:
            doc.fail(
                key_node,
                f"{where}.{name}",
                f"unknown field; expected {', '.join(_FIELDS)} (put anything else under metadata)",
            )
    for required in ("prompt", "answer"):
        if required not in entries:
            doc.fail(node, where, f"missing '{required}'")
    prompt = _text(doc, entries["prompt"][1], f"{where}.prompt")
    choices = None
    if "choices" in entries:
        choices = _choices(doc, entries["choices"][1], f"{where}.choices")
    answer_node = entries["answer"][1]
    answer = doc.value(answer_node, f"{where}.answer")
    if answer is None:
        doc.fail(answer_node, f"{where}.answer", "must not be null")
    if choices is not None:
        _check_answer(doc, answer_node, f"{where}.answer", answer, choices)
    metadata: dict[str, Any] = {}
    if "metadata" in entries:
        meta_node = entries["metadata"][1]
        metadata = {
            name: doc.value(value, f"{where}.metadata.{name}")
            for name, _, value in doc.mapping(meta_node, f"{where}.metadata")
        }
    return DatasetItem(item_id, prompt, choices, answer, metadata)


def _item_id(doc: YamlDocument, node: yaml.Node, where: str) -> str:
    value = doc.value(node, where) if isinstance(node, yaml.ScalarNode) else None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        doc.fail(node, where, f"expected a string, got {doc.describe(node, where)}")
    text = str(value)
    if not text.strip():
        doc.fail(node, where, "must not be empty")
    return text


def _text(doc: YamlDocument, node: yaml.Node, where: str) -> str:
    value = doc.value(node, where) if isinstance(node, yaml.ScalarNode) else None
    if not isinstance(value, str):
        doc.fail(node, where, f"expected a string, got {doc.describe(node, where)}")
    if not value.strip():
        doc.fail(node, where, "must not be empty")
    return value


def _choice_text(doc: YamlDocument, node: yaml.Node, where: str) -> str:
    """Choice texts are strings; integers are taken as written, anything else must be quoted."""
    value = doc.value(node, where) if isinstance(node, yaml.ScalarNode) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        hint = "" if isinstance(value, bool) else "; quote numbers that are not whole, e.g. '0.10'"
        doc.fail(node, where, f"expected a string, got {doc.describe(node, where)}{hint}")
    return value


def _choices(doc: YamlDocument, node: yaml.Node, where: str) -> dict[str, str] | list[str]:
    if isinstance(node, yaml.SequenceNode):
        texts = [_choice_text(doc, n, f"{where}[{i}]") for i, n in enumerate(node.value)]
        if len(texts) < 2 or len(texts) > len(string.ascii_uppercase):
            doc.fail(node, where, f"expected 2 to 26 choices, got {len(texts)}")
        return texts
    if isinstance(node, yaml.MappingNode):
        entries = doc.mapping(node, where)
        if len(entries) < 2:
            doc.fail(node, where, f"expected at least 2 choices, got {len(entries)}")
        return {label: _choice_text(doc, value, f"{where}.{label}") for label, _, value in entries}
    doc.fail(node, where, f"expected a list or a mapping, got {doc.describe(node, where)}")


def _check_answer(
    doc: YamlDocument,
    node: yaml.Node,
    where: str,
    answer: object,
    choices: dict[str, str] | list[str],
) -> None:
    labelled = (
        dict(zip(choice_labels(len(choices)), choices, strict=True))
        if isinstance(choices, list)
        else choices
    )
    if isinstance(answer, str) and answer in labelled:
        return
    problem = f"{answer!r} is not among the choice labels {', '.join(labelled)}"
    matching = [label for label, text in labelled.items() if text == str(answer)]
    if matching:
        problem += f" (it is the text of choice {matching[0]}; give the label)"
    doc.fail(node, where, problem)
