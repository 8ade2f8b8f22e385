"""YAML with node marks: parse a document keeping each key's line and column, report
duplicate keys (which loaders silently collapse), and place validation errors on lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml


class PlaybookInvalid(ValueError):
    def __init__(self, errors: list[dict[str, Any]]):
        self.errors = errors
        first = errors[0] if errors else {}
        where = f" (line {first['line']})" if first.get("line") else ""
        super().__init__(f"{first.get('path', '')}: {first.get('message', 'invalid')}{where}")


Path = tuple[Any, ...]


@dataclass(frozen=True)
class Mark:
    line: int
    column: int


def _walk(node: yaml.Node, path: Path, marks: dict[Path, Mark], dupes: list[dict]) -> None:
    marks.setdefault(path, Mark(node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            here = Mark(key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in seen:
                dupes.append(
                    {
                        "path": dotted((*path, key)),
                        "line": here.line,
                        "column": here.column,
                        "message": f"duplicate key {key!r}",
                    }
                )
            seen.add(key)
            marks[(*path, key)] = here
            _walk(value_node, (*path, key), marks, dupes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), marks, dupes)


def dotted(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(document)"


def flatten(messages: Any, path: Path) -> list[tuple[Path, str]]:
    if isinstance(messages, dict):
        out = []
        for key, value in messages.items():
            sub = path if key == "_schema" else (*path, key)
            out.extend(flatten(value, sub))
        return out
    if isinstance(messages, list):
        out = []
        for item in messages:
            out.extend(flatten(item, path) if isinstance(item, dict | list) else [(path, item)])
        return out
    return [(path, str(messages))]


def _locate(path: Path, marks: dict[Path, Mark], data_keys: dict[str, str]) -> Mark | None:
    candidates = [tuple(data_keys.get(p, p) if isinstance(p, str) else p for p in path), path]
    for candidate in candidates:
        for end in range(len(candidate), -1, -1):
            mark = marks.get(candidate[:end])
            if mark is not None:
                return mark
    return None


DATA_KEYS = {"for_": "for", "if_": "if", "else_": "else"}


def located_errors(pairs: list[tuple[Path, str]], marks: dict[Path, Mark]) -> list[dict[str, Any]]:
    out = []
    for path, message in pairs:
        shown = tuple(DATA_KEYS.get(p, p) if isinstance(p, str) else p for p in path)
        mark = _locate(shown, marks, DATA_KEYS)
        out.append(
            {
                "path": dotted(shown),
                "line": mark.line if mark else None,
                "column": mark.column if mark else None,
                "message": message,
            }
        )
    return sorted(out, key=lambda e: (e["line"] or 0, e["column"] or 0, e["path"]))


def parse_document(text: str) -> tuple[Any, dict[Path, Mark], list[dict[str, Any]]]:
    """(data, marks, duplicate-key errors) from YAML text; PlaybookInvalid on bad syntax."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise PlaybookInvalid(
            [
                {
                    "path": "(document)",
                    "line": mark.line + 1 if mark else None,
                    "column": mark.column + 1 if mark else None,
                    "message": f"YAML syntax: {exc.problem or exc}",
                }
            ]
        ) from exc
    except yaml.YAMLError as exc:
        raise PlaybookInvalid([{"path": "(document)", "message": f"YAML: {exc}"}]) from exc
    marks: dict[Path, Mark] = {}
    dupes: list[dict[str, Any]] = []
    if node is not None:
        _walk(node, (), marks, dupes)
    return data, marks, dupes
