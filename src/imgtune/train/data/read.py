"""Reading a job's image data into a list of :class:`Example` (no pixels yet).

Three input types are read, as in Azure ML (``Input(path=..., type=...)``):

``mltable``
    A folder holding a YAML file named ``MLTable`` whose ``paths:`` list names
    JSONL files (``- file: ./train_annotations.jsonl``), relative to the folder.
    The path may also name the ``MLTable`` file itself.
``uri_file``
    A bare JSONL file.
``uri_folder``
    A folder with one sub-folder per class; every image below a sub-folder
    (recursively) has that sub-folder's name as its label.

A JSONL line is an object with ``image_url`` and the label column (named by
``target_column_name``, default ``label``): a string for multiclass, a list of
strings for multilabel. Relative ``image_url`` values resolve against the
folder of the JSONL file; ``file://`` URLs are local paths. Remote URLs
(``azureml://``, ``https://``, ``wasbs://``, ...) must be mapped to a local
folder with a *path map*: ``{"azureml://.../paths/": "local/dir/"}``; the
longest matching prefix wins, and the rest of the URL (percent-decoded) is
appended to the folder. A path map applies to any ``image_url`` (and to MLTable
``file:`` entries), remote or not.

Nothing here opens an image: missing and corrupt image files are found by
:func:`imgtune.train.data.validate_images`. Every problem in the manifest is
collected and raised as one :class:`~imgtune.errors.ValidationError`.

Example:
    >>> import json, pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "a.jsonl").write_text(
    ...     json.dumps({"image_url": "img/1.png", "label": "cat"}) + "\\n"
    ...     + json.dumps({"image_url": "azureml://ds/paths/2.png", "label": "dog"}) + "\\n")
    >>> ex = read_examples(str(d / "a.jsonl"), "uri_file",
    ...                    path_map={"azureml://ds/paths/": str(d / "remote")})
    >>> [(pathlib.Path(e.path).relative_to(d).as_posix(), e.label, e.where) for e in ex]
    [('img/1.png', 'cat', 'training_data.image_url[line 1]'), ('remote/2.png', 'dog', 'training_data.image_url[line 2]')]
    >>> class_names(ex)
    ('cat', 'dog')
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import attrs
import numpy as np

from imgtune.atomic import write_atomic
from imgtune.errors import Problem, ValidationError

__all__ = [
    "IMAGE_EXTENSIONS",
    "INPUT_TYPES",
    "Example",
    "check_labels",
    "class_names",
    "encode_labels",
    "parse_path_map",
    "read_examples",
    "read_labels",
    "resolve_image_url",
    "write_labels",
]

INPUT_TYPES = ("mltable", "uri_file", "uri_folder")
"""The accepted values of an input's ``type``."""

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".jpe", ".jfif", ".bmp", ".tif", ".tiff"}
)
"""File suffixes (lower case) taken as images in a ``uri_folder`` (Azure's list)."""

_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_MAP_HINT = (
    'map it to a local folder with the job\'s training_parameters.advanced_settings JSON key '
    '"path_map" (e.g. {{"path_map": {{"{prefix}": "data/"}}}}) or the CLI option '
    "--path-map {prefix}=DIR"
)


@attrs.frozen
class Example:
    """One image and its label, before decoding.

    Attributes:
        path: Absolute local path of the image file.
        label: The class name (multiclass) or a tuple of class names
            (multilabel; may be empty).
        where: Where the example came from, used as the path of any problem
            reported about it, e.g. ``training_data.image_url[line 12]``, or
            the image's path for a ``uri_folder``.
    """

    path: str
    label: str | tuple[str, ...]
    where: str


def parse_path_map(items: Iterable[str]) -> dict[str, str]:
    """Parses CLI ``--path-map PREFIX=DIR`` items into a path map.

    The first ``=`` separates the prefix from the folder.

    >>> parse_path_map(["azureml://ds/paths/=data/", "https://x/=/mnt/x"])
    {'azureml://ds/paths/': 'data/', 'https://x/': '/mnt/x'}

    Raises:
        ValidationError: For every item without ``=`` or with an empty side.
    """
    out: dict[str, str] = {}
    problems = []
    for i, item in enumerate(items):
        prefix, sep, folder = item.partition("=")
        if not sep or not prefix or not folder:
            problems.append(Problem(f"--path-map[{i}]", f"expected PREFIX=DIR, got {item!r}"))
        else:
            out[prefix] = folder
    if problems:
        raise ValidationError(problems)
    return out


def read_examples(
    path: str | os.PathLike[str],
    type: str,  # noqa: A002 - the name Azure ML uses
    *,
    base_path: str | os.PathLike[str] | None = None,
    target_column_name: str = "label",
    multilabel: bool = False,
    path_map: Mapping[str, str] | None = None,
    field: str = "training_data",
) -> tuple[Example, ...]:
    """Reads an input's examples, in file order (sorted paths for ``uri_folder``).

    Args:
        path: The input's path; relative paths resolve against ``base_path``.
        type: ``"mltable"``, ``"uri_file"`` or ``"uri_folder"`` (or the
            matching ``imgtune.spec`` ``InputType``).
        base_path: Folder of the job YAML (default: the current directory).
            Relative path-map folders resolve against it too.
        target_column_name: The JSONL key holding the label.
        multilabel: Labels are lists of strings (else one string).
        path_map: URL prefix -> local folder, for remote ``image_url`` values.
        field: Name of the job field, the start of every problem path
            (``training_data``, ``validation_data``, ``test_data``).

    Returns:
        The examples, at least one.

    Raises:
        ValidationError: Listing every problem found: unreadable files,
            malformed JSON lines, missing/mistyped keys, unmapped remote URLs,
            empty classes, no images at all.
    """
    base = Path(base_path) if base_path is not None else Path.cwd()
    pmap = _normalise_path_map(path_map, base)
    type = getattr(type, "value", type)  # noqa: A001 - accepts imgtune.spec's InputType too
    if type not in INPUT_TYPES:
        raise ValidationError(
            [Problem(f"{field}.type", f"must be one of {', '.join(INPUT_TYPES)}; got {type!r}")]
        )
    resolved, err = _resolve(os.fspath(path), base, pmap)
    if err:
        raise ValidationError([Problem(f"{field}.path", err)])
    assert resolved is not None
    if type == "uri_folder":
        return _read_folder(resolved, multilabel, field)
    if type == "uri_file":
        files = [resolved]
    else:
        files = _read_mltable(resolved, pmap, field)
    problems: list[Problem] = []
    examples: list[Example] = []
    for f in files:
        _read_jsonl(
            f, target_column_name, multilabel, pmap, field,
            f.name if len(files) > 1 else None, examples, problems,
        )
    if not examples and not problems:
        problems.append(Problem(f"{field}.path", f"{resolved}: holds no images"))
    if problems:
        raise ValidationError(problems)
    return tuple(examples)


def class_names(examples: Iterable[Example]) -> tuple[str, ...]:
    """The sorted set of label names in ``examples`` (the fixed class order).

    >>> class_names([Example("a", "b", ""), Example("c", "a", "")])
    ('a', 'b')
    >>> class_names([Example("a", ("y", "x"), ""), Example("c", (), "")])
    ('x', 'y')
    """
    names: set[str] = set()
    for ex in examples:
        names.update((ex.label,) if isinstance(ex.label, str) else ex.label)
    return tuple(sorted(names))


def check_labels(examples: Iterable[Example], classes: Sequence[str], field: str) -> None:
    """Raises one error listing every label in ``examples`` not in ``classes``.

    Each unseen label is reported once, at its first occurrence.

    Raises:
        ValidationError: With one problem per unseen label.
    """
    known = set(classes)
    seen: dict[str, str] = {}
    for ex in examples:
        for name in (ex.label,) if isinstance(ex.label, str) else ex.label:
            if name not in known and name not in seen:
                seen[name] = ex.where
    if seen:
        raise ValidationError(
            [
                Problem(where, f"label {name!r} is not in the training data's classes")
                for name, where in seen.items()
            ],
            title=field,
        )


def encode_labels(
    examples: Sequence[Example], classes: Sequence[str], multilabel: bool
) -> np.ndarray:
    """Labels as class indices: int32 ``[N]``, or float32 multi-hot ``[N, C]``.

    >>> ex = [Example("a", ("y",), ""), Example("b", ("x", "y"), "")]
    >>> encode_labels(ex, ("x", "y"), multilabel=True)
    array([[0., 1.],
           [1., 1.]], dtype=float32)
    >>> encode_labels([Example("a", "y", "")], ("x", "y"), multilabel=False)
    array([1], dtype=int32)

    Raises:
        ValidationError: When a label is not in ``classes``.
    """
    check_labels(examples, classes, "labels")
    index = {name: i for i, name in enumerate(classes)}
    if multilabel:
        out = np.zeros((len(examples), len(classes)), np.float32)
        for row, ex in enumerate(examples):
            for name in (ex.label,) if isinstance(ex.label, str) else ex.label:
                out[row, index[name]] = 1.0
        return out
    return np.array(
        [index[ex.label if isinstance(ex.label, str) else ex.label[0]] for ex in examples],
        np.int32,
    ).reshape(len(examples))


def write_labels(path: str | os.PathLike[str], labels: Sequence[str]) -> None:
    """Writes the class order as a JSON list, atomically (temp file + ``os.replace``)."""
    write_atomic(Path(path), json.dumps(list(labels), indent=1) + "\n")


def read_labels(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """Reads a ``labels.json`` written by :func:`write_labels`."""
    try:
        return tuple(json.loads(Path(path).read_text(encoding="utf-8")))
    except json.JSONDecodeError as exc:
        raise ValidationError([Problem(os.fspath(path), f"is not valid JSON ({exc}); the file is damaged")]) from None


def resolve_image_url(url: str, base_dir: str | os.PathLike[str],
                      path_map: Mapping[str, str] | None = None) -> tuple[Path | None, str | None]:
    """An ``image_url`` as a local path (relative ones against ``base_dir``), or why it is not one.

    >>> resolve_image_url("azureml://d/paths/a.png", "/data", {"azureml://d/paths/": "/imgs"})
    (PosixPath('/imgs/a.png'), None)
    >>> resolve_image_url("https://x/a.png", "/data")[1].startswith("remote URL")
    True
    """
    base = Path(base_dir)
    return _resolve(url, base, _normalise_path_map(path_map, base))


# -- internals -----------------------------------------------------------------


def _normalise_path_map(path_map: Mapping[str, str] | None, base: Path) -> list[tuple[str, Path]]:
    items = [(str(k), base / os.path.expanduser(str(v))) for k, v in (path_map or {}).items()]
    return sorted(items, key=lambda kv: -len(kv[0]))  # longest prefix first


def _resolve(url: str, base_dir: Path, pmap: list[tuple[str, Path]]) -> tuple[Path | None, str | None]:
    """A URL/path as an absolute local path, or an error message."""
    for prefix, folder in pmap:
        if url.startswith(prefix):
            rest = urllib.parse.unquote(url[len(prefix):]).lstrip("/")
            return Path(os.path.abspath(folder / rest)), None
    if url.lower().startswith("file://"):
        parsed = urllib.parse.urlparse(url)
        local = urllib.parse.unquote(parsed.path)
        if parsed.netloc not in ("", "localhost"):  # file://relative/dir/x.png
            local = urllib.parse.unquote(parsed.netloc) + local
        return Path(os.path.abspath(base_dir / local)), None
    m = _URL_SCHEME.match(url)
    if m:
        prefix = _remote_prefix(url)
        return None, f"remote URL {url!r} is not mapped to a local folder; " + _MAP_HINT.format(
            prefix=prefix
        )
    return Path(os.path.abspath(base_dir / os.path.expanduser(url))), None


def _remote_prefix(url: str) -> str:
    """A suggested path-map prefix for a remote URL (up to ``/paths/`` when present)."""
    i = url.find("/paths/")
    if i >= 0:
        return url[: i + len("/paths/")]
    return url.rsplit("/", 1)[0] + "/"


def _read_mltable(resolved: Path, pmap: list[tuple[str, Path]], field: str) -> list[Path]:
    import yaml

    folder = resolved.parent if resolved.name == "MLTable" and resolved.is_file() else resolved
    spec = folder / "MLTable"
    where = f"{field}.path"
    try:
        doc = yaml.safe_load(spec.read_text(encoding="utf-8"))
    except FileNotFoundError:
        hint = "" if folder.is_dir() else " (the folder does not exist)"
        raise ValidationError(
            [Problem(where, f"{spec}: no MLTable file{hint}; an mltable input is a folder holding "
                            "a YAML file named MLTable")]
        ) from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise ValidationError([Problem(where, f"{spec}: cannot read: {_one_line(e)}")]) from None
    paths = doc.get("paths") if isinstance(doc, dict) else None
    if not isinstance(paths, list) or not paths:
        raise ValidationError([Problem(where, f"{spec}: needs a non-empty 'paths:' list of '- file: x.jsonl'")])
    files: list[Path] = []
    problems = []
    for i, entry in enumerate(paths):
        f = entry.get("file") if isinstance(entry, dict) else None
        if not isinstance(f, str) or not f:
            problems.append(
                Problem(f"{where}[MLTable paths[{i}]]",
                        f"{spec}: only '- file: <jsonl>' entries are supported, got {entry!r}")
            )
            continue
        p, err = _resolve(f, folder, pmap)
        if err:
            problems.append(Problem(f"{where}[MLTable paths[{i}]]", err))
        else:
            assert p is not None
            files.append(p)
    if problems:
        raise ValidationError(problems)
    return files


def _read_jsonl(
    jsonl: Path,
    target: str,
    multilabel: bool,
    pmap: list[tuple[str, Path]],
    field: str,
    tag: str | None,
    examples: list[Example],
    problems: list[Problem],
) -> None:
    try:
        text = jsonl.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        problems.append(Problem(f"{field}.path", f"{jsonl}: file not found"))
        return
    except (OSError, UnicodeDecodeError) as e:
        problems.append(Problem(f"{field}.path", f"{jsonl}: cannot read: {_one_line(e)}"))
        return
    folder = jsonl.parent
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        at = f"[{tag} line {lineno}]" if tag else f"[line {lineno}]"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(Problem(f"{field}{at}", f"{jsonl}: not valid JSON: {e.msg} (column {e.colno})"))
            continue
        if not isinstance(obj, dict):
            problems.append(Problem(f"{field}{at}", f"{jsonl}: expected a JSON object, got {_kind(obj)}"))
            continue
        ok = True
        url = obj.get("image_url")
        if not isinstance(url, str) or not url:
            msg = "missing" if "image_url" not in obj else f"must be a non-empty string, got {_kind(url)}"
            problems.append(Problem(f"{field}.image_url{at}", msg))
            ok = False
        label = _check_label(obj, target, multilabel, f"{field}.{target}{at}", problems)
        ok = ok and label is not None
        if not ok:
            continue
        local, err = _resolve(url, folder, pmap)
        if err:
            problems.append(Problem(f"{field}.image_url{at}", err))
            continue
        assert local is not None and label is not None
        examples.append(Example(str(local), label, f"{field}.image_url{at}"))


def _check_label(
    obj: dict, target: str, multilabel: bool, where: str, problems: list[Problem]
) -> str | tuple[str, ...] | None:
    if target not in obj:
        near = [k for k in obj if k != "image_url"]
        extra = f" (keys present: {', '.join(map(repr, near))})" if near else ""
        problems.append(Problem(where, f"missing label column {target!r}{extra}"))
        return None
    value = obj[target]
    if multilabel:
        if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
            return tuple(dict.fromkeys(value))  # de-duplicated, in order
        if isinstance(value, str):
            msg = f"multilabel needs a list of strings, got the string {value!r} (write [{json.dumps(value)}])"
        else:
            msg = f"multilabel needs a list of non-empty strings, got {_kind(value)}"
        problems.append(Problem(where, msg))
        return None
    if isinstance(value, str) and value:
        return value
    if isinstance(value, list):
        msg = f"multiclass needs one string label, got a list {value!r}; for several labels per image use a multilabel task"
    else:
        msg = f"multiclass needs a non-empty string label, got {_kind(value)}"
    problems.append(Problem(where, msg))
    return None


def _read_folder(folder: Path, multilabel: bool, field: str) -> tuple[Example, ...]:
    where = f"{field}.path"
    if not folder.is_dir():
        raise ValidationError([Problem(where, f"{folder}: not a folder")])
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise ValidationError(
            [Problem(where, f"{folder}: a uri_folder input needs one sub-folder per class; found none")]
        )
    examples: list[Example] = []
    problems = []
    for cls in classes:
        files = sorted(
            p for p in cls.rglob("*")
            if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(cls).parts)
        )
        if not files:
            problems.append(
                Problem(f"{where}[{cls.name}]",
                        f"{cls}: class folder holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
            )
        label: str | tuple[str, ...] = (cls.name,) if multilabel else cls.name
        examples.extend(Example(str(p.absolute()), label, str(p)) for p in files)
    if problems:
        raise ValidationError(problems)
    return tuple(examples)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    name = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), f"a {type(value).__name__}"
    )
    return f"{name} {json.dumps(value)[:60]}"


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__
