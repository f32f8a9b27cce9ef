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

__all__ = ["HAVE_LIBYAML", "MAX_NODES", "Dumper", "Loader", "dump_text", "parse_with_marks", "with_marks"]

_FLOAT_12 = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")


#: At most this many plain scalars' resolved tags are kept per loader class (keys, numbers, names
#: recur from one job to the next); a longer scalar is resolved each time.
_RESOLVED_MAX, _RESOLVED_LEN = 4096, 64


def _cached_resolve(cls: Any) -> Any:
    """``cls.resolve`` remembering the tag of short plain scalars (it depends on the text alone)."""
    cache: dict[str, str] = {}
    resolve = cls.resolve

    def cached(self: Any, kind: Any, value: Any, implicit: Any, scalar: Any = yaml.ScalarNode) -> Any:
        if kind is scalar and implicit[0] and not self.yaml_path_resolvers:
            tag = cache.get(value)
            if tag is None:
                tag = resolve(self, kind, value, implicit)
                if len(value) <= _RESOLVED_LEN and len(cache) < _RESOLVED_MAX:
                    cache[value] = tag
            return tag
        return resolve(self, kind, value, implicit)

    return cached


class Loader(yaml.SafeLoader):
    """Safe loading, with YAML 1.2 floats such as ``1e-4``."""


class Dumper(yaml.SafeDumper):
    """Safe dumping that quotes strings our loader would read as floats.

    Example:
        >>> import yaml
        >>> yaml.dump({"weight_decay": "1e-4"}, Dumper=Dumper)   # quoted: read back as text, not a float
        "weight_decay: '1e-4'\\n"
    """


for _cls in (Loader, Dumper):
    _cls.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))
Loader.resolve = _cached_resolve(Loader)  # type: ignore[method-assign]


def _represent_str(dumper: yaml.SafeDumper, data: str) -> Any:
    style = "|" if "\n" in data and data.strip() == data and "\r" not in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


def _represent_list(dumper: yaml.SafeDumper, data: list) -> Any:
    flow = all(isinstance(v, (str, int, float, bool)) and (not isinstance(v, str) or len(v) < 40) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow and bool(data))


Dumper.add_representer(str, _represent_str)
Dumper.add_representer(list, _represent_list)
Dumper.add_multi_representer(AzureEnum, lambda d, e: d.represent_str(e.value))


#: The most nodes a document may expand to, aliases followed (a billion-laughs guard).
MAX_NODES = 1_000_000

#: Whether PyYAML's C composer (libyaml) is here; the pure-Python one is the fallback.
HAVE_LIBYAML = bool(getattr(yaml, "__with_libyaml__", False)) and hasattr(yaml, "CSafeLoader")

if HAVE_LIBYAML:
    class CLoader(yaml.CSafeLoader):  # type: ignore[misc, name-defined]
        """:class:`Loader` with libyaml's C parser and composer (about 20x faster)."""

    CLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))
    CLoader.resolve = _cached_resolve(CLoader)  # type: ignore[method-assign]


def _where(node: yaml.Node) -> tuple[int | None, int | None]:
    mark = node.start_mark
    return (None, None) if mark is None else (mark.line + 1, mark.column + 1)


def _expanded_size(root: yaml.Node, limit: int | None) -> int:
    """How many nodes ``root`` stands for once every alias is followed; stops counting past ``limit``.

    Each composed node is sized once (aliases share nodes), so the work is bounded by the
    composed document, not by its expansion.

    Raises:
        ValidationError: The expansion passes ``limit``, or an alias refers to a node that contains it.
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()  # the nodes being sized: the current node's ancestors
    stack: list[tuple[yaml.Node, list[yaml.Node] | None]] = [(root, None)]  # children once they are pushed
    while stack:
        node, children = stack.pop()
        key = id(node)
        if children is not None:  # every child is sized: size the node
            size = 1 + sum(sizes[id(c)] for c in children)
            sizes[key] = size
            on_path.discard(key)
            if limit is not None and size > limit:
                raise ValidationError([Problem("", f"expands to more than {limit:,} nodes once its aliases are "
                                                   f"followed (the limit against alias bombs)", *_where(node))])
            continue
        if key in sizes or key in on_path:
            continue
        children = ([n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode)
                    else list(node.value) if isinstance(node, yaml.SequenceNode) else [])
        on_path.add(key)
        stack.append((node, children))
        for child in children:
            if id(child) in on_path:
                raise ValidationError([Problem("", "a recursive alias (a node that contains itself) is not read",
                                               *_where(child))])
            stack.append((child, None))
    return sizes[id(root)]


def _node_marks(root: yaml.Node, marks: dict[str, tuple[int, int]], problems: list[Problem]) -> None:
    """The (line, column) of every dotted path, and duplicate keys; iterative, so depth costs no recursion."""
    stack: list[tuple[yaml.Node, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
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
                stack.append((value_node, sub))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(node.value))


_STR, _INT, _SEQ, _MAP = ("tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:seq",
                          "tag:yaml.org,2002:map")
_SCALAR_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
                "tag:yaml.org,2002:null")


class _Unusual(Exception):
    """A node :func:`_construct` leaves to PyYAML's constructor (other tags, merge keys, odd keys)."""


def _construct(loader: Any, root: yaml.Node) -> tuple[Any, bool]:
    """The data of a document of plain maps, lists and scalars, and whether a mapping repeats a key.

    Builds what PyYAML's safe constructor builds (an alias is the same object), in one walk
    without its per-node bookkeeping. Raises :class:`_Unusual` (or anything else) for a node
    it does not read; the caller then hands the document to PyYAML's constructor.
    """
    table = type(loader).yaml_constructors
    scalars = {tag: table[tag] for tag in _SCALAR_TAGS}
    built: dict[int, Any] = {}
    repeated = False
    scalar_node, mapping_node, sequence_node = yaml.ScalarNode, yaml.MappingNode, yaml.SequenceNode

    def build(node: yaml.Node) -> Any:
        nonlocal repeated
        kind = node.__class__
        if kind is scalar_node:
            tag = node.tag
            if tag == _STR:
                return node.value
            if tag == _INT and node.value.isdecimal() and node.value.isascii() and (
                    node.value[0] != "0" or node.value == "0"):
                return int(node.value)  # plain decimal digits: what PyYAML's int constructor gives
            fn = scalars.get(tag)
            if fn is None:
                raise _Unusual
            return fn(loader, node)
        done = built.get(id(node))
        if done is not None:
            return done
        if kind is mapping_node and node.tag == _MAP:
            out: dict[Any, Any] = {}
            built[id(node)] = out
            seen: set[str] = set()
            for key_node, value_node in node.value:
                if key_node.__class__ is not scalar_node:
                    raise _Unusual
                raw = key_node.value
                if raw in seen:
                    repeated = True
                seen.add(raw)
                key = raw if key_node.tag == _STR else build(key_node)
                # A plain string value is read here: one call less per key.
                out[key] = (value_node.value if value_node.__class__ is scalar_node and value_node.tag == _STR
                            else build(value_node))
            return out
        if kind is sequence_node and node.tag == _SEQ:
            items: list[Any] = []
            built[id(node)] = items
            items.extend(build(item) for item in node.value)
            return items
        raise _Unusual

    return build(root), repeated


class _Marks(Mapping[str, tuple[int, int]]):
    """The (line, column) of every dotted path of a composed document, found when first asked for
    (only a message needs them)."""

    def __init__(self, root: yaml.Node | None, marks: dict[str, tuple[int, int]] | None = None) -> None:
        self._root, self._marks = root, marks

    def _all(self) -> dict[str, tuple[int, int]]:
        if self._marks is None:
            self._marks = {}
            if self._root is not None:
                _node_marks(self._root, self._marks, [])
            self._root = None
        return self._marks

    def __getitem__(self, path: str) -> tuple[int, int]:
        return self._all()[path]

    def __contains__(self, path: object) -> bool:
        return path in self._all()

    def __iter__(self) -> Any:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __repr__(self) -> str:
        return repr(self._all())


def parse_with_marks(text: str, *, max_nodes: int | None = MAX_NODES,
                     composer: str | None = None) -> tuple[Any, Mapping[str, tuple[int, int]]]:
    """YAML text parsed safely, with the (line, column) of every dotted key path, for error messages.

    Args:
        text: The YAML text.
        max_nodes: The most nodes the document may expand to with its aliases followed
            (``None``: no limit, for imgtune's own files).
        composer: ``"c"`` (libyaml), ``"python"``, or ``None``: the C one where PyYAML has it.

    Raises:
        ValidationError: The text is not valid YAML, or expands past ``max_nodes`` (with where).

    Example:
        >>> data, marks = parse_with_marks("limits:\\n  max_trials: 0\\n")
        >>> data, marks["limits.max_trials"]
        ({'limits': {'max_trials': 0}}, (2, 15))
    """
    use_c = HAVE_LIBYAML if composer is None else composer == "c"
    if use_c and not HAVE_LIBYAML:
        raise ValueError("PyYAML was built without libyaml: use composer='python'")
    marks = _Marks(None, {})
    problems: list[Problem] = []
    try:
        loader = CLoader(text) if use_c else Loader(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                if "&" in text:  # without an anchor there is no alias: the document is as big as it is written
                    _expanded_size(node, max_nodes)
                try:
                    data, repeated = _construct(loader, node)
                except Exception:  # noqa: BLE001 - anything unusual: PyYAML's constructor, with its own errors
                    data, repeated = loader.construct_document(node), True
                if repeated:  # duplicate keys are reported with where they are: the marks are needed now
                    marks = _Marks(None, {})
                    _node_marks(node, marks._all(), problems)
                else:
                    marks = _Marks(node)
            else:
                data = None
        finally:
            loader.dispose()
    except ValidationError:
        raise
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (NUL, other control characters)
        before = text[:exc.position]
        line, column = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        raise ValidationError([Problem("", f"not valid YAML: unacceptable character #x{exc.character:04x}: "
                                           f"{exc.reason}", line, column)]) from None
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
    """Plain data as YAML text, keys in the order given.

    Example:
        >>> print(dump_text({"b": 1, "a": ["x", "1e-4"]}))
        b: 1
        a: [x, '1e-4']
        <BLANKLINE>
    """
    return yaml.dump(data, Dumper=Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100)
