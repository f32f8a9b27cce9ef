"""YAML text: safe loading (YAML 1.2 floats such as ``1e-4``), a readable dumper, and the line
and column of every key path so that a problem points into the file.

Example:
    >>> data, marks = parse_with_marks("limits:\\n  max_trials: 1e1\\n")
    >>> data, marks["limits.max_trials"]
    ({'limits': {'max_trials': 10.0}}, (2, 15))
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs
import yaml

from imgtune.errors import Problem, ValidationError, join_path
from imgtune.spec.enums import AzureEnum

__all__ = ["Dumper", "Loader", "dump_text", "parse_with_marks", "with_marks"]

_FLOAT_12 = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")


class Loader(yaml.SafeLoader):
    """Safe loading, with YAML 1.2 floats such as ``1e-4``."""


class Dumper(yaml.SafeDumper):
    """Safe dumping that quotes strings our loader would read as floats."""


for _cls in (Loader, Dumper):
    _cls.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))


def _represent_str(dumper: yaml.SafeDumper, data: str) -> Any:
    style = "|" if "\n" in data and data.strip() == data and "\r" not in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


def _represent_list(dumper: yaml.SafeDumper, data: list) -> Any:
    flow = all(isinstance(v, (str, int, float, bool)) and (not isinstance(v, str) or len(v) < 40) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow and bool(data))


Dumper.add_representer(str, _represent_str)
Dumper.add_representer(list, _represent_list)
Dumper.add_multi_representer(AzureEnum, lambda d, e: d.represent_str(e.value))


def _node_marks(node: yaml.Node, path: str, marks: dict[str, tuple[int, int]], problems: list[Problem]) -> None:
    marks.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            sub = join_path(path, key)
            if key in seen and isinstance(key_node, yaml.ScalarNode):
                problems.append(Problem(sub, "duplicate key", key_node.start_mark.line + 1,
                                        key_node.start_mark.column + 1))
            seen.add(key)
            _node_marks(value_node, sub, marks, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _node_marks(item, f"{path}[{i}]", marks, problems)


def parse_with_marks(text: str) -> tuple[Any, dict[str, tuple[int, int]]]:
    """YAML text parsed safely, with the (line, column) of every dotted key path, for error messages.

    Raises:
        ValidationError: The text is not valid YAML (with where).
    """
    marks: dict[str, tuple[int, int]] = {}
    problems: list[Problem] = []
    try:
        loader = Loader(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                _node_marks(node, "", marks, problems)
                data = loader.construct_document(node)
            else:
                data = None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = f"not valid YAML: {exc.problem or exc.context}"
        if exc.problem and "could not determine a constructor" in exc.problem:
            message = f"unsafe YAML tag rejected: {exc.problem.split('tag ')[-1]} (only plain YAML is read)"
        raise ValidationError([Problem("", message, mark.line + 1 if mark else None,
                                       mark.column + 1 if mark else None)]) from None
    except (yaml.YAMLError, ValueError, TypeError, RecursionError, OverflowError) as exc:
        raise ValidationError([Problem("", f"not valid YAML: {exc}")]) from None
    if problems:
        raise ValidationError(problems)
    return data, marks


def with_marks(err: ValidationError, marks: Mapping[str, tuple[int, int]], renames: Mapping[str, str]) -> ValidationError:
    out = []
    for p in err.problems:
        if p.line is not None:
            out.append(p)
            continue
        path = p.path
        for new, old in renames.items():
            if path == new or path.startswith(new + ".") or path.startswith(new + "["):
                path = old + path[len(new):]
                break
        probe = path
        while probe not in marks and probe:
            probe = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", probe) if re.search(r"(\.[^.\[]*|\[\d+\])$", probe) else ""
        line, col = marks.get(probe, (None, None))
        out.append(attrs.evolve(p, line=line, column=col))
    return ValidationError(out, err.title)


def dump_text(data: Any) -> str:
    """Plain data as YAML text, keys in the order given."""
    return yaml.dump(data, Dumper=Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100)
